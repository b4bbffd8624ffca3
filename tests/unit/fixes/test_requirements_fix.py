"""Removing and replacing requirements in real requirements files, checked byte for byte.

Every golden case under ``tests/fixtures/fix/requirements/<case>/`` holds the files as a user has them,
``<file>.expected`` for each file the fix changes, and ``edit.json`` naming the edit. The edit is made the
way ``deadweight fix`` makes it: the requirement is read with deadweight's parser, the rule's span of it
becomes the edit, and the fixer works on a workspace of the copied files. Index lookups (hash refresh,
the lean variant's versions) go to a real PEP 503/691 index of real wheels served on 127.0.0.1.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deadweight.fixes import requirements
from deadweight.fixes.base import FixContext, FixRefused, FixSettings
from deadweight.fixes.workspace import Workspace
from deadweight.model.finding import Finding, Severity
from deadweight.model.project import DeclaredRequirement, Project, Service
from deadweight.model.remedy import RemoveRequirement, ReplaceRequirement
from deadweight.project.requirements import parse_requirements_file
from deadweight.reports.fix_diff import unified_diff
from deadweight.rules.base import requirement_span
from tests.support.wheels import build_wheel, serve_indexes, write_index

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "fix" / "requirements"
CASES = sorted(p.name for p in FIXTURES.iterdir() if (p / "edit.json").is_file())


def _context(root: Path, *, offline: bool = False, rule: str = "DW201", package: str = "x",
             lock: bool = False) -> FixContext:
    """The context of one fix; ``lock=False`` (``--no-lock``) keeps pip-compile out unless a test asks."""
    reqs: tuple[DeclaredRequirement, ...] = ()
    options = ()
    main = root / "requirements.txt"
    if main.is_file():
        parsed = parse_requirements_file(main)
        reqs, options = tuple(parsed.requirements), tuple(parsed.options)
    service = Service(name="svc", context_dir=str(root), dockerfile=None, image=None, requirements=reqs,
                      requirement_options=options)
    finding = Finding(rule=rule, title="t", service="svc", severity=Severity.LOW, package=package)
    return FixContext(service=service, project=Project(root=str(root), services=(service,)), finding=finding,
                      settings=FixSettings(offline=offline, lock=lock), workspace=Workspace(root))


def _declared(path: Path, package: str, at: int | None = None) -> DeclaredRequirement:
    found = [r for r in parse_requirements_file(path).requirements
             if r.name == package and Path(r.source_file) == path and (at is None or r.line == at)]
    assert found, f"{package} is not declared in {path}"
    return found[0]


def _edit(root: Path, spec: dict[str, object]) -> RemoveRequirement | ReplaceRequirement:
    package = str(spec["package"])
    path = root / str(spec.get("in", "requirements.txt"))
    at = spec.get("at")
    span = requirement_span(_declared(path, package, at if isinstance(at, int) else None))
    if spec["kind"] == "remove":
        return RemoveRequirement(package, **span)
    return ReplaceRequirement(package, name=spec.get("name"), specifier=spec.get("specifier"),  # type: ignore[arg-type]
                              **span)


def _apply(edit: RemoveRequirement | ReplaceRequirement, ctx: FixContext) -> None:
    if isinstance(edit, RemoveRequirement):
        requirements.remove(edit, ctx)
    else:
        requirements.replace(edit, ctx)


def _copy(case: str, tmp_path: Path) -> Path:
    root = tmp_path / case
    shutil.copytree(FIXTURES / case, root)
    return root


def _texts(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("case", CASES)
def test_golden(case: str, tmp_path: Path) -> None:
    root = _copy(case, tmp_path)
    on_disk = _texts(root)
    spec = json.loads((root / "edit.json").read_text())
    edit = _edit(root, spec)
    ctx = _context(root)
    _apply(edit, ctx)
    for name, data in on_disk.items():
        if name.endswith((".expected", ".json", ".diff")) or name == ".gitattributes":
            continue
        expected_file = root / f"{name}.expected"
        expected = expected_file.read_bytes() if expected_file.is_file() else data
        got = ctx.workspace.text(root / name).encode("utf-8")
        diff = "".join(difflib.unified_diff(expected.decode().splitlines(True), got.decode().splitlines(True)))
        assert got == expected, f"{case}/{name}:\n{diff}"
    assert _texts(root) == on_disk  # nothing written: the workspace holds the edit
    changed = ctx.workspace.changes()
    assert changed, "the golden case changes something"
    # the diff deadweight fix prints, as a golden file (DEADWEIGHT_REGEN_GOLDEN=1 rewrites it)
    diff = "".join(unified_diff(change) for change in changed).encode("utf-8")
    golden = FIXTURES / case / "changes.diff"
    if os.environ.get("DEADWEIGHT_REGEN_GOLDEN"):
        golden.write_bytes(diff)
    assert diff == golden.read_bytes()
    # a second run on the edited text is no change and no error
    again = Workspace(root)
    for change in changed:
        again.set(root / change.path, change.after)
    before = again.snapshot()
    ctx2 = _context(root)
    ctx2.workspace = again
    _apply(edit, ctx2)
    assert again.changes_since(before) == ()


def test_golden_diff_of_a_pip_compile_removal(tmp_path: Path) -> None:
    root = _copy("hashes-remove", tmp_path)
    ctx = _context(root)
    requirements.remove(_edit(root, {"kind": "remove", "package": "idna"}), ctx)
    (change,) = ctx.workspace.changes()
    diff = list(difflib.unified_diff(change.before.splitlines(True), change.after.splitlines(True), n=0))  # type: ignore[union-attr]
    assert [line for line in diff if line.startswith(("-", "+")) and not line.startswith(("---", "+++"))] == [
        "-idna==3.6 \\\n",
        "-    --hash=sha256:9ecdbbd083b06798ae1e86adcbfe8ab1479cf864e4ee30fe4e46a003d12491ca \\\n",
        "-    --hash=sha256:c05567e9c24a6b9faaa835c4821bad0590fbb9d5779e7caa6e1cc4978e7eb24f\n",
        "-    # via\n",
        "-    #   -r requirements.in\n",
        "-    #   requests\n",
    ]


def test_pip_tools_in_notes_that_the_txt_must_be_recompiled(tmp_path: Path) -> None:
    root = _copy("pip-tools-in", tmp_path)
    ctx = _context(root)
    requirements.remove(_edit(root, {"kind": "remove", "package": "pandas", "in": "requirements.in"}), ctx)
    assert any("removed pandas, python-dateutil, pytz, six, tzdata" in n and "pip-compile" in n for n in ctx.notes)


def test_pip_tools_in_keeps_a_package_something_else_needs(tmp_path: Path) -> None:
    root = _copy("pip-tools-in", tmp_path)
    (root / "requirements.in").write_text("scipy\nnumpy\npandas\nflask\n")
    txt = (root / "requirements.txt").read_text().replace("    # via\n    #   pandas\n    #   scipy\n",
                                                          "    # via\n    #   -r requirements.in\n    #   pandas\n"
                                                          "    #   scipy\n")
    (root / "requirements.txt").write_text(txt)
    ctx = _context(root)
    requirements.remove(_edit(root, {"kind": "remove", "package": "numpy", "in": "requirements.in"}), ctx)
    assert ctx.workspace.text(root / "requirements.txt") == txt
    assert ctx.workspace.text(root / "requirements.in") == "scipy\npandas\nflask\n"
    assert any("numpy stays" in n and "pandas" in n and "scipy" in n for n in ctx.notes)


def test_duplicate_declaration_left_is_noted(tmp_path: Path) -> None:
    root = _copy("duplicates", tmp_path)
    ctx = _context(root)
    requirements.remove(_edit(root, {"kind": "remove", "package": "foo", "at": 3}), ctx)
    assert ctx.notes == ["foo is also declared at requirements.txt:1, which this fix leaves"]


def test_the_line_moved_by_an_earlier_edit_is_still_found(tmp_path: Path) -> None:
    root = _copy("trailing-comment", tmp_path)
    ctx = _context(root)
    edit = _edit(root, {"kind": "remove", "package": "urllib3"})
    ctx.workspace.set(root / "requirements.txt", "# a line added above\n" + (root / "requirements.txt").read_text())
    requirements.remove(edit, ctx)
    assert "urllib3" not in ctx.workspace.text(root / "requirements.txt")
    assert ctx.workspace.text(root / "requirements.txt").startswith("# a line added above\n# web stack\n")


def test_changed_since_the_audit_and_declared_twice_is_ambiguous(tmp_path: Path) -> None:
    root = _copy("duplicates", tmp_path)
    ctx = _context(root)
    edit = _edit(root, {"kind": "remove", "package": "foo", "at": 3})
    ctx.workspace.set(root / "requirements.txt", "foo==1.0\nbar\nfoo==2.5\n")
    with pytest.raises(FixRefused, match="ambiguous"):
        requirements.remove(edit, ctx)


def test_changed_since_the_audit_but_declared_once_is_edited(tmp_path: Path) -> None:
    root = _copy("no-final-newline-remove", tmp_path)
    ctx = _context(root)
    edit = _edit(root, {"kind": "remove", "package": "pandas"})
    ctx.workspace.set(root / "requirements.txt", "pandas>=2  # moved and changed\nnumpy==2.1.3")
    requirements.remove(edit, ctx)
    assert ctx.workspace.text(root / "requirements.txt") == "numpy==2.1.3"


def test_already_gone_is_no_change(tmp_path: Path) -> None:
    root = _copy("index-url", tmp_path)
    ctx = _context(root)
    requirements.remove(RemoveRequirement("not-declared", file=str(root / "requirements.txt"), line=2), ctx)
    assert ctx.workspace.changes() == ()


def test_a_specifier_split_over_lines_is_refused_not_half_rewritten(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("foo>=1, \\\n    <2\nbar\n")
    ctx = _context(tmp_path)
    edit = ReplaceRequirement("foo", specifier="==1.5", **requirement_span(_declared(tmp_path / "requirements.txt",
                                                                                      "foo")))
    with pytest.raises(FixRefused, match="more than the one requirement"):
        requirements.replace(edit, ctx)
    assert ctx.workspace.text(tmp_path / "requirements.txt") == "foo>=1, \\\n    <2\nbar\n"


def test_a_direct_reference_is_not_rewritten(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("opencv-python @ https://example.com/opencv_python-4.10-py3-none-any.whl\n")
    ctx = _context(tmp_path)
    edit = ReplaceRequirement("opencv-python", name="opencv-python-headless", file=str(tmp_path / "requirements.txt"),
                              line=1, end_line=1)
    with pytest.raises(FixRefused, match="URL"):
        requirements.replace(edit, ctx)


def test_a_lean_variant_already_declared_is_refused(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("opencv-python\nopencv-python-headless==4.10.0.84\n")
    edit = ReplaceRequirement("opencv-python", name="opencv-python-headless",
                              **requirement_span(_declared(tmp_path / "requirements.txt", "opencv-python")))
    with pytest.raises(FixRefused, match=r"already declared at requirements\.txt:2"):
        requirements.replace(edit, _context(tmp_path, rule="DW102"))


def test_hashes_without_an_exact_pin_cannot_be_refreshed(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("foo --hash=sha256:" + "a" * 64 + "\n")
    ctx = _context(tmp_path, rule="DW102")
    edit = ReplaceRequirement("foo", name="foo-lite", **requirement_span(_declared(tmp_path / "requirements.txt",
                                                                                    "foo")))
    with pytest.raises(FixRefused, match="not an exact pin"):
        requirements.replace(edit, ctx)
    assert ctx.workspace.changes() == ()


# --- the index: hash refresh (DW501) and the lean variant's versions (DW102) --------------------------------


@dataclass
class Index:
    url: str
    sha: dict[str, list[str]]  # "name==version" -> sorted "sha256:..." of its files


@pytest.fixture()
def index(tmp_path: Path) -> Iterator[Index]:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    built = [
        build_wheel(wheels, "fakepkg", "1.0", {"fakepkg/__init__.py": b"one"}),
        build_wheel(wheels, "fakepkg", "1.1", {"fakepkg/__init__.py": b"one.one"}),
        build_wheel(wheels, "fakepkg", "1.1", {"fakepkg/__init__.py": b"one.one linux"},
                    tag="cp311-cp311-manylinux_2_17_x86_64"),
        build_wheel(wheels, "fake-gui-headless", "2.0", {"fake_gui/__init__.py": b"headless 2.0"}),
        build_wheel(wheels, "fake-gui-headless", "1.5", {"fake_gui/__init__.py": b"headless 1.5"}),
        build_wheel(wheels, "fake-gui-headless", "2.1rc1", {"fake_gui/__init__.py": b"headless 2.1rc1"}),
    ]
    root = tmp_path / "simple"
    write_index(root, built)
    sha: dict[str, list[str]] = {}
    for wheel in built:
        name, version = wheel.name.split("-")[:2]
        sha.setdefault(f"{name.replace('_', '-')}=={version}", []).append(
            "sha256:" + hashlib.sha256(wheel.read_bytes()).hexdigest())
    with serve_indexes(root) as (url,):
        yield Index(url, {k: sorted(v) for k, v in sha.items()})


OLD = ["sha256:" + "1" * 64, "sha256:" + "2" * 64]


def test_pin_refreshes_the_hashes_one_per_line(index: Index, tmp_path: Path) -> None:
    text = (f"--index-url {index.url}\r\n"
            f"fakepkg>=1.0 \\\r\n    --hash={OLD[0]} \\\r\n    --hash={OLD[1]}  # ours\r\n"
            "    # via -r requirements.in\r\nother==1\r\n")
    (tmp_path / "requirements.txt").write_bytes(text.encode())
    ctx = _context(tmp_path, rule="DW501")
    edit = ReplaceRequirement("fakepkg", specifier="==1.1",
                              **requirement_span(_declared(tmp_path / "requirements.txt", "fakepkg")))
    requirements.replace(edit, ctx)
    new = index.sha["fakepkg==1.1"]
    assert len(new) == 2
    assert ctx.workspace.text(tmp_path / "requirements.txt") == (
        f"--index-url {index.url}\r\n"
        f"fakepkg==1.1 \\\r\n    --hash={new[0]} \\\r\n    --hash={new[1]}  # ours\r\n"
        "    # via -r requirements.in\r\nother==1\r\n")
    requirements.replace(edit, ctx)  # already pinned: no change
    assert ctx.workspace.text(tmp_path / "requirements.txt").count("fakepkg==1.1") == 1


def test_pin_refreshes_hashes_written_on_one_line(index: Index, tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text(
        f"-i {index.url}\nfakepkg --hash={OLD[0]} --hash={OLD[1]} # x\n")
    ctx = _context(tmp_path, rule="DW501")
    edit = ReplaceRequirement("fakepkg", specifier="==1.0",
                              **requirement_span(_declared(tmp_path / "requirements.txt", "fakepkg")))
    requirements.replace(edit, ctx)
    (new,) = index.sha["fakepkg==1.0"]
    assert ctx.workspace.text(tmp_path / "requirements.txt") == f"-i {index.url}\nfakepkg==1.0 --hash={new} # x\n"


def test_hashes_written_with_a_space_keep_the_space(index: Index, tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text(f"-i {index.url}\nfakepkg \\\n  --hash {OLD[0]}\n")
    edit = ReplaceRequirement("fakepkg", specifier="==1.1",
                              **requirement_span(_declared(tmp_path / "requirements.txt", "fakepkg")))
    ctx = _context(tmp_path, rule="DW501")
    requirements.replace(edit, ctx)
    new = index.sha["fakepkg==1.1"]
    assert ctx.workspace.text(tmp_path / "requirements.txt") == (
        f"-i {index.url}\nfakepkg==1.1 \\\n  --hash {new[0]} \\\n  --hash {new[1]}\n")


def test_hashes_spread_in_another_layout_are_refused(index: Index, tmp_path: Path) -> None:
    text = f"-i {index.url}\nfakepkg --hash={OLD[0]} \\\n    --hash={OLD[1]}\n"
    (tmp_path / "requirements.txt").write_text(text)
    edit = ReplaceRequirement("fakepkg", specifier="==1.1",
                              **requirement_span(_declared(tmp_path / "requirements.txt", "fakepkg")))
    ctx = _context(tmp_path, rule="DW501")
    with pytest.raises(FixRefused, match="layout"):
        requirements.replace(edit, ctx)
    assert ctx.workspace.text(tmp_path / "requirements.txt") == text


def test_lean_variant_without_the_pinned_version_gets_the_nearest_lower(index: Index, tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text(
        f"--index-url={index.url}\nfake-gui[extra]==2.1 \\\n    --hash={OLD[0]}\n")
    ctx = _context(tmp_path, rule="DW102")
    edit = ReplaceRequirement("fake-gui", name="fake-gui-headless",
                              **requirement_span(_declared(tmp_path / "requirements.txt", "fake-gui")))
    requirements.replace(edit, ctx)
    (new,) = index.sha["fake-gui-headless==2.0"]
    assert ctx.workspace.text(tmp_path / "requirements.txt") == (
        f"--index-url={index.url}\nfake-gui-headless[extra]==2.0 \\\n    --hash={new}\n")
    assert ctx.notes == ["fake-gui-headless has no release 2.1 on the index: pinned the nearest lower one, 2.0"]


def test_lean_variant_with_the_version_keeps_the_pin(index: Index, tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text(f"--index-url {index.url}\nfake-gui>=1.5,<3\n")
    ctx = _context(tmp_path, rule="DW102")
    edit = ReplaceRequirement("fake-gui", name="fake-gui-headless",
                              **requirement_span(_declared(tmp_path / "requirements.txt", "fake-gui")))
    requirements.replace(edit, ctx)
    assert ctx.workspace.text(tmp_path / "requirements.txt") == f"--index-url {index.url}\nfake-gui-headless>=1.5,<3\n"
    assert ctx.notes == []


def test_lean_variant_with_no_release_below_is_refused(index: Index, tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text(f"--index-url {index.url}\nfake-gui==1.0\n")
    edit = ReplaceRequirement("fake-gui", name="fake-gui-headless",
                              **requirement_span(_declared(tmp_path / "requirements.txt", "fake-gui")))
    with pytest.raises(FixRefused, match=r"no fake-gui-headless 1\.0 and no release below it"):
        requirements.replace(edit, _context(tmp_path, rule="DW102"))


def test_version_not_on_the_index_is_refused(index: Index, tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text(f"--index-url {index.url}\nfakepkg --hash={OLD[0]}\n")
    edit = ReplaceRequirement("fakepkg", specifier="==9.9",
                              **requirement_span(_declared(tmp_path / "requirements.txt", "fakepkg")))
    with pytest.raises(FixRefused, match=r"no file of fakepkg 9\.9"):
        requirements.replace(edit, _context(tmp_path, rule="DW501"))


def test_offline_or_unreachable_index_is_refused(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text(f"--index-url http://127.0.0.1:9/\nfakepkg --hash={OLD[0]}\n")
    edit = ReplaceRequirement("fakepkg", specifier="==1.1",
                              **requirement_span(_declared(tmp_path / "requirements.txt", "fakepkg")))
    with pytest.raises(FixRefused, match="offline"):
        requirements.replace(edit, _context(tmp_path, rule="DW501", offline=True))
    with pytest.raises(FixRefused, match="cannot read the index"):
        requirements.replace(edit, _context(tmp_path, rule="DW501"))


def test_no_index_is_refused(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text(f"--no-index\n--find-links ./wheels\nfakepkg --hash={OLD[0]}\n")
    edit = ReplaceRequirement("fakepkg", specifier="==1.1",
                              **requirement_span(_declared(tmp_path / "requirements.txt", "fakepkg")))
    with pytest.raises(FixRefused, match="--no-index"):
        requirements.replace(edit, _context(tmp_path, rule="DW501"))


# --- property: removing one package changes only its lines ---------------------------------------------------


@st.composite
def requirements_files(draw: st.DrawFn) -> tuple[list[list[str]], list[int | None], str]:
    """Blocks of physical lines (without endings), the package number each declares (None: no package),
    and the line ending."""
    ending = draw(st.sampled_from(["\n", "\r\n"]))
    blocks: list[list[str]] = []
    owners: list[int | None] = []
    for i in range(draw(st.integers(1, 12))):
        kind = draw(st.sampled_from(["plain", "comment-after", "comment-line", "blank", "continuation", "hashes",
                                     "marker-extras", "index", "env", "include", "via", "spaces",
                                     "continued-marker"]))
        name = f"pkg{i}"
        digest = "sha256:" + f"{i:x}" * 64
        if kind == "plain":
            blocks.append([f"{name}==1.{i}"]), owners.append(i)
        elif kind == "comment-after":
            blocks.append([f"{name}>=0.{i}  # why {name}"]), owners.append(i)
        elif kind == "comment-line":
            blocks.append([f"# about the next line {i}"]), owners.append(None)
        elif kind == "blank":
            blocks.append([""]), owners.append(None)
        elif kind == "continuation":
            blocks.append([f"{name} \\", "    >=1.0 \\", "    ; python_version >= '3.9'"]), owners.append(i)
        elif kind == "hashes":
            blocks.append([f"{name}==2.{i} \\", f"    --hash={digest} \\", f"    --hash={digest[:-1]}0",
                           "    # via", "    #   -r requirements.in"]), owners.append(i)
        elif kind == "marker-extras":
            blocks.append([f'{name}[fast, extra] ~= 3.{i} ; sys_platform == "linux"']), owners.append(i)
        elif kind == "index":
            blocks.append([draw(st.sampled_from(["--index-url https://pypi.org/simple",
                                                 "-i https://mirror.example/simple", "--pre",
                                                 "--extra-index-url=https://x.example/simple"]))]), owners.append(None)
        elif kind == "env":
            blocks.append([f"--find-links https://${{HOST_{i}}}/wheels"]), owners.append(None)
        elif kind == "include":
            blocks.append([f"-r missing-{i}.txt"]), owners.append(None)
        elif kind == "via":
            blocks.append([f"{name}==4.{i}", f"    # via pkg{i + 100}"]), owners.append(i)
        elif kind == "continued-marker":
            blocks.append([f"{name}[x] \\", "    ; python_version >= '3.9'  # on the next line"]), owners.append(i)
        else:
            blocks.append([f"  {name}  "]), owners.append(i)
    if not any(o is not None for o in owners):
        blocks.append(["last==1"]), owners.append(len(blocks) + 1000)
    return blocks, owners, ending


def _join(blocks: list[list[str]], ending: str, final_newline: bool) -> str:
    text = "".join(line + ending for block in blocks for line in block)
    return text if final_newline else text[: -len(ending)]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=requirements_files(), pick=st.integers(0, 100), final_newline=st.booleans())
def test_removing_one_package_changes_only_its_lines(data: tuple[list[list[str]], list[int | None], str],
                                                     pick: int, final_newline: bool) -> None:
    blocks, owners, ending = data
    declared = [i for i, o in enumerate(owners) if o is not None]
    chosen = declared[pick % len(declared)]
    if not final_newline and blocks[-1][-1].endswith("\\"):
        final_newline = True
    text = _join(blocks, ending, final_newline)
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        path = root / "requirements.txt"
        path.write_bytes(text.encode())
        package = "last" if owners[chosen] is not None and owners[chosen] >= 1000 else f"pkg{owners[chosen]}"  # type: ignore[operator]
        ctx = _context(root)
        span = requirement_span(_declared(path, package))
        requirements.remove(RemoveRequirement(package, **span), ctx)
        got = ctx.workspace.text(path)
        kept = [b for i, b in enumerate(blocks) if i != chosen]
        expected = _join(kept, ending, True) if kept else ""
        if not final_newline and chosen != len(blocks) - 1:
            expected = expected[: -len(ending)]
        assert got == expected
        snapshot = ctx.workspace.snapshot()
        requirements.remove(RemoveRequirement(package, **span), ctx)  # a second removal: no change
        assert ctx.workspace.changes_since(snapshot) == ()
        assert path.read_bytes() == text.encode()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=requirements_files(), pick=st.integers(0, 100), final_newline=st.booleans())
def test_pinning_one_package_changes_only_its_lines(data: tuple[list[list[str]], list[int | None], str],
                                                    pick: int, final_newline: bool) -> None:
    """A pin rewrites the requirement's own lines and nothing else, or is refused leaving the text as it was
    (offline: a hashed requirement is refused; a specifier continued on the next line is refused)."""
    blocks, owners, ending = data
    declared = [i for i, o in enumerate(owners) if o is not None]
    chosen = declared[pick % len(declared)]
    if not final_newline and blocks[-1][-1].endswith("\\"):
        final_newline = True
    text = _join(blocks, ending, final_newline)
    # the specifier is on the first line and no hash needs the index: the pin is always made
    must_pin = not any("--hash" in line or line.lstrip().startswith(">=") for line in blocks[chosen])
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        path = root / "requirements.txt"
        path.write_bytes(text.encode())
        owner = owners[chosen]
        assert owner is not None
        package = "last" if owner >= 1000 else f"pkg{owner}"
        declared_before = parse_requirements_file(path).requirements
        ctx = _context(root, rule="DW501", offline=True)
        edit = ReplaceRequirement(package, specifier="==9.9", **requirement_span(_declared(path, package)))
        try:
            requirements.replace(edit, ctx)
        except FixRefused:
            assert not must_pin, "a requirement whose version is on its first line is always pinned"
            assert ctx.workspace.text(path) == text
            return
        got = ctx.workspace.text(path)
        start = sum(len(b) for b in blocks[:chosen])
        before_lines, got_lines = text.splitlines(True), got.splitlines(True)
        assert len(got_lines) == len(before_lines)
        changed = [i for i, (a, b) in enumerate(zip(before_lines, got_lines, strict=True)) if a != b]
        assert changed == [start]  # only the requirement's first line
        assert before_lines[start][len(before_lines[start].rstrip("\r\n")):] == \
            got_lines[start][len(got_lines[start].rstrip("\r\n")):]  # its ending kept
        (root / "after.txt").write_bytes(got.encode())
        after = {(r.name, r.line): r for r in parse_requirements_file(root / "after.txt").requirements}
        for req in declared_before:
            new = after[(req.name, req.line)]
            if req.name == package:
                assert (new.specifier, new.extras, new.marker) == ("==9.9", req.extras, req.marker)
            else:
                assert (new.specifier, new.extras, new.marker, new.raw) == (req.specifier, req.extras, req.marker,
                                                                            req.raw)
        snapshot = ctx.workspace.snapshot()
        requirements.replace(edit, ctx)  # already pinned: no change
        assert ctx.workspace.changes_since(snapshot) == ()


# --- through the planner: the project loader's paths, several fixes in one file, the transaction ------------


def test_planner_removes_two_unused_and_pins_in_the_examples(tmp_path: Path) -> None:
    from deadweight.fixes.planner import plan_fixes
    from deadweight.fixes.transaction import commit
    from deadweight.model.audit import AuditReport, AuditTotals, ServiceResult
    from deadweight.project.loader import load_project

    examples = Path(__file__).resolve().parents[3] / "examples"
    for name in ("report-worker", "legacy-api"):
        shutil.copytree(examples / name, tmp_path / name, ignore=shutil.ignore_patterns("data", "notebooks", ".venv"))
    results = []
    for name, remove, pins in (("report-worker", ("scipy", "pandas"), {}),
                               ("legacy-api", (), {"flask": "3.1.3", "gunicorn": "23.0.0"})):
        project = load_project(str(tmp_path / name))
        (service,) = project.services
        findings = []
        for req in service.requirements:
            if req.name in remove:
                remedy = (RemoveRequirement(req.name, **requirement_span(req)),)
                findings.append(Finding(rule="DW201", title="unused", service=service.name, severity=Severity.MEDIUM,
                                        package=req.name, remedy=remedy))
            elif req.name in pins:
                findings.append(Finding(rule="DW501", title="unpinned", service=service.name, severity=Severity.LOW,
                                        package=req.name, remedy=(ReplaceRequirement(
                                            req.name, specifier=f"=={pins[req.name]}", **requirement_span(req)),)))
        results.append((project, ServiceResult(name=service.name, image=None, mode="static", size_bytes=None,
                                               dead_weight_bytes=0, findings=tuple(findings))))
    for project, result in results:
        report = AuditReport(root=project.root, services=(result,), totals=AuditTotals(0, 0, 0))
        plan, workspace = plan_fixes(report, project, FixSettings(offline=True))
        assert {f.status for f in plan.fixes} == {"planned"}, [f.reason for f in plan.fixes]
        commit(workspace)
    assert (tmp_path / "report-worker" / "requirements.txt").read_text() == "numpy==2.1.3\n"
    assert (tmp_path / "legacy-api" / "requirements.txt").read_text() == (
        "flask==3.1.3\ngunicorn==23.0.0\nsqlalchemy>=2.0\npsycopg2>=2.9\n")


# --- pip-compile, when it is installed: requirements.txt regenerated in a scratch copy -----------------------


@pytest.fixture()
def compiled_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A requirements.in and the requirements.txt pip-compile made of it, against a loopback index."""
    if shutil.which("pip-compile") is None:
        pytest.skip("pip-compile is not installed")
    for var in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_CONSTRAINT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    built = [
        build_wheel(wheels, "alpha", "1.0", {"alpha/__init__.py": b"a"}, requires=("beta>=1",)),
        build_wheel(wheels, "beta", "1.2", {"beta/__init__.py": b"b"}),
        build_wheel(wheels, "gamma", "3.0", {"gamma/__init__.py": b"g"}, requires=("beta",)),
        build_wheel(wheels, "delta", "0.4", {"delta/__init__.py": b"d"}, requires=("epsilon",)),
        build_wheel(wheels, "epsilon", "5.0", {"epsilon/__init__.py": b"e"}),
    ]
    write_index(tmp_path / "simple", built)
    with serve_indexes(tmp_path / "simple") as (url,):
        project = tmp_path / "project"
        project.mkdir()
        (project / "requirements.in").write_text(f"--index-url {url}\nalpha\n# the exporter\ndelta\ngamma\n")
        subprocess.run(["pip-compile", "--quiet", "--generate-hashes", "requirements.in"], cwd=project, check=True,
                       capture_output=True, stdin=subprocess.DEVNULL, timeout=300)
        yield project


