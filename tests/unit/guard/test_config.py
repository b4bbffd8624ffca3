from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from deadweight.config import load_config
from deadweight.errors import ConfigError
from deadweight.guard.config import RuleBudget, load_guard_config
from deadweight.model.finding import Severity
from deadweight.pipeline.audit import audit_config
from tests.unit.guard.sample import guard

FULL = """
max-size = "1GB"
max_compressed_size = "400MB"
max-largest-layer = 300000000
max-layers = 12
max-dead-weight = "50MiB"
max-dead-weight-percent = 10
max-growth = "50MB"
max-growth-percent = 5
max-new-distributions = 0
fail-on-new = "medium"
[rules]
DW101 = 0
dw302 = "10MB"
[classes]
gpu = 0
toolchain = "50MB"
[distributions]
torch = "1GB"
"nvidia-*" = 0
Pillow = "5MB"
[services.api]
max-size = "5GB"
fail-on-new = "none"
[services.api.rules]
DW101 = 1
[[waivers]]
rule = "dw101"
package = "Torch"
service = "api"
owner = "ml-team"
reason = "GPU nodes next quarter"
expires = 2026-09-30
[[waivers]]
budget = "max-size"
owner = "platform"
reason = "base image move pending"
expires = "2026-07-01"
"""


def test_every_key_parses() -> None:
    cfg = guard(FULL)
    d = cfg.defaults
    assert d.sizes == {"max-size": 10**9, "max-compressed-size": 400 * 10**6, "max-largest-layer": 300_000_000,
                       "max-dead-weight": 50 * 2**20, "max-growth": 50 * 10**6}
    assert d.counts == {"max-layers": 12, "max-new-distributions": 0}
    assert d.percents == {"max-dead-weight-percent": 10.0, "max-growth-percent": 5.0}
    assert d.rules == {"DW101": RuleBudget(count=0), "DW302": RuleBudget(bytes=10 * 10**6)}
    assert d.classes == {"gpu": 0, "toolchain": 50 * 10**6}
    assert d.distributions == {"torch": 10**9, "nvidia-*": 0, "pillow": 5 * 10**6}
    assert d.fail_on_new is Severity.MEDIUM
    # a service table overrides the keys it sets and merges the sub-tables
    api = cfg.budgets_for("api")
    assert api.sizes["max-size"] == 5 * 10**9 and api.sizes["max-growth"] == 50 * 10**6
    assert api.rules == {"DW101": RuleBudget(count=1), "DW302": RuleBudget(bytes=10 * 10**6)}
    assert api.fail_on_new is None
    assert cfg.budgets_for("other") is cfg.defaults
    w1, w2 = cfg.waivers
    assert (w1.rule, w1.package, w1.service, w1.expires) == ("DW101", "torch", "api", dt.date(2026, 9, 30))
    assert (w2.budget, w2.expires) == ("max-size", dt.date(2026, 7, 1))


@pytest.mark.parametrize(("text", "message"), [
    ("max-sise = 1", r"unknown key 'max-sise'"),
    ("[services.api]\nwaivers = []", r"guard.services.api\]: unknown key 'waivers'"),
    ("[rules]\nDW1x = 0", "is not a rule id"),
    ("[classes]\ngpus = 0", "unknown class 'gpus'"),
    ("[distributions]\ntorch = -1", "cannot be negative"),
    ("max-size = '3 parsecs'", "max-size"),
    ("max-dead-weight-percent = 120", "between 0 and 100"),
    ("fail-on-new = 'severe'", "unknown severity"),
    ("[rules]\nDW101 = 1.5", "count"),
    ("waivers = 3", "array of tables"),
    ("[[waivers]]\nrule = 'DW101'\nreason = 'r'\nexpires = 2026-01-01", "needs owner"),
    ("[[waivers]]\nrule = 'DW101'\nowner = 'o'\nexpires = 2026-01-01", "needs reason"),
    ("[[waivers]]\nrule = 'DW101'\nowner = 'o'\nreason = 'r'", "needs expires"),
    ("[[waivers]]\nrule = 'DW101'\nowner = ''\nreason = 'r'\nexpires = 2026-01-01", "owner must be a non-empty"),
    ("[[waivers]]\nrule = 'DW101'\nowner = 'o'\nreason = 'r'\nexpires = 'next week'", "ISO date"),
    ("[[waivers]]\nowner = 'o'\nreason = 'r'\nexpires = 2026-01-01", "at least one of rule"),
    ("[[waivers]]\nrule = 'torch'\nowner = 'o'\nreason = 'r'\nexpires = 2026-01-01", "not a rule id"),
    ("[[waivers]]\nrule = 'DW1'\nowner = 'o'\nreason = 'r'\nexpires = 2026-01-01\nuntil = 1", "unknown key 'until'"),
])
def test_bad_guard_tables_are_config_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        guard(text)


def test_config_accepts_the_guard_table_and_audit_validates_it(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[tool.deadweight]\nfail-on = ['medium']\n[tool.deadweight.guard]\nmax-size = '1GB'\n"
    )
    assert load_config(tmp_path).fail_on == ("medium",)
    cfg = load_guard_config(tmp_path)
    assert cfg.defaults.sizes == {"max-size": 10**9}
    assert cfg.source == str(tmp_path / "pyproject.toml")
    (tmp_path / "pyproject.toml").write_text("[tool.deadweight.guard]\nmax-sizes = '1GB'\n")
    with pytest.raises(ConfigError, match="unknown key 'max-sizes'"):
        audit_config(tmp_path)  # audit rejects a misspelt guard key too (config.py itself stays below guard)
    with pytest.raises(ConfigError, match="unknown key 'max-sizes'"):
        load_guard_config(tmp_path)


def test_dedicated_file_and_no_file(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    assert load_guard_config(tmp_path).defaults.sizes == {}
    (tmp_path / ".deadweight.toml").write_text("[guard]\nmax-layers = 3\n")
    assert load_guard_config(tmp_path).defaults.counts == {"max-layers": 3}
    with pytest.raises(ConfigError, match="config file not found"):
        load_guard_config(tmp_path, tmp_path / "missing.toml")
