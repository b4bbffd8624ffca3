from __future__ import annotations

from deadweight.model.inventory import Distribution, EntryPoint, Requirement
from deadweight.model.usage import Confidence, EvidenceKind, UsageEvidence, VerdictStatus
from deadweight.usage.verdicts import decide


def dist(
    name: str,
    modules: tuple[str, ...] = (),
    requires: tuple[str, ...] = (),
    eps: tuple[EntryPoint, ...] = (),
    inactive: tuple[str, ...] = (),
) -> Distribution:
    reqs = tuple(Requirement(r, "", (), None, True) for r in requires)
    reqs += tuple(Requirement(r, "", (), 'extra == "x"', False, "x") for r in inactive)
    return Distribution(
        name=name,
        display_name=name,
        version="1",
        metadata_path=f"/sp/{name}-1.dist-info",
        environment="/sp",
        import_names=tuple(sorted({m.split(".")[0] for m in modules})),
        module_paths=tuple(sorted(modules)),
        requires=reqs,
        entry_points=eps,
    )


def imp(module: str, *, type_only: bool = False) -> UsageEvidence:
    return UsageEvidence(EvidenceKind.IMPORT, f"import {module}", "app.py:1", module, Confidence.HIGH, type_only)


IMAGE = [
    dist("fastapi", ("fastapi", "fastapi.routing"), requires=("starlette", "pydantic")),
    dist("starlette", ("starlette",), requires=("anyio",)),
    dist("anyio", ("anyio",)),
    dist("pydantic", ("pydantic",), inactive=("email-validator",)),
    dist("email-validator", ("email_validator",)),
    dist("python-multipart", ("multipart", "python_multipart")),
    dist("gunicorn", ("gunicorn",), eps=(EntryPoint("console_scripts", "gunicorn", "gunicorn.app:run"),)),
    dist("pytest", ("pytest", "_pytest"), eps=(EntryPoint("console_scripts", "pytest", "pytest:console_main"),)),
    dist("pytest-cov", ("pytest_cov",), eps=(EntryPoint("pytest11", "pytest_cov", "pytest_cov.plugin"),)),
    dist("flake8-bugbear", ("bugbear",), eps=(EntryPoint("flake8.extension", "B", "bugbear:BugBearChecker"),)),
    dist("google-cloud-storage", ("google.cloud.storage",)),
    dist("google-cloud-pubsub", ("google.cloud.pubsub",)),
    dist("scipy", ("scipy",), requires=("numpy",)),
    dist("numpy", ("numpy",)),
    dist("pip", ("pip",)),
    dist("setuptools", ("setuptools", "pkg_resources")),
    dist("types-stub", ("stubbed",)),
    dist("leftover", ("leftover",)),
]
DECLARED = [
    "fastapi",
    "gunicorn",
    "pytest",
    "scipy",
    "google-cloud-storage",
    "google-cloud-pubsub",
    "types-stub",
    "python-multipart",
]