def test_pip_compile_regenerates_the_txt_in_a_scratch_copy(compiled_project: Path) -> None:
    project = compiled_project
    txt_before = (project / "requirements.txt").read_text()
    assert "delta==0.4" in txt_before and "epsilon==5.0" in txt_before
    ctx = _context(project, lock=True)
    requirements.remove(_edit(project, {"kind": "remove", "package": "delta", "in": "requirements.in"}), ctx)
    assert ctx.workspace.text(project / "requirements.in") == (
        (project / "requirements.in").read_text().replace("delta\n", ""))
    txt = ctx.workspace.text(project / "requirements.txt")
    assert "delta" not in txt and "epsilon" not in txt
    assert txt.splitlines()[:6] == txt_before.splitlines()[:6]  # the header: the same command
    by_hand = _context(project, lock=False)  # what the annotations say, without pip-compile: the same text
    requirements.remove(_edit(project, {"kind": "remove", "package": "delta", "in": "requirements.in"}), by_hand)
    assert by_hand.workspace.text(project / "requirements.txt") == txt
    assert ctx.commands == ["pip-compile --generate-hashes requirements.in"]
    assert (project / "requirements.txt").read_text() == txt_before  # the user's files untouched
    assert sorted(p.name for p in project.iterdir()) == ["requirements.in", "requirements.txt"]


