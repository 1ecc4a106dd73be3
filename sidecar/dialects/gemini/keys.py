"""Gemini's two spellings of a field: the REST API reads ``system_instruction`` as ``systemInstruction``
(google-genai writes snake case in places); ``camel`` gives the one the translation reads."""

from __future__ import annotations


def camel(key: str) -> str:
    """``system_instruction`` -> ``systemInstruction`` (the REST API accepts both spellings)."""
    if "_" not in key:
        return key
    head, *rest = key.split("_")
    return head + "".join(w[:1].upper() + w[1:] for w in rest)
