"""The package view (reports/packages.py): JSON shape and text, from a real inventory."""

from __future__ import annotations

import json

from deadweight.inventory.build import build_inventory
from deadweight.model.inventory import Inventory
from deadweight.reports.packages import render, to_dict
from tests.unit.inventory.invtrees import config, dist, tree

SP = "usr/local/lib/python3.11/site-packages"


def _inventory() -> Inventory:
    t = tree({
        **dist(SP, "torch", "2.5.1+cu124", {"torch/__init__.py": b"t" * 10, "torch/lib/libtorch_cuda.so": 5000},
               requires=("filelock", "nvidia-cublas-cu12; platform_system == 'Linux'", "[bad"),
               entry_points="[console_scripts]\ntorchrun = torch.distributed.run:main\n"),
        **dist(SP, "filelock", "3.15.4", {"filelock/__init__.py": b"f"}, requested=False),
        f"{SP}/stray[1].py": b"x",
        "var/lib/dpkg/status": b"Package: make\nVersion: 4.3\nArchitecture: amd64\n",
        "var/lib/dpkg/info/make.list": b"/usr/bin/make\n",
        "usr/bin/make": 250_000,
    })
    return build_inventory(t, config())


def test_to_dict_is_json_with_absolute_paths_and_sorted_lists() -> None:
    inv = _inventory()
    doc = json.loads(json.dumps(to_dict(inv, files=True)))
    env = doc["environments"][0]
    assert env["path"] == "/" + SP and env["kind"] == "system" and env["python_version"] == "3.11"
    assert [d["name"] for d in env["distributions"]] == ["filelock", "torch"]
    torch = env["distributions"][1]
    assert torch["version"] == "2.5.1+cu124" and torch["build"] == "cuda" and torch["class"] == "ml"
    assert torch["build_evidence"][0] == "version label +cu124"
    assert [r["name"] for r in torch["requires"]] == ["filelock", "nvidia-cublas-cu12"]
    assert torch["requires"][1]["active"] is True
    assert torch["entry_points"] == [{"group": "console_scripts", "name": "torchrun",
                                      "value": "torch.distributed.run:main"}]
    assert any("unparseable" in w for w in torch["warnings"])
    assert all(p.startswith("/") for p in torch["files"])
    assert env["orphan_files"] == [f"/{SP}/stray[1].py"]
    assert doc["os_packages"] == [{"name": "make", "version": "4.3", "manager": "dpkg", "size_bytes": 250_000,
                                   "toolchain": True, "file_count": 1, "files": ["/usr/bin/make"]}]
    assert list(doc["breakdown"])[:3] == ["gpu", "ml", "scientific"]
    assert doc["breakdown"]["gpu"] == 5000
    assert doc["breakdown"]["toolchain"] == 250_000
    assert "files" not in to_dict(inv)["environments"][0]["distributions"][0]


def test_render_text_mentions_sizes_builds_and_breakdown() -> None:
    text = render(_inventory(), width=140)
    assert f"system environment /{SP} (Python 3.11): 2 distributions" in text
    assert "torch" in text and "2.5.1+cu124" in text
    assert "Framework builds" in text and "torch 2.5.1+cu124: cuda (version label +cu124" in text
    assert "1 orphan files" in text
    assert "OS packages: 1, 250 kB; toolchain: 1, 250 kB" in text
    assert "Breakdown of" in text and "toolchain" in text
    assert "torch: unparseable Requires-Dist '[bad'" in text


def test_render_without_environments() -> None:
    text = render(Inventory())
    assert text.startswith("Python: no environment found")


def test_a_system_site_packages_venv_names_the_environments_it_imports_from() -> None:
    venv = "opt/venv/lib/python3.11/site-packages"
    t = tree(
        {"usr/local/bin/python3.11": 1000, **dist(SP, "numpy", "2.1", {"numpy/__init__.py": b"n"})},
        {
            "opt/venv/pyvenv.cfg": b"home = /usr/local/bin\ninclude-system-site-packages = true\nversion = 3.11.9\n",
            **dist(venv, "pandas", "2.2", {"pandas/__init__.py": b"p"}, requires=("numpy",)),
        },
    )
    inv = build_inventory(t, config())
    envs = {e["path"]: e for e in to_dict(inv)["environments"]}
    assert envs["/" + venv]["base_environments"] == ["/" + SP]
    assert envs["/" + SP]["base_environments"] == []
    assert f"also imports /{SP}" in render(inv, width=200)
