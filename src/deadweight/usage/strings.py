"""Strings that name code: database URLs, framework settings, logging classes, dotted paths in config.

Why: a service's database driver is often named only in ``DATABASE_URL=postgresql+psycopg2://...``, a
Django app only in ``INSTALLED_APPS``, a log formatter only in a dictConfig ``"()"`` key. Import scanners
(deptry, FawltyDeps) call those distributions unused; removing them breaks the service at start-up.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator

from deadweight.model.usage import Confidence, EvidenceKind, UsageEvidence

# dialect[+driver] -> driver modules. Explicit drivers are certain; a bare dialect names the default
# driver of SQLAlchemy / dj-database-url / Celery (medium confidence: any of them may be what runs).
DB_DRIVERS: dict[str, tuple[str, ...]] = {
    "postgresql": ("psycopg2", "psycopg"),
    "postgres": ("psycopg2", "psycopg"),
    "postgis": ("psycopg2", "psycopg"),
    "pgsql": ("psycopg2", "psycopg"),
    "postgresql+psycopg2": ("psycopg2",),
    "postgresql+psycopg": ("psycopg",),
    "postgresql+psycopg2cffi": ("psycopg2cffi",),
    "postgresql+asyncpg": ("asyncpg",),
    "postgresql+pg8000": ("pg8000",),
    "postgresql+aiopg": ("aiopg",),
    "mysql": ("MySQLdb", "pymysql"),
    "mysql+mysqldb": ("MySQLdb",),
    "mysql+pymysql": ("pymysql",),
    "mysql+mysqlconnector": ("mysql.connector",),
    "mysql+aiomysql": ("aiomysql",),
    "mysql+asyncmy": ("asyncmy",),
    "mysql+cymysql": ("cymysql",),
    "mariadb": ("MySQLdb", "pymysql"),
    "mariadb+mariadbconnector": ("mariadb",),
    "mariadb+pymysql": ("pymysql",),
    "sqlite": (),
    "sqlite+pysqlite": (),
    "sqlite+aiosqlite": ("aiosqlite",),
    "sqlite+pysqlcipher": ("sqlcipher3",),
    "mssql": ("pyodbc",),
    "mssql+pyodbc": ("pyodbc",),
    "mssql+pymssql": ("pymssql",),
    "mssql+aioodbc": ("aioodbc",),
    "oracle": ("cx_Oracle", "oracledb"),
    "oracle+cx_oracle": ("cx_Oracle",),
    "oracle+oracledb": ("oracledb",),
    "redis": ("redis",),
    "rediss": ("redis",),
    "redis+socket": ("redis",),
    "amqp": ("kombu", "amqp"),
    "amqps": ("kombu", "amqp"),
    "pyamqp": ("kombu", "amqp"),
    "librabbitmq": ("librabbitmq",),
    "sqs": ("kombu", "boto3"),
    "mongodb": ("pymongo",),
    "mongodb+srv": ("pymongo", "dns"),
    "pymemcache": ("pymemcache",),
    "pylibmc": ("pylibmc",),
    "memcache": ("pymemcache", "pylibmc"),
    "clickhouse": ("clickhouse_sqlalchemy", "clickhouse_driver"),
    "clickhouse+native": ("clickhouse_sqlalchemy", "clickhouse_driver"),
    "snowflake": ("snowflake.sqlalchemy", "snowflake.connector"),
    "bigquery": ("sqlalchemy_bigquery",),
    "cockroachdb": ("sqlalchemy_cockroachdb", "psycopg2"),
    "trino": ("trino",),
    "duckdb": ("duckdb_engine", "duckdb"),
    "nats": ("nats",),
}

# Strings (Django backends, Celery settings) that imply a third-party module beyond their own path.
IMPLIED_BY_SETTING: dict[str, tuple[str, ...]] = {
    "django.db.backends.postgresql": ("psycopg2", "psycopg"),
    "django.db.backends.postgresql_psycopg2": ("psycopg2",),
    "django.contrib.gis.db.backends.postgis": ("psycopg2", "psycopg"),
    "django.db.backends.mysql": ("MySQLdb",),
    "django.contrib.gis.db.backends.mysql": ("MySQLdb",),
    "django.db.backends.oracle": ("oracledb", "cx_Oracle"),
    "django.core.cache.backends.redis.RedisCache": ("redis",),
    "django.core.cache.backends.memcached.PyMemcacheCache": ("pymemcache",),
    "django.core.cache.backends.memcached.PyLibMCCache": ("pylibmc",),
    "django.core.cache.backends.memcached.MemcachedCache": ("memcache",),
    "django.template.backends.jinja2.Jinja2": ("jinja2",),
    "django.contrib.auth.hashers.Argon2PasswordHasher": ("argon2",),
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher": ("bcrypt",),
    "django.contrib.auth.hashers.BCryptPasswordHasher": ("bcrypt",),
    "storages.backends.s3boto3.S3Boto3Storage": ("boto3",),
    "storages.backends.s3.S3Storage": ("boto3",),
    "storages.backends.gcloud.GoogleCloudStorage": ("google.cloud.storage",),
    "storages.backends.azure_storage.AzureStorage": ("azure.storage.blob",),
    "channels_redis.core.RedisChannelLayer": ("channels_redis", "redis"),
}

# Module-level assignments (or settings.configure(...) keywords) whose strings name code.
NAMED_SETTINGS: frozenset[str] = frozenset(
    {
        "INSTALLED_APPS",
        "MIDDLEWARE",
        "MIDDLEWARE_CLASSES",
        "AUTHENTICATION_BACKENDS",
        "DATABASES",
        "CACHES",
        "TEMPLATES",
        "STORAGES",
        "DEFAULT_FILE_STORAGE",
        "STATICFILES_STORAGE",
        "REST_FRAMEWORK",
        "SESSION_ENGINE",
        "SESSION_SERIALIZER",
        "EMAIL_BACKEND",
        "PASSWORD_HASHERS",
        "LOGGING",
        "CHANNEL_LAYERS",
        "ASGI_APPLICATION",
        "WSGI_APPLICATION",
        "TEST_RUNNER",
        "MESSAGE_STORAGE",
        "STATICFILES_FINDERS",
        "FILE_UPLOAD_HANDLERS",
        "SERIALIZATION_MODULES",
        "CELERY_BEAT_SCHEDULER",
        "CELERY_RESULT_BACKEND",
        "SIMPLE_JWT",
        "GRAPHENE",
        "SPECTACULAR_SETTINGS",
        "DEFAULT_AUTO_FIELD",
        "CSRF_FAILURE_VIEW",
        "DJANGO_SETTINGS_MODULE",
        "CELERY_TASK_CLS",
        "beat_scheduler",
        "result_backend",
        "worker_class",
        "worker_pool",
        "task_cls",
        "imports",
        "include",
        "LOGGING_CONFIG",
        "DEFAULT_EXCEPTION_REPORTER",
        "DATABASE_ROUTERS",
    }
)
# Settings whose plain identifiers (no dot) are module names too.
IDENTIFIER_SETTINGS: frozenset[str] = frozenset({"INSTALLED_APPS", "imports", "include", "pytest_plugins"})
# dict keys whose values are importable paths: logging dictConfig "class" and "()", backends, engines.
CODE_KEYS: frozenset[str] = frozenset(
    {
        "class",
        "()",
        "BACKEND",
        "ENGINE",
        "backend",
        "engine",
        "worker_class",
        "handler_class",
        "formatter_class",
        "factory",
        "serializer_class",
    }
)

_URL_RE = re.compile(r"(?<![\w+.-])([a-zA-Z][a-zA-Z0-9_]*(?:\+[a-zA-Z0-9_]+)?)://")
_DOTTED_RE = re.compile(
    r"(?<![\w./@:-])([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+(?::[A-Za-z_][\w.]*)?|[A-Za-z_]\w*:[A-Za-z_]\w*)(?![\w/@-])"
)
_IDENT_RE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*(:[A-Za-z_][\w.]*)?$")
_FILE_SUFFIXES = frozenset(
    [
        "py",
        "pyc",
        "txt",
        "yaml",
        "yml",
        "json",
        "toml",
        "cfg",
        "ini",
        "html",
        "htm",
        "css",
        "js",
        "log",
        "md",
        "rst",
        "sh",
        "conf",
        "com",
        "org",
        "io",
        "net",
        "dev",
        "local",
        "pem",
        "crt",
        "key",
        "csv",
        "parquet",
        "db",
        "sqlite",
        "sqlite3",
        "png",
        "jpg",
        "svg",
        "gz",
        "zip",
        "tar",
        "whl",
        "so",
        "lock",
        "env",
        "example",
    ]
)


def _loc(path: str, line: int) -> str:
    return f"{path}:{line}"


def db_url_evidence(text: str, path: str, line: int = 1) -> list[UsageEvidence]:
    """Driver modules named by ``dialect+driver://`` URLs anywhere in ``text``."""
    found: list[UsageEvidence] = []
    for match in _URL_RE.finditer(text):
        scheme = match.group(1).lower()
        at_line = line + text.count("\n", 0, match.start())
        modules = DB_DRIVERS.get(scheme)
        if modules is None:
            dialect, plus, driver = scheme.partition("+")
            if not plus or dialect not in DB_DRIVERS:
                continue  # http://, s3://, file:// ... name no Python code
            modules = (driver,)
            conf = Confidence.MEDIUM
        else:
            conf = Confidence.HIGH if len(modules) == 1 else Confidence.MEDIUM
        for module in modules:
            found.append(
                UsageEvidence(
                    EvidenceKind.DB_URL,
                    f"URL scheme {scheme}:// uses {module}",
                    _loc(path, at_line),
                    module,
                    conf,
                )
            )
    return found


