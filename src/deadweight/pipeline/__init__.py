"""The steps wired together for the library and the CLI alike: ``inspect`` and ``audit`` over the model."""
