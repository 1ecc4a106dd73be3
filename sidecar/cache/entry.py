"""A cache entry: one complete, good answer in the dialect-neutral common form, and its byte encoding.

An ``Entry`` holds the answer's pieces in order (reasoning, text, tool calls), its finish reason, usage,
the model that served it, when it was stored and what it cost, and the sources its text cites
(``citations``: the common form's, spans in characters of its text pieces joined), and the answer's
fields outside the common form, whole or streamed (``extras``: ``cache.extras``). A piece from a stream
keeps the lengths of the fragments it arrived in (``cuts``), so a replay streams with the original
boundaries; a piece from a whole answer has none and is cut at word boundaries on replay (``replay``).
``response()`` gives the common ``ChatResponse`` that the dialect builders turn into any caller's body.

Encoding (``encode`` / ``decode``): compact JSON by orjson (the memory store keeps the objects
themselves, counted at ``footprint``). Redis holds it framed (``frame`` / ``unframe``): the JSON, then
a newline and the whole response body the entry's hits are answered with (a ``replay`` template, for
the one dialect its key serves), so that a hit from Redis writes stored bytes instead of building and
encoding its body; a value without the newline (an older sidecar's) is the entry alone. The usage's
sixth count, the part of the cache writes kept an hour, is written only when not 0 (before 2026-12-05 it
was never written, and a hit read from Redis reported its writes without their 1-hour split): entries
without it read as none::

    {"v": 1, "p": [piece...], "f": finish, "s": stop_sequence, "u": [in, out, cached, cache_write,
     reasoning(, cache_write_1h)] | null, "m": model, "t": target, "pr": provider, "at": stored_at,
     "c": cost | null, "id": origin_id | null, "ci": [[url, title | null, start, end]...], "x": extras,
     "a": asked}
    piece: ["t", text, cuts] | ["r", text, signature, origin, redacted, cuts] | ["c", id, name, args, cuts]

``ci`` is written only for an answer that cites sources, and read as none when absent: an entry an
older sidecar wrote reads as it did, and an uncited answer's bytes are what they were (an older sidecar
reading a cited entry serves it without its citations). ``x`` likewise: the answer's fields outside the
common form (``extras``: JSON text, a string), written only when the upstream's answer had any; an entry
without it (an older sidecar's) is served without them, as it always was. ``a``, the upstream model asked
for (``asked``: a hit's target, however the provider named its model), only when it is not ``m``; absent,
``asked`` reads as None (an older sidecar's entry, or one whose answer named the model asked for).

Which answers may be stored (``unstorable``): a single choice that finished by itself (stop, stop
sequence, tool calls) with something in it (``entry_from_response``); an answer cut
by the output limit only when the route allows; never a content-filter stop or a refusal, a paused or
otherwise unfinished turn.
"""

from __future__ import annotations

import math
import sys
from typing import Any, NamedTuple

import orjson

from ..dialects import Dialect
from ..dialects.registry import DIALECTS
from ..translate import TranslationError, parse_chat_response
from ..translate.common import ChatResponse, Choice, Citation, FinishReason, Part, Usage
from ..translate.parts import parse_arguments
from .storable import GOOD_FINISH, unstorable_by

FORMAT_VERSION = 1
Origin = str  # the name of the dialect whose reasoning signature it is
_ORIGINS: frozenset[str] = frozenset(map(str, DIALECTS))
_SERVABLE_FINISH = GOOD_FINISH | {FinishReason.LENGTH}  # what a stored answer may end with
_FINISH_BY_VALUE = {reason.value: reason for reason in FinishReason}


class EntryFormatError(ValueError):
    """Stored bytes that are not an entry of this format (another version, or damaged)."""


class TextPiece(NamedTuple):
    text: str
    cuts: tuple[int, ...] | None = None


class ReasoningPiece(NamedTuple):
    text: str
    signature: str | None
    origin: Origin
    redacted: bool = False
    cuts: tuple[int, ...] | None = None


class ToolPiece(NamedTuple):
    id: str
    name: str
    arguments: str  # the JSON text as the model produced it (fragments joined)
    cuts: tuple[int, ...] | None = None


Piece = TextPiece | ReasoningPiece | ToolPiece