def looks_like_code_path(value: str) -> bool:
    """``pkg.mod``, ``pkg.mod.Class`` or ``pkg.mod:attr`` (not a file name, host, or version)."""
    value = value.strip()
    if not value or len(value) > 200 or not _IDENT_RE.match(value):
        return False
    last = value.replace(":", ".").rsplit(".", 1)[-1]
    return "." in value.replace(":", ".") and last.lower() not in _FILE_SUFFIXES


def code_path_module(value: str) -> str:
    """Dotted module-ish name for a code path (``a.b:C`` → ``a.b.C``; mapping takes the longest prefix)."""
    return value.strip().replace(":", ".").strip(".")


def setting_value_evidence(
    value: str, path: str, line: int, setting: str, *, identifiers: bool = False
) -> list[UsageEvidence]:
    """UsageEvidence for one string in a named setting (``INSTALLED_APPS``, a ``"class"`` key ...)."""
    value = value.strip()
    found: list[UsageEvidence] = []
    is_path = looks_like_code_path(value) or (identifiers and value.isidentifier())
    if is_path:
        found.append(
            UsageEvidence(
                EvidenceKind.SETTING,
                f"{setting} names {value}",
                _loc(path, line),
                code_path_module(value),
                Confidence.HIGH,
            )
        )
    for key, modules in IMPLIED_BY_SETTING.items():
        if value == key or value.startswith(key + "."):
            for module in modules:
                conf = Confidence.HIGH if len(modules) == 1 else Confidence.MEDIUM
                found.append(
                    UsageEvidence(
                        EvidenceKind.SETTING,
                        f"{setting} {value} needs {module}",
                        _loc(path, line),
                        module,
                        conf,
                    )
                )
    found.extend(db_url_evidence(value, path, line))
    return found


