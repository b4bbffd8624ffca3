"""build_inventory over whole trees: ownership, bytes, bad RECORDs, extras, OS packages, breakdown."""

from __future__ import annotations

from deadweight.inventory.build import build_inventory
from deadweight.model.inventory import Distribution, Inventory
from tests.unit.inventory.invtrees import Gone, Sym, config, dist, tree

DEB = "usr/local/lib/python3.11/dist-packages"  # Debian's python: pip installs here
VENV = "opt/venv/lib/python3.11/site-packages"


def _dist(inv: Inventory, name: str, env: str | None = None) -> Distribution:
    for e in inv.environments:
        if env is not None and e.path != env:
            continue
        found = e.find(name)
        if found is not None:
            return found
    raise AssertionError(f"{name} not found")


def _exact(inv: Inventory, t) -> None:  # type: ignore[no-untyped-def]
    assert sum(inv.breakdown.values()) == t.visible_bytes + t.shadowed_bytes


def test_dist_packages_bytes_scripts_pycache_libs_and_orphans() -> None:
    layer = {
        **dist(
            DEB,
            "numpy",
            "2.0.1",
            {
                "numpy/__init__.py": b"x" * 100,
                "numpy/core/_multiarray_umath.cpython-311-x86_64-linux-gnu.so": 5_000,
                "numpy/core/tests/test_x.py": b"t" * 40,
                "../../../bin/f2py": b"#!/usr/bin/python3\n",
            },
            entry_points="[console_scripts]\nf2py = numpy.f2py.f2py2e:main\n",
        ),
        # compiled after install, not in RECORD: still numpy's
        f"{DEB}/numpy/__pycache__/__init__.cpython-311.pyc": 70,
        f"{DEB}/numpy/core/tests/__pycache__/test_x.cpython-311.pyc": 30,
        # auditwheel's vendored libraries, here not listed in RECORD
        f"{DEB}/numpy.libs/libopenblas64_p-r0.so": 30_000,
        f"{DEB}/numpy.libs/libgfortran-040039e1.so.5.0.0": 2_000,
        # nobody's
        f"{DEB}/leftover.py": b"print(1)\n",
        f"{DEB}/__pycache__/leftover.cpython-311.pyc": 11,
        f"{DEB}/lonely/__pycache__/gone.cpython-311.pyc": 5,
        "usr/lib/python3.11/os.py": 10,
    }
    t = tree(layer)
    inv = build_inventory(t, config())
    env = inv.environments[0]
    assert (env.path, env.kind, env.python_version) == (DEB, "system", "3.11")
    numpy = _dist(inv, "numpy")
    assert numpy.version == "2.0.1" and numpy.installer == "pip" and numpy.requested is True
    assert "usr/local/bin/f2py" in numpy.files  # owned outside site-packages
    assert f"{DEB}/numpy.libs/libopenblas64_p-r0.so" in numpy.files
    own = sum(t.get(p).size for p in numpy.files)  # type: ignore[union-attr]
    assert numpy.size_bytes == own
    assert numpy.pycache_bytes == 100
    assert numpy.size_bytes >= 100 + 5_000 + 40 + 19 + 70 + 30 + 32_000
    assert [ep.name for ep in numpy.console_scripts] == ["f2py"]
    assert numpy.import_names == ("numpy",)
    assert "numpy.core._multiarray_umath" in numpy.module_paths
    assert numpy.warnings == () and numpy.missing_files == ()
    assert env.orphan_files == (
        f"{DEB}/__pycache__/leftover.cpython-311.pyc",
        f"{DEB}/leftover.py",
        f"{DEB}/lonely/__pycache__/gone.cpython-311.pyc",
    )
    assert env.orphan_bytes == 9 + 11 + 5
    assert inv.breakdown["tests_docs"] == 70  # numpy/core/tests and its __pycache__
    assert inv.breakdown["scientific"] == numpy.size_bytes - 70
    assert inv.breakdown["other_python"] == 25
    _exact(inv, t)


