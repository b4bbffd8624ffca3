"""Image sources: read images from archives, OCI layouts, registries and the Docker engine, as streams."""
