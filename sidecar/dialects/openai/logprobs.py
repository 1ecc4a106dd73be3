"""OpenAI chat log-probabilities <-> the common form (``translate.logprobs`` describes the request side).

- Request: ``logprobs: true`` and ``top_logprobs`` (runners-up per token, 0-20), read by ``request`` into
  ``ChatRequest.logprobs`` / ``top_logprobs``; ``add_to_request`` writes them (``translate.logprobs.write``).
- Answer: ``choices[].logprobs.content[]``, one entry per token: ``token``, ``logprob``, ``bytes`` (the
  token's UTF-8 bytes, written from the token) and ``top_logprobs[]`` (``token``, ``logprob``, ``bytes``).
  A stream chunk carries the entries of its own text (``choices[].logprobs`` on the chunk with that
  ``delta.content``). ``tokens_of`` reads them (None when absent or malformed), ``choice_logprobs`` writes
  them (None, as OpenAI writes it, when the answer has none).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ...translate.common import Alternative, ChatRequest, TokenLogprob
from ...translate.deltas import ScoredText, Text
from ...translate.logprobs import token_logprob, write


def add_to_request(req: ChatRequest, out: dict[str, Any]) -> None:
    """``logprobs`` and ``top_logprobs`` in an OpenAI request, when the common request asks for them."""
    write(req, out, "logprobs", "top_logprobs")


def tokens_of(logprobs: Any) -> list[TokenLogprob] | None:
    """The tokens of a choice's (or a chunk's) ``logprobs``; None when it has none or one is malformed."""
    content = logprobs.get("content") if type(logprobs) is dict else None
    if type(content) is not list or not content:
        return None
    out: list[TokenLogprob] = []
    for entry in content:
        if type(entry) is not dict:
            return None
        top = _alternatives(entry.get("top_logprobs"))
        token = token_logprob(entry.get("token"), entry.get("logprob"), top) if top is not None else None
        if token is None:
            return None
        out.append(token)
    return out


def scored_text(text: str, logprobs: Any) -> Text:
    """The delta of a stream chunk's ``text``: a ``ScoredText`` when its ``logprobs`` hold tokens."""
    tokens = tokens_of(logprobs)
    return ScoredText(text, tuple(tokens)) if tokens else Text(text)


def _alternatives(raw: Any) -> list[Alternative] | None:
    if raw is None:
        return []
    if type(raw) is not list:
        return None
    out: list[Alternative] = []
    for item in raw:
        token = token_logprob(item.get("token"), item.get("logprob"), []) if type(item) is dict else None
        if token is None:
            return None
        out.append({"token": token["token"], "logprob": token["logprob"]})
    return out


def choice_logprobs(tokens: Sequence[TokenLogprob] | None) -> dict[str, Any] | None:
    """A choice's (or a chunk's) ``logprobs`` as OpenAI writes it."""
    if not tokens:
        return None
    return {"content": [_entry(token) for token in tokens], "refusal": None}


def _entry(token: TokenLogprob) -> dict[str, Any]:
    return {
        "token": token["token"],
        "logprob": token["logprob"],
        "bytes": list(token["token"].encode()),
        "top_logprobs": [
            {"token": alt["token"], "logprob": alt["logprob"], "bytes": list(alt["token"].encode())}
            for alt in token["top"]
        ],
    }