def test_multistage_venv_and_system_site_packages_side_by_side() -> None:
    t = tree(
        {"usr/local/bin/python3.11": 1000, "usr/local/bin/python3": Sym("python3.11")},
        {
            **dist(
                "usr/local/lib/python3.11/site-packages",
                "pip",
                "24.0",
                {"pip/__init__.py": b"p" * 10, "../../../bin/pip": b"#!x\n"},
            )
        },
        {
            "opt/venv/pyvenv.cfg": b"home = /usr/local/bin\nversion = 3.11.9\n",
            "opt/venv/bin/python": Sym("/usr/local/bin/python3"),
            **dist(
                VENV,
                "requests",
                "2.32.3",
                {"requests/__init__.py": b"r" * 50, "../../../bin/req": b"#!\n"},
                requires=("idna>=2.5", "urllib3>=1.21.1,<3", "PySocks>=1.5.6,!=1.5.7; extra == 'socks'"),
                extras=("socks",),
            ),
            **dist(VENV, "idna", "3.7", {"idna/__init__.py": b"i" * 20}, requested=False),
            **dist(VENV, "urllib3", "2.2.2", {"urllib3/__init__.py": b"u" * 30}, requested=False),
        },
    )
    inv = build_inventory(t, config())
    assert [(e.path, e.kind) for e in inv.environments] == [
        (VENV, "venv"),
        ("usr/local/lib/python3.11/site-packages", "system"),
    ]
    venv = inv.environments[0]
    assert venv.python_version == "3.11.9" and venv.prefix == "opt/venv" and venv.warnings == ()
    requests = _dist(inv, "requests")
    assert "opt/venv/bin/req" in requests.files
    assert [(r.name, r.active) for r in requests.requires] == [("idna", True), ("urllib3", True), ("pysocks", False)]
    assert requests.exclusive_bytes == sum(d.size_bytes for d in venv.distributions)
    assert _dist(inv, "idna").requested is False
    assert "usr/local/bin/pip" in _dist(inv, "pip").files
    _exact(inv, t)


def test_extras_requested_by_an_installed_dependent_are_active() -> None:
    t = tree(
        {
            **dist(
                DEB,
                "fastapi",
                "0.111.0",
                {"fastapi/__init__.py": b"f"},
                requires=(
                    "starlette>=0.37",
                    "uvicorn[standard]>=0.12; extra == 'all'",
                    "email-validator; extra == 'all'",
                ),
                extras=("all",),
            ),
            **dist(DEB, "app-meta", "1.0", {"app_meta.py": b"a"}, requires=("fastapi[all]",)),
            **dist(DEB, "starlette", "0.37.2", {"starlette/__init__.py": b"s"}),
            **dist(
                DEB,
                "uvicorn",
                "0.30.1",
                {"uvicorn/__init__.py": b"u"},
                requires=(
                    "click>=7",
                    "uvloop>=0.14; extra == 'standard' and sys_platform != 'win32'",
                    "colorama; extra == 'standard' and sys_platform == 'win32'",
                ),
                extras=("standard",),
            ),
            **dist(DEB, "uvloop", "0.19.0", {"uvloop/__init__.py": b"l" * 1000}),
            **dist(DEB, "click", "8.1.7", {"click/__init__.py": b"c"}),
        }
    )
    inv = build_inventory(t, config())
    fastapi = _dist(inv, "fastapi")
    assert {r.name: r.active for r in fastapi.requires} == {"starlette": True, "uvicorn": True, "email-validator": True}
    uvicorn = _dist(inv, "uvicorn")
    assert {r.name: r.active for r in uvicorn.requires} == {"click": True, "uvloop": True, "colorama": False}
    app = _dist(inv, "app-meta")
    # removing app-meta frees everything: fastapi[all] -> uvicorn[standard] -> uvloop, click
    assert app.exclusive_bytes == sum(d.size_bytes for d in inv.distributions())
    # removing uvicorn takes what only it needs (uvloop, click) although fastapi[all] asks for it
    assert _dist(inv, "uvicorn").exclusive_bytes == sum(
        _dist(inv, n).size_bytes for n in ("uvicorn", "uvloop", "click")
    )
    assert _dist(inv, "fastapi").exclusive_bytes == app.exclusive_bytes - _dist(inv, "app-meta").size_bytes
    _exact(inv, t)


