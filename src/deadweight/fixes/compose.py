"""Editor for compose files: a service's memory limit (DW701/DW702), in the form and unit style the file uses.

The new limit is the observed peak times ``FixSettings.memory_headroom`` (1.5) rounded up to 64 MiB
(``rules.dw70x_memory.suggested_limit``, the one place that rule lives). Where the service sets
``mem_limit`` that value changes; where it sets ``deploy.resources.limits.memory`` that one; both: both, when
they agree (refused when they do not); neither: ``deploy.resources.limits.memory`` is added at the end of the
service's block mapping (refused for flow-style mappings).

The edit is text: the one scalar replaced in the line and column ruamel.yaml recorded (its quotes kept), or
whole lines inserted, so comments, anchors, ``x-`` extensions, quoting, key order and CRLF stay byte for byte.
It is then checked the Renovate way: deadweight's own compose parser re-reads the text and must find exactly
the new limit for this service and the old limits for every other one, and the whole document, read as data,
must equal the old one with only the limit changed.

Refused: a limit that comes from a ``<<:`` merge or ``extends`` (the anchor is shared by other services), a
service or mapping on the way that is an anchor other services merge, a value that is an alias, tagged, a
block scalar or interpolated other than ``${VAR:-default}``. For ``${VAR:-default}`` / ``${VAR-default}`` the
default is edited (noted: the variable, where set, still wins), and refused when the variable is set in the
environment or ``.env`` the audit read (the edit would change nothing).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from deadweight.fixes.base import FixContext, FixRefused
from deadweight.fixes.compose_yaml import (
    Scalar,
    format_like,
    load,
    own_keys,
    parse_services,
    plain,
    project_values,
    scalar_at,
)
from deadweight.fixes.text import insert_lines, lines, replace_lines
from deadweight.model.remedy import SetMemoryLimit
from deadweight.project.compose import ComposeService, interpolate, parse_memory
from deadweight.rules.dw70x_memory import HEADROOM, LIMIT_STEP, suggested_limit
from deadweight.units import human_bytes

__all__ = ["set_memory_limit", "target_limit"]

_DEPLOY_PATH = ("deploy", "resources", "limits", "memory")
_INTERPOLATED_RE = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)(:?-)([^{}$]*)\}$")
_DEFAULT_STYLE = "512m"


@dataclass(frozen=True)
class _Site:
    """One place the service's limit is written."""

    keys: tuple[str, ...]  # from the service: ("mem_limit",) or _DEPLOY_PATH
    scalar: Scalar
    variable: tuple[str, str] | None = None  # (name, op) when the value is ${NAME:-default}

    @property
    def label(self) -> str:
        return ".".join(self.keys)

    @property
    def style(self) -> str:
        """The figure whose unit style the new value copies (the default, for an interpolation)."""
        if self.variable is None:
            return self.scalar.content
        match = _INTERPOLATED_RE.match(self.scalar.content)
        assert match is not None
        return match.group(3)

    def new_content(self, target: int) -> str:
        figure = format_like(self.style, target)
        if self.variable is None:
            return figure
        return "${" + self.variable[0] + self.variable[1] + figure + "}"


