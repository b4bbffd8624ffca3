"""Entry point: runs the ``deadweight`` command group and is the error-to-exit-code boundary."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Iterator, Sequence
from types import FrameType

import click

from deadweight.cli import audit, fix, guard, inspect, optimize, verify  # noqa: F401 - each registers its command
from deadweight.cli.app import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, cli
from deadweight.errors import DeadweightError
from deadweight.redact import redact

#: 128 + SIGTERM, as a shell reports a process ended by ``kill``.
EXIT_TERMINATED = 128 + signal.SIGTERM


class Terminated(BaseException):
    """SIGTERM or SIGINT arrived: the stack unwinds so that every ``finally`` (temp files, open streams) runs.
    Our own exception rather than KeyboardInterrupt, so that click does not print its own blank line."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    del frame
    raise Terminated(signum)


@contextlib.contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    try:
        previous = {sig: signal.signal(sig, _raise_terminated) for sig in (signal.SIGTERM, signal.SIGINT)}
    except ValueError:  # not the main thread (an embedding application): leave its handlers alone
        yield
        return
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code; errors become one line on stderr."""
    args = list(sys.argv[1:] if argv is None else argv)
    with _sigterm_unwinds():
        code = _run(args)
    if argv is None and code in (EXIT_INTERRUPTED, EXIT_TERMINATED):
        # The main thread has unwound (its finally blocks ran, no half-written output is left); index
        # requests still blocked in worker threads would hold the exit until their timeouts. Their only
        # writes are whole-file replacements in the cache, so ending now loses nothing.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def _run(args: list[str]) -> int:
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
    except Terminated as stop:
        if stop.signum == signal.SIGINT:
            click.echo("deadweight: interrupted", err=True)
            return EXIT_INTERRUPTED
        click.echo("deadweight: terminated", err=True)
        return EXIT_TERMINATED
    return returned if isinstance(returned, int) else EXIT_OK