def test_diamond_exclusive_bytes_do_not_count_the_shared_dependency() -> None:
    t = tree(
        {
            **dist(DEB, "top", "1", {"top.py": b"t" * 1}, requires=("left", "right")),
            **dist(DEB, "left", "1", {"left.py": b"l" * 10}, requires=("base",)),
            **dist(DEB, "right", "1", {"right.py": b"r" * 100}, requires=("base",)),
            **dist(DEB, "base", "1", {"base.py": b"b" * 1000}),
            **dist(DEB, "other", "1", {"other.py": b"o" * 5}, requires=("right",)),
        }
    )
    inv = build_inventory(t, config())
    size = {d.name: d.size_bytes for d in inv.distributions()}
    assert _dist(inv, "top").exclusive_bytes == size["top"] + size["left"]
    assert _dist(inv, "left").exclusive_bytes == size["left"]
    assert _dist(inv, "other").exclusive_bytes == size["other"]
    assert _dist(inv, "base").exclusive_bytes == size["base"]


SYS = "usr/local/lib/python3.11/site-packages"


def _system_site_venv(include: bool):  # type: ignore[no-untyped-def]
    return tree(
        {"usr/local/bin/python3.11": 1000, "usr/local/bin/python3": Sym("python3.11")},
        {
            **dist(SYS, "scipy", "1.14", {"scipy/__init__.py": b"s" * 100}, requires=("numpy",)),
            **dist(SYS, "numpy", "2.1", {"numpy/__init__.py": b"n" * 1000}, requested=False),
        },
        {
            "opt/venv/pyvenv.cfg": (
                f"home = /usr/local/bin\ninclude-system-site-packages = {str(include).lower()}\nversion = 3.11.9\n"
            ).encode(),
            "opt/venv/bin/python": Sym("/usr/local/bin/python3"),
            **dist(VENV, "pandas", "2.2", {"pandas/__init__.py": b"p" * 10}, requires=("numpy",)),
        },
    )


def test_a_system_site_packages_venv_keeps_what_it_needs_from_the_base_environment() -> None:
    # the venv's pandas imports the system numpy: removing scipy must not claim numpy's bytes
    inv = build_inventory(_system_site_venv(True), config())
    venv = next(e for e in inv.environments if e.path == VENV)
    assert venv.base_environments == (SYS,)
    scipy, numpy = _dist(inv, "scipy", SYS), _dist(inv, "numpy", SYS)
    assert scipy.exclusive_bytes == scipy.size_bytes
    assert numpy.exclusive_bytes == numpy.size_bytes
    assert _dist(inv, "pandas", VENV).exclusive_bytes == _dist(inv, "pandas", VENV).size_bytes

    # an isolated venv (the default) does not see the system numpy: scipy is then all that needs it
    inv = build_inventory(_system_site_venv(False), config())
    assert next(e for e in inv.environments if e.path == VENV).base_environments == ()
    scipy, numpy = _dist(inv, "scipy", SYS), _dist(inv, "numpy", SYS)
    assert scipy.exclusive_bytes == scipy.size_bytes + numpy.size_bytes


def test_bad_records_are_reported_with_warnings_not_crashes() -> None:
    good_files = {"liar/__init__.py": b"0123456789"}
    t = tree(
        {
            # RECORD claims 3 bytes for a 10-byte file
            **dist(
                DEB,
                "liar",
                "1.0",
                good_files,
                record_override=b"liar/__init__.py,sha256=x,3\nliar-1.0.dist-info/METADATA,,\n",
            ),
            **dist(
                DEB,
                "broken",
                "1.0",
                {"broken.py": b"b" * 4},
                record_override=b'broken.py,sha256=x,4\n"unterminated\n\x00\xff,,\n',
            ),
            **dist(
                DEB,
                "evil",
                "1.0",
                {"evil.py": b"e"},
                record_override=b"evil.py,,1\n../../../../../../etc/passwd,,1234\n"
                b"../../../../../../../../../../etc/shadow,,1\n/etc/hosts,,1\n",
            ),
            **dist(DEB, "norecord", "1.0", {"norecord.py": b"n" * 7}, record=False),
            "etc/passwd": b"root:x:0:0\n",
            "etc/hosts": b"127.0.0.1 localhost\n",
        }
    )
    inv = build_inventory(t, config())
    liar = _dist(inv, "liar")
    assert liar.size_bytes >= 10 and f"{DEB}/liar/__init__.py" in liar.files
    assert any("sizes disagree" in w for w in liar.warnings)
    broken = _dist(inv, "broken")
    assert f"{DEB}/broken.py" in broken.files and broken.warnings
    evil = _dist(inv, "evil")
    assert "etc/passwd" not in evil.files and "etc/hosts" not in evil.files
    assert any("outside the environment" in w and "3 listed" in w for w in evil.warnings)
    norecord = _dist(inv, "norecord")
    assert any("no RECORD" in w for w in norecord.warnings)
    assert norecord.version == "1.0" and norecord.requested is True
    assert f"{DEB}/norecord.py" in inv.environments[0].orphan_files  # not guessed
    _exact(inv, t)


