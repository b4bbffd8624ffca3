"""Errors the analysis core raises.

The core never exits or prints; ``cli/`` maps each class to a documented exit code. Messages are
one line, name the input and the problem, and never contain credentials.
"""

from __future__ import annotations

from deadweight.safetext import printable


class DeadweightError(Exception):
    """Base class. ``exit_code`` is what the CLI returns for an uncaught instance.

    The message is made printable where it is made (control characters, newlines and undecodable bytes of the
    input it quotes escaped, ``deadweight.safetext.printable``), so every format that shows it, and stderr, gets
    one safe line."""

    exit_code = 3

    def __init__(self, *args: object) -> None:
        if args and isinstance(args[0], str):
            args = (printable(args[0]), *args[1:])
        super().__init__(*args)


class UsageError(DeadweightError):
    """Bad flags, bad reference syntax, bad configuration (exit 2)."""

    exit_code = 2


class ConfigError(UsageError):
    """Configuration file problems: unknown keys, wrong types (exit 2)."""


class SourceError(DeadweightError):
    """An image could not be read: missing file, bad archive, registry failure (exit 3)."""


class DigestMismatchError(SourceError):
    """Bytes did not hash to the digest the manifest or config promised."""


class RegistryError(SourceError):
    """The registry answered with an error or could not be reached."""


class ParseError(DeadweightError):
    """A project file (Dockerfile, requirements, compose, pyproject) could not be parsed (exit 3)."""


class OutputError(DeadweightError):
    """A report could not be written out (a full disk, an I/O error) after its path was opened (exit 3)."""


class FixError(DeadweightError):
    """``fix --write`` could not write the planned edits (a file changed on disk since it was read, a write or
    rename failed); every file is left as it was (exit 4)."""

    exit_code = 4


class BuildError(DeadweightError):
    """A docker build or run failed. ``log``: the build's output when there was one (verify keeps it)."""

    def __init__(self, message: str, *, log: str = "") -> None:
        super().__init__(message)
        self.log = log
