"""The example policy and edited copies of it, loaded as ``diff`` loads them."""

from __future__ import annotations

from pathlib import Path

from sidecar.policy import Policy, load_policy_bytes

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = ROOT / "policies" / "production.yaml"


def production_text() -> str:
    return PRODUCTION.read_text()


def policy(text: str, source: str = "policy.yaml") -> Policy:
    return load_policy_bytes(text.encode(), source)


def edited(*replacements: tuple[str, str]) -> Policy:
    """The production policy with each ``(old, new)`` text replaced (each must occur)."""
    text = production_text()
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new)
    return policy(text, "new.yaml")