def test_pip_compile_not_run_with_no_lock_keeps_the_txt_in_step_by_hand(compiled_project: Path) -> None:
    project = compiled_project
    ctx = _context(project, lock=False)
    requirements.remove(_edit(project, {"kind": "remove", "package": "delta", "in": "requirements.in"}), ctx)
    txt = ctx.workspace.text(project / "requirements.txt")
    assert "delta" not in txt and "epsilon" not in txt and "beta==1.2" in txt
    assert ctx.commands == []
    assert any("removed delta, epsilon" in note for note in ctx.notes)


def test_pip_compile_pin_in_the_in_file_regenerates_the_txt(compiled_project: Path) -> None:
    project = compiled_project
    txt_before = (project / "requirements.txt").read_text()
    ctx = _context(project, rule="DW501", lock=True)
    edit = ReplaceRequirement("gamma", specifier="==3.0",
                              **requirement_span(_declared(project / "requirements.in", "gamma")))
    requirements.replace(edit, ctx)
    assert ctx.workspace.text(project / "requirements.in").endswith("delta\ngamma==3.0\n")
    assert ctx.workspace.text(project / "requirements.txt") == txt_before  # already compiled to 3.0
    assert ctx.commands == ["pip-compile --generate-hashes requirements.in"]


def test_a_header_naming_other_paths_is_not_rerun(compiled_project: Path) -> None:
    project = compiled_project
    txt = (project / "requirements.txt").read_text().replace(
        "pip-compile --generate-hashes requirements.in", "pip-compile --output-file=lock/prod.txt requirements.in")
    (project / "requirements.txt").write_text(txt)
    ctx = _context(project, lock=True)
    requirements.remove(_edit(project, {"kind": "remove", "package": "delta", "in": "requirements.in"}), ctx)
    assert ctx.commands == []
    assert "header does not say how pip-compile made it" in ctx.notes[0]
    assert "epsilon" not in ctx.workspace.text(project / "requirements.txt")


