"""``build_inventory``: from a final file tree and the image config to the Inventory.

Steps, each linear in the tree: index every node once; find the environments; read each
distribution's metadata and RECORD; decide who owns every file (RECORD claims, then ``__pycache__``
and ``*.libs`` inference); evaluate requirements and the dependency graph; classify; read OS
packages; count every byte of the image once in the breakdown. Pure: no I/O beyond the tree.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Iterable
from dataclasses import dataclass, field

from packaging.utils import canonicalize_name

from deadweight.inventory import classify
from deadweight.inventory.breakdown import compute_breakdown
from deadweight.inventory.depgraph import DepGraph
from deadweight.inventory.distributions import (
    MODULE_SUFFIXES,
    Metadata,
    ParsedRequirement,
    RecordRow,
    decode,
    evaluate,
    marker_environment,
    marker_true,
    module_names,
    parse_entry_points,
    parse_lines,
    parse_metadata,
    parse_record,
    parse_requirements,
    parse_requires_txt,
)
from deadweight.inventory.nogc import paused_gc
from deadweight.inventory.ospackages import read_os_packages
from deadweight.inventory.pythonenv import EnvSpec, discover
from deadweight.model.image import EntryKind, ImageConfig
from deadweight.model.inventory import (
    Distribution,
    EntryPoint,
    Inventory,
    PythonEnvironment,
    Requirement,
)
from deadweight.model.tree import TreeView

_META_SUFFIXES = (".dist-info", ".egg-info")


@dataclass
class _Draft:
    """A distribution while the inventory is being built (mutable; frozen into ``Distribution``)."""

    env: EnvSpec
    meta_dir: str
    name: str
    display_name: str
    version: str
    layer: int  # layer of the metadata dir: the later install wins a file two RECORDs claim
    metadata: Metadata
    installer: str | None = None
    requested: bool | None = None
    direct_url: str | None = None
    recorded: bool = False  # an install record (RECORD / installed-files.txt) was read
    claims: list[str] = field(default_factory=list)  # image paths present in the tree
    missing: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    top_level_hint: list[str] = field(default_factory=list)
    entry_points: list[EntryPoint] = field(default_factory=list)
    parsed_reqs: list[ParsedRequirement] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # owned after conflict resolution and inference
    size: int = 0
    pycache: int = 0
    requires: tuple[Requirement, ...] = ()
    import_names: tuple[str, ...] = ()
    module_paths: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[str, str]:
        return (self.env.path, self.meta_dir)


@dataclass
class _Index:
    """One pass over the tree: every file's size, and each environment's files by top-level entry.

    Plain ``(path, size)`` pairs, not tree nodes: an image has 10^4-10^5 paths and building an object
    per path was most of the inventory's time.
    """

    sizes: dict[str, int]  # every non-directory path -> its size
    env_top: dict[str, dict[str, list[tuple[str, int]]]]  # env path -> first path segment -> (file, size)


def build_inventory(tree: TreeView, image_config: ImageConfig, *, workdir_code: bool = True) -> Inventory:
    """Everything deadweight knows about what is inside the image whose final tree is ``tree``."""
    with paused_gc():  # ~10^5 small objects, no cycles: collections would only slow it down
        return _build_inventory(tree, image_config, workdir_code=workdir_code)


def _build_inventory(tree: TreeView, image_config: ImageConfig, *, workdir_code: bool) -> Inventory:
    specs = discover(tree, tree.paths(), image_config)
    index = _index(tree, specs)
    warnings: list[str] = []

    conda_prefixes = sorted({s.prefix for s in specs if s.kind == "conda"})
    os_packages, os_owner, os_warnings = read_os_packages(tree, conda_prefixes)
    warnings.extend(os_warnings)
    os_files: dict[str, list[str]] = {}
    for pkg in os_packages:
        os_files[f"{pkg.manager}:{pkg.name}"] = list(pkg.files)

    fallback_version = next((s.python_version for s in specs if s.python_version), None)
    drafts_by_env: dict[str, list[_Draft]] = {}
    for spec in specs:
        drafts_by_env[spec.path] = [
            _read_distribution(tree, spec, index, name, os_owner=os_owner, os_files=os_files)
            for name in sorted(index.env_top.get(spec.path, {}))
            if name.endswith(_META_SUFFIXES)
        ]
    all_drafts = [d for ds in drafts_by_env.values() for d in ds]
    owner = _resolve_ownership(tree, all_drafts)

    orphans_by_env: dict[str, list[tuple[str, int]]] = {}
    installed: dict[str, dict[str, _Draft]] = {}  # env path -> canonical name -> the copy that counts
    for spec in specs:
        drafts = drafts_by_env[spec.path]
        orphans_by_env[spec.path] = _infer_and_orphans(spec, index, drafts, owner, os_owner)
        _finish_drafts(index, spec, drafts, owner)
        version = spec.python_version or fallback_version
        if spec.python_version is None:
            spec.warnings.append("Python version unknown; markers evaluated for " + (version or "Python 3"))
        installed[spec.path] = _requirements(spec, drafts, version, image_config)
    kept = _required_from_venvs(specs, drafts_by_env, installed)

    environments: list[PythonEnvironment] = []
    py_owner: dict[str, Distribution] = {}
    orphan_paths: dict[str, str] = {}  # orphan file -> env path
    for spec in specs:
        orphans = orphans_by_env[spec.path]
        dists = _distributions(spec, drafts_by_env[spec.path], installed[spec.path], kept.get(spec.path, set()))
        env = PythonEnvironment(
            path=spec.path,
            kind=spec.kind,
            python_version=spec.python_version,
            prefix=spec.prefix,
            distributions=tuple(sorted(dists, key=lambda d: (d.name, d.metadata_path))),
            orphan_files=tuple(sorted(p for p, _ in orphans)),
            orphan_bytes=sum(size for _, size in orphans),
            warnings=tuple(spec.warnings),
            base_environments=tuple(spec.base_envs),
        )
        environments.append(env)
        for dist in env.distributions:
            for path in dist.files:
                py_owner[path] = dist
        for path, _ in orphans:
            orphan_paths[path] = spec.path

    breakdown, breakdown_warnings = compute_breakdown(
        tree,
        index.sizes,
        py_owner=py_owner,
        os_owner=os_owner,
        os_packages=os_packages,
        orphans=orphan_paths,
        workdir=image_config.working_dir if workdir_code else "",
        conda_prefixes=conda_prefixes,
    )
    warnings.extend(breakdown_warnings)
    return Inventory(
        environments=tuple(sorted(environments, key=lambda e: e.path)),
        os_packages=tuple(sorted(os_packages, key=lambda p: (p.manager, p.name))),
        breakdown=breakdown,
        warnings=tuple(warnings),
    )


def _index(tree: TreeView, specs: list[EnvSpec]) -> _Index:
    env_top: dict[str, dict[str, list[tuple[str, int]]]] = {s.path: {} for s in specs}
    extra = sorted((s.path for s in specs if s.kind == "pythonpath"), key=len, reverse=True)
    sizes = tree.file_sizes()
    sites = [s.path + "/" for s in specs if s.kind != "pythonpath"]
    last_site, last_env = "\0", ""  # paths come in runs under one site dir: try the last one first
    last_top: tuple[str, str] | None = None  # (env, top) of the last bucket, and the bucket
    bucket: list[tuple[str, int]] = []
    for path in tree.paths():
        env: str | None = None
        if "-packages/" in path:
            if path.startswith(last_site):
                env = last_env
            else:
                for site in sites:
                    if path.startswith(site):
                        env = last_env = site[:-1]
                        last_site = site
                        break
        if env is None:
            for candidate in extra:
                if path.startswith(candidate + "/"):
                    env = candidate
                    break
            if env is None:
                continue
        cut = len(env) + 1 if env else 0
        end = path.find("/", cut)
        top = path[cut:end] if end >= 0 else path[cut:]
        if last_top is None or last_top[1] != top or last_top[0] != env:
            last_top = (env, top)
            tops = env_top[env]
            bucket = tops.get(top) or tops.setdefault(top, [])  # a top-level directory has a (maybe empty) bucket
        size = sizes.get(path)
        if size is not None:
            bucket.append((path, size))
    return _Index(sizes, env_top)


def _image_path(spec: EnvSpec, base: str, listed: str) -> tuple[str | None, str | None]:
    """An image path for a RECORD / installed-files entry, or a problem when it leaves the environment."""
    listed = listed.strip()
    if listed and not listed.startswith(("/", ".")) and "/." not in listed and "//" not in listed:
        # already normal (no ".", "..", "//" parts): most RECORD rows; normpath would return it as is
        path = f"{base}/{listed}" if base else listed
        if listed.endswith("/"):
            path = posixpath.normpath(path)
    elif listed.startswith("/"):
        path = posixpath.normpath(listed).lstrip("/")
    else:
        path = posixpath.normpath(f"{base}/{listed}" if base else listed)
        if path == ".." or path.startswith("../"):
            return None, f"escapes the image root: {listed}"
    prefix = spec.prefix
    if prefix and path != prefix and not path.startswith(prefix + "/"):
        return None, f"outside the environment prefix /{prefix}: {listed}"
    return path, None


def _lookup(tree: TreeView, path: str) -> tuple[str, EntryKind, int] | None:
    """``(path, kind, size)`` of the non-directory a listed path names, through symlinks if not as listed."""
    real: str | None = path
    found = tree.stat(path)
    if found is None:
        real = tree.resolve(path)
        found = tree.stat(real) if real is not None else None
    if found is None or real is None or found[0] is EntryKind.DIR:
        return None
    return real, found[0], found[1]


def _name_version_from_dir(dirname: str) -> tuple[str, str]:
    stem = dirname.rsplit(".", 1)[0]
    name, _, rest = stem.partition("-")
    return name, rest.split("-")[0] if rest else ""


def _read_distribution(
    tree: TreeView,
    spec: EnvSpec,
    index: _Index,
    dirname: str,
    *,
    os_owner: dict[str, str],
    os_files: dict[str, list[str]],
) -> _Draft:
    meta_dir = f"{spec.path}/{dirname}" if spec.path else dirname
    meta_node = tree.get(meta_dir)
    is_dir = meta_node is not None and meta_node.kind is EntryKind.DIR
    is_dist_info = dirname.endswith(".dist-info")
    warnings: list[str] = []
    meta_file = meta_dir + ("/METADATA" if is_dist_info else "/PKG-INFO") if is_dir else meta_dir
    raw = tree.read(meta_file)
    metadata = parse_metadata(raw) if raw is not None else Metadata(None, None)
    if raw is None:
        warnings.append(f"no readable {posixpath.basename(meta_file)}; name and version from the directory name")
    dir_name, dir_version = _name_version_from_dir(dirname)
    display = metadata.name or dir_name
    draft = _Draft(
        env=spec,
        meta_dir=meta_dir,
        name=canonicalize_name(display),
        display_name=display,
        version=metadata.version or dir_version,
        layer=meta_node.layer if meta_node is not None else 0,
        metadata=metadata,
        warnings=warnings,
    )
    # the metadata directory itself always belongs to the distribution
    draft.claims.extend(path for path, _size in index.env_top.get(spec.path, {}).get(dirname, []))
    if not is_dir:
        return _egg_info_file(draft)

    def text(name: str) -> bytes | None:
        return tree.read(f"{meta_dir}/{name}")

    if is_dist_info:
        installer = text("INSTALLER")
        draft.installer = decode(installer).strip() or None if installer is not None else None
        draft.requested = tree.get(f"{meta_dir}/REQUESTED") is not None
        draft.direct_url = _direct_url(text("direct_url.json"))
        draft.parsed_reqs, problems = parse_requirements(metadata.requires_dist)
        _read_record(tree, index, draft, text("RECORD"), tree.get(f"{meta_dir}/RECORD") is not None)
    else:
        requires = text("requires.txt")
        lines = metadata.requires_dist or tuple(parse_requires_txt(requires) if requires else ())
        draft.parsed_reqs, problems = parse_requirements(lines)
        _read_egg_files(tree, draft, index, text("installed-files.txt"), text("SOURCES.txt"))
    draft.warnings.extend(problems)
    top = text("top_level.txt")
    draft.top_level_hint = parse_lines(top) if top is not None else []
    eps = text("entry_points.txt")
    draft.entry_points = parse_entry_points(eps) if eps is not None else []
    if not draft.recorded:
        _claim_from_os_package(draft, os_owner, os_files)
    return draft


def _egg_info_file(draft: _Draft) -> _Draft:
    draft.warnings.append("single-file egg-info (distutils): the files it installed are not recorded")
    return draft


def _direct_url(data: bytes | None) -> str | None:
    if data is None:
        return None
    try:
        doc = json.loads(decode(data))
    except (ValueError, RecursionError):  # broken or absurdly nested: no URL, like any unreadable record
        return None
    url = doc.get("url") if isinstance(doc, dict) else None
    return url if isinstance(url, str) else None


def _claim(
    tree: TreeView, sizes: dict[str, int], draft: _Draft, listed: Iterable[RecordRow], base: str
) -> list[str]:
    """Claim the files ``listed`` names for ``draft`` (missing and outside ones noted on it).

    ``sizes`` is ``_Index.sizes``: every non-directory of ``tree`` and its size.

    Returns the claimed files whose size differs from the one listed with them.
    """
    lies: list[str] = []
    outside: list[str] = []
    prefix = draft.env.prefix
    # the common row: a normal relative path naming a file or link in the tree, inside the prefix; it takes
    # one dict lookup. Anything else goes the general way below, with the same results.
    fast = not prefix or base == prefix or base.startswith(prefix + "/")
    size_of = sizes.get
    claims = draft.claims
    lead = f"{base}/" if base else ""
    file = EntryKind.FILE
    for item, listed_size in listed:
        if fast and item and item[0] not in "/. " and "/." not in item and "//" not in item and item[-1] not in "/ ":
            path = lead + item
            size = size_of(path)
            if size is not None:  # a non-directory
                claims.append(path)
                if listed_size is not None and size != listed_size and (tree.stat(path) or (None,))[0] is file:
                    lies.append(path)
                continue
        normal, problem = _image_path(draft.env, base, item)
        if normal is None:
            outside.append(problem or item)
            continue
        node = _lookup(tree, normal)
        if node is None:
            if tree.get(normal) is None and tree.resolve(normal) is None:
                draft.missing.append(normal)
            continue
        claims.append(node[0])
        if listed_size is not None and node[1] is file and node[2] != listed_size:
            lies.append(node[0])
    if outside:
        shown = "; ".join(outside[:3]) + ("; ..." if len(outside) > 3 else "")
        draft.warnings.append(f"{len(outside)} listed file(s) outside the environment ignored ({shown})")
    return lies


def _read_record(tree: TreeView, index: _Index, draft: _Draft, data: bytes | None, exists: bool) -> None:
    if data is None:
        if exists:
            draft.warnings.append("RECORD present but its content was not captured; files unknown")
        else:
            draft.warnings.append("no RECORD: files unknown")
        return
    parsed = parse_record(data)
    draft.recorded = True
    draft.warnings.extend(parsed.problems)
    lies = _claim(tree, index.sizes, draft, parsed.rows, draft.env.path)
    if lies:
        draft.warnings.append(
            f"RECORD sizes disagree with the image for {len(lies)} file(s) "
            f"(e.g. /{lies[0]}); sizes taken from the image"
        )
    if not parsed.rows:
        draft.warnings.append("RECORD lists no files")


def _read_egg_files(
    tree: TreeView, draft: _Draft, index: _Index, installed: bytes | None, sources: bytes | None
) -> None:
    if installed is not None:
        draft.recorded = True
        _claim(tree, index.sizes, draft, [(line, None) for line in parse_lines(installed)], draft.meta_dir)
        return
    if sources is None:
        draft.warnings.append("egg-info without installed-files.txt or SOURCES.txt: files unknown")
        return
    # SOURCES.txt names source-tree paths (src/pkg/mod.py): map them onto the environment where a
    # file with the same package-relative path exists. Approximate by nature, and said so.
    env_path = draft.env.path
    tops = set(index.env_top.get(env_path, {}))
    listed: list[str] = []
    for line in parse_lines(sources):
        parts = line.split("/")
        for start in range(min(3, len(parts))):
            rel = "/".join(parts[start:])
            head = parts[start]
            if head in tops and not head.endswith(_META_SUFFIXES) and tree.get(f"{env_path}/{rel}"):
                listed.append(rel)
                break
    _claim(tree, index.sizes, draft, [(rel, None) for rel in listed], env_path)
    draft.missing.clear()  # SOURCES.txt is not an install record: absent entries are not "missing"
    draft.warnings.append("no installed-files.txt: files mapped from SOURCES.txt (approximate)")


def _claim_from_os_package(draft: _Draft, os_owner: dict[str, str], os_files: dict[str, list[str]]) -> None:
    """Debian's python3-* packages ship metadata without RECORD; dpkg's file list is authoritative."""
    pkg = next((os_owner[p] for p in draft.claims if p in os_owner), None)
    if pkg is None:
        return
    prefix = draft.env.prefix
    owned = [p for p in os_files.get(pkg, []) if not prefix or p.startswith(prefix + "/")]
    draft.claims.extend(owned)
    # the "files unknown" warning no longer holds: say where the files came from instead
    draft.warnings[:] = [w for w in draft.warnings if "files unknown" not in w and "no RECORD" not in w]
    draft.warnings.append(f"no Python install record; files taken from OS package {pkg.partition(':')[2]}")


def _resolve_ownership(tree: TreeView, drafts: list[_Draft]) -> dict[str, _Draft]:
    """Each claimed path gets one owner: the latest-installed claimer (highest layer), then by name."""
    owner: dict[str, _Draft] = {}
    for draft in sorted(drafts, key=lambda d: (-d.layer, d.name, d.meta_dir)):
        for path in draft.claims:
            owner.setdefault(path, draft)
    return owner


def _infer_and_orphans(
    spec: EnvSpec,
    index: _Index,
    drafts: list[_Draft],
    owner: dict[str, _Draft],
    os_owner: dict[str, str],
) -> list[tuple[str, int]]:
    """Give unclaimed ``__pycache__`` files and ``*.libs`` folders to their owner; return the orphans."""
    libs_owner: dict[str, _Draft] = {}
    if any(top.endswith(".libs") for top in index.env_top.get(spec.path, {})):
        for draft in drafts:
            names = {draft.name, draft.name.replace("-", "_"), *draft.top_level_hint, *_top_entries(draft)}
            for name in names:
                libs_owner.setdefault(f"{name}.libs", draft)
    dir_owner: dict[str, _Draft | None] = {}  # directory -> the one distribution owning files in it, else None
    owner_of = owner.get
    for draft in drafts:
        for path in draft.claims:
            if owner_of(path) is draft:
                parent = path.rpartition("/")[0]
                current = dir_owner.get(parent, draft)
                dir_owner[parent] = draft if current is draft else None

    orphans: list[tuple[str, int]] = []
    for top, files in index.env_top.get(spec.path, {}).items():
        for path, size in files:
            if path in owner or path in os_owner:
                continue
            found: _Draft | None = None
            if "__pycache__/" in path:
                found = _pycache_owner(path, owner, dir_owner)
            elif top.endswith(".libs"):
                found = libs_owner.get(top) or libs_owner.get(top.replace("-", "_"))
            if found is not None:
                owner[path] = found
                found.claims.append(path)
            else:
                orphans.append((path, size))
    return orphans


def _top_entries(draft: _Draft) -> set[str]:
    """First path segments (packages, ``module.py`` without suffix) a distribution's claims start with."""
    env = draft.env.path
    cut = len(env) + 1 if env else 0
    out: set[str] = set()
    for path in draft.claims:
        if not env or path.startswith(env + "/"):
            top = path[cut:].partition("/")[0]
            out.add(top.partition(".")[0])
    return out