def test_missing_metadata_uses_the_directory_name() -> None:
    t = tree({f"{DEB}/Weird_Name-3.2.dist-info/RECORD": b"weird.py,,1\n", f"{DEB}/weird.py": b"w"})
    inv = build_inventory(t, config())
    weird = _dist(inv, "weird-name")
    assert weird.version == "3.2" and any("METADATA" in w for w in weird.warnings)
    assert f"{DEB}/weird.py" in weird.files


def test_deleted_record_files_are_missing_and_their_bytes_shadowed() -> None:
    files = {"big/__init__.py": b"x", "big/data.bin": 50_000, "big/__pycache__/__init__.cpython-311.pyc": 9}
    t = tree(dist(DEB, "big", "1.0", files), {f"{DEB}/big/data.bin": Gone(), f"{DEB}/big/__pycache__": Gone()})
    inv = build_inventory(t, config())
    big = _dist(inv, "big")
    assert big.missing_files == (f"{DEB}/big/__pycache__/__init__.cpython-311.pyc", f"{DEB}/big/data.bin")
    assert any("2 recorded file(s) missing" in w and "1 of them __pycache__" in w for w in big.warnings)
    assert inv.breakdown["shadowed"] == 50_009
    _exact(inv, t)


def test_egg_info_installed_files_sources_and_single_file() -> None:
    t = tree(
        {
            f"{DEB}/oldpkg-1.2-py3.11.egg-info/PKG-INFO": b"Name: oldpkg\nVersion: 1.2\n",
            f"{DEB}/oldpkg-1.2-py3.11.egg-info/installed-files.txt": b"../oldpkg/__init__.py\n../oldpkg/x.py\n"
            b"PKG-INFO\n../../../../bin/oldtool\n",
            f"{DEB}/oldpkg-1.2-py3.11.egg-info/requires.txt": b"six\n[extra]\nrich\n",
            f"{DEB}/oldpkg-1.2-py3.11.egg-info/top_level.txt": b"oldpkg\n",
            f"{DEB}/oldpkg/__init__.py": b"a" * 5,
            f"{DEB}/oldpkg/x.py": b"b" * 6,
            "usr/local/bin/oldtool": b"#!/bin/sh\n",
            f"{DEB}/srconly-0.1.egg-info/PKG-INFO": b"Name: srconly\nVersion: 0.1\n",
            f"{DEB}/srconly-0.1.egg-info/SOURCES.txt": b"setup.py\nsrc/srconly/__init__.py\nsrc/srconly/gone.py\n",
            f"{DEB}/srconly-0.1.egg-info/top_level.txt": b"srconly\n",
            f"{DEB}/srconly/__init__.py": b"s" * 3,
            f"{DEB}/distro-1.8.0.egg-info": b"Metadata-Version: 1.1\nName: distro\nVersion: 1.8.0\n",
            **dist(DEB, "six", "1.16.0", {"six.py": b"6"}),
        }
    )
    inv = build_inventory(t, config())
    old = _dist(inv, "oldpkg")
    assert old.requested is None and old.installer is None
    assert {f"{DEB}/oldpkg/__init__.py", f"{DEB}/oldpkg/x.py", "usr/local/bin/oldtool"} <= set(old.files)
    assert old.import_names == ("oldpkg",)
    assert [(r.name, r.active) for r in old.requires] == [("six", True), ("rich", False)]
    src = _dist(inv, "srconly")
    assert f"{DEB}/srconly/__init__.py" in src.files and src.missing_files == ()
    assert any("SOURCES.txt" in w for w in src.warnings)
    distro = _dist(inv, "distro")
    assert distro.version == "1.8.0" and distro.files == (f"{DEB}/distro-1.8.0.egg-info",)
    assert any("single-file" in w for w in distro.warnings)
    _exact(inv, t)


