"""The throttled warning of a failing dependency: one line per interval, counting the failures."""

from __future__ import annotations

import io
import time

import orjson

from sidecar.telemetry.failure_log import FailureLog
from sidecar.telemetry.logging import configure_logging

from ..waiting import until


class Clock:
    """A settable monotonic clock."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _lines(stream: io.BytesIO) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in stream.getvalue().splitlines()]


async def _lines_past(stream: io.BytesIO, interval_s: float) -> list[dict[str, object]]:
    """The lines (but the witness's) once a timer of ``interval_s`` started now has run: a second
    FailureLog's held line, due ``interval_s`` from now, is written (the loop runs its timers in the order
    they are due, so a timer due before it has run too)."""
    witness = FailureLog("sidecar.test", "witness", interval_s, time.monotonic)
    witness.failed()
    witness.failed()  # held until its interval ends
    lines = await until(lambda: _lines(stream), lambda lines: [line["event"] for line in lines].count("witness") == 2)
    return [line for line in lines if line["event"] != "witness"]


def test_the_first_failure_is_logged_at_once_with_its_fields() -> None:
    """The first failure writes the event at warning level with its fields, its component and failures 1."""
    stream = io.BytesIO()
    configure_logging("info", stream=stream, cache=False)
    FailureLog("sidecar.test", "store_failing", 60, Clock()).failed(operation="get", error="ConnectionError")
    [line] = _lines(stream)
    assert {key: line[key] for key in ("event", "level", "component", "operation", "error", "failures")} == {
        "event": "store_failing",
        "level": "warning",
        "component": "sidecar.test",
        "operation": "get",
        "error": "ConnectionError",
        "failures": 1,
    }


def test_failures_within_the_interval_are_counted_on_the_next_line() -> None:
    """Failures inside the interval write nothing; the first one after it writes a line counting them all."""
    stream = io.BytesIO()
    configure_logging("info", stream=stream, cache=False)
    clock = Clock()
    failures = FailureLog("sidecar.test", "store_failing", 60, clock)
    for _ in range(5):
        failures.failed(operation="get")
        clock.now += 10  # five failures 10 s apart: 0, 10, ..., 40 s after the first line
    assert len(_lines(stream)) == 1
    clock.now += 20  # 60 s after the first line
    failures.failed(operation="set")
    second = _lines(stream)[1]
    assert (second["operation"], second["failures"]) == ("set", 5)  # four unlogged + this one


async def test_failures_held_back_are_written_when_the_interval_ends() -> None:
    """Failures within the interval after a line, with none after them (the store came back), are
    written when the interval ends, counted, with the last one's fields: the outage is in the log."""
    stream = io.BytesIO()
    configure_logging("info", stream=stream, cache=False)
    failures = FailureLog("sidecar.test", "store_failing", 0.3, time.monotonic)
    failures.failed(operation="get", error="TimeoutError")
    failures.failed(operation="get", error="ConnectionError")
    failures.failed(operation="set", error="ConnectionError")
    assert len(_lines(stream)) == 1
    held = (await until(lambda: _lines(stream), lambda lines: len(lines) == 2))[1]
    assert (held["operation"], held["error"], held["failures"]) == ("set", "ConnectionError", 2)
    assert len(await _lines_past(stream, 0.3)) == 2  # nothing more to say: no line without failures


async def test_a_failure_after_the_interval_writes_at_once_and_nothing_is_counted_twice() -> None:
    """A failure once the interval is over is written at once with the failures held before it; the
    interval's end then writes nothing more."""
    stream = io.BytesIO()
    configure_logging("info", stream=stream, cache=False)
    clock = Clock()
    failures = FailureLog("sidecar.test", "store_failing", 0.2, clock)
    failures.failed(operation="get")
    failures.failed(operation="get")  # held
    clock.now += 1  # the interval is over before its timer ran
    failures.failed(operation="set")
    lines = await _lines_past(stream, 0.2)  # the held failure's timer was due within 0.2 s
    assert [(line["operation"], line["failures"]) for line in lines] == [("get", 1), ("set", 2)]