def _pycache_owner(path: str, owner: dict[str, _Draft], dir_owner: dict[str, _Draft | None]) -> _Draft | None:
    cache_dir, _, base = path.rpartition("/")
    package_dir = cache_dir.rpartition("/")[0]
    source = f"{package_dir}/{base.partition('.')[0]}.py" if package_dir else f"{base.partition('.')[0]}.py"
    return owner.get(source) or dir_owner.get(package_dir)


def _finish_drafts(index: _Index, spec: EnvSpec, drafts: list[_Draft], owner: dict[str, _Draft]) -> None:
    """Owned files, sizes, and import names (namespace-aware) for an environment's distributions."""
    env = spec.path
    cut = len(env) + 1 if env else 0
    rels: dict[int, list[str]] = {}
    size_of, owner_of = index.sizes.get, owner.get
    inside = env + "/"
    for draft in drafts:
        claimed = set(draft.claims)
        files = [p for p in claimed if owner_of(p) is draft]
        files.sort()
        draft.files = files
        draft.size = sum([size_of(p, 0) for p in files])
        draft.pycache = sum([size_of(p, 0) for p in files if "__pycache__/" in p])
        # module names come from code files only: leave the rest (most of a wheel) out before slicing paths
        code = [p for p in claimed if p.endswith(MODULE_SUFFIXES)]
        rels[id(draft)] = [p[cut:] for p in code if p.startswith(inside)] if env else code
        if draft.missing:
            n_pyc = sum(1 for p in draft.missing if "__pycache__/" in p)
            detail = f" ({n_pyc} of them __pycache__)" if n_pyc else ""
            draft.warnings.append(f"{len(draft.missing)} recorded file(s) missing from the final tree{detail}")

    # a top-level name several distributions ship (google, nvidia, azure) is a namespace: name the
    # sub-packages each one contributes instead
    tops: dict[str, int] = {}
    per_draft: dict[int, list[str]] = {}
    for draft in drafts:
        modules = sorted(module_names(rels[id(draft)]))
        draft.module_paths = tuple(modules)
        top_names = sorted({m.partition(".")[0] for m in modules})
        per_draft[id(draft)] = top_names
        for name in top_names:
            tops[name] = tops.get(name, 0) + 1
    for draft in drafts:
        modules = list(draft.module_paths)
        if draft.metadata.import_names:
            draft.import_names = tuple(sorted(set(draft.metadata.import_names)))
            continue
        names: set[str] = set()
        for top in per_draft[id(draft)]:
            subs = {".".join(m.split(".")[:2]) for m in modules if m.startswith(top + ".")} if tops[top] > 1 else set()
            names.update(subs or {top})
        if not names:
            names.update(draft.top_level_hint)
        draft.import_names = tuple(sorted(n for n in names if n))


