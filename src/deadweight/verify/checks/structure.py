"""container-structure-test YAML (``schemaVersion: 2.0.0``), read and judged by deadweight itself.

Supported: ``commandTests`` (name, command, args, envVars, expectedOutput, excludedOutput, expectedError,
excludedError, exitCode), ``fileExistenceTests`` (name, path, shouldExist, permissions, uid, gid),
``fileContentTests`` (name, path, expectedContents, excludedContents) and ``metadataTest`` (env, entrypoint,
cmd, workdir, exposedPorts, user, labels). Expected/excluded texts are regular expressions searched in the
output, as container-structure-test does. Anything else in the file (setup/teardown, licenseTests) is
refused with a ``ConfigError`` naming it, rather than silently not tested.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deadweight.errors import ConfigError
from deadweight.verify.checks.base import config_env

SCHEMA_VERSION = "2.0.0"
_TOP = {"schemaVersion", "commandTests", "fileExistenceTests", "fileContentTests", "metadataTest", "globalEnvVars"}


@dataclass(frozen=True)
class CommandTest:
    name: str
    command: str
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    expected_output: tuple[str, ...] = ()
    excluded_output: tuple[str, ...] = ()
    expected_error: tuple[str, ...] = ()
    excluded_error: tuple[str, ...] = ()
    exit_code: int = 0


@dataclass(frozen=True)
class FileExistenceTest:
    name: str
    path: str
    should_exist: bool = True
    permissions: str | None = None  # "-rw-r--r--", as ``ls -l`` shows it
    uid: int | None = None
    gid: int | None = None


@dataclass(frozen=True)
class FileContentTest:
    name: str
    path: str
    expected_contents: tuple[str, ...] = ()
    excluded_contents: tuple[str, ...] = ()


@dataclass(frozen=True)
class MetadataTest:
    env: Mapping[str, str] = field(default_factory=dict)
    entrypoint: tuple[str, ...] | None = None
    cmd: tuple[str, ...] | None = None
    workdir: str | None = None
    exposed_ports: tuple[str, ...] = ()
    user: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StructureTests:
    source: str  # the file, as the user named it
    commands: tuple[CommandTest, ...] = ()
    files: tuple[FileExistenceTest, ...] = ()
    contents: tuple[FileContentTest, ...] = ()
    metadata: MetadataTest | None = None
    global_env: Mapping[str, str] = field(default_factory=dict)


def _strs(value: Any, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return tuple(str(v) for v in value)
    raise ConfigError(f"{what} must be a string or a list of strings")


def _pairs(value: Any, what: str) -> dict[str, str]:
    """``[{key: K, value: V}, ...]`` as a dict."""
    if value is None:
        return {}
    if not isinstance(value, list):
        raise ConfigError(f"{what} must be a list of {{key, value}}")
    out = {}
    for item in value:
        if not isinstance(item, Mapping) or "key" not in item:
            raise ConfigError(f"{what}: each entry needs a key (and a value)")
        out[str(item["key"])] = str(item.get("value", ""))
    return out


def _table(item: Any, known: set[str], what: str) -> Mapping[str, Any]:
    if not isinstance(item, Mapping):
        raise ConfigError(f"{what} must be a mapping")
    unknown = sorted(set(item) - known)
    if unknown:
        raise ConfigError(
            f"{what}: unsupported key {', '.join(map(str, unknown))} (supported: {', '.join(sorted(known))})"
        )
    return item


def _patterns(value: Any, what: str) -> tuple[str, ...]:
    patterns = _strs(value, what)
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ConfigError(f"{what}: {pattern!r} is not a regular expression ({exc})") from None
    return patterns


def parse_structure_tests(doc: Any, source: str) -> StructureTests:
    """Validate a parsed structure-test document; a ``ConfigError`` names ``source`` and what is wrong."""
    where = source
    top = _table(doc, _TOP, where)
    if str(top.get("schemaVersion", "")) != SCHEMA_VERSION:
        raise ConfigError(f"{where}: schemaVersion must be {SCHEMA_VERSION!r} (got {top.get('schemaVersion')!r})")
    commands = []
    for i, item in enumerate(top.get("commandTests") or []):
        what = f"{where}: commandTests[{i}]"
        t = _table(
            item,
            {
                "name",
                "command",
                "args",
                "envVars",
                "expectedOutput",
                "excludedOutput",
                "expectedError",
                "excludedError",
                "exitCode",
            },
            what,
        )
        if not isinstance(t.get("command"), str) or not t["command"]:
            raise ConfigError(f"{what}: command must be a non-empty string")
        code = t.get("exitCode", 0)
        if isinstance(code, bool) or not isinstance(code, int):
            raise ConfigError(f"{what}: exitCode must be an integer")
        commands.append(
            CommandTest(
                name=str(t.get("name") or t["command"]),
                command=t["command"],
                args=_strs(t.get("args"), f"{what} args"),
                env=_pairs(t.get("envVars"), f"{what} envVars"),
                expected_output=_patterns(t.get("expectedOutput"), f"{what} expectedOutput"),
                excluded_output=_patterns(t.get("excludedOutput"), f"{what} excludedOutput"),
                expected_error=_patterns(t.get("expectedError"), f"{what} expectedError"),
                excluded_error=_patterns(t.get("excludedError"), f"{what} excludedError"),
                exit_code=code,
            )
        )
    files = []
    for i, item in enumerate(top.get("fileExistenceTests") or []):
        what = f"{where}: fileExistenceTests[{i}]"
        t = _table(item, {"name", "path", "shouldExist", "permissions", "uid", "gid", "isExecutableBy"}, what)
        if "isExecutableBy" in t:
            raise ConfigError(f"{what}: isExecutableBy is not supported; use permissions")
        if not isinstance(t.get("path"), str) or not t["path"].startswith("/"):
            raise ConfigError(f"{what}: path must be an absolute path")
        should = t.get("shouldExist", True)
        if not isinstance(should, bool):
            raise ConfigError(f"{what}: shouldExist must be true or false")
        perms = t.get("permissions")
        if perms is not None and not re.fullmatch(r"[-dlcbps][-rwxsStT]{9}", str(perms)):
            raise ConfigError(f"{what}: permissions must look like -rw-r--r-- (got {perms!r})")
        files.append(
            FileExistenceTest(
                name=str(t.get("name") or t["path"]),
                path=t["path"],
                should_exist=should,
                permissions=str(perms) if perms is not None else None,
                uid=_int_or_none(t.get("uid"), f"{what} uid"),
                gid=_int_or_none(t.get("gid"), f"{what} gid"),
            )
        )
    contents = []
    for i, item in enumerate(top.get("fileContentTests") or []):
        what = f"{where}: fileContentTests[{i}]"
        t = _table(item, {"name", "path", "expectedContents", "excludedContents"}, what)
        if not isinstance(t.get("path"), str) or not t["path"].startswith("/"):
            raise ConfigError(f"{what}: path must be an absolute path")
        contents.append(
            FileContentTest(
                name=str(t.get("name") or t["path"]),
                path=t["path"],
                expected_contents=_patterns(t.get("expectedContents"), f"{what} expectedContents"),
                excluded_contents=_patterns(t.get("excludedContents"), f"{what} excludedContents"),
            )
        )
    metadata = None
    if top.get("metadataTest") is not None:
        what = f"{where}: metadataTest"
        t = _table(top["metadataTest"], {"env", "entrypoint", "cmd", "workdir", "exposedPorts", "user", "labels"}, what)
        metadata = MetadataTest(
            env=_pairs(t.get("env"), f"{what} env"),
            entrypoint=_strs(t["entrypoint"], f"{what} entrypoint") if "entrypoint" in t else None,
            cmd=_strs(t["cmd"], f"{what} cmd") if "cmd" in t else None,
            workdir=str(t["workdir"]) if "workdir" in t else None,
            exposed_ports=_strs(t.get("exposedPorts"), f"{what} exposedPorts"),
            user=str(t["user"]) if "user" in t else None,
            labels=_pairs(t.get("labels"), f"{what} labels"),
        )
    return StructureTests(
        source,
        tuple(commands),
        tuple(files),
        tuple(contents),
        metadata,
        _pairs(top.get("globalEnvVars"), f"{where} globalEnvVars"),
    )


def _int_or_none(value: Any, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{what} must be an integer")
    return value


def load_structure_tests(path: Path, source: str) -> StructureTests:
    """Read and validate one YAML file (``source``: the name to put in errors)."""
    from ruamel.yaml import YAML  # noqa: PLC0415 - only projects with structure tests pay for it
    from ruamel.yaml.error import YAMLError  # noqa: PLC0415

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{source}: cannot read: {exc}") from None
    try:
        doc = YAML(typ="safe", pure=True).load(text)
    except YAMLError as exc:
        raise ConfigError(f"{source}: invalid YAML: {' '.join(str(exc).split())[:200]}") from None
    return parse_structure_tests(doc, source)


def output_problems(text: str, expected: Sequence[str], excluded: Sequence[str], what: str) -> list[str]:
    """Why ``text`` does not hold every ``expected`` pattern or holds an ``excluded`` one."""
    problems = [f"{what} does not match {p!r}" for p in expected if not re.search(p, text)]
    problems += [f"{what} matches excluded {p!r}" for p in excluded if re.search(p, text)]
    return problems


def metadata_problems(test: MetadataTest, config: Mapping[str, Any]) -> list[str]:
    """Differences between ``test`` and an image's ``Config`` (inspect's JSON)."""
    problems = []
    env = config_env(config)
    for key, value in test.env.items():
        if env.get(key) != value:
            problems.append(f"env {key}={env.get(key)!r}, expected {value!r}")
    if test.entrypoint is not None and tuple(config.get("Entrypoint") or ()) != test.entrypoint:
        problems.append(f"entrypoint {config.get('Entrypoint')}, expected {list(test.entrypoint)}")
    if test.cmd is not None and tuple(config.get("Cmd") or ()) != test.cmd:
        problems.append(f"cmd {config.get('Cmd')}, expected {list(test.cmd)}")
    if test.workdir is not None and (config.get("WorkingDir") or "") != test.workdir:
        problems.append(f"workdir {config.get('WorkingDir')!r}, expected {test.workdir!r}")
    if test.user is not None and (config.get("User") or "") != test.user:
        problems.append(f"user {config.get('User')!r}, expected {test.user!r}")
    exposed = {str(k) for k in config.get("ExposedPorts") or {}}
    for port in test.exposed_ports:
        if port not in exposed and f"{port}/tcp" not in exposed:
            problems.append(f"port {port} not exposed (exposed: {', '.join(sorted(exposed)) or 'none'})")
    labels = config.get("Labels") or {}
    for key, value in test.labels.items():
        if labels.get(key) != value:
            problems.append(f"label {key}={labels.get(key)!r}, expected {value!r}")
    return problems