def test_removing_from_a_compiled_txt_removes_from_its_in_too(tmp_path: Path) -> None:
    root = _copy("pip-tools-txt", tmp_path)
    ctx = _context(root)
    requirements.remove(_edit(root, {"kind": "remove", "package": "pandas"}), ctx)
    assert ctx.notes == ["removed pandas from requirements.in too, the source of requirements.txt, and from "
                         "requirements.txt python-dateutil, pytz, six, tzdata, which only it needed; run pip-compile "
                         "to check"]


def test_a_transitive_pin_removed_from_a_compiled_txt_is_noted(tmp_path: Path) -> None:
    root = _copy("pip-tools-txt", tmp_path)
    ctx = _context(root)
    requirements.remove(_edit(root, {"kind": "remove", "package": "tzdata"}), ctx)
    assert ctx.workspace.text(root / "requirements.in") == (root / "requirements.in").read_text()
    assert "tzdata" not in ctx.workspace.text(root / "requirements.txt")
    assert ctx.notes == ["requirements.txt is compiled from requirements.in, which does not declare tzdata: "
                         "pip-compile pins it again while a requirement there needs it"]


def test_renaming_in_a_compiled_txt_renames_in_its_in_too(tmp_path: Path) -> None:
    (tmp_path / "requirements.in").write_text("opencv-python  # vision\n")
    (tmp_path / "requirements.txt").write_text(
        "#\n#    pip-compile requirements.in\n#\nnumpy==2.1.3\n    # via opencv-python\nopencv-python==4.10.0.84\n"
        "    # via -r requirements.in\n")
    ctx = _context(tmp_path, rule="DW102", offline=True)
    edit = ReplaceRequirement("opencv-python", name="opencv-python-headless",
                              **requirement_span(_declared(tmp_path / "requirements.txt", "opencv-python")))
    with pytest.raises(FixRefused, match="offline"):  # the pin needs the lean variant's versions
        requirements.replace(edit, ctx)
    (tmp_path / "requirements.txt").write_text(
        "#\n#    pip-compile requirements.in\n#\nnumpy==2.1.3\n    # via opencv-python\nopencv-python\n"
        "    # via -r requirements.in\n")
    ctx = _context(tmp_path, rule="DW102", offline=True)
    edit = ReplaceRequirement("opencv-python", name="opencv-python-headless",
                              **requirement_span(_declared(tmp_path / "requirements.txt", "opencv-python")))
    requirements.replace(edit, ctx)
    assert ctx.workspace.text(tmp_path / "requirements.in") == "opencv-python-headless  # vision\n"
    txt = ctx.workspace.text(tmp_path / "requirements.txt")
    assert "\nopencv-python-headless\n    # via -r requirements.in\n" in txt
    assert ctx.notes == ["made the same change to requirements.in, the source of requirements.txt; run pip-compile "
                         "to check"]


