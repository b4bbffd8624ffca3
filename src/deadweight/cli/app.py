"""The ``deadweight`` click group and the exit codes, shared by every command module.

Command modules (``cli/audit.py``, ``cli/inspect.py``) import the group from here to register on it;
``cli/main.py`` imports them all and runs the group. Nothing imports ``main``, so there is no cycle.
"""

from __future__ import annotations

import click

from deadweight._version import __version__

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_INPUT = 3
EXIT_FIX = 4  # some fix could not be made (or, for verify, a rebuilt image failed its checks)
EXIT_INTERRUPTED = 130


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="deadweight")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Find the dead weight in Python container images."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
