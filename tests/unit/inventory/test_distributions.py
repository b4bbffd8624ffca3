"""Metadata parsing: METADATA/PKG-INFO, RECORD (good and bad), entry points, requires.txt, markers."""

from __future__ import annotations

from packaging.requirements import Requirement as PkgRequirement
from packaging.utils import canonicalize_name

from deadweight.inventory.distributions import (
    evaluate,
    marker_environment,
    module_names,
    parse_entry_points,
    parse_metadata,
    parse_record,
    parse_requirements,
    parse_requires_txt,
)
from deadweight.model.image import Platform

AMD64 = Platform("linux", "amd64")


def test_metadata_fields_and_pep794_import_names() -> None:
    meta = parse_metadata(
        b"Metadata-Version: 2.5\nName: Foo_Bar\nVersion: 2.5.1+cu124\n"
        b"Requires-Dist: numpy>=1\nRequires-Dist: rich; extra == 'cli'\nProvides-Extra: cli\n"
        b"Import-Name: foo_bar\nImport-Name: _foo_private; private\nImport-Namespace: foo\n\n"
        b"Long description\nRequires-Dist: not-a-header\n"
    )
    assert meta.name == "Foo_Bar"
    assert meta.version == "2.5.1+cu124"
    assert meta.requires_dist == ("numpy>=1", "rich; extra == 'cli'")
    assert meta.provides_extra == ("cli",)
    assert meta.import_names == ("foo_bar", "_foo_private")
    assert meta.import_namespaces == ("foo",)


def test_metadata_in_latin1_does_not_fail() -> None:
    meta = parse_metadata("Name: caf\u00e9\nVersion: 1\n".encode("latin-1"))
    assert meta.name == "caf\u00e9"


def test_record_good_rows_and_sizes() -> None:
    rec = parse_record(b"a/__init__.py,sha256=x,10\n../../../bin/a,sha256=y,5\na-1.dist-info/RECORD,,\n")
    assert rec.rows == [
        ("a/__init__.py", 10),
        ("../../../bin/a", 5),
        ("a-1.dist-info/RECORD", None),
    ]
    assert rec.problems == []


def test_record_malformed_rows_are_reported_not_fatal() -> None:
    rec = parse_record(b'a.py,sha256=x,notanumber\nonlypath\n,,\nb.py,sha256=y,-3\n"unterminated,\n')
    paths = [path for path, _ in rec.rows]
    assert "a.py" in paths and "onlypath" in paths and "b.py" in paths
    assert all(size is None for path, size in rec.rows if path in ("a.py", "b.py"))
    assert any("malformed" in p for p in rec.problems)
    assert any("non-numeric or negative size" in p for p in rec.problems)


def test_record_binary_garbage_does_not_crash() -> None:
    rec = parse_record(b"\x00\xff\xfe\x00garbage,\x00\n")
    assert isinstance(rec.rows, list)


def test_entry_points_keep_case_and_drop_extras() -> None:
    eps = parse_entry_points(
        b"[console_scripts]\nMyTool = pkg.cli:Main [extra1]\nother=pkg:run\n\n"
        b"[pytest11]\nplug = pkg.plugin\n# comment\nbroken line\n"
    )
    assert [(e.group, e.name, e.value) for e in eps] == [
        ("console_scripts", "MyTool", "pkg.cli:Main"),
        ("console_scripts", "other", "pkg:run"),
        ("pytest11", "plug", "pkg.plugin"),
    ]
    assert eps[0].module == "pkg.cli"


def test_requires_txt_sections_become_markers() -> None:
    lines = parse_requires_txt(
        b'requests>=2\n\n[socks]\nPySocks!=1.5.7\n\n[:python_version < "3.8"]\nimportlib-metadata\n\n'
        b'[test:sys_platform == "win32"]\npywin32\n'
    )
    assert lines == [
        "requests>=2",
        'PySocks!=1.5.7; extra == "socks"',
        'importlib-metadata; (python_version < "3.8")',
        'pywin32; (sys_platform == "win32") and extra == "test"',
    ]
    reqs, problems = parse_requirements(lines)
    assert problems == []
    assert [(r.name, r.extra) for r in reqs] == [
        ("requests", None),
        ("pysocks", "socks"),
        ("importlib-metadata", None),
        ("pywin32", "test"),
    ]


