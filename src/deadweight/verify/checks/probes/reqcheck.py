"""Run inside an image without pip (``python -c``): ``pip check``'s question with the stdlib only.

Every ``Requires-Dist`` of every installed distribution whose environment marker holds must name an
installed distribution whose version meets the specifier. Prints ``DW-REQ <problem>`` per unmet
requirement, worded as ``pip check`` words it, and ``DW-REQ-DONE <distributions>`` at the end. Markers and
specifiers are read by a small PEP 508/440 reading (numeric release segments); a specifier it cannot
compare is not judged (never a false failure). ``packaging`` may be gone from the image, so it is not used.
"""

from __future__ import annotations

import importlib.metadata as md
import os
import platform
import re
import sys

MARKER_ENV = {
    "python_version": "{}.{}".format(*sys.version_info[:2]),
    "python_full_version": platform.python_version(),
    "os_name": os.name,
    "sys_platform": sys.platform,
    "platform_system": platform.system(),
    "platform_machine": platform.machine(),
    "platform_release": platform.release(),
    "platform_version": platform.version(),
    "implementation_name": sys.implementation.name,
    "platform_python_implementation": platform.python_implementation(),
    "extra": "",
}
_TOKEN = re.compile(
    r"\s*(?:(?P<open>\()|(?P<close>\))|(?P<str>'[^']*'|\"[^\"]*\")"
    r"|(?P<op>===|==|!=|<=|>=|~=|<|>|not\s+in\b|in\b)|(?P<bool>and\b|or\b)|(?P<var>[A-Za-z_][A-Za-z0-9_.]*))"
)
_REQ = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*\(?([^;@()]*)\)?\s*(@[^;]*)?(?:;(.*))?$")
_SPEC = re.compile(r"(===|==|!=|<=|>=|~=|<|>)\s*(\S+)")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def release(version: str) -> tuple[int, ...] | None:
    match = re.match(r"\s*v?(\d+(?:\.\d+)*)", version)
    return tuple(int(x) for x in match.group(1).split(".")) if match else None


def compare(have: str, op: str, want: str) -> bool:
    """Whether version ``have`` meets ``op want``; True when it cannot tell (never a false failure)."""
    if op in ("==", "!=") and want.endswith(".*"):
        prefix, got = release(want[:-2]), release(have)
        same = prefix is not None and got is not None and got[: len(prefix)] == prefix
        return same if op == "==" else not same
    x, y = release(have), release(want)
    if x is None or y is None:
        return {"==": have == want, "===": have == want, "!=": have != want}.get(op, True)
    width = max(len(x), len(y))
    x, y = x + (0,) * (width - len(x)), y + (0,) * (width - len(y))
    if op == "~=":
        prefix = release(want) or ()
        return x >= y and x[: len(prefix) - 1] == prefix[: len(prefix) - 1]
    results = {"==": x == y, "===": x == y, "!=": x != y, "<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}
    return results[op]


def marker_holds(text: str, env: dict[str, str] | None = None) -> bool:
    """PEP 508 marker ``text`` evaluated for this interpreter (raises ValueError when unreadable)."""
    values = MARKER_ENV if env is None else env
    tokens: list[re.Match[str]] = []
    pos, end = 0, len(text.rstrip())
    while pos < end:
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise ValueError(text)
        tokens.append(match)
        pos = match.end()
    at = 0

    def take() -> re.Match[str]:
        nonlocal at
        if at >= len(tokens):
            raise ValueError(text)
        at += 1
        return tokens[at - 1]

    def value() -> str:
        token = take()
        if token.group("str"):
            return token.group("str")[1:-1]
        if token.group("var"):
            return values.get(token.group("var"), "")
        raise ValueError(text)

    def atom() -> bool:
        if tokens[at].group("open") if at < len(tokens) else False:
            take()
            inner = expression()
            take()
            return inner
        left = value()
        op_token = take()
        if not op_token.group("op"):
            raise ValueError(text)
        op = " ".join(op_token.group("op").split())
        right = value()
        if op in ("in", "not in"):
            return (left in right) == (op == "in")
        if re.match(r"\d", left) and re.match(r"\d", right):
            return compare(left, op, right)
        return {"==": left == right, "!=": left != right}.get(op, False)

    def expression() -> bool:
        held = atom()
        while at < len(tokens) and tokens[at].group("bool"):
            joiner = take().group("bool")
            other = atom()
            held = (held and other) if joiner == "and" else (held or other)
        return held

    return expression()


def problems(installed: dict[str, str], requires: list[tuple[str, str, list[str]]]) -> list[str]:
    """Unmet requirements: ``installed`` canonical name -> version, ``requires`` (name, version, reqs)."""
    found = []
    for name, version, reqs in requires:
        for req in reqs:
            match = _REQ.match(req)
            if match is None:
                continue
            if match.group(5):
                try:
                    if not marker_holds(match.group(5)):
                        continue
                except ValueError:
                    continue
            dep = canonical(match.group(1))
            if dep not in installed:
                found.append(f"{name} {version} requires {match.group(1)}, which is not installed.")
                continue
            for part in (s.strip() for s in (match.group(3) or "").split(",")):
                spec = _SPEC.match(part)
                if spec and not compare(installed[dep], spec.group(1), spec.group(2)):
                    wanted = req.split(";")[0].strip()
                    have = installed[dep]
                    found.append(f"{name} {version} has requirement {wanted}, but you have {match.group(1)} {have}.")
                    break
    return found


def main() -> None:
    installed: dict[str, str] = {}
    requires: list[tuple[str, str, list[str]]] = []
    for dist in md.distributions():
        name = dist.metadata["Name"]
        if not name:
            continue
        installed.setdefault(canonical(name), dist.version)
        requires.append((name, dist.version, list(dist.requires or [])))
    for line in problems(installed, requires):
        print("DW-REQ " + line)
    print(f"DW-REQ-DONE {len(installed)}")


if __name__ == "__main__":
    main()