class Entry(NamedTuple):
    """Immutable, as the pieces are (named tuples: built in about half a frozen dataclass's time, once
    per stored answer and once per hit read from Redis)."""

    pieces: tuple[Piece, ...]
    finish_reason: FinishReason | None
    stop_sequence: str | None
    usage: Usage | None
    model: str  # the upstream model that answered (reported to the caller on a hit)
    target: str  # the policy's model name (x-sidecar-model)
    provider: str
    stored_at: float  # Unix time
    cost_usd: float | None
    origin_id: str | None = None  # the upstream's response id (for logs; a hit gets a fresh id)
    citations: tuple[Citation, ...] = ()  # the sources the text cites (spans in characters of the text)
    extras: str | None = None  # the answer's fields outside the common form, for its dialect (``extras``)
    asked: str | None = None  # the upstream model the sidecar asked for (its target's); None: stored before it was kept

    @property
    def streamed(self) -> bool:
        """True when the pieces keep a stream's fragment boundaries."""
        return any(p.cuts is not None for p in self.pieces)

    def age(self, now: float) -> float:
        return max(0.0, now - self.stored_at)

    def response(self) -> ChatResponse:
        """The answer in the common form (a fresh id: each dialect's builder makes one)."""
        parts: list[Part] = []
        for p in self.pieces:
            if isinstance(p, TextPiece):
                parts.append({"type": "text", "text": p.text})
            elif isinstance(p, ToolPiece):
                args = parse_arguments(p.arguments)
                parts.append({"type": "tool_call", "id": p.id, "name": p.name, "arguments": args})
            else:
                parts.append(
                    {
                        "type": "reasoning",
                        "text": p.text,
                        "signature": p.signature,
                        "origin": p.origin,
                        "redacted": p.redacted,
                    }
                )
        choice: Choice = {"parts": parts, "finish_reason": self.finish_reason, "stop_sequence": self.stop_sequence}
        if self.citations:
            choice["citations"] = list(self.citations)
        return {"id": None, "choices": [choice], "usage": self.usage}


def entry_from_response(
    response: ChatResponse,
    *,
    model: str,
    target: str,
    provider: str,
    stored_at: float,
    cost_usd: float | None,
    extras: str | None = None,
    arguments: tuple[object, ...] = (),
    asked: str | None = None,
) -> Entry | None:
    """An entry from a whole (non-stream) answer, its citations kept (``extras``: ``extras.extras_of`` of its
    body; ``arguments``: its calls' arguments as the model wrote them, OpenAI's text, kept as they are, not
    written again from the parsed object); None when it has no single choice to store."""
    if len(response["choices"]) != 1:
        return None
    choice = response["choices"][0]
    pieces: list[Piece] = []
    written = iter(arguments)
    for part in choice["parts"]:
        if part["type"] == "text":
            pieces.append(TextPiece(part["text"]))
        elif part["type"] == "tool_call":
            text = next(written, None)
            text = text if type(text) is str else orjson.dumps(part["arguments"]).decode()
            pieces.append(ToolPiece(part["id"], part["name"], text))
        elif part["type"] == "reasoning":
            pieces.append(ReasoningPiece(part["text"], part["signature"], part["origin"], part["redacted"]))
    return Entry(
        tuple(pieces),
        choice["finish_reason"],
        choice["stop_sequence"],
        response["usage"],
        model,
        target,
        provider,
        stored_at,
        cost_usd,
        response["id"],
        tuple(choice.get("citations") or ()),
        extras,
        asked,
    )


def unstorable(entry: Entry, *, store_truncated: bool) -> str | None:
    """Why the entry must not be stored, or None when it may be (``storable.unstorable_by``)."""
    return unstorable_by(entry.finish_reason, bool(entry.pieces), store_truncated=store_truncated)


_ENTRY_BASE = 360
"""Bytes of an entry's own objects beyond its strings and pieces: the Entry, its pieces tuple, its Usage
and floats, as tracemalloc counts them (GC headers included) for an entry of one piece: 352 with the
ten fields ``Usage`` has since ``service_tier`` and ``web_search_calls`` (304 before them, which had
fallen short of what an entry holds: tests/cache/test_entry.py's footprint checks failed run alone); 360
with ``asked``'s slot (its string is the policy's, as ``target``'s and ``provider``'s, not counted)."""
_PIECE_BASE = 72  # a piece object (a named tuple of up to five fields; 8 bytes over the dataclass it was)
_CUTS_BASE = 40  # a tuple of fragment lengths, plus 8 bytes a length (small ints are shared objects)
_CITATION_BASE = 256  # a citation: its dict of four keys and two indices (254 with tracemalloc)
_size = sys.getsizeof


