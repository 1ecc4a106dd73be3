"""The log-probabilities a chat request asks for, in the common form (``ChatRequest.logprobs`` and
``top_logprobs``), checked once for every target.

OpenAI (``logprobs: true``, ``top_logprobs``) and Gemini (``responseLogprobs: true``, ``logprobs``) both
take up to ``MAX_TOP_LOGPROBS`` runners-up per token, so a count translates as it is (0, which asks for
none, is left out); a count outside that range, or not an integer, is refused naming the caller's field
(its own provider would refuse it too). A count without the flag travels so, as the caller wrote it.
``write`` puts them in a dialect's own two fields
(``dialects/openai/logprobs.py``, ``dialects/gemini/logprobs.py``); Anthropic has none and refuses them
by name (``unsupported_params: drop`` drops them). The answers' log-probabilities are the common
``TokenLogprob``s (``common``), streamed on ``deltas.ScoredText``.
"""

from __future__ import annotations

from typing import Any

from .common import ChatRequest, TokenLogprob
from .options import TranslationError
from .params import caller_name

MAX_TOP_LOGPROBS = 20
"""The most runners-up per token OpenAI's ``top_logprobs`` and Gemini's ``logprobs`` take."""


def asked(req: ChatRequest) -> tuple[bool, int]:
    """Whether the request asks for the tokens' log-probabilities, and how many runners-up per token (0:
    none); ``TranslationError`` naming the caller's field for a count no provider takes."""
    top = req.get("top_logprobs", 0)
    if type(top) is not int or not 0 <= top <= MAX_TOP_LOGPROBS:
        name = caller_name(req, "top_logprobs")
        raise TranslationError(f"{name!r}: must be an integer from 0 to {MAX_TOP_LOGPROBS}")
    return req.get("logprobs") is True, top


def write(req: ChatRequest, out: dict[str, Any], flag: str, count: str) -> None:
    """``out[flag] = True`` and ``out[count]`` (a request body, or Gemini's ``generationConfig``) as far as
    the common request asks for them (``asked``)."""
    asks, top = asked(req)
    if asks:
        out[flag] = True
    if top:
        out[count] = top


def token_logprob(token: Any, logprob: Any, top: list[Any]) -> TokenLogprob | None:
    """A token read from a provider's answer, None when its token is not a string or its log-probability
    not a number (a provider's bytes are not trusted: the answer's log-probabilities are then left out)."""
    if type(token) is not str or type(logprob) not in (int, float):
        return None
    return {"token": token, "logprob": float(logprob), "top": top}
