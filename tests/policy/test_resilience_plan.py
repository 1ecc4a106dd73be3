"""The resilience and timeout specs copied into slotted records at load: every value the request path
reads equals the spec's, defaults merged in, a route's override and a provider's own timeouts kept."""

from __future__ import annotations

from sidecar.policy import load_policy_bytes
from sidecar.policy.resilience_plan import AttemptTimeouts, Tries

from .policies import BASE

PROVIDERS = BASE.replace(
    '  anthropic: {dialect: anthropic, base_url: "https://api.anthropic.com", api_key: {env: ANTHROPIC_API_KEY}}\n',
    '  anthropic: {dialect: anthropic, base_url: "https://api.anthropic.com", api_key: {env: ANTHROPIC_API_KEY},'
    " timeouts: {connect_s: 2, first_byte_s: 20, idle_s: 30, total_s: 400}}\n",
)


def test_a_routes_tries_are_its_merged_resilience_in_slots() -> None:
    """A route overriding some resilience fields and the timeouts: its ``tries`` hold the route's values,
    the policy defaults and the built-in ones for the rest, the same as its spec; a route without
    overrides holds the defaults and no timeouts of its own (each provider's then)."""
    text = PROVIDERS + (
        "defaults:\n  resilience: {deadline_s: 50, backoff: {base_s: 0.5, cap_s: 4}}\n"
        "routes:\n"
        "  - match: {model: a}\n    target: [gpt-4o, claude]\n"
        "    resilience: {max_attempts_per_target: 3, rate_limit_max_wait_s: 7, hedge: {after_s: 2},"
        " timeouts: {connect_s: 1, first_byte_s: 9, idle_s: 8, total_s: 70}}\n"
        "  - match: {model: b}\n    target: [claude]\n"
    )
    policy = load_policy_bytes(text.encode(), "t")
    first, second = policy.routes
    spec = first.settings.resilience
    assert first.settings.tries == Tries(3, 50, spec.backoff, 7, AttemptTimeouts(1, 9, 8, 70), spec.hedge)
    assert spec.hedge is not None and spec.hedge.after_s == 2
    tries = second.settings.tries
    assert (tries.max_attempts_per_target, tries.deadline_s, tries.rate_limit_max_wait_s) == (2, 50, 5)
    assert (tries.backoff.base_s, tries.backoff.cap_s) == (0.5, 4)
    assert tries.timeouts is None and tries.hedge is None


def test_a_providers_attempt_timeouts_are_its_timeouts_in_slots() -> None:
    """A provider's ``attempt_timeouts`` are its ``timeouts``: those written, or the built-in ones."""
    policy = load_policy_bytes((PROVIDERS + "default: {target: gpt-4o}\n").encode(), "t")
    assert policy.providers["anthropic"].attempt_timeouts == AttemptTimeouts(2, 20, 30, 400)
    assert policy.providers["openai"].attempt_timeouts == AttemptTimeouts(5, 60, 60, 600)