def footprint(entry: Entry) -> int:
    """The bytes ``entry``'s objects hold in this process: what the memory store counts against its bound
    (an entry is kept as objects there, neither encoded nor decoded)."""
    total = _ENTRY_BASE + _size(entry.model)
    if entry.origin_id is not None:
        total += _size(entry.origin_id)
    if entry.stop_sequence is not None:
        total += _size(entry.stop_sequence)
    if entry.extras is not None:
        total += _size(entry.extras)
    for p in entry.pieces:
        total += _PIECE_BASE
        if isinstance(p, TextPiece):
            total += _size(p.text)
        elif isinstance(p, ToolPiece):
            total += _size(p.id) + _size(p.name) + _size(p.arguments)
        else:
            total += _size(p.text) + (_size(p.signature) if p.signature is not None else 0)
        if p.cuts is not None:
            total += _CUTS_BASE + 8 * len(p.cuts)
    if entry.citations:
        total += _CUTS_BASE + 8 * len(entry.citations)  # their tuple
    for citation in entry.citations:
        title = citation["title"]
        total += _CITATION_BASE + _size(citation["url"]) + (_size(title) if title is not None else 0)
    return total


# ---------------------------------------------------------------------------------------------------------
# Encoding


def _piece_out(p: Piece) -> list[Any]:
    cuts = list(p.cuts) if p.cuts is not None else None
    if isinstance(p, TextPiece):
        return ["t", p.text, cuts]
    if isinstance(p, ToolPiece):
        return ["c", p.id, p.name, p.arguments, cuts]
    return ["r", p.text, p.signature, p.origin, p.redacted, cuts]


def encode(entry: Entry) -> bytes:
    u = entry.usage
    usage = None
    if u is not None:
        usage = [u.input_tokens, u.output_tokens, u.cached_input_tokens, u.cache_write_tokens, u.reasoning_tokens]
        if u.cache_write_1h_tokens:  # the writes kept an hour, priced apart
            usage.append(u.cache_write_1h_tokens)
    obj: dict[str, Any] = {
        "v": FORMAT_VERSION,
        "p": [_piece_out(p) for p in entry.pieces],
        "f": entry.finish_reason.value if entry.finish_reason is not None else None,
        "s": entry.stop_sequence,
        "u": usage,
        "m": entry.model,
        "t": entry.target,
        "pr": entry.provider,
        "at": entry.stored_at,
        "c": entry.cost_usd,
        "id": entry.origin_id,
    }
    if entry.citations:
        obj["ci"] = [[c["url"], c["title"], c["start"], c["end"]] for c in entry.citations]
    if entry.extras is not None:
        obj["x"] = entry.extras
    if entry.asked is not None and entry.asked != entry.model:
        obj["a"] = entry.asked
    data = orjson.dumps(obj)
    # orjson's bytes keep the capacity of its write buffer (about 16 KiB for a 2 KiB answer, measured
    # with orjson 3.13): an exact-size copy, or a memory store would hold eight times what it counts.
    return memoryview(data).tobytes()


def frame(encoded: bytes, body: bytes | None) -> bytes:
    """An entry's ``encode``d bytes with the whole-body template its hits are answered with (compact
    JSON never holds a raw newline: the first one ends the entry)."""
    return encoded if body is None else b"%b\n%b" % (encoded, body)


def unframe(data: bytes, dialect: Dialect | None = None) -> tuple[Entry, bytes | None]:
    """The entry and the body template ``frame`` wrote (None when there is none); ``EntryFormatError``
    for anything else, and for what no SDK would take as an answer (``servable``): an entry or, when
    the caller's ``dialect`` is given, a body that does not answer (``{}``, no choice, nothing in it)."""
    head, newline, body = data.partition(b"\n")
    entry = decode(head)
    if unstorable(entry, store_truncated=True) is not None:
        raise EntryFormatError("the stored entry is not an answer that may be stored")
    if not newline or not body:
        return entry, None
    try:  # the bytes a hit writes as they are: they must be a JSON object (a cut or garbage body is damage)
        whole = orjson.loads(body)
    except orjson.JSONDecodeError:
        whole = None
    if type(whole) is not dict:
        raise EntryFormatError("the stored body is not a JSON object")
    if dialect is not None and not _answers(whole, dialect):
        raise EntryFormatError(f"the stored body is not a {dialect} answer")
    return entry, body


