"""DecodedValues: Redis values decoded and checked once per distinct bytes, bounded, least recently used
forgotten first; damaged values and other dialects always checked."""

from __future__ import annotations

import pytest

from sidecar.cache.decoded import DecodedValues
from sidecar.cache.entry import Entry, EntryFormatError, TextPiece, encode, frame
from sidecar.cache.padding import Padded, Rendered
from sidecar.cache.replay import Form, body_template, template
from sidecar.dialects import Dialect
from sidecar.translate.common import FinishReason, Usage


def _value(text: str = "a cached answer") -> bytes:
    """A value as the Redis store writes it for an OpenAI caller: the entry and its whole body."""
    entry = Entry((TextPiece(text),), FinishReason.STOP, None, Usage(5, 2), "m", "t", "p", 1000.0, 0.5)
    return frame(encode(entry), body_template(entry, Dialect.OPENAI))


def test_the_same_bytes_are_decoded_once() -> None:
    """Bytes that passed ``unframe`` give back the same entry and body objects the next time (equal bytes
    in another object: what Redis answers at each hit)."""
    decoded = DecodedValues()
    value = _value()
    first = decoded.unframe(value, Dialect.OPENAI)
    again = decoded.unframe(bytes(bytearray(value)), Dialect.OPENAI)
    assert again[0] is first[0] and again[1] is first[1]
    assert decoded.held_bytes > 2 * len(value)  # the value, what it decodes to, the bookkeeping


def test_values_alike_at_both_ends_are_each_their_own() -> None:
    """Two values of the same length, head and entry's end (answers differing only in their middle, stored
    the same instant) each give their own entry: a value is taken only when all its bytes are those kept."""
    decoded = DecodedValues()
    first, second = _value("A" * 200 + "x" + "B" * 200), _value("A" * 200 + "y" + "B" * 200)
    for value, middle in ((first, "x"), (second, "y"), (first, "x"), (second, "y")):
        entry = decoded.unframe(bytes(bytearray(value)), Dialect.OPENAI)[0]
        assert entry.pieces == (TextPiece("A" * 200 + middle + "B" * 200),)


def test_damaged_bytes_raise_every_time_and_are_not_kept() -> None:
    """A value that fails ``unframe``'s checks (a body that is not the caller's answer) raises at each
    read and is not remembered."""
    decoded = DecodedValues()
    head = _value().partition(b"\n")[0]
    for _ in range(2):
        with pytest.raises(EntryFormatError):
            decoded.unframe(head + b"\n{}", Dialect.OPENAI)
    assert decoded.held_bytes == 0


def test_bytes_checked_for_one_dialect_are_checked_again_for_another() -> None:
    """An OpenAI body that passed for an OpenAI caller is still refused for an Anthropic one."""
    decoded = DecodedValues()
    value = _value()
    decoded.unframe(value, Dialect.OPENAI)
    with pytest.raises(EntryFormatError):
        decoded.unframe(value, Dialect.ANTHROPIC)


def test_the_least_recently_used_value_is_forgotten_past_the_bound() -> None:
    """Past ``max_bytes`` (each value counted at twice its length and its bookkeeping) the least recently
    read value goes first; a value larger than the bound is decoded but never kept."""
    a, b, c = _value("first answer"), _value("second answer"), _value("third answer")
    costs = []
    for value in (a, b):
        alone = DecodedValues()
        alone.unframe(value, Dialect.OPENAI)
        costs.append(alone.held_bytes)
    decoded = DecodedValues(max_bytes=sum(costs) + 10)
    kept_a = decoded.unframe(a, Dialect.OPENAI)[0]
    kept_b = decoded.unframe(b, Dialect.OPENAI)[0]
    decoded.unframe(a, Dialect.OPENAI)  # a is now the most recently used
    decoded.unframe(c, Dialect.OPENAI)  # b goes
    assert decoded.unframe(a, Dialect.OPENAI)[0] is kept_a
    assert decoded.unframe(b, Dialect.OPENAI)[0] is not kept_b
    assert decoded.held_bytes <= decoded.max_bytes
    small = DecodedValues(max_bytes=len(a))
    small.unframe(a, Dialect.OPENAI)
    assert small.held_bytes == 0


@pytest.mark.parametrize("form", ["stream_usage", "body"])
def test_an_entrys_rendered_answer_is_kept_for_it_and_made_again_for_another(form: Form) -> None:
    """The answer rendered from an entry read under a key (a stream; a whole body Redis holds none of) is
    made once and given again for that entry object; another entry under the key is rendered afresh."""
    decoded = DecodedValues()
    first, _ = decoded.unframe(_value(), Dialect.OPENAI)
    kept = decoded.template("k", first, Dialect.OPENAI, form)
    assert decoded.template("k", first, Dialect.OPENAI, form) is kept
    other, _ = decoded.unframe(_value("another answer"), Dialect.OPENAI)
    again = decoded.template("k", other, Dialect.OPENAI, form)
    assert again is not kept and _filled(again) == _filled(template(other, Dialect.OPENAI, form))


def _filled(rendered: Rendered) -> Rendered:
    """A stream cut at its marks (a ``Padded``; the test's entries have no padding) filled with fixed marks."""
    return rendered.fill(b':"id"', b'"created":1') if isinstance(rendered, Padded) else rendered
