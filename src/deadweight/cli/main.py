"""Entry point: runs the ``deadweight`` command group and is the error-to-exit-code boundary."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from deadweight.cli import audit, guard, inspect  # noqa: F401 - each registers its command on the group
from deadweight.cli.app import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, cli
from deadweight.errors import DeadweightError
from deadweight.redact import redact


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code; errors become one line on stderr."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        # without standalone mode click *returns* the code of a ``click.exceptions.Exit`` raised by a command
        returned = cli.main(args=args, prog_name="deadweight", standalone_mode=False)
    except DeadweightError as exc:
        if debug:
            raise
        click.echo(f"deadweight: error: {redact(str(exc))}", err=True)
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return EXIT_USAGE
    except click.exceptions.Abort:
        click.echo("deadweight: aborted", err=True)
        return EXIT_INTERRUPTED
    except (BrokenPipeError, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    return returned if isinstance(returned, int) else EXIT_OK
