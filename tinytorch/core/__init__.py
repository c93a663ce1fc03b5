"""tinytorch.core: a package folder created by tito."""