def test_pip_compile_after_removing_from_the_compiled_txt(compiled_project: Path) -> None:
    project = compiled_project
    ctx = _context(project, lock=True)
    requirements.remove(_edit(project, {"kind": "remove", "package": "delta"}), ctx)  # the .txt, as audited
    assert "delta" not in ctx.workspace.text(project / "requirements.in")
    txt = ctx.workspace.text(project / "requirements.txt")
    assert "delta" not in txt and "epsilon" not in txt and "beta==1.2" in txt
    assert ctx.commands == ["pip-compile --generate-hashes requirements.in"]
    assert ctx.notes == ["removed delta from requirements.in too, the source of requirements.txt"]


def test_pip_compile_failing_falls_back_to_the_annotations(compiled_project: Path) -> None:
    project = compiled_project
    (project / "requirements.in").write_text((project / "requirements.in").read_text() + "zeta-not-on-the-index\n")
    ctx = _context(project, lock=True)
    requirements.remove(_edit(project, {"kind": "remove", "package": "delta", "in": "requirements.in"}), ctx)
    txt = ctx.workspace.text(project / "requirements.txt")
    assert "delta" not in txt and "epsilon" not in txt and "beta==1.2" in txt
    assert ctx.commands == []
    assert ctx.notes[0].startswith("pip-compile could not regenerate requirements.txt (")