#: ``${{ github.sha }}`` (GitHub Actions), ``${{ env.X }}``: expressions of a CI or template engine, never a
#: module; blanked (same length, so line numbers hold) before dotted paths are looked for.
_EXPRESSION_RE = re.compile(r"\$\{\{.*?\}\}", re.S)
#: Logger methods: their string arguments are messages and event names ("redis.connection.lost"), which
#: load nothing.
_LOG_METHODS = frozenset({"debug", "info", "warning", "warn", "error", "exception", "critical", "fatal", "log",
                          "msg"})


def config_text_evidence(text: str, path: str, known_modules: Iterable[str], line: int = 1) -> list[UsageEvidence]:
    """Dotted paths whose first segment is a module the image provides, plus DB URLs, in free text."""
    known = set(known_modules)
    text = _EXPRESSION_RE.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)
    found = db_url_evidence(text, path, line)
    for match in _DOTTED_RE.finditer(text):
        value = match.group(1)
        if not looks_like_code_path(value):
            continue
        top = value.split(".", 1)[0].split(":", 1)[0]
        if top in known:
            at_line = line + text.count("\n", 0, match.start())
            found.append(
                UsageEvidence(
                    EvidenceKind.CONFIG_PATH,
                    f"config names {value}",
                    _loc(path, at_line),
                    code_path_module(value),
                    Confidence.MEDIUM,
                )
            )
    return found


