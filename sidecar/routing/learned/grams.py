"""The learned router's inputs: n-grams of the request's text windows and facts from its features.

One function, ``grams(view)``, serves training and inference alike, so a model sees at run time
exactly what it was trained on. Five groups, each looked up in its own vocabulary (no group prefix is
ever concatenated onto a string, which would cost an allocation per n-gram):

- ``w`` words (``textview.words_of``) of the first 192 and last 64 characters of the system prompt, then
  of the first 384 and last 128 of the last user message (``WINDOW``), repeats kept;
- ``b`` word bigrams ("step by");
- ``p`` and ``s`` the first four and last three characters of each word: character n-grams anchored
  at word edges, so "prove", "proving" and "proof" share ``p:prov``/``p:proo`` and unseen inflections
  still count;
- ``f`` facts from ``RequestFeatures``: tools, a forced tool choice, media, JSON, and log2 buckets
  of the prompt tokens, last user message length, max output tokens and turns.

Python's ``hash`` is salted per process and a stable hash costs about 0.2 us per n-gram in pure Python,
a third of a 300-byte prompt's budget; the vocabularies are plain dicts built at training time (the
most frequent n-grams), and ``SCHEME`` names this recipe in the model file so that a file trained by
another recipe is refused at load.
"""

from __future__ import annotations

import itertools
import operator
from typing import Literal

from ..features import RequestFeatures, window
from ..spec import TextField
from ..textview import TextView, words_of

SCHEME = "words+bigrams+edge-chars+facts/1"
# The model reads less than the rules: the first and last characters of the rules' windows. A task is
# stated in a few sentences, and the n-grams of 1.5 KB would cost twice the time for no better answer.
WINDOW = {"user_head": 384, "user_tail": 128, "system_head": 192, "system_tail": 64}
Group = Literal["w", "b", "p", "s", "f"]  # the five groups above
GROUPS: tuple[Group, ...] = ("w", "b", "p", "s", "f")

_PREFIX = operator.itemgetter(slice(None, 4))
_SUFFIX = operator.itemgetter(slice(-3, None))


def _bucket(value: int) -> int:
    return value.bit_length()


def facts(features: RequestFeatures) -> list[str]:
    out = [
        f"tok{_bucket(features.prompt_tokens)}",
        f"user{_bucket(features.last_user_chars)}",
        f"turns{min(features.turns, 8).bit_length()}",
        "max-none" if features.max_output_tokens is None else f"max{_bucket(features.max_output_tokens)}",
    ]
    for name in ("tools", "images", "audio", "video", "files"):
        if getattr(features, name):
            out.append(name)
    if features.tool_choice_forced:
        out.append("forced")
    if features.json_schema:
        out.append("json-schema")
    elif features.json_mode:
        out.append("json")
    return out


def _words(view: TextView, field: TextField, head: int, tail: int) -> list[str]:
    text = view.raw(field)
    if len(text) <= head + tail:
        return view.words(field)  # the rules' words, computed once per request
    return words_of(window(text, head, tail))


def grams(view: TextView) -> tuple[list[str], list[str], list[str], list[str], list[str]]:
    """The n-grams of each group, in ``GROUPS`` order."""
    system = _words(view, "system", WINDOW["system_head"], WINDOW["system_tail"])
    words = system + _words(view, "last_user", WINDOW["user_head"], WINDOW["user_tail"])  # a new list
    bigrams = list(map(" ".join, itertools.pairwise(words)))
    return words, bigrams, list(map(_PREFIX, words)), list(map(_SUFFIX, words)), facts(view.features)
