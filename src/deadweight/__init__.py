"""deadweight: find the dead weight in Python container images, remove it, prove the result still works."""

__version__ = "0.1.0"
