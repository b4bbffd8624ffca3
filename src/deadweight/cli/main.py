"""Entry point: the ``deadweight`` command group and the error-to-exit-code boundary."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from deadweight import __version__
from deadweight.errors import DeadweightError

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_INPUT = 3


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="deadweight")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Find the dead weight in Python container images."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def _register_commands() -> None:
    """Commands live in their own modules; importing them here keeps start-up in one place."""
    from deadweight.cli import commands  # noqa: F401, PLC0415 - registers on import, after cli exists


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code; errors become one line on stderr."""
    _register_commands()
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        # without standalone mode click *returns* the code of a ``click.exceptions.Exit`` raised by a command
        returned = cli.main(args=args, prog_name="deadweight", standalone_mode=False)
    except DeadweightError as exc:
        if debug:
            raise
        click.echo(f"deadweight: error: {exc}", err=True)
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return EXIT_USAGE
    except click.exceptions.Abort:
        click.echo("deadweight: aborted", err=True)
        return 130
    except (BrokenPipeError, KeyboardInterrupt):
        return 130
    return returned if isinstance(returned, int) else EXIT_OK
