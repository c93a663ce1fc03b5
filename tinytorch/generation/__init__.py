"""tinytorch.generation: a package folder created by tito."""
