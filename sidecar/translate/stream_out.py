"""Stream encoders (common deltas -> the caller's SSE events): the helpers they share (``json_event``,
``frame``), and what each writes; each is its dialect's ``encoder`` module
(``sidecar/dialects/<dialect>/encoder.py``).

Every encoder has ``feed(delta) -> events`` and ``close() -> events`` (idempotent; called on the
upstream's end marker and again by ``finish()``), and turns a ``Failure`` into the dialect's error event,
after which it emits nothing more.

- ``OpenAIEncoder``: a chunk with ``role: assistant`` before the answer's first part (``content: ""``, or
  ``content: null`` beside a tool call that opens the answer, as OpenAI sends it), one chunk per text, reasoning
  (``reasoning_content``, as OpenAI-compatible servers send it) or tool-call fragment
  (``tool_calls[index]`` with id, type and name on the first fragment; a call that streamed no argument
  text gets ``"{}"`` before the next call or the finish, as the whole answer says), the citations
  (``Cited``, held) in one chunk of their own (``delta.annotations``), a chunk carrying
  ``finish_reason``; on close, a usage chunk with empty ``choices`` when the caller asked for
  ``include_usage``, then ``data: [DONE]``.
- ``AnthropicEncoder``: ``message_start`` (sent with the first content, so it carries the input usage
  when the upstream reported it early), ``content_block_start``/``content_block_delta``
  (``text_delta``, ``input_json_delta``, ``thinking_delta`` + ``signature_delta``)/``content_block_stop``
  per block, ``redacted_thinking`` whole; on close ``message_delta`` (stop reason and cumulative usage)
  and ``message_stop``. Thinking is sent only with Anthropic's own signature (held until it comes):
  Anthropic refuses a thinking block sent back without one, so other providers' reasoning is left out,
  as are citations (``Cited``: no Anthropic form).
- ``GeminiEncoder``: one fragment per text delta, one per reasoning delta (``thought: true``, held until
  the next delta so that its own signature rides on it); a standalone signature goes on the next part;
  function calls are collected whole (Gemini never streams arguments) and sent with ``finishReason``,
  ``usageMetadata`` and the citations (``citationMetadata``, in bytes of the whole text sent: the
  encoder keeps it) in the last fragment. Signatures from other providers are left out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import orjson

from ..sse import SSEEvent


def json_event(body: dict[str, Any], name: str | None = None) -> SSEEvent:
    """An event carrying ``body`` as JSON."""
    return frame(orjson.dumps(body), name)


def frame(data: bytes, name: str | None = None) -> SSEEvent:
    """An event of ``data`` (``raw`` empty: ``SSEEvent.encode`` renders it)."""
    return _new_event(SSEEvent, (data, name, b""))


def wire_prefix(name: str | None = None) -> bytes:
    """The bytes before the data of a one-line event named ``name`` (for ``framed``), made once."""
    return (b"event: " + name.encode() + b"\n" if name else b"") + b"data: "


def framed(data: bytes, name: str | None, prefix: bytes) -> SSEEvent:
    """An event of one-line ``data`` (JSON as orjson writes it: no line break) with its wire bytes made
    here (``prefix`` from ``wire_prefix(name)``), so that ``SSEEvent.encode`` returns them as they are:
    an encoder's usual event, sent once per streamed token."""
    return _new_event(SSEEvent, (data, name, prefix + data + b"\n\n"))


# An SSEEvent from its three fields, without the generated __new__'s argument handling (one per event).
_new_event = cast(Callable[[type[SSEEvent], tuple[bytes, str | None, bytes]], SSEEvent], tuple.__new__)
