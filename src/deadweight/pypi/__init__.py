"""Package-index access: what a wheel would install, without downloading it.

Used where there is no image to measure (static audit), to size the CPU build of torch for DW101, and to
map module names to distributions. Everything is cached on disk so that a second run works offline.
"""