def test_markers_evaluated_for_the_image_not_this_machine() -> None:
    reqs, problems = parse_requirements(
        [
            "nvidia-cublas-cu12==12.4.5.8; platform_system == 'Linux' and platform_machine == 'x86_64'",
            "tomli; python_version < '3.11'",
            "exceptiongroup; python_full_version < '3.11.0'",
            "pywin32; sys_platform == 'win32'",
            "uvloop[extra1]>=0.15; extra == 'standard' and sys_platform != 'win32'",
            "not a requirement !!",
        ]
    )
    assert problems == ["unparseable Requires-Dist 'not a requirement !!'"]
    amd = marker_environment("3.11", AMD64)
    arm = marker_environment("3.10.4", Platform("linux", "arm64"))
    assert [evaluate(r, amd, set()).active for r in reqs] == [True, False, False, False, False]
    assert [evaluate(r, arm, set()).active for r in reqs] == [False, True, True, False, False]
    uvloop = evaluate(reqs[4], amd, {"standard"})
    assert uvloop.active and uvloop.extra == "standard" and uvloop.extras == ("extra1",)
    assert uvloop.specifier == ">=0.15"


def test_module_names_from_record_paths() -> None:
    assert module_names(["pkg/__init__.py"]) == {"pkg"}
    assert module_names(["pkg/sub/mod.py"]) == {"pkg.sub.mod"}
    assert module_names(["pkg/_ext.cpython-311-x86_64-linux-gnu.so"]) == {"pkg._ext"}
    assert module_names(["_cffi_backend.cpython-311-x86_64-linux-gnu.so"]) == {"_cffi_backend"}
    assert module_names(["six.py"]) == {"six"}
    assert module_names(["pkg/__pycache__/mod.cpython-311.pyc"]) == set()
    assert module_names(["pkg/data/file.json"]) == set()
    assert module_names(["pkg-1.0.dist-info/METADATA"]) == set()
    assert module_names(["../../../bin/tool"]) == set()
    assert module_names(["pkg/lib/libfoo.so.1"]) == set()
    assert module_names(["pkg/include-dir/x.py"]) == set()  # not importable: "include-dir" is no identifier


def test_module_names_of_many_files_match_one_at_a_time() -> None:
    rels = [
        "google/protobuf/__init__.py", "google/protobuf/message.py", "six.py", "x-1.dist-info/RECORD",
        "__init__.py", "__pycache__/six.cpython-311.pyc", "__pycache__/m.py", "pkg/__pycache__/m.py",
        "pkg/include-dir/x.py", "pkg/include-dir/y.py", "pkg/1bad.py", "../x.py", "..x.py",
    ]
    names = module_names(rels)
    assert names == {"google.protobuf", "google.protobuf.message", "six"}
    assert names == set().union(*(module_names([rel]) for rel in rels))


def test_record_fast_path_reads_rows_as_csv_would() -> None:
    # the quote-free fast path and the csv reader (taken when any quote appears) must agree row for row
    body = "a.py,sha256=x,10\r\n b.py ,sha256=y, 7 \r\nc.py,,\r\n\r\nd.py,sha256=z,x1\nonly\ne.py,h,5,extra\n"
    fast = parse_record(body.encode())
    slow = parse_record((body + '"q.py",h,1\n').encode())
    assert fast.rows == [("a.py", 10), ("b.py", 7), ("c.py", None), ("d.py", None), ("only", None), ("e.py", 5)]
    assert slow.rows == [*fast.rows, ("q.py", 1)]
    assert fast.problems == slow.problems
    assert any("2 malformed" in p for p in fast.problems)


def test_requirements_parse_as_packaging_does() -> None:
    # plain heads skip packaging's tokenizer and markers are parsed once per text: same results either way
    lines = [
        "numpy", "numpy>=1", "numpy >= 1.0 , < 2", "numpy (>=1.0)", "Numpy[A,b]>=1", "numpy[ a , b ] (>=1,<2)",
        "numpy[]>=1", "a.b-c_d==1.0", "x; python_version<'3.8'", "x ; extra == 'dev'",
        "x[y]; extra=='z' and python_version>='3'", "x==1.*", "x===foo", "x~=1.0", "x!=1.0.*",
        "x@https://e/x.whl ; python_version>'3'", "x (>=1.0)  ; os_name=='nt'", "x [a]", "x<2,>=1", "x\t>=1",
        'nvidia-cudnn-cu12==9.1.0.70; platform_system == "Linux" and platform_machine == "x86_64"',
    ]
    broken = ["bad name", "x>=", "x (==1", "x ==1)", "x[bad!]", "-x", "x>=1 ;", "x;bogus marker"]
    parsed, problems = parse_requirements(lines + broken)
    assert len(problems) == len(broken)
    for line, req in zip(lines, parsed, strict=True):
        ref = PkgRequirement(line)
        assert (req.name, req.specifier, req.extras) == (
            canonicalize_name(ref.name),
            str(ref.specifier),
            tuple(sorted(canonicalize_name(e) for e in ref.extras)),
        ), line
        assert str(req.marker) == str(ref.marker), line
