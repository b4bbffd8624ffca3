"""Finding environments: system site/dist-packages, venvs, conda, user site, PYTHONPATH."""

from __future__ import annotations

from deadweight.inventory.pythonenv import discover, site_dir_of
from tests.unit.inventory.invtrees import Dir, Sym, config, tree


def _envs(t, cfg=None):  # type: ignore[no-untyped-def]
    specs = discover(t, [n.path for n in t.nodes()], cfg or config())
    return {s.path: s for s in specs}


def test_site_dir_of() -> None:
    assert site_dir_of("usr/lib/python3/dist-packages/x/y.py") == "usr/lib/python3/dist-packages"
    assert site_dir_of("usr/local/lib/python3.11/site-packages") == "usr/local/lib/python3.11/site-packages"
    assert site_dir_of("a/site-packages/b/site-packages/c") == "a/site-packages"
    assert site_dir_of("a/my-site-packages/c") is None
    assert site_dir_of("a/site-packagesx/c") is None


def test_debian_dist_packages_and_official_site_packages() -> None:
    t = tree(
        {
            "usr/lib/python3.11/os.py": 10,
            "usr/lib/python3/dist-packages/apt/__init__.py": 5,
            "usr/local/lib/python3.11/dist-packages/numpy/__init__.py": 5,
            "usr/local/lib/python3.11/site-packages/pip/__init__.py": 5,
            "usr/local/lib/python3.12/dist-packages": Dir(),  # empty: not an environment
        }
    )
    envs = _envs(t)
    assert set(envs) == {
        "usr/lib/python3/dist-packages",
        "usr/local/lib/python3.11/dist-packages",
        "usr/local/lib/python3.11/site-packages",
    }
    deb = envs["usr/lib/python3/dist-packages"]
    assert (deb.kind, deb.python_version, deb.prefix) == ("system", "3.11", "usr")
    local = envs["usr/local/lib/python3.11/dist-packages"]
    assert (local.kind, local.python_version, local.prefix) == ("system", "3.11", "usr/local")


def test_venv_with_pyvenv_cfg_and_missing_interpreter_home() -> None:
    t = tree(
        {
            "opt/venv/pyvenv.cfg": b"home = /usr/local/bin\ninclude-system-site-packages = false\nversion = 3.11.7\n",
            "opt/venv/bin/python": Sym("/usr/local/bin/python3"),
            "opt/venv/lib/python3.11/site-packages/six.py": 10,
            "other/venv/pyvenv.cfg": b"home = /usr/bin\nversion_info = 3.12.1.final.0\n",
            "other/venv/lib/python3.12/site-packages/a.py": 1,
            "usr/bin/python3": 100,
        }
    )
    envs = _envs(t)
    venv = envs["opt/venv/lib/python3.11/site-packages"]
    assert (venv.kind, venv.python_version, venv.prefix) == ("venv", "3.11.7", "opt/venv")
    assert any("no python interpreter" in w for w in venv.warnings)  # copied without its base Python
    other = envs["other/venv/lib/python3.12/site-packages"]
    assert (other.kind, other.python_version) == ("venv", "3.12.1")
    assert other.warnings == []


def test_conda_user_site_and_pythonpath() -> None:
    t = tree(
        {
            "opt/conda/conda-meta/python-3.11.9-h955ad1f_0.json": b"{}",
            "opt/conda/lib/python3.11/site-packages/conda/__init__.py": 1,
            "root/.local/lib/python3.11/site-packages/requests/__init__.py": 1,
            "usr/local/lib/python3.11/site-packages/x.py": 1,
            "app/deps/yaml/__init__.py": 1,
            "app/code": Sym("deps"),
        }
    )
    cfg = config(env=("PATH=/usr/bin", "PYTHONPATH=/app/deps:/missing::/usr/local/lib/python3.11/site-packages"))
    envs = _envs(t, cfg)
    conda = envs["opt/conda/lib/python3.11/site-packages"]
    assert (conda.kind, conda.python_version, conda.prefix) == ("conda", "3.11.9", "opt/conda")
    user = envs["root/.local/lib/python3.11/site-packages"]
    assert (user.kind, user.prefix) == ("user", "root/.local")
    pp = envs["app/deps"]
    assert (pp.kind, pp.python_version, pp.prefix) == ("pythonpath", "3.11", "app/deps")
    assert len(envs) == 4