def _requirements(
    spec: EnvSpec, drafts: list[_Draft], version: str | None, image_config: ImageConfig
) -> dict[str, _Draft]:
    """Evaluate requirements (markers, and extras asked for by installed dependents); the installed copy of
    each name (a stale second copy is reported)."""
    env = marker_environment(version, image_config.platform)
    by_name: dict[str, _Draft] = {}
    for draft in sorted(drafts, key=lambda d: (-d.layer, d.meta_dir)):
        if draft.name in by_name:
            spec.warnings.append(
                f"{draft.name} is installed twice ({posixpath.basename(by_name[draft.name].meta_dir)} and "
                f"{posixpath.basename(draft.meta_dir)}): a stale copy left behind"
            )
            continue
        by_name[draft.name] = draft
    extras: dict[str, set[str]] = {d.name: set() for d in drafts}
    changed = True
    while changed:  # extras asked for by installed dependents can enable more requirements: fixpoint
        changed = False
        for draft in drafts:
            for req in draft.parsed_reqs:
                if req.name not in by_name or not req.extras:
                    continue
                wanted_extra = req.extra
                if wanted_extra is None and not marker_true(req, env):
                    continue
                if wanted_extra is not None and (
                    wanted_extra not in extras[draft.name] or not marker_true(req, env, wanted_extra)
                ):
                    continue
                new = set(req.extras) - extras[req.name]
                if new:
                    extras[req.name] |= new
                    changed = True

    for draft in drafts:
        draft.requires = tuple(evaluate(r, env, extras[draft.name]) for r in draft.parsed_reqs)
    return by_name