def test_join_statuses() -> None:
    evidence = [
        imp("fastapi.FastAPI"),
        imp("google.cloud.storage.Client"),
        imp("stubbed.Thing", type_only=True),
        UsageEvidence(EvidenceKind.COMMAND, "runs gunicorn", "Dockerfile:9", "gunicorn"),
        UsageEvidence(EvidenceKind.COMMAND, "runs pytest", "compose.yml:3", "pytest"),
        UsageEvidence(EvidenceKind.OPTIONAL_DEP, "Form(", "app.py:5", "python-multipart", consumer="fastapi"),
    ]
    v = decide(IMAGE, DECLARED, evidence)
    s = {n: x.status for n, x in v.items()}
    assert s["fastapi"] is VerdictStatus.USED
    assert s["starlette"] is VerdictStatus.USED_TRANSITIVELY and v["starlette"].via == ("fastapi",)
    assert s["anyio"] is VerdictStatus.USED_TRANSITIVELY and v["anyio"].via == ("starlette",)
    assert s["pydantic"] is VerdictStatus.USED_TRANSITIVELY
    assert s["email-validator"] is VerdictStatus.ORPHAN  # only an inactive (extra) requirement
    assert s["python-multipart"] is VerdictStatus.USED and v["python-multipart"].via == ("fastapi",)
    assert s["gunicorn"] is VerdictStatus.USED
    assert s["pytest-cov"] is VerdictStatus.USED  # pytest11 plugin of a used pytest
    assert s["flake8-bugbear"] is VerdictStatus.ORPHAN  # flake8 is not used
    assert s["google-cloud-storage"] is VerdictStatus.USED
    assert s["google-cloud-pubsub"] is VerdictStatus.DECLARED_UNUSED  # shares the namespace, not the module
    assert s["scipy"] is VerdictStatus.DECLARED_UNUSED and v["scipy"].confidence is Confidence.HIGH
    assert s["numpy"] is VerdictStatus.ORPHAN
    assert s["pip"] is VerdictStatus.USED_BY_TOOLING and s["setuptools"] is VerdictStatus.USED_BY_TOOLING
    assert s["types-stub"] is VerdictStatus.DECLARED_UNUSED and v["types-stub"].confidence is Confidence.MEDIUM
    assert s["leftover"] is VerdictStatus.ORPHAN


def test_optional_evidence_needs_a_used_consumer() -> None:
    ev = [UsageEvidence(EvidenceKind.OPTIONAL_DEP, "Form(", "a.py:1", "python-multipart", consumer="fastapi")]
    assert decide(IMAGE, DECLARED, ev)["python-multipart"].status is VerdictStatus.DECLARED_UNUSED


def test_incomplete_scan_lowers_unused_to_unknown() -> None:
    ev = [imp("fastapi"), UsageEvidence(EvidenceKind.SCAN_WARNING, "py2", "old.py:0", "", Confidence.LOW)]
    v = decide(IMAGE, DECLARED, ev)
    assert v["fastapi"].status is VerdictStatus.USED
    assert v["scipy"].status is VerdictStatus.UNKNOWN and v["leftover"].status is VerdictStatus.UNKNOWN
    assert not [x for x in v.values() if x.status.is_unused]


def test_computed_dynamic_import_lowers_to_unknown() -> None:
    ev = [imp("fastapi"), UsageEvidence(EvidenceKind.DYNAMIC_UNRESOLVED, "import_module(x)", "a.py:3", "")]
    assert decide(IMAGE, DECLARED, ev)["scipy"].status is VerdictStatus.UNKNOWN


def test_prefix_dynamic_import_only_affects_matching() -> None:
    ev = [imp("fastapi"), UsageEvidence(EvidenceKind.DYNAMIC_PREFIX, "f'google.cloud.{x}'", "a.py:3", "google.cloud.")]
    v = decide(IMAGE, DECLARED, ev)
    assert v["google-cloud-pubsub"].status is VerdictStatus.UNKNOWN
    assert v["scipy"].status is VerdictStatus.DECLARED_UNUSED


def test_requirements_of_unknown_are_unknown() -> None:
    ev = [UsageEvidence(EvidenceKind.DYNAMIC_PREFIX, "f'scipy.{x}'", "a.py:3", "scipy")]
    v = decide(IMAGE, DECLARED, ev)
    assert v["scipy"].status is VerdictStatus.UNKNOWN and v["numpy"].status is VerdictStatus.UNKNOWN


def test_when_used_optional_table_entry() -> None:
    image = [dist("uvicorn", ("uvicorn",)), dist("uvloop", ("uvloop",)), dist("watchfiles", ("watchfiles",))]
    ev = [UsageEvidence(EvidenceKind.COMMAND_ARG, "gunicorn -k", "D:1", "uvicorn.workers.UvicornWorker")]
    v = decide(image, ["uvicorn", "uvloop", "watchfiles"], ev)
    assert v["uvloop"].status is VerdictStatus.USED and v["uvloop"].via == ("uvicorn",)
    assert v["watchfiles"].status is VerdictStatus.DECLARED_UNUSED  # only with --reload
