"""Routing's feature walker for a toy request body (``WIRE.feature_walkers``): the prompt is the one
user message; ``max_tokens`` the output maximum; ``stream``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import Operation
from ..walking import FeatureWalker, Tally


def generate(body: dict[str, Any], tally: Tally) -> None:
    prompt = body.get("prompt")
    if isinstance(prompt, str) and prompt:
        tally.text(prompt)
        tally.last_user = [prompt]
        tally.messages = 1
    tally.output_limit(body.get("max_tokens"))
    tally.stream = body.get("stream") is True


WALKERS: Mapping[Operation, FeatureWalker] = {Operation.CHAT: generate}
