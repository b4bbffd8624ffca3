"""Arguments of known servers and workers that name code: each tool's handlers, in the order they report."""

from __future__ import annotations

from deadweight.model.usage import Confidence, EvidenceKind
from deadweight.usage.tool_args import tool_arg_evidence

H, M = Confidence.HIGH, Confidence.MEDIUM
ARG, APP = EvidenceKind.COMMAND_ARG, EvidenceKind.APP_PATH


def _rows(prog: str, line: str) -> list[tuple[EvidenceKind, str, str, Confidence]]:
    return [(e.kind, e.detail, e.target, e.confidence) for e in tool_arg_evidence(prog, line.split(), "Dockerfile:7")]


def test_gunicorn_workers_apps_and_variables() -> None:
    assert _rows("gunicorn", "-k gevent -w 4 --worker-class=$WORKER -c conf.py app.wsgi:application") == [
        (ARG, "gunicorn worker class gevent", "gevent", H),
        (APP, "gunicorn app app.wsgi:application", "app.wsgi.application", M),
    ]
    assert _rows("gunicorn", "-k sync --bind 0.0.0.0:80 app:app") == [(APP, "gunicorn app app:app", "app.app", M)]


def test_hypercorn_worker_class_choices_and_app() -> None:
    assert _rows("hypercorn", "--loop uvloop -k trio --bind :80 svc.main:app") == [
        (ARG, "hypercorn --loop uvloop", "uvloop", H),
        (ARG, "hypercorn worker class trio", "trio", H),
        (APP, "hypercorn app svc.main:app", "svc.main.app", M),
    ]
    assert _rows("uvicorn", "-k trio --http h11 main:app") == [
        (ARG, "uvicorn --http h11", "h11", H),
        (APP, "uvicorn app main:app", "main.app", M),
    ]


def test_celery_app_pool_scheduler_and_broker_url() -> None:
    assert _rows("celery", "-A proj worker -P gevent -S redbeat.RedBeatScheduler -b redis://r:6379/0") == [
        (APP, "celery app proj", "proj", M),
        (ARG, "celery pool gevent", "gevent", H),
        (ARG, "celery beat scheduler redbeat.RedBeatScheduler", "redbeat.RedBeatScheduler", H),
        (EvidenceKind.DB_URL, "URL scheme redis:// uses redis", "redis", H),
    ]
    assert [e.location for e in tool_arg_evidence("celery", ["--broker", "amqp://x"], "Procfile:3")] == [
        "Procfile:3",
        "Procfile:3",
    ]


def test_task_queues_and_the_generic_class_option() -> None:
    assert _rows("dramatiq", "-p 2 tasks --worker-class=pkg.workers.W") == [
        (APP, "dramatiq app tasks", "tasks", M),
        (ARG, "dramatiq class pkg.workers.W", "pkg.workers.W", H),
        (ARG, "dramatiq --worker-class pkg.workers.W", "pkg.workers.W", H),
    ]
    # rq reads its own --*-class options: no second, generic row
    assert _rows("rq", "worker --job-class=my.jobs.Job high") == [(ARG, "rq class my.jobs.Job", "my.jobs.Job", H)]
    assert _rows("flower", "--auth-class=auth.backend.Basic") == [
        (ARG, "flower --auth-class auth.backend.Basic", "auth.backend.Basic", H),
    ]
    assert _rows("pytest", "-p no:warnings -pxdist") == [(EvidenceKind.PYTEST_PLUGIN, "pytest -p xdist", "xdist", H)]
