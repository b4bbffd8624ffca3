"""The command line: options, wiring, and turning errors into messages and exit codes. Nothing else."""