def _strings_in(node: ast.AST) -> Iterator[tuple[ast.Constant, str, int]]:
    """(node, text, line) for every string constant under ``node``."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
            yield sub, sub.value, sub.lineno


def _assigned_names(node: ast.stmt) -> list[str]:
    targets: list[ast.expr] = []
    if isinstance(node, ast.Assign):
        targets = list(node.targets)
    elif isinstance(node, ast.AugAssign | ast.AnnAssign):
        targets = [node.target]
    names: list[str] = []
    for tgt in targets:
        if isinstance(tgt, ast.Name):
            names.append(tgt.id)
        elif isinstance(tgt, ast.Attribute):
            names.append(tgt.attr)  # app.conf.broker_url = ...
    return names


def python_string_evidence(tree: ast.Module, path: str, known_modules: Iterable[str]) -> list[UsageEvidence]:
    """Strings in Python code that name code: settings, dictConfig keys, DB URLs, known dotted paths."""
    known = set(known_modules)
    found: list[UsageEvidence] = []
    claimed: set[int] = set()  # id() of constants already explained by a setting
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in _LOG_METHODS):
            claimed.update(id(arg) for arg in node.args if isinstance(arg, ast.Constant))
        for name, value_node in _settings_set_by(node):
            found.extend(_claim_setting(name, value_node, path, claimed))
            if name == "pytest_plugins":
                found.extend(_pytest_plugins(value_node, path))
    for const, text, line in _strings_in(tree):
        if id(const) not in claimed:
            found.extend(_loose_string_evidence(text, path, line, known))
    return found


def _settings_set_by(node: ast.AST) -> Iterator[tuple[str, ast.AST]]:
    """(setting, value) for ``SETTING = ...``, ``configure(SETTING=...)`` and ``{"class": ...}`` keys."""
    if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign) and node.value is not None:
        for name in _assigned_names(node):
            if name in NAMED_SETTINGS or name in IDENTIFIER_SETTINGS:
                yield name, node.value
    elif isinstance(node, ast.Call):
        for kw in node.keywords:
            if kw.arg and kw.arg in NAMED_SETTINGS:
                yield kw.arg, kw.value
    elif isinstance(node, ast.Dict):
        for key, value in zip(node.keys, node.values, strict=True):
            if isinstance(key, ast.Constant) and isinstance(key.value, str) and (
                key.value in CODE_KEYS or key.value in NAMED_SETTINGS
            ):
                yield key.value, value


def _claim_setting(name: str, value_node: ast.AST, path: str, claimed: set[int]) -> list[UsageEvidence]:
    """Evidence for every string in a setting's value, marking those strings as explained."""
    identifiers = name in IDENTIFIER_SETTINGS
    found: list[UsageEvidence] = []
    for const, text, line in _strings_in(value_node):
        claimed.add(id(const))
        found.extend(setting_value_evidence(text, path, line, name, identifiers=identifiers))
    return found


def _pytest_plugins(value_node: ast.AST, path: str) -> list[UsageEvidence]:
    kind, conf = EvidenceKind.PYTEST_PLUGIN, Confidence.HIGH
    return [
        UsageEvidence(kind, f"pytest_plugins names {text}", _loc(path, line), text, conf)
        for _, text, line in _strings_in(value_node)
    ]


def _loose_string_evidence(text: str, path: str, line: int, known: set[str]) -> list[UsageEvidence]:
    """A string no setting explains: a DB URL, or a dotted path under a module the image provides."""
    if "://" in text:
        return db_url_evidence(text, path, line)
    if known and looks_like_code_path(text) and text.split(".", 1)[0].split(":", 1)[0] in known:
        return [
            UsageEvidence(
                EvidenceKind.CONFIG_PATH,
                f"string names {text}",
                _loc(path, line),
                code_path_module(text),
                Confidence.MEDIUM,
            )
        ]
    return []


def env_assignment_evidence(
    name: str, value: str, path: str, line: int, known_modules: Iterable[str] = ()
) -> list[UsageEvidence]:
    """``KEY=value`` from .env files, compose ``environment:`` and Dockerfile ``ENV``.

    Besides URLs, a value that is exactly a module the image provides (``CACHE_BACKEND=pymemcache``) or a
    dotted path under one is evidence: services pick backends from the environment.
    """
    loc = _loc(path, line)
    found = db_url_evidence(value, path, line)
    found.extend(_env_module_evidence(name, value, loc, set(known_modules)))
    if name == "DJANGO_SETTINGS_MODULE" and looks_like_code_path(value):
        found.append(UsageEvidence(EvidenceKind.SETTING, f"{name}={value}", loc, value, Confidence.HIGH))
    elif name in {"CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES"}:
        found.append(_visible_devices(name, value, loc))
    return found


def _env_module_evidence(name: str, value: str, loc: str, known: set[str]) -> list[UsageEvidence]:
    stripped = value.strip()
    if "://" in stripped:
        return []
    top = stripped.split(".", 1)[0].split(":", 1)[0]
    if top in known and (stripped.isidentifier() or looks_like_code_path(stripped)):
        module = code_path_module(stripped)
        return [UsageEvidence(EvidenceKind.CONFIG_PATH, f"{name}={stripped}", loc, module, Confidence.MEDIUM)]
    return []


def _visible_devices(name: str, value: str, loc: str) -> UsageEvidence:
    """``CUDA_VISIBLE_DEVICES`` / ``NVIDIA_VISIBLE_DEVICES``: empty, -1, none or void hide every GPU."""
    if value.strip() in {"", "-1", "none", "void"}:
        return UsageEvidence(EvidenceKind.DEVICE_CPU, f"{name}={value!r} hides all GPUs", loc, "", Confidence.HIGH)
    return UsageEvidence(EvidenceKind.DEVICE_GPU_OPTIONAL, f"{name}={value} exposes GPUs", loc, "", Confidence.MEDIUM)
