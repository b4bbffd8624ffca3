"""What is inside an image: the merged file tree and its byte accounting (``filetree``), dive's
efficiency score (``efficiency``), and the package inventory built on the tree (``build``,
``pythonenv``, ``ospackages``, ``classify``). Pure: the only input is the layer streams' entries."""
