"""The command line: one module per command over the public Python API, and one output module."""
from .main import main

__all__ = ["main"]
