"""Allow ``python -m deadweight``."""

from deadweight.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())
