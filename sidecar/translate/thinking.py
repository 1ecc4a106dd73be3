"""Thinking (shown or hidden reasoning) asked of a model, in the common form, and the providers' bounds.

Each caller asks its own way: Gemini ``generationConfig.thinkingConfig {thinkingBudget, includeThoughts}``,
Anthropic ``thinking {type: enabled, budget_tokens}`` (or ``adaptive``), OpenAI ``reasoning_effort``. The
readers turn a request for thinking into one ``Thinking``; each builder writes what its provider takes,
or refuses (``Drops.unsupported``, naming the caller's own field) what it cannot honour:

- a token budget is a ceiling: Gemini takes it as ``thinkingBudget``; Anthropic as ``budget_tokens``,
  raised to its minimum (``ANTHROPIC_MIN_BUDGET``) and below ``max_tokens``, which is raised to hold it
  when the caller set no output maximum (``dialects.anthropic.thinking``);
- a budget the model decides (Gemini ``-1``, Anthropic ``adaptive``) reaches Gemini as ``-1``; Anthropic's
  ``adaptive`` exists on its newest models only, so it is refused towards Anthropic;
- ``reasoning_effort`` reaches Gemini as the budget Google's own OpenAI-compatible endpoint uses for it
  (``EFFORT_BUDGETS``; ``minimal``, which Google gives no budget, is refused there);
- a level, Gemini 3's ``thinkingLevel`` or OpenAI's ``reasoning_effort``, reaches Anthropic as Google's
  budget for it (``LEVEL_BUDGETS``; ``minimal``: no thinking, dropped, listed), shrunk to fit below an
  output maximum the caller or the model set, and a ``thinkingLevel``
  reaches OpenAI as that ``reasoning_effort``.

The thoughts that come back travel as ``ReasoningPart``s (``common``).
"""

from __future__ import annotations

from typing import TypedDict


class Thinking(TypedDict):
    budget: int
    """The most tokens the model may think for; ``-1`` lets the model decide."""
    show: bool
    """The caller asked to be shown the thoughts (Gemini ``includeThoughts``; Anthropic always shows)."""
    param: str
    """The caller's own name for the setting, named when a target refuses or drops it."""
    effort: str | None
    """The level asked, when that is how thinking was asked (OpenAI ``reasoning_effort``, Gemini 3's
    ``thinkingLevel`` lowercased), else None: OpenAI takes it as ``reasoning_effort``."""


ANTHROPIC_MIN_BUDGET = 1024
"""Anthropic's smallest ``budget_tokens``."""

EFFORT_BUDGETS = {"low": 1024, "medium": 8192, "high": 24576}
"""``reasoning_effort`` -> ``thinkingBudget``, as Google's OpenAI-compatible Gemini endpoint maps it
(``none`` asks for no thinking: it is read as a default and dropped)."""

LEVEL_BUDGETS = {"minimal": 0, **EFFORT_BUDGETS}
"""Gemini 3's ``thinkingLevel`` -> a budget, on the scale of ``EFFORT_BUDGETS`` (Google's compatible endpoint
takes ``reasoning_effort`` as that level); ``minimal`` is Google's "no thinking for most queries": 0."""
