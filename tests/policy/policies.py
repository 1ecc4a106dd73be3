"""The policy tests' shared policy text and helpers: ``BASE`` (two providers, three models, no routes: a
test adds its own), ``LEARNED`` (BASE with a learned router file deciding the task), ``errors_of`` (the
errors a policy text is refused with), ``request`` (the facts of one request, to route) and
``write_router`` (a learned router file trained on a few labeled prompts, for a policy that names one)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from sidecar.dialects import Dialect, Operation
from sidecar.policy import PolicyError, load_policy_bytes
from sidecar.request_facts import RequestFacts

BASE = """
version: 1
providers:
  openai: {dialect: openai, base_url: "https://api.openai.com/v1", api_key: {env: OPENAI_API_KEY}}
  anthropic: {dialect: anthropic, base_url: "https://api.anthropic.com", api_key: {env: ANTHROPIC_API_KEY}}
models:
  gpt-4o: {provider: openai, model: gpt-4o-2024-08-06, context_window: 128000}
  gpt-4o-mini: {provider: openai, model: gpt-4o-mini}
  claude: {provider: anthropic, model: claude-sonnet-4-5, context_window: 200000}
"""


def errors_of(text: str) -> list[str]:
    with pytest.raises(PolicyError) as info:
        load_policy_bytes(text.encode(), "test.yaml")
    return info.value.errors


def request(
    model: str,
    headers: dict[str, str] | None = None,
    app: str = "",
    dialect: Dialect = Dialect.OPENAI,
    operation: Operation = Operation.CHAT,
) -> RequestFacts:
    return RequestFacts(dialect, operation, model, headers or {}, app)


LEARNED = (
    BASE
    + """
routing:
  classes: [{name: extraction}, {name: classification}, {name: code}, {name: math}]
  learned: {file: router.json, decides: [task]}
routes:
  - {match: {task: extraction}, target: gpt-4o-mini}
default: {target: gpt-4o}
"""
)

LABELED = [  # the labels the examples declare: task classes extraction and chat, levels simple to complex
    {"text": "Extract the order number: 1234", "task": "extraction", "complexity": "simple"},
    {"text": "Pull out the invoice number of this bill", "task": "extraction", "complexity": "simple"},
    {"text": "Hello, how are you today?", "task": "chat", "complexity": "medium"},
    {"text": "Prove that the square root of two is irrational, step by step", "task": "chat", "complexity": "complex"},
]


def write_router(directory: Path) -> None:
    """A router file named router.json in ``directory``, trained on ``LABELED``."""
    from sidecar.routing.learned.labeled import read_labeled
    from sidecar.routing.learned.train import fit

    labeled = directory / "labeled.jsonl"
    labeled.write_bytes(b"\n".join(orjson.dumps(record) for record in LABELED))
    (directory / "router.json").write_bytes(orjson.dumps(fit(read_labeled(labeled))))
