"""The fields of a Gemini caller's contents and parts beside the ones the common form carries
(``contents`` reads those): each is dropped and listed, or refused by name, never left out unsaid
(google-genai 3.6's ``Content``, ``Part``, ``Blob``, ``FileData``, ``FunctionCall``, ``FunctionResponse``;
snake_case keys read as camelCase, as ``contents`` reads them).

- what changes nothing the model generates is dropped and listed (``Drops.ignored``) in either
  ``unsupported`` mode: a part's ``thoughtSignature`` (an answer's, which google-genai's chats send back
  with it; not ``SKIP_SIGNATURE``, which the sidecar writes on calls from another provider and which holds
  no thought), ``partMetadata`` (the app's own notes, never shown to the model) and ``mediaResolution`` (each
  listed by its name, as ``thought`` and the request's ``mediaResolution`` are); a media part's
  ``inlineData.displayName`` and ``fileData.displayName`` (the data travels whole); a function call's
  ``functionCall.willContinue`` (a streamed answer's mark);
- any other field that is not null is refused by name, or under ``unsupported_params: drop`` dropped and
  listed: a content's ``contents.<field>``, a part's ``parts.<field>`` (``parts.videoMetadata``: which
  stretch of a video the model sees), a field inside a part's kind ``<kind>.<field>``
  (``functionCall.partialArgs``: arguments in pieces the sidecar does not assemble;
  ``functionResponse.scheduling``), a system instruction's ``systemInstruction.<field>``, as Gemini refuses
  a field it does not know (``Invalid JSON payload received. Unknown name "x"``). Before 2026-12-06 they
  were left out unsaid.

A part's kind (``text``, ``inlineData``, ``fileData``, ``functionCall``, ``functionResponse``; a part of
another kind is refused by ``contents``), its ``thought`` and what the kinds carry (a function response's
``parts`` included) are ``contents``'s.
"""

from __future__ import annotations

from typing import Any

from ...translate.options import Drops
from .keys import camel

SKIP_SIGNATURE = "skip_thought_signature_validator"
"""The signature Gemini documents for a function call made without its thoughts (``contents`` writes it)."""

# What each object carries, and what it may hold that changes nothing generated.
_CONTENT = frozenset(("role", "parts"))
_PART = frozenset(("text", "inlineData", "fileData", "functionCall", "functionResponse", "thought"))
_PART_IGNORED = frozenset(("thoughtSignature", "partMetadata", "mediaResolution"))
_MEDIA_NAME = frozenset(("displayName",))
_INNER = {
    "inlineData": (frozenset(("mimeType", "data")), _MEDIA_NAME),
    "fileData": (frozenset(("mimeType", "fileUri")), _MEDIA_NAME),
    "functionCall": (frozenset(("id", "name", "args")), frozenset(("willContinue",))),
    "functionResponse": (frozenset(("id", "name", "response", "parts")), frozenset()),
}


def check_content(content: dict[str, Any], where: str, drops: Drops) -> None:
    """List or refuse the fields of ``content`` beside its role and parts, as ``<where>.<field>``
    (``contents`` or ``systemInstruction``). ``contents`` calls it, and ``check_part``, only for a content
    that holds more than a role and parts and a part that holds more than a text (most of a conversation
    is of those: a call costs about 900 CPU instructions, bench/translate_instructions.py)."""
    for key, value in content.items():
        if key not in _CONTENT and value is not None:
            drops.unsupported(f"{where}.{key}")


def check_part(part: dict[str, Any], drops: Drops) -> None:
    """List or refuse the fields of ``part`` beside its kind and ``thought``, and those inside its kind's
    object (a part of another kind is ``contents``'s to refuse)."""
    if len(part) > 1:  # a kind alone is ``contents``'s (a kind it does not read: refused there)
        for key, value in part.items():  # camelCase keys (``contents`` and ``request`` make them)
            if key in _PART or value is None or value == SKIP_SIGNATURE:
                continue
            if key in _PART_IGNORED:
                drops.ignored(key)
            else:
                drops.unsupported(f"parts.{key}")
    for kind, inner in part.items():  # a kind, and maybe a thought's mark or a signature
        rule = _INNER.get(kind)
        if rule is not None and isinstance(inner, dict) and not rule[0].issuperset(inner):
            _name_inner(kind, inner, rule[1], drops)


def _name_inner(kind: str, inner: dict[str, Any], ignored: frozenset[str], drops: Drops) -> None:
    """The fields inside a part's kind beyond what it carries (``mime_type`` read as ``mimeType``, as
    ``contents`` reads it): listed when ``ignored``, else refused as ``<kind>.<field>``."""
    carried = _INNER[kind][0]
    for raw_key, value in inner.items():
        key = camel(raw_key)
        if key in carried or value is None:
            continue
        if key in ignored:
            drops.ignored(f"{kind}.{key}")
        else:
            drops.unsupported(f"{kind}.{key}")
