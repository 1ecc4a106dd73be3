"""``events_are_json``: the one-call check of a read's events under ``defaults.streams.validate_events``."""

from __future__ import annotations

import pytest

from sidecar.server.stream_read import events_are_json

WHOLE = b'data: {"a": 1}\n\n'
ACCEPTED = {
    "one event": WHOLE,
    "three events": WHOLE + b'data: {"b": "x\\ny"}\n\n' + WHOLE,
    "spaces after an object": b'data: {"a": 1}  \n\n' + WHOLE,
}
REFUSED = {
    "an object broken inside": b'data: {"a":[}\n\n',
    "a broken event before a whole one": b'data: {"a\n\n' + WHOLE,
    "a string running into the next event": b'data: {"a": "b\n\ndata: c"}\n\n',
    "two objects in one event": b'data: {"a": 1},{"b": 2}\n\n',
    "a value that is no object": b"data: 5\n\n" + WHOLE,
    "an empty event": b"data: \n\n" + WHOLE,
    "an event line": b'event: x\ndata: {"a": 1}\n\n',
    "a comment": WHOLE + b": ping\n\n" + WHOLE,
    "data on two lines": b'data: {"a": 1}\ndata: {"b": 2}\n\n',
    "CRLF line ends": WHOLE + b'data: {"a": 1}\r\n\r\n',
}


@pytest.mark.parametrize("chunk", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_reads_of_json_objects_one_data_line_each_pass(chunk: bytes) -> None:
    """Every event one ``data:`` line holding a JSON object: the read passes."""
    assert events_are_json(chunk)


@pytest.mark.parametrize("chunk", REFUSED.values(), ids=REFUSED.keys())
def test_a_broken_event_or_another_shape_is_left_to_the_event_by_event_reading(chunk: bytes) -> None:
    """A broken event, or a read of another shape, is refused (the relay then reads it event by event)."""
    assert not events_are_json(chunk)
