"""The built-in resilience defaults (``policy/compile.py``, ``policy/spec.py``) against the defaults
tables of docs/resilience.md, which SREs tune from: a changed default must change the doc too."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from sidecar.policy.compile import BUILTIN_RESILIENCE
from sidecar.policy.resilience_spec import BreakerSpec, BulkheadSpec, RetryBudgetSpec
from sidecar.resilience.breaker import BreakerConfig
from sidecar.resilience.classify import DEFAULT_FALLBACK_STATUSES

DOC = Path(__file__).parents[2] / "docs" / "resilience.md"


def documented_defaults(prefix: str) -> dict[str, object]:
    """The rows of the docs/resilience.md table headed ``| key (`prefix.`) | default | meaning |``."""
    text = DOC.read_text()
    header = f"| key (`{prefix}.`) | default | meaning |"
    assert header in text, header
    rows: dict[str, object] = {}
    for line in text.split(header, 1)[1].splitlines()[2:]:
        if not line.startswith("|"):
            break
        key, default = re.findall(r"\|\s*([^|]*?)\s*(?=\|)", line)[:2]
        rows[key.strip("`")] = yaml.safe_load(default.strip("`"))
    return rows


def as_doc(value: object) -> object:
    """A default as the doc's YAML-like cell reads: numbers compare by value, a set as a sorted list."""
    return sorted(value) if isinstance(value, frozenset) else value


def spec_defaults(spec: type[BaseModel]) -> dict[str, object]:
    return {name: as_doc(field.default) for name, field in spec.model_fields.items()}


@pytest.mark.parametrize(
    ("prefix", "spec"), [("breaker", BreakerSpec), ("retry_budget", RetryBudgetSpec), ("bulkhead", BulkheadSpec)]
)
def test_per_target_defaults_tables_match_the_policy_models(prefix: str, spec: type[BaseModel]) -> None:
    """Each per-target defaults table of docs/resilience.md lists every key of its policy block with
    the model's default, and nothing else."""
    assert documented_defaults(prefix) == spec_defaults(spec)


def test_resilience_defaults_table_matches_the_builtin_resilience() -> None:
    """The ``resilience.`` table gives the built-in default of every key it lists (backoff flattened)."""
    builtin = {
        "max_attempts_per_target": as_doc(BUILTIN_RESILIENCE.max_attempts_per_target),
        "deadline_s": as_doc(BUILTIN_RESILIENCE.deadline_s),
        "rate_limit_max_wait_s": as_doc(BUILTIN_RESILIENCE.rate_limit_max_wait_s),
        "fallback_on": as_doc(BUILTIN_RESILIENCE.fallback_on),
    }
    assert BUILTIN_RESILIENCE.backoff is not None
    builtin |= {f"backoff.{k}": v for k, v in spec_defaults(type(BUILTIN_RESILIENCE.backoff)).items()}
    assert documented_defaults("resilience") == builtin


def test_classifier_default_fallback_statuses_are_the_policy_default() -> None:
    """The classifier's own default ``fallback_on`` is the policy's built-in one."""
    assert BUILTIN_RESILIENCE.fallback_on == DEFAULT_FALLBACK_STATUSES


def test_breaker_config_defaults_are_the_policy_defaults() -> None:
    """``BreakerConfig``'s defaults are ``BreakerSpec``'s, field by field under the names the
    doc's "For developers" section maps between."""
    renamed = {
        "window": "window_type",
        "failure_rate": "failure_rate_threshold",
        "slow_call_s": "slow_call_duration_s",
        "slow_call_rate": "slow_call_rate_threshold",
        "open_s": "open_duration_s",
        "open_max_s": "open_duration_max_s",
    }
    config = {f.name: f.default for f in dataclasses.fields(BreakerConfig)}
    spec = {renamed.get(name, name): field.default for name, field in BreakerSpec.model_fields.items()}
    assert config == spec
