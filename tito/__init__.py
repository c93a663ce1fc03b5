"""tito: the command-line toolchain of the TinyTorch course."""

__version__ = "0.1.0"
