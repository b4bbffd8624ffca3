"""dpkg and apk databases read from the final tree, merged-/usr included."""

from __future__ import annotations

from deadweight.inventory.ospackages import is_toolchain, read_os_packages
from tests.unit.inventory.invtrees import Dir, Gone, Sym, tree

STATUS = b"""Package: bash
Status: install ok installed
Architecture: amd64
Version: 5.2.15-2+b2
Description: GNU Bourne Again SHell
 continuation line

Package: libc6
Status: install ok installed
Architecture: amd64
Multi-Arch: same
Version: 2.36-9+deb12u4

Package: gcc-12
Status: install ok installed
Architecture: amd64
Version: 12.2.0-14

Package: removed-thing
Status: deinstall ok config-files
Architecture: amd64
Version: 1.0
"""


def debian_tree():  # type: ignore[no-untyped-def]
    base = {
        "bin": Sym("usr/bin"),
        "lib": Sym("usr/lib"),
        "usr/bin": Dir(),
        "usr/bin/bash": 1_200_000,
        "usr/bin/sh": Sym("bash"),
        "usr/lib/x86_64-linux-gnu/libc.so.6": 2_000_000,
        "usr/lib/gcc/x86_64-linux-gnu/12/cc1": 30_000_000,
        "usr/bin/gcc-12": 1_000_000,
        "var/lib/dpkg/status": STATUS,
        # merged /usr: dpkg still lists /bin/bash; the file lives at usr/bin/bash
        "var/lib/dpkg/info/bash.list": b"/.\n/bin\n/bin/bash\n/usr/bin/bash\n/usr/share/doc/bash/missing\n",
        "var/lib/dpkg/info/libc6:amd64.list": b"/.\n/lib/x86_64-linux-gnu/libc.so.6\n",
        "var/lib/dpkg/info/gcc-12.list": b"/usr/bin/gcc-12\n/usr/lib/gcc/x86_64-linux-gnu/12/cc1\n",
        "var/lib/dpkg/info/removed-thing.list": b"/usr/bin/bash\n",
    }
    return tree(base)


def test_dpkg_packages_sizes_through_merged_usr_symlinks() -> None:
    pkgs, owner, warnings = read_os_packages(debian_tree())
    by_name = {p.name: p for p in pkgs}
    assert set(by_name) == {"bash", "libc6", "gcc-12"}
    bash = by_name["bash"]
    assert bash.files == ("usr/bin/bash",)  # /bin/bash and /usr/bin/bash counted once
    assert bash.size_bytes == 1_200_000
    assert bash.version == "5.2.15-2+b2" and bash.manager == "dpkg"
    assert by_name["libc6"].files == ("usr/lib/x86_64-linux-gnu/libc.so.6",)
    assert by_name["libc6"].size_bytes == 2_000_000
    assert by_name["gcc-12"].size_bytes == 31_000_000
    assert by_name["gcc-12"].is_toolchain and not bash.is_toolchain
    assert owner["usr/bin/bash"] == "dpkg:bash"
    assert warnings == []


def test_deleted_files_are_not_counted() -> None:
    t = tree(
        {
            "usr/bin/tool": 500,
            "usr/bin/tool2": 7,
            "var/lib/dpkg/status": b"Package: t\nVersion: 1\n",
            "var/lib/dpkg/info/t.list": b"/usr/bin/tool\n/usr/bin/tool2\n",
        },
        {"usr/bin/tool": Gone()},
    )
    pkgs, _, _ = read_os_packages(t)
    assert pkgs[0].files == ("usr/bin/tool2",)
    assert pkgs[0].size_bytes == 7


def test_distroless_status_d_with_md5sums() -> None:
    t = tree(
        {
            "var/lib/dpkg/status.d/libssl3": b"Package: libssl3\nVersion: 3.0.11\nArchitecture: amd64\n",
            "var/lib/dpkg/status.d/libssl3.md5sums": b"abc  usr/lib/x86_64-linux-gnu/libssl.so.3\n",
            "usr/lib/x86_64-linux-gnu/libssl.so.3": 700_000,
        }
    )
    pkgs, owner, _ = read_os_packages(t)
    assert [(p.name, p.version, p.size_bytes) for p in pkgs] == [("libssl3", "3.0.11", 700_000)]
    assert owner == {"usr/lib/x86_64-linux-gnu/libssl.so.3": "dpkg:libssl3"}


def test_apk_installed_db() -> None:
    db = (
        b"C:Q1abc=\nP:musl\nV:1.2.4-r2\nA:x86_64\nS:383152\nI:622592\n"
        b"F:lib\nR:ld-musl-x86_64.so.1\nR:libc.musl-x86_64.so.1\n\n"
        b"P:build-base\nV:0.5-r3\nA:x86_64\n\n"
        b"P:gcc\nV:13.2.1\nF:usr/bin\nR:gcc\nF:usr/libexec/gcc/x86_64-alpine-linux-musl/13.2.1\nR:cc1\n"
    )
    t = tree(
        {
            "lib/apk/db/installed": db,
            "lib/ld-musl-x86_64.so.1": 600_000,
            "lib/libc.musl-x86_64.so.1": Sym("ld-musl-x86_64.so.1"),
            "usr/bin/gcc": 900_000,
            "usr/libexec/gcc/x86_64-alpine-linux-musl/13.2.1/cc1": 25_000_000,
        }
    )
    pkgs, _, _ = read_os_packages(t)
    by_name = {p.name: p for p in pkgs}
    assert by_name["musl"].version == "1.2.4-r2"
    assert by_name["musl"].files == ("lib/ld-musl-x86_64.so.1", "lib/libc.musl-x86_64.so.1")
    assert by_name["musl"].size_bytes == 600_000 + len("ld-musl-x86_64.so.1")
    assert by_name["gcc"].size_bytes == 25_900_000
    assert by_name["gcc"].is_toolchain and by_name["build-base"].is_toolchain
    assert not by_name["musl"].is_toolchain
    assert all(p.manager == "apk" for p in pkgs)


def test_toolchain_names() -> None:
    for name in (
        "build-essential",
        "gcc",
        "gcc-12",
        "g++-12",
        "cpp-12",
        "binutils",
        "binutils-x86-64-linux-gnu",
        "make",
        "cmake",
        "libc6-dev",
        "linux-libc-dev",
        "libpython3.11-dev",
        "libssl-dev:amd64",
        "libgcc-12-dev",
        "libstdc++-12-dev",
        "libasan8",
        "musl-dev",
        "pkg-config",
    ):
        assert is_toolchain(name), name
    for name in (
        "bash",
        "libc6",
        "libgcc-s1",
        "libstdc++6",
        "python3.11",
        "libssl3",
        "libgomp1",
        "devscripts-x",
        "gcc-12-base",
    ):
        assert not is_toolchain(name), name
