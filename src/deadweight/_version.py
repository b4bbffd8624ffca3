"""The package version, in a module of its own so that reporters can name it without importing the package
root (which re-exports the pipeline)."""

__version__ = "0.1.0"
