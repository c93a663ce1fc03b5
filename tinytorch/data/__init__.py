"""tinytorch.data: a package folder created by tito."""
