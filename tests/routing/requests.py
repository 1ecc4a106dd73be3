"""Request features for routing tests, built from real OpenAI chat bodies."""

from __future__ import annotations

from typing import Any

from sidecar.dialects import Dialect, Operation
from sidecar.routing.features import RequestFeatures, extract_features


def features(user: str, system: str | None = None, **body: Any) -> RequestFeatures:
    messages = [{"role": "user", "content": user}]
    if system is not None:
        messages.insert(0, {"role": "system", "content": system})
    return extract_features({"messages": messages, **body}, Dialect.OPENAI, Operation.CHAT)
