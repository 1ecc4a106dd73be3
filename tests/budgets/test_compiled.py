"""The compiled budgets: which counter a call falls in, and store-safe names."""

from __future__ import annotations

import hashlib

import pytest

from sidecar.budgets import BudgetRequest, hash_key
from sidecar.budgets.compiled import key_part

from .conftest import budgets_of

REQUEST = BudgetRequest(1, app="web", route="chat", headers={"x-team": "search"}, key_hash="00ff00ff00ff00ff")


@pytest.mark.parametrize(
    ("scope", "value"),
    [
        ({"by": "global"}, "*"),
        ({"by": "app"}, "web"),
        ({"by": "route"}, "chat"),
        ({"by": "model"}, "big"),
        ({"by": "provider"}, "acme"),
        ({"by": "header", "header": "x-team"}, "search"),
        ({"by": "key"}, "00ff00ff00ff00ff"),
        ({"by": "header", "header": "x-user"}, "-"),
        ({"by": "app", "values": ["web"]}, "web"),
        ({"by": "app", "values": ["jobs"]}, "other"),
        ({"by": "app", "values": ["jobs"], "others": "exempt"}, None),
    ],
)
def test_each_scope_reads_its_value(scope: dict[str, object], value: str | None) -> None:
    """A limit's scope picks the request's (or the target's) value, '-' when absent, other/None when unnamed."""
    budgets = budgets_of(
        {"limits": [{"name": "l", "measure": "requests", "amount": 1, "window": "day", "scope": scope}]}
    )
    assert budgets.limits[0].scope_value(REQUEST, budgets.target("big")) == value


def test_model_and_provider_limits_are_target_limits() -> None:
    """Limits scoped by model or provider are checked per target; the others per request."""
    limits = [
        {"name": by, "measure": "requests", "amount": 1, "window": "day", "scope": {"by": by}}
        for by in ("app", "model", "provider", "global")
    ]
    budgets = budgets_of({"limits": limits})
    assert [limit.name for limit in budgets.target_limits] == ["model", "provider"]
    assert [limit.name for limit in budgets.request_limits] == ["app", "global"]


def test_a_key_hash_is_sixteen_hex_digits_of_its_sha256() -> None:
    """hash_key matches what the docs tell SREs to compute with sha256sum."""
    assert hash_key("sk-test") == hashlib.sha256(b"sk-test").hexdigest()[:16]


def test_odd_scope_values_become_hashed_key_parts() -> None:
    """A header value with spaces, colons or newlines never reaches a store key as it is."""
    assert key_part("team-a") == "team-a"
    assert key_part("a:b\r\nFLUSHALL").startswith("~") and len(key_part("a:b\r\nFLUSHALL")) == 17


def test_soft_thresholds_compile_to_counter_units() -> None:
    """A soft threshold of 0.8 on $2 is 1.6 billion nano-dollars."""
    soft = {"at": 0.8, "action": "warn"}
    budgets = budgets_of({"limits": [{"name": "d", "measure": "usd", "amount": 2, "window": "day", "soft": soft}]})
    assert (budgets.limits[0].units, budgets.limits[0].soft_units) == (2_000_000_000, 1_600_000_000)
