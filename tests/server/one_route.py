"""The policy of the refusal tests: one provider at ``url``, one model, one route that takes every request
(``access_log``: a top-level block appended as it is)."""

from __future__ import annotations

from ..conftest import provider_block


def one_route_policy(url: str, access_log: str = "") -> str:
    return (
        "version: 1\nproviders:\n"
        + provider_block("p", url, "openai")
        + "models:\n  m: {provider: p, model: up}\nroutes:\n  - {name: rest, target: m}\n"
        + access_log
    )