def test_namespace_packages_and_pep794_import_names() -> None:
    t = tree(
        {
            **dist(
                DEB, "protobuf", "5.27.0", {"google/protobuf/__init__.py": b"p", "google/_upb/_message.abi3.so": 10}
            ),
            **dist(
                DEB,
                "googleapis-common-protos",
                "1.63",
                {"google/api/__init__.py": b"a", "google/rpc/status_pb2.py": b"r"},
            ),
            **dist(
                DEB,
                "new-style",
                "1.0",
                {"ns_pkg/impl.py": b"n"},
                meta_extra="Import-Name: ns_pkg.impl\nImport-Namespace: ns_pkg\n",
            ),
        }
    )
    inv = build_inventory(t, config())
    assert _dist(inv, "protobuf").import_names == ("google._upb", "google.protobuf")
    assert _dist(inv, "googleapis-common-protos").import_names == ("google.api", "google.rpc")
    assert _dist(inv, "new-style").import_names == ("ns_pkg.impl",)


def test_file_claimed_by_two_records_is_counted_once_for_the_later_install() -> None:
    t = tree(
        dist(DEB, "first", "1", {"shared/__init__.py": b"x" * 100, "first.py": b"f"}),
        dist(DEB, "second", "1", {"shared/__init__.py": b"x" * 100, "second.py": b"s"}),
    )
    inv = build_inventory(t, config())
    first, second = _dist(inv, "first"), _dist(inv, "second")
    assert f"{DEB}/shared/__init__.py" in second.files
    assert f"{DEB}/shared/__init__.py" not in first.files
    _exact(inv, t)


def test_debian_python_package_owned_by_dpkg_breakdown_and_caches() -> None:
    status = (
        b"Package: python3-yaml\nStatus: install ok installed\nVersion: 6.0\nArchitecture: amd64\n\n"
        b"Package: gcc-12\nStatus: install ok installed\nVersion: 12.2\nArchitecture: amd64\n\n"
        b"Package: libc6\nStatus: install ok installed\nVersion: 2.36\nArchitecture: amd64\n"
    )
    yaml_list = (
        b"/usr/lib/python3/dist-packages/yaml/__init__.py\n/usr/lib/python3/dist-packages/_yaml.so\n"
        b"/usr/lib/python3/dist-packages/PyYAML-6.0.dist-info/METADATA\n"
        b"/usr/share/doc/python3-yaml/copyright\n"
    )
    t = tree(
        {
            "bin": Sym("usr/bin"),
            "usr/lib/python3.11/os.py": 7,
            "var/lib/dpkg/status": status,
            "var/lib/dpkg/info/python3-yaml.list": yaml_list,
            "var/lib/dpkg/info/gcc-12.list": b"/bin/gcc-12\n",
            "var/lib/dpkg/info/libc6:amd64.list": b"/usr/lib/x86_64-linux-gnu/libc.so.6\n",
            "usr/lib/python3/dist-packages/yaml/__init__.py": b"y" * 300,
            "usr/lib/python3/dist-packages/_yaml.so": 4000,
            "usr/lib/python3/dist-packages/PyYAML-6.0.dist-info/METADATA": b"Name: PyYAML\nVersion: 6.0\n",
            "usr/lib/python3/dist-packages/PyYAML-6.0.dist-info/INSTALLER": b"debian\n",
            "usr/share/doc/python3-yaml/copyright": 50,
            "usr/bin/gcc-12": 90_000,
            "usr/lib/x86_64-linux-gnu/libc.so.6": 20_000,
            "var/lib/apt/lists/deb.debian.org_bookworm_main_Packages": 9_000,
            "root/.cache/pip/http-v2/a/b": 7_000,
            "app/main.py": b"import yaml\n",
            "etc/hostname": b"x\n",
        },
    )
    inv = build_inventory(t, config(workdir="/app"))
    yaml = _dist(inv, "pyyaml")
    assert yaml.installer == "debian"
    assert {"usr/lib/python3/dist-packages/yaml/__init__.py", "usr/lib/python3/dist-packages/_yaml.so"} <= set(
        yaml.files
    )
    assert "usr/share/doc/python3-yaml/copyright" in yaml.files  # within the /usr prefix
    assert any("python3-yaml" in w for w in yaml.warnings)
    assert not any("files unknown" in w for w in yaml.warnings)
    assert inv.environments[0].orphan_files == ()
    gcc = next(p for p in inv.os_packages if p.name == "gcc-12")
    assert gcc.is_toolchain and gcc.size_bytes == 90_000
    b = inv.breakdown
    assert b["toolchain"] == 90_000
    assert b["caches"] == 16_000
    assert b["application"] == len(b"import yaml\n")
    assert b["other_python"] == yaml.size_bytes
    assert b["other_os"] == 20_000
    dpkg_db = sum(n.size for n in t.walk("var/lib/dpkg"))
    assert b["other"] == 7 + 2 + len("usr/bin") + dpkg_db  # stdlib, hostname, the /bin symlink, dpkg's db
    _exact(inv, t)
    assert build_inventory(t, config(workdir="/app"), workdir_code=False).breakdown["application"] == 0