def target_limit(edit: SetMemoryLimit, headroom: float) -> int:
    """The limit to set: the observed peak x ``headroom`` rounded up to 64 MiB.

    The rule's ``limit_bytes`` is that figure for the default headroom; a remedy that carries the peak
    (``peak_bytes``) is recomputed for another headroom, one that does not is refused for it.
    """
    peak = edit.peak_bytes
    if isinstance(peak, int) and not isinstance(peak, bool) and peak > 0:
        return suggested_limit(peak, headroom)
    if headroom != HEADROOM:
        raise FixRefused(f"the finding does not carry the observed peak: cannot apply a headroom of {headroom:g}")
    if edit.limit_bytes <= 0:
        raise FixRefused("the suggested limit is not a positive number of bytes")
    return -(-edit.limit_bytes // LIMIT_STEP) * LIMIT_STEP


def set_memory_limit(edit: SetMemoryLimit, ctx: FixContext) -> None:
    file = edit.file or ctx.service.compose_file
    if not file or not file.lower().endswith((".yml", ".yaml")):
        raise FixRefused("the service is not defined in a compose file: set its memory limit where it is deployed")
    workspace = ctx.workspace
    key = workspace.key(file)
    display = workspace.display(key)
    text = workspace.text(key)
    target = target_limit(edit, ctx.settings.memory_headroom)
    doc = load(text, display)
    values = project_values(Path(key))
    before = parse_services(doc, Path(key), values)
    name = edit.service
    if name not in before:
        raise FixRefused(f"service {name} is not in {display}")
    if before[name].error:
        raise FixRefused(before[name].error or "")
    services = doc["services"]
    node = services[name]
    if not isinstance(node, Mapping):
        raise FixRefused(f"service {name} in {display} is not a mapping")
    physical = lines(text)
    _refuse_shared(node, text, f"service {name}")
    sites = _sites(node, physical, values, name)
    changes: dict[tuple[str, ...], str] = {}
    if sites:
        figures = {site.label: parse_memory(interpolate(site.scalar.content, values)) for site in sites}
        if None in figures.values():
            bad = next(label for label, value in figures.items() if value is None)
            raise FixRefused(f"cannot read the {bad} of service {name}")
        if len(set(figures.values())) > 1:
            shown = ", ".join(f"{label} {human_bytes(value or 0)}" for label, value in figures.items())
            raise FixRefused(f"service {name} sets two memory limits that disagree ({shown}): make them one by hand")
        if all(value == target for value in figures.values()):
            return  # already the limit: nothing to do
        new_text = text
        for site in sites:
            content = site.new_content(target)
            raw = site.scalar.raw(content)
            line = physical[site.scalar.line].rstrip("\r\n")
            new_text = replace_lines(new_text, site.scalar.line + 1, site.scalar.line + 1,
                                     [line[:site.scalar.start] + raw + line[site.scalar.end:]])
            changes[site.keys] = raw
            if site.variable is not None:
                ctx.notes.append(f"set the default of ${{{site.variable[0]}}} in {site.label}; "
                                 f"{site.variable[0]}, where set when the service is deployed, still wins")
    else:
        if before[name].memory_limit_bytes is not None:
            raise FixRefused(f"the memory limit of service {name} is inherited (a <<: merge or extends): it is "
                             "shared with other services, so set this service's own limit by hand")
        new_text, raw = _insert(text, physical, doc, name, target)
        changes[_DEPLOY_PATH] = raw
    _verify(doc, new_text, display=display, path=Path(key), values=values, before=before, name=name, target=target,
            changes=changes)
    workspace.set(key, new_text)


def _sites(node: Any, physical: list[str], values: Mapping[str, str], name: str) -> list[_Site]:
    """The service's own ``mem_limit`` and ``deploy.resources.limits.memory`` scalars."""
    out: list[_Site] = []
    for keys in (("mem_limit",), _DEPLOY_PATH):
        parent = node
        for key in keys[:-1]:
            if not isinstance(parent, Mapping) or key not in parent:
                parent = None
                break
            if key not in own_keys(parent):
                raise FixRefused(f"{key} of service {name} comes from a <<: merge (shared): set the limit by hand")
            parent = parent[key]
        if not isinstance(parent, Mapping) or keys[-1] not in parent:
            continue
        if keys[-1] not in own_keys(parent):
            raise FixRefused(f"the {'.'.join(keys)} of service {name} comes from a <<: merge of an anchor other "
                             "services share: set this service's own limit by hand")
        holder: Any = parent
        line, col = holder.lc.value(keys[-1])
        what = f"the {'.'.join(keys)} of service {name}"
        scalar = scalar_at(physical, line, col, flow=_is_flow(parent), what=what)
        variable = None
        if "$" in scalar.content:
            match = _INTERPOLATED_RE.match(scalar.content)
            if match is None:
                raise FixRefused(f"{what} is interpolated ({scalar.content}): set it where the variable is defined")
            var, op = match.group(1), match.group(2)
            if var in values and (values[var] or op == "-"):
                raise FixRefused(f"{what} is ${{{var}}}, and {var} is set (environment or .env): change it there")
            variable = (var, op)
        out.append(_Site(keys, scalar, variable))
    return out


def _is_flow(node: Any) -> bool:
    fa = getattr(node, "fa", None)
    return bool(fa is not None and fa.flow_style())


def _refuse_shared(node: Any, text: str, what: str) -> None:
    """An anchored mapping on the way that some alias refers to: an edit there changes the others too."""
    stack = [node]
    while stack:
        current = stack.pop()
        anchor = getattr(getattr(current, "anchor", None), "value", None)
        if anchor and re.search(r"\*" + re.escape(anchor) + r"(?![^\s,\]\}])", text):
            raise FixRefused(f"{what} holds the anchor &{anchor} that other entries use: editing it would change "
                             "them too")
        if isinstance(current, Mapping):
            stack.extend(current[k] for k in ("deploy", "resources", "limits") if k in current)


def _insert(text: str, physical: list[str], doc: Any, name: str, target: int) -> tuple[str, str]:
    """Add ``deploy.resources.limits.memory`` at the end of the deepest of those mappings the service has."""
    services = doc["services"]
    chain: list[tuple[Any, Any]] = [(doc, "services"), (services, name)]
    mapping = services[name]
    missing = list(_DEPLOY_PATH[:-1])
    while missing and missing[0] in mapping:
        key = missing[0]
        if key not in own_keys(mapping):
            raise FixRefused(f"{key} of service {name} comes from a <<: merge: set the limit by hand")
        child = mapping[key]
        if not isinstance(child, Mapping):
            raise FixRefused(f"{key} of service {name} is not a mapping: set the limit by hand")
        chain.append((mapping, key))
        mapping = child
        missing.pop(0)
    for parent, key in chain[1:]:
        if _is_flow(parent[key]):
            what = f"service {name}" if key == name else f"the {key} of service {name}"
            raise FixRefused(f"{what} is written in flow style ({{...}}): add the limit by hand")
    keys = own_keys(mapping)
    if not keys:
        raise FixRefused(f"service {name} has an empty mapping where the limit would go")
    column = mapping.lc.key(keys[0])[1]
    service_keys = own_keys(services[name])
    step = services[name].lc.key(service_keys[0])[1] - services.lc.key(name)[1] if service_keys else 2
    step = step if step > 0 else 2
    model = _style_model(services, physical)
    figure = format_like(model.content if model else _DEFAULT_STYLE, target)
    raw = model.raw(figure) if model else figure
    block = [" " * (column + i * step) + f"{key}:" for i, key in enumerate(missing)]
    block.append(" " * (column + len(missing) * step) + f"memory: {raw}")
    at = _next_line(chain)
    at = len(physical) if at is None else at
    while at > 0 and (not physical[at - 1].strip() or physical[at - 1].lstrip().startswith("#")):
        at -= 1
    if at == 0:
        raise FixRefused(f"cannot find where the mapping of service {name} ends")
    return insert_lines(text, at + 1, block), raw


def _next_line(chain: list[tuple[Any, Any]]) -> int | None:
    """The 0-based line of the first key after the innermost mapping of ``chain`` (None: the end of the file)."""
    for parent, key in reversed(chain):
        keys = own_keys(parent)
        index = keys.index(key)
        if index + 1 < len(keys):
            return int(parent.lc.key(keys[index + 1])[0])
    return None


def _style_model(services: Any, physical: list[str]) -> Scalar | None:
    """The first plain memory figure the file writes (any service's own limit), for the unit style."""
    for name in services:
        node = services[name]
        if not isinstance(node, Mapping):
            continue
        try:
            sites = _sites(node, physical, {}, str(name))
        except FixRefused:
            continue
        for site in sites:
            if site.variable is None and parse_memory(site.scalar.content) is not None:
                return site.scalar
    return None


def _verify(doc: Any, new_text: str, *, display: str, path: Path, values: Mapping[str, str],
            before: dict[str, ComposeService], name: str, target: int, changes: dict[tuple[str, ...], str]) -> None:
    """Re-read the edited text with deadweight's parser and as data: exactly the limit changed."""
    new_doc = load(new_text, display)
    after = parse_services(new_doc, path, values)
    if set(after) != set(before):
        raise FixRefused(f"the edit of {display} changed its services: not made")
    mine = after[name]
    if mine.error or mine.memory_limit_bytes != target:
        raise FixRefused(f"re-reading {display} after the edit does not give service {name} the new limit: not made")
    for other, service in before.items():
        if other != name and after[other].memory_limit_bytes != service.memory_limit_bytes:
            raise FixRefused(f"the edit of {display} would change the limit of service {other} too: not made")
    expected = plain(doc)
    for keys, raw in changes.items():
        holder = expected["services"][name]
        for key in keys[:-1]:
            holder = holder.setdefault(key, {})
        holder[keys[-1]] = plain(YAML(typ="rt").load(raw))
    if plain(new_doc) != expected:
        raise FixRefused(f"the edit of {display} would change more than the memory limit: not made")
