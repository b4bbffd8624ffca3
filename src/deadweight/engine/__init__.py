"""The one Docker engine client: build, run, sample memory, inspect and save images."""
