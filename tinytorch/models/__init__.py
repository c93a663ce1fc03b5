"""tinytorch.models: a package folder created by tito."""
