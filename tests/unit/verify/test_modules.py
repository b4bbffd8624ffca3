"""What the after image must import, from the audit's own verdicts on a real (tiny) image tree, and the
framework builds it must have."""

from __future__ import annotations

from pathlib import Path

from deadweight.inventory.build import build_inventory
from deadweight.model.project import ShippedFile
from deadweight.pipeline.analyze import analyze_image
from deadweight.project.loader import load_project
from deadweight.sources.base import SourceOptions
from deadweight.sources.docker_archive import DockerArchiveSource
from deadweight.verify.modules import app_modules, app_top_levels, expected_frameworks, modules_to_import
from tests.imagebuilder import F, ImageSpec, write_docker_archive
from tests.unit.inventory.invtrees import dist

SITE = "usr/local/lib/python3.11/site-packages"


def _image(tmp_path: Path) -> Path:
    files = {
        **dist(SITE, "flask", "3.0.0", {"flask/__init__.py": b"x = 1\n"}),
        **dist(SITE, "six", "1.16.0", {"six.py": b"x = 1\n"}),
        **dist(SITE, "torch", "2.5.1+cu124", {"torch/__init__.py": b"", "torch/version.py": b"cuda = '12.4'\n"}),
    }
    layer = [F(path, content if isinstance(content, bytes) else b"\0" * content) for path, content in files.items()]
    app = [F("app/app.py", b"import flask\nimport settings\nimport torch\n"), F("app/settings.py", b"DEBUG = 1\n")]
    spec = ImageSpec(layers=[layer, app], workdir="/app", cmd=["gunicorn", "app:app"])
    path = tmp_path / "image.tar"
    write_docker_archive(spec, path)
    return path


def test_used_distributions_and_the_app_modules_the_scan_saw(tmp_path: Path) -> None:
    ctx = tmp_path / "svc"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text('FROM python:3.11-slim\nWORKDIR /app\nCOPY . .\nCMD ["gunicorn", "app:app"]\n')
    (ctx / "requirements.txt").write_text("flask\nsix\ntorch\n")
    (ctx / "app.py").write_text("import flask\nimport settings\nimport torch\n")
    (ctx / "settings.py").write_text("DEBUG = 1\n")
    service = load_project(str(ctx)).services[0]
    assert app_top_levels(service) >= {"app", "settings"}
    with DockerArchiveSource(str(_image(tmp_path)), SourceOptions()) as source:
        analysis = analyze_image(source, want=lambda p: True)
    inventory = build_inventory(analysis.tree, analysis.image_config)
    modules = modules_to_import(service, analysis, inventory)
    assert {"flask", "torch", "settings", "app"} <= set(modules)
    assert "six" not in modules  # declared, never used: its removal is what the check must survive
    builds = {d.name: d.build for d in inventory.distributions()}
    if builds.get("torch") in ("cuda", "gpu"):
        assert expected_frameworks(inventory, {"DW101"}) == {"torch": "cpu"}
        assert expected_frameworks(inventory, {"DW201"}) == {"torch": builds["torch"]}


def test_app_top_levels_skip_what_is_not_a_module() -> None:
    from deadweight.model.project import Service

    shipped = (
        ShippedFile("pkg/mod.py", "/app/pkg/mod.py", 1),
        ShippedFile("run.py", "/app/run.py", 1),
        ShippedFile("my-tool.py", "/app/my-tool.py", 1),
        ShippedFile("README.md", "/app/README.md", 1),
    )
    service = Service(name="s", context_dir=None, dockerfile=None, image=None, shipped=shipped)
    assert app_top_levels(service) == {"pkg", "run"}
    assert app_modules(service) == {"pkg.mod", "run"}
