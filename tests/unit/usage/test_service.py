"""The usage join of one service (usage/service.py): the image's own code under WORKDIR is evidence, read
from the bytes captured while streaming, never written to disk."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from tests.unit.rules.ruleimages import dist, service

from deadweight.inventory.build import build_inventory
from deadweight.model.usage import EvidenceKind, VerdictStatus
from deadweight.pipeline.analyze import analyze_image
from deadweight.sources.resolve import open_source
from deadweight.usage.service import audit_capture, service_verdicts
from imagebuilder import F, ImageSpec, write_docker_archive


def test_image_code_is_scanned_in_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code = [F("srv/app/main.py", b"import alpha\n\nprint(alpha.x)\n"), F("srv/app/job.sh", b"python -m beta.cli\n")]
    layers = [dist("alpha", "1.0", {"alpha/__init__.py": b"x = 1\n"}), dist("beta", "1.0", {"beta/cli.py": b""}),
              dist("gamma", "1.0", {"gamma/__init__.py": b""}), code]
    archive = tmp_path / "app.tar"
    write_docker_archive(ImageSpec(layers=layers, workdir="/srv"), archive)
    with open_source(f"docker-archive:{archive}") as source:
        analysis = analyze_image(source, want=audit_capture(source.config()))
    inventory = build_inventory(analysis.tree, analysis.image_config)

    def no_disk(*args: object, **kwargs: object) -> str:
        raise AssertionError("the usage join wrote the image's code to disk")

    monkeypatch.setattr(tempfile, "mkdtemp", no_disk)
    joined = service_verdicts(service(), inventory=inventory, image_config=analysis.image_config, tree=analysis.tree)
    imports = {(e.target, e.location) for e in joined.usage.evidence if e.kind is EvidenceKind.IMPORT}
    assert ("alpha", "image:/srv/app/main.py:1") in imports
    assert joined.usage.files_scanned == 2 and joined.usage.complete
    assert joined.verdicts["alpha"].status is VerdictStatus.USED
    assert joined.verdicts["beta"].status is VerdictStatus.USED
    assert joined.verdicts["gamma"].status is not VerdictStatus.USED
