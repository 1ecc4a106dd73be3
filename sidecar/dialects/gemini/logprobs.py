"""Gemini log-probabilities <-> the common form (``translate.logprobs`` describes the request side).

- Request: ``generationConfig.responseLogprobs: true`` and ``logprobs`` (runners-up per token), read by
  ``read_config`` into ``ChatRequest.logprobs`` / ``top_logprobs`` (under the caller's names), written
  by ``add_to_config`` (``logprobs`` only when runners-up are asked).
- Answer: a candidate's ``logprobsResult``: ``chosenCandidates[]`` (one per token: ``token``,
  ``logProbability``, ``tokenId``, which no other dialect has) and ``topCandidates[].candidates[]`` (the
  runners-up at each step, best first); and ``avgLogprobs``, the chosen tokens' mean. A stream fragment
  carries its own text's. ``tokens_of`` reads them (None when absent or malformed), ``add_to_candidate``
  writes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ...translate.common import Alternative, ChatRequest, TokenLogprob
from ...translate.deltas import ScoredText, Text
from ...translate.logprobs import token_logprob, write
from ...translate.params import named

CONFIG_KEYS = frozenset(("responseLogprobs", "logprobs"))
"""The ``generationConfig`` keys ``read_config`` reads (camelCase)."""


def read_config(req: ChatRequest, key: str, value: Any) -> None:
    """One of ``CONFIG_KEYS`` into the common request; values that ask for nothing are left out."""
    if key == "responseLogprobs":
        if value:
            req["logprobs"] = value
            named(req, "logprobs", key)
    elif value != 0:
        req["top_logprobs"] = value
        named(req, "top_logprobs", key)


def add_to_config(req: ChatRequest, config: dict[str, Any]) -> None:
    """``responseLogprobs`` and ``logprobs`` in a ``generationConfig``, when the common request asks."""
    write(req, config, "responseLogprobs", "logprobs")


def tokens_of(candidate: dict[str, Any]) -> list[TokenLogprob] | None:
    """The tokens of a candidate's ``logprobsResult``; None when it has none or it is malformed."""
    result = candidate.get("logprobsResult")
    chosen = result.get("chosenCandidates") if type(result) is dict else None
    if type(chosen) is not list or not chosen:
        return None
    steps = result.get("topCandidates") if type(result) is dict else None
    steps = steps if type(steps) is list else []
    out: list[TokenLogprob] = []
    for index, item in enumerate(chosen):
        top = _alternatives(steps[index] if index < len(steps) else None)
        token = _read(item, top) if top is not None else None
        if token is None:
            return None
        out.append(token)
    return out


def scored_text(text: str, candidate: dict[str, Any]) -> Text:
    """The delta of a stream fragment's ``text``: a ``ScoredText`` when its candidate's ``logprobsResult``
    holds tokens."""
    tokens = tokens_of(candidate)
    return ScoredText(text, tuple(tokens)) if tokens else Text(text)


def _read(item: Any, top: list[Alternative]) -> TokenLogprob | None:
    if type(item) is not dict:
        return None
    return token_logprob(item.get("token"), item.get("logProbability"), top)


def _alternatives(step: Any) -> list[Alternative] | None:
    if step is None:
        return []
    candidates = step.get("candidates") if type(step) is dict else None
    if type(candidates) is not list:
        return None if type(step) is not dict else []
    out: list[Alternative] = []
    for item in candidates:
        token = _read(item, [])
        if token is None:
            return None
        out.append({"token": token["token"], "logprob": token["logprob"]})
    return out


def add_to_candidate(candidate: dict[str, Any], tokens: Sequence[TokenLogprob] | None) -> None:
    """``logprobsResult`` and ``avgLogprobs`` on a candidate (nothing when there are no tokens)."""
    if not tokens:
        return
    candidate["logprobsResult"] = {
        "topCandidates": [
            {"candidates": [{"token": alt["token"], "logProbability": alt["logprob"]} for alt in token["top"]]}
            for token in tokens
        ],
        "chosenCandidates": [{"token": token["token"], "logProbability": token["logprob"]} for token in tokens],
    }
    candidate["avgLogprobs"] = sum(token["logprob"] for token in tokens) / len(tokens)