def _required_from_venvs(
    specs: list[EnvSpec], drafts_by_env: dict[str, list[_Draft]], installed: dict[str, dict[str, _Draft]]
) -> dict[str, set[str]]:
    """Env path -> names a ``--system-site-packages`` venv's distributions require from it (not installed in
    the venv itself): removing anything else must leave them, and what they need, in place."""
    kept: dict[str, set[str]] = {}
    for spec in specs:
        if not spec.base_envs:
            continue
        own = installed[spec.path]
        for draft in drafts_by_env[spec.path]:
            for req in draft.requires:
                if not req.active or req.name in own:
                    continue
                for base in spec.base_envs:
                    if req.name in installed.get(base, {}):
                        kept.setdefault(base, set()).add(req.name)
    return kept


def _distributions(
    spec: EnvSpec, drafts: list[_Draft], by_name: dict[str, _Draft], kept: set[str]
) -> list[Distribution]:
    """The dependency graph, classes and builds: each draft frozen into a ``Distribution``."""
    edges = {d.name: [r.name for r in d.requires if r.active and r.name in by_name] for d in drafts}
    graph = DepGraph(edges, {d.name: d.size for d in drafts}, kept=kept)
    installed = set(by_name)
    out: list[Distribution] = []
    for draft in drafts:
        cls = classify.dist_class(draft.name)
        active_names = [r.name for r in draft.requires if r.active]
        build, evidence = classify.detect_build(draft.name, draft.version, active_names, installed, draft.files)
        out.append(
            Distribution(
                name=draft.name,
                display_name=draft.display_name,
                version=draft.version,
                metadata_path=draft.meta_dir,
                environment=spec.path,
                installer=draft.installer,
                requested=draft.requested,
                direct_url=draft.direct_url,
                import_names=draft.import_names,
                module_paths=draft.module_paths,
                requires=draft.requires,
                entry_points=tuple(draft.entry_points),
                files=tuple(draft.files),
                size_bytes=draft.size,
                pycache_bytes=draft.pycache,
                missing_files=tuple(sorted(set(draft.missing))),
                exclusive_bytes=graph.exclusive_bytes(draft.name) if by_name[draft.name] is draft else draft.size,
                dist_class=cls,
                build=build,
                build_evidence=evidence,
                warnings=tuple(draft.warnings),
            )
        )
    return out