def test_a_file_shared_by_two_services_is_fixed_once(tmp_path: Path) -> None:
    """Two services read one file declaring foo twice: each service's finding for line 3 removes line 3
    once; the declaration at line 1 (its own finding's business) is never taken for it."""
    for text in ("foo\nbar\nfoo\n", "foo==1; python_version < '3.12'\nbar\nfoo==2; python_version >= '3.12'\n"):
        (tmp_path / "requirements.txt").write_text(text)
        edit = RemoveRequirement("foo", **requirement_span(_declared(tmp_path / "requirements.txt", "foo", 3)))
        ctx = _context(tmp_path)
        requirements.remove(edit, ctx)
        first = text.splitlines(True)[0]
        assert ctx.workspace.text(tmp_path / "requirements.txt") == first + "bar\n"
        snapshot = ctx.workspace.snapshot()
        requirements.remove(edit, ctx)  # the second service's finding
        assert ctx.workspace.changes_since(snapshot) == ()


def test_a_changed_line_is_not_confused_with_its_twin(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("foo\nbar\nfoo\n")
    edit = RemoveRequirement("foo", **requirement_span(_declared(tmp_path / "requirements.txt", "foo", 3)))
    ctx = _context(tmp_path)
    ctx.workspace.set(tmp_path / "requirements.txt", "foo\nbar\nfoo>=2  # changed since the audit\n")
    requirements.remove(edit, ctx)
    assert ctx.workspace.text(tmp_path / "requirements.txt") == "foo\nbar\n"


def test_pip_compile_changing_other_pins_falls_back(compiled_project: Path) -> None:
    project = compiled_project
    txt = (project / "requirements.txt").read_text().replace("beta==1.2", "beta==1.1")  # not on the index
    (project / "requirements.txt").write_text(txt)
    ctx = _context(project, lock=True)
    requirements.remove(_edit(project, {"kind": "remove", "package": "delta", "in": "requirements.in"}), ctx)
    assert ctx.notes[0] == ("pip-compile could not regenerate requirements.txt "
                            "(it would also change beta ==1.1 -> ==1.2)")
    new = ctx.workspace.text(project / "requirements.txt")
    assert "beta==1.1" in new and "delta" not in new and "epsilon" not in new
    assert ctx.commands == []
