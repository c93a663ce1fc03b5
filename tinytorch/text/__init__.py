"""tinytorch.text: a package folder created by tito."""
