from __future__ import annotations

from deadweight.model.usage import EvidenceKind
from deadweight.usage.commands import command_evidence, script_evidence, split_shell


def _pairs(evs: list) -> set[tuple[str, str]]:  # type: ignore[type-arg]
    return {(e.kind.value, e.target) for e in evs}


def test_exec_form_gunicorn_with_uvicorn_worker() -> None:
    got = _pairs(command_evidence(["gunicorn", "-k", "uvicorn.workers.UvicornWorker", "app.main:app"], "D:3"))
    assert ("command", "gunicorn") in got
    assert ("command-arg", "uvicorn.workers.UvicornWorker") in got
    assert ("app-path", "app.main.app") in got


def test_shell_form_with_wrappers_and_chains() -> None:
    cmd = (
        "cd /srv && FOO=1 exec tini -- gunicorn --worker-class=gevent app:app;"
        " python -m celery -A proj worker -P eventlet"
    )
    got = _pairs(command_evidence(cmd, "D:1"))
    assert {
        ("command", "gunicorn"),
        ("command-arg", "gevent"),
        ("python-m", "celery"),
        ("app-path", "proj"),
        ("command-arg", "eventlet"),
    } <= got
    assert ("command", "cd") not in got and ("command", "tini") not in got


def test_uvicorn_choices_and_sh_c() -> None:
    got = _pairs(command_evidence(["sh", "-c", "uvicorn app:app --loop uvloop --http httptools --ws wsproto"], "x:1"))
    assert {
        ("command", "uvicorn"),
        ("command-arg", "uvloop"),
        ("command-arg", "httptools"),
        ("command-arg", "wsproto"),
    } <= got


def test_python_dash_c_and_pytest_plugins() -> None:
    got = _pairs(command_evidence("python3.11 -c \"import nltk; nltk.download('x')\"", "x:1"))
    assert ("import", "nltk") in got
    got = _pairs(command_evidence("pytest -p xdist -p no:cacheprovider -q", "x:1"))
    assert ("pytest-plugin", "xdist") in got and ("pytest-plugin", "no:cacheprovider") not in got
    assert _pairs(command_evidence("python manage.py migrate", "x:1")) == set()


def test_scripts_and_procfile_lines() -> None:
    text = "#!/bin/sh\nset -e\n# comment\npython -m alembic upgrade head\nexec gunicorn \\\n  app:app\n"
    evs = script_evidence(text, "entrypoint.sh")
    got = {(e.kind, e.target, e.location) for e in evs}
    assert (EvidenceKind.PYTHON_M, "alembic", "entrypoint.sh:4") in got
    assert (EvidenceKind.COMMAND, "gunicorn", "entrypoint.sh:5") in got
    proc = script_evidence("web: gunicorn x.wsgi\nworker: rq worker\n", "Procfile")
    assert {e.target for e in proc if e.kind is EvidenceKind.COMMAND} == {"gunicorn", "rq"}


def test_unbalanced_quotes_still_split() -> None:
    assert split_shell("gunicorn 'app:app") != []


def test_subcommands_name_the_distribution_behind_them() -> None:
    flower = _pairs(command_evidence(["celery", "-A", "shop.tasks", "flower", "--port=5555"], "c:1"))
    assert ("command-arg", "flower") in flower
    migrate = _pairs(command_evidence("flask --app shop:create_app db upgrade", "c:2"))
    assert ("command-arg", "flask_migrate") in migrate
    lab = _pairs(command_evidence("jupyter lab --ip 0.0.0.0", "c:3"))
    assert {("command", "jupyter-lab"), ("command-arg", "jupyterlab")} <= lab
    # python -m celery is the same program
    assert ("command-arg", "flower") in _pairs(command_evidence(["python", "-m", "celery", "flower"], "c:4"))


def test_an_option_value_is_not_a_subcommand() -> None:
    # the app is called "flower" and the sub-command is worker: nothing says the flower project runs
    got = _pairs(command_evidence(["celery", "--app", "flower", "worker"], "c:1"))
    assert ("command-arg", "flower") not in got
    assert not any(target == "flask_migrate" for _, target in _pairs(command_evidence("flask run", "c:2")))
    # a jupyter sub-command not in the table still names its executable, resolved through console scripts
    assert ("command", "jupyter-nbdime") in _pairs(command_evidence("jupyter nbdime", "c:3"))
    assert ("command-arg", "nbdime") not in _pairs(command_evidence("jupyter nbdime", "c:3"))
