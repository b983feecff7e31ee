"""khalti: take school fees through Khalti from the command line."""

__version__ = "0.1.0"
