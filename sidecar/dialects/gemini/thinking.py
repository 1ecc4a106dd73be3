"""Gemini ``generationConfig.thinkingConfig`` <-> the common form's ``Thinking`` (``translate.thinking``).

- ``parse_thinking``: a positive ``thinkingBudget`` or ``includeThoughts: true`` asks for thinking (a
  missing or ``-1`` budget lets the model decide); the defaults (``includeThoughts: false``, a ``-1`` or
  ``0`` budget alone) ask for nothing and are dropped, listed; ``thinkingLevel`` (Gemini 3's ``minimal``,
  ``low``, ``medium``, ``high``, in any case) asks for that level (``effort``) at Google's budget for it
  (``LEVEL_BUDGETS``); another level and values of the wrong type are refused, naming the field.
- ``build_thinking``: ``{thinkingBudget, includeThoughts}`` (Gemini 3 still takes a budget); an OpenAI
  ``reasoning_effort: minimal`` is refused (Google's OpenAI-compatible endpoint gives it no budget). A budget
  outside the model's range (Gemini 2.5 Pro 128-32,768, Flash 0-24,576, Flash-Lite 512-24,576) is left for
  Gemini to judge: the route does not know which model it is.
"""

from __future__ import annotations

from typing import Any

from ...translate.common import ChatRequest
from ...translate.options import Drops
from ...translate.thinking import LEVEL_BUDGETS

LEVEL = "thinkingConfig.thinkingLevel"
_REFUSED = {"thinkingLevel": f"the levels that translate are {', '.join(LEVEL_BUDGETS)}"}


def parse_thinking(value: dict[str, Any], req: ChatRequest, drops: Drops) -> None:
    """``value``: the ``thinkingConfig`` object, its keys in camelCase."""
    budget, show, defaults, level = -1, False, [], None
    for key, v in value.items():
        if v is None:
            continue
        if key == "thinkingLevel" and isinstance(v, str) and v.lower() in LEVEL_BUDGETS:
            level = v.lower()
        elif key == "includeThoughts" and type(v) is bool:
            show = v
            if not v:
                defaults.append(key)
        elif key == "thinkingBudget" and type(v) is int and v >= -1:
            budget = v
            if v in (-1, 0):
                defaults.append(key)
        else:
            drops.unsupported(
                f"thinkingConfig.{key}", _REFUSED.get(key, "only thinkingBudget and includeThoughts translate")
            )
    if level is not None and budget > 0:
        drops.unsupported("thinkingConfig.thinkingBudget", "Gemini takes a thinkingBudget or a thinkingLevel, not both")
    if level is not None:
        req["thinking"] = {"budget": LEVEL_BUDGETS[level], "show": show, "param": LEVEL, "effort": level}
        defaults = [k for k in defaults if k == "includeThoughts"]
    elif budget > 0 or (show and budget != 0):
        param = "thinkingConfig.thinkingBudget" if budget > 0 else "thinkingConfig.includeThoughts"
        req["thinking"] = {"budget": budget, "show": show, "param": param, "effort": None}
        defaults = [k for k in defaults if k == "includeThoughts"]  # a -1 budget is carried as such
    for key in defaults:
        drops.ignored(f"thinkingConfig.{key}")


def build_thinking(req: ChatRequest, config: dict[str, Any], drops: Drops) -> None:
    thinking = req.get("thinking")
    if thinking is None:
        return
    if thinking["budget"] == 0:  # an OpenAI reasoning_effort minimal (a Gemini app's level is relayed as sent)
        drops.unsupported(thinking["param"], "Google gives no thinking budget for minimal")
        return
    out: dict[str, Any] = {"thinkingBudget": thinking["budget"]}
    if thinking["show"]:
        out["includeThoughts"] = True
    config["thinkingConfig"] = out