def test_two_copies_of_one_distribution_are_both_reported_with_a_warning() -> None:
    t = tree(
        dist(DEB, "six", "1.15.0", {"six.py": b"old"}),
        {**dist(DEB, "six", "1.16.0", {"six.py": b"new!"}), f"{DEB}/six-1.15.0.dist-info/INSTALLER": b"pip\n"},
    )
    inv = build_inventory(t, config())
    env = inv.environments[0]
    assert [(d.name, d.version) for d in env.distributions] == [("six", "1.15.0"), ("six", "1.16.0")]
    assert any("installed twice" in w for w in env.warnings)
    new = next(d for d in env.distributions if d.version == "1.16.0")
    assert f"{DEB}/six.py" in new.files
    _exact(inv, t)


def test_conda_prefix_packages_and_pythonpath_target_install() -> None:
    conda_sp = "opt/conda/lib/python3.11/site-packages"
    meta = b'{"name": "mkl", "version": "2023.1.0", "files": ["lib/libmkl_core.so.2", "lib/libmkl_avx2.so.2"]}'
    t = tree(
        {
            "opt/conda/conda-meta/python-3.11.9-h955ad1f_0.json": b'{"name": "python", "version": "3.11.9"}',
            "opt/conda/conda-meta/mkl-2023.1.0-h213fc3f_46344.json": meta,
            "opt/conda/lib/libmkl_core.so.2": 60_000,
            "opt/conda/lib/libmkl_avx2.so.2": 40_000,
            "opt/conda/pkgs/mkl-2023.1.0.conda": 90_000,
            **dist(conda_sp, "numpy", "1.26.4", {"numpy/__init__.py": b"n" * 10}, installer="conda"),
            **dist("app/deps", "attrs", "23.2.0", {"attr/__init__.py": b"a" * 5, "bin/x": b"#!\n"}),
            "app/main.py": b"import attr\n",
        }
    )
    cfg = config(env=("PYTHONPATH=/app/deps",), workdir="/app")
    inv = build_inventory(t, cfg)
    envs = {e.path: e for e in inv.environments}
    conda = envs[conda_sp]
    assert (conda.kind, conda.python_version, conda.prefix) == ("conda", "3.11.9", "opt/conda")
    assert _dist(inv, "numpy").installer == "conda"
    mkl = next(p for p in inv.os_packages if p.name == "mkl")
    assert (mkl.manager, mkl.version, mkl.size_bytes) == ("conda", "2023.1.0", 100_000)
    target = envs["app/deps"]
    assert target.kind == "pythonpath" and target.python_version == "3.11.9"
    attrs = _dist(inv, "attrs", "app/deps")
    assert "app/deps/bin/x" in attrs.files and attrs.import_names == ("attr",)
    assert inv.breakdown["caches"] == 90_000  # conda's package cache
    assert inv.breakdown["application"] == len(b"import attr\n")  # deps under WORKDIR stay python
    assert inv.breakdown["other_os"] == 100_000
    _exact(inv, t)
