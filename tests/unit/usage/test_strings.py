from __future__ import annotations

import ast

from deadweight.model.usage import EvidenceKind
from deadweight.usage.strings import (
    config_text_evidence,
    db_url_evidence,
    env_assignment_evidence,
    looks_like_code_path,
    python_string_evidence,
)


def _targets(evs: list) -> set[str]:  # type: ignore[type-arg]
    return {e.target for e in evs}


def test_db_urls_name_drivers() -> None:
    cases = {
        "postgresql+psycopg2://u:p@h/db": {"psycopg2"},
        "postgresql+psycopg://h/db": {"psycopg"},
        "postgresql+asyncpg://h/db": {"asyncpg"},
        "postgresql://h/db": {"psycopg2", "psycopg"},
        "mysql+pymysql://h/db": {"pymysql"},
        "mysql+mysqldb://h/db": {"MySQLdb"},
        "mssql+pyodbc://h/db": {"pyodbc"},
        "oracle+oracledb://h": {"oracledb"},
        "oracle+cx_oracle://h": {"cx_Oracle"},
        "redis://cache:6379/0": {"redis"},
        "amqp://guest@rabbit//": {"kombu", "amqp"},
        "sqlite:///x.db": set(),
        "https://example.com/x": set(),
        "postgresql+newdriver://h": {"newdriver"},
    }
    for url, expected in cases.items():
        assert _targets(db_url_evidence(f"URL={url}", "f", 3)) == expected, url
    assert db_url_evidence("x\nredis://a", "f", 3)[0].location == "f:4"


def test_code_path_shape() -> None:
    assert looks_like_code_path("pkg.mod:app")
    assert looks_like_code_path("pythonjsonlogger.jsonlogger.JsonFormatter")
    assert not looks_like_code_path("config.yaml")
    assert not looks_like_code_path("plain")
    assert not looks_like_code_path("1.2.3")


def test_django_settings_logging_and_strings() -> None:
    src = """
INSTALLED_APPS = ["django.contrib.admin", "corsheaders", "django_extensions"]
MIDDLEWARE = ["corsheaders.middleware.CorsMiddleware"]
DATABASES = {"default": {"ENGINE": "django.db.backends.mysql", "NAME": "db"}}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache"}}
LOGGING = {"handlers": {"x": {"class": "logstash_async.handler.AsynchronousLogstashHandler"}},
           "formatters": {"j": {"()": "pythonjsonlogger.jsonlogger.JsonFormatter"}}}
config = {"class": "watchtower.CloudWatchLogHandler"}
BROKER = "amqp://rabbit//"
unrelated = "yaml.safe_load"
not_known = "foo.bar.Baz"
"""
    evs = python_string_evidence(ast.parse(src), "settings.py", {"yaml"})
    got = _targets(evs)
    for t in (
        "corsheaders",
        "django_extensions",
        "corsheaders.middleware.CorsMiddleware",
        "MySQLdb",
        "redis",
        "logstash_async.handler.AsynchronousLogstashHandler",
        "pythonjsonlogger.jsonlogger.JsonFormatter",
        "watchtower.CloudWatchLogHandler",
        "kombu",
        "yaml.safe_load",
    ):
        assert t in got, t
    assert "foo.bar.Baz" not in got and "db" not in got
    assert {e.kind for e in evs if e.target == "corsheaders"} == {EvidenceKind.SETTING}


def test_config_text_needs_known_top_level() -> None:
    text = "handler = structlog.processors.JSONRenderer\nhost = redis.example.com\nother = acme.Thing\n"
    got = _targets(config_text_evidence(text, "c.ini", {"structlog"}))
    assert got == {"structlog.processors.JSONRenderer"}


def test_env_assignments() -> None:
    assert _targets(env_assignment_evidence("DATABASE_URL", "postgresql+psycopg://x", "e", 1)) == {"psycopg"}
    assert _targets(env_assignment_evidence("BACKEND", "pymemcache", "e", 1, {"pymemcache"})) == {"pymemcache"}
    cpu = env_assignment_evidence("CUDA_VISIBLE_DEVICES", "", "e", 1)
    assert [e.kind for e in cpu] == [EvidenceKind.DEVICE_CPU]


def test_ci_expressions_are_not_modules() -> None:
    text = "run: docker build -t shop:${{ github.sha }} .\nhandler: github.webhooks.Handler\n"
    got = [(e.target, e.location) for e in config_text_evidence(text, "ci.yml", {"github"})]
    # the expression is blanked; a real dotted path on the next line still counts, on its own line
    assert got == [("github.webhooks.Handler", "ci.yml:2")]


def test_log_event_names_are_not_modules_but_settings_still_are() -> None:
    tree = ast.parse(
        'log.info("redis.cache.disabled", reason="x")\n'
        'logger.warning("redis.%s", "redis.client")\n'
        'BACKEND = "redis.client.Redis"\n'
    )
    got = [(e.target, e.location) for e in python_string_evidence(tree, "m.py", {"redis"})]
    assert got == [("redis.client.Redis", "m.py:3")]