def _answers(body: dict[str, Any], dialect: Dialect) -> bool:
    """``body``, read by ``dialect``'s own parser, is one choice with something in it that ended as a
    stored answer may (what a hand-written ``{}`` or a body of another dialect is not)."""
    try:
        choices = parse_chat_response(body, dialect)["choices"]
    except TranslationError:
        return False
    return len(choices) == 1 and bool(choices[0]["parts"]) and choices[0]["finish_reason"] in _SERVABLE_FINISH


def _cuts(raw: Any, text: str) -> tuple[int, ...] | None:
    if raw is None:
        return None
    cuts = tuple(raw)
    if sum(cuts) != len(text) or any(type(c) is not int or c <= 0 for c in cuts):
        raise EntryFormatError("fragment lengths do not add up to the text")
    return cuts


def _piece_in(raw: list[Any]) -> Piece:
    kind = raw[0]
    if kind == "t":
        return TextPiece(_str(raw[1]), _cuts(raw[2], raw[1]))
    if kind == "c":
        return ToolPiece(_str(raw[1]), _str(raw[2]), _str(raw[3]), _cuts(raw[4], raw[3]))
    if kind == "r" and raw[3] in _ORIGINS:
        signature = raw[2] if raw[2] is None else _str(raw[2])
        return ReasoningPiece(_str(raw[1]), signature, raw[3], bool(raw[4]), _cuts(raw[5], raw[1]))
    raise EntryFormatError(f"unknown piece {kind!r}")


def _str(value: Any) -> str:
    if type(value) is not str:
        raise EntryFormatError("a text field is not a string")
    return value


def _optional_str(value: Any) -> str | None:
    return value if value is None else _str(value)


def _number(value: Any) -> float:
    """A finite number (a time, a cost): a string or an infinity is damage (``"at": "inf"`` would be an
    entry fresh forever)."""
    if type(value) not in (int, float) or not math.isfinite(value):
        raise EntryFormatError("a number field is not a finite number")
    return float(value)


def _usage_in(raw: Any) -> Usage:
    """The usage ``encode`` wrote: five or six counts, each a whole number of tokens (a string would
    fail the hit's rendering, a 500)."""
    if type(raw) is not list or len(raw) not in (5, 6) or any(type(n) is not int or n < 0 for n in raw):
        raise EntryFormatError("the usage is not a list of token counts")
    return Usage(*raw)


def _citations_in(raw: Any) -> tuple[Citation, ...]:
    """The ``ci`` list ``encode`` wrote (none when absent: an older sidecar's entry)."""
    if raw is None:
        return ()
    out: list[Citation] = []
    for url, title, start, end in raw:
        if type(start) is not int or type(end) is not int or not 0 <= start <= end:
            raise EntryFormatError("a citation's span is not a pair of indices")
        out.append({"url": _str(url), "title": title if title is None else _str(title), "start": start, "end": end})
    return tuple(out)


def decode(data: bytes) -> Entry:
    """The entry ``encode`` wrote; ``EntryFormatError`` for anything else."""
    try:
        obj = orjson.loads(data)
        if not isinstance(obj, dict) or obj.get("v") != FORMAT_VERSION:
            raise EntryFormatError("not an entry of this format version")
        u = obj["u"]
        finish = obj["f"]
        cost = obj["c"]
        return Entry(
            tuple(_piece_in(p) for p in obj["p"]),
            _FINISH_BY_VALUE[finish] if finish is not None else None,
            _optional_str(obj["s"]),
            _usage_in(u) if u is not None else None,
            _str(obj["m"]),
            _str(obj["t"]),
            _str(obj["pr"]),
            _number(obj["at"]),
            _number(cost) if cost is not None else None,
            _optional_str(obj["id"]),
            _citations_in(obj.get("ci")),
            _optional_str(obj.get("x")),
            _optional_str(obj.get("a")),
        )
    except EntryFormatError:
        raise
    except (orjson.JSONDecodeError, KeyError, IndexError, TypeError, ValueError) as exc:
        raise EntryFormatError(f"damaged entry: {exc!r}") from None
