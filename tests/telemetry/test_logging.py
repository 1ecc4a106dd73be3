"""Structured logs: JSON lines, secrets blanked, the access-line buffer flushes by time and size; the
lifecycle events as docs/logs.md lists them (names, fields, levels)."""

from __future__ import annotations

import ast
import asyncio
import io
import re
from pathlib import Path

import orjson
from opentelemetry import context as otel_context
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, set_span_in_context

from sidecar.telemetry import Telemetry
from sidecar.telemetry.logging import LineBuffer, configure_logging, get_logger

from .helpers import start


def test_log_lines_are_single_json_objects() -> None:
    """Each log call writes exactly one JSON object followed by one newline."""
    stream = io.BytesIO()
    configure_logging("info", stream=stream, cache=False)
    get_logger("t").info("first", n=1)
    get_logger("t").info("second")
    lines = stream.getvalue().split(b"\n")
    assert lines[-1] == b"" and len(lines) == 3
    assert orjson.loads(lines[0])["n"] == 1 and orjson.loads(lines[1])["event"] == "second"


def test_fields_named_like_secrets_are_blanked() -> None:
    """A field called api_key or authorization never prints its value."""
    stream = io.BytesIO()
    configure_logging("info", stream=stream, cache=False)
    get_logger("t").warning("oops", api_key="sk-live-123", authorization="Bearer x")
    assert b"sk-live-123" not in stream.getvalue() and b"Bearer x" not in stream.getvalue()


def test_level_filters_lines() -> None:
    """Below the configured level nothing is written."""
    stream = io.BytesIO()
    output = configure_logging("warning", stream=stream, cache=False)
    get_logger("t").info("hidden")
    assert stream.getvalue() == b"" and not output.enabled(20)


def test_standard_library_records_are_the_same_json_lines() -> None:
    """A record of the standard library's ``logging`` (a library's warning) is a JSON line on the log
    stream: its message as ``event``, its logger as ``component``, its level."""
    import logging

    stream = io.BytesIO()
    configure_logging("info", stream=stream, cache=False)
    logging.getLogger("redis.connection").warning("connection %s failed: %s", "reserve", "refused")
    [line] = stream.getvalue().splitlines()
    assert orjson.loads(line) == {
        "event": "connection reserve failed: refused",
        "component": "redis.connection",
        "level": "warning",
        "ts": orjson.loads(line)["ts"],
    }


def test_a_standard_library_exception_carries_its_traceback_in_the_line() -> None:
    """``logging.exception`` from the standard library writes one JSON line whose ``exception`` field
    holds the traceback, not lines of plain text."""
    import logging

    stream = io.BytesIO()
    configure_logging("info", stream=stream, cache=False)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("sidecar.budgets.ledger").exception("budget admission failed")
    [line] = stream.getvalue().splitlines()
    record = orjson.loads(line)
    assert record["level"] == "error" and "RuntimeError: boom" in record["exception"]


async def test_line_buffer_flushes_after_its_interval() -> None:
    """Buffered lines reach the stream within the interval, in one write."""
    stream = io.BytesIO()
    buffer = LineBuffer(stream, interval_s=0.02)
    buffer.write(b"a\n")
    buffer.write(b"b\n")
    assert stream.getvalue() == b""
    await asyncio.sleep(0.05)
    assert stream.getvalue() == b"a\nb\n"


async def test_line_buffer_flushes_when_full() -> None:
    """Reaching max_bytes writes at once, without waiting for the timer."""
    stream = io.BytesIO()
    buffer = LineBuffer(stream, interval_s=10, max_bytes=4)
    buffer.write(b"12\n")
    buffer.write(b"34\n")
    assert stream.getvalue() == b"12\n34\n"


def test_lines_written_inside_an_activated_request_carry_its_trace_ids() -> None:
    """Inside ``with trace:`` a log line has the SERVER span's trace_id and span_id; after it, none."""
    stream = io.BytesIO()
    configure_logging("info", stream=stream, cache=False)
    trace = start(Telemetry.for_tests())
    with trace:
        get_logger("t").warning("inside")
    get_logger("t").warning("outside")
    inside, outside = (orjson.loads(line) for line in stream.getvalue().splitlines())
    assert (inside["trace_id"], inside["span_id"]) == (trace.trace_id, trace.span_id) and trace.trace_id
    assert "trace_id" not in outside


def test_lines_outside_a_request_take_the_current_otel_span() -> None:
    """Outside any activated request, the ids come from the current OTel span (if valid)."""
    stream = io.BytesIO()
    configure_logging("info", stream=stream, cache=False)
    context = SpanContext(0xABC, 0xDEF, is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED))
    token = otel_context.attach(set_span_in_context(NonRecordingSpan(context)))
    try:
        get_logger("t").warning("otel")
    finally:
        otel_context.detach(token)
    line = orjson.loads(stream.getvalue())
    assert (line["trace_id"], line["span_id"]) == (format(0xABC, "032x"), format(0xDEF, "016x"))


ROOT = Path(__file__).resolve().parents[2]
LEVELS = ("debug", "info", "warning", "error", "exception", "critical")


def logged_events() -> dict[str, list[tuple[str, set[str]]]]:
    """Each event name the package logs, with where and the fields each call gives it: a snake_case first
    argument of ``.info``, ``.warning``, ... (its keywords; a ``**spread`` is not read), the event of a
    ``FailureLog`` (the fields its module's ``.failed(...)`` calls give, and ``failures``), or the
    ``event`` of a line rendered directly (a dict literal: its other keys)."""
    events: dict[str, list[tuple[str, set[str]]]] = {}
    for module in sorted((ROOT / "sidecar").rglob("*.py")):
        tree = ast.parse(module.read_text())
        calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call)]
        failed = {k.arg for call in calls if _method(call) == "failed" for k in call.keywords if k.arg}
        for call in calls:
            where = f"{module.relative_to(ROOT)}:{call.lineno}"
            name = _event_name(call.args[0]) if call.args else None
            if _method(call) in LEVELS and name and re.fullmatch(r"[a-z]+(_[a-z]+)+|[a-z]+", name):
                fields = {k.arg for k in call.keywords if k.arg} - {"exc_info", "stack_info"}
                events.setdefault(name, []).append((where, fields))
            if isinstance(call.func, ast.Name) and call.func.id == "FailureLog":
                name = _event_name(call.args[1])
                assert name
                events.setdefault(name, []).append((where, failed | {"failures"}))
        for node in ast.walk(tree):  # a line rendered directly: {"event": "name", ...}
            if isinstance(node, ast.Dict):
                keys = {k.value: v for k, v in zip(node.keys, node.values, strict=True) if isinstance(k, ast.Constant)}
                name = _event_name(keys.get("event"))
                if name:
                    fields = {str(key) for key in keys} - {"event", "component", "level", "ts"}
                    events.setdefault(name, []).append((f"{module.relative_to(ROOT)}:{node.lineno}", fields))
    return events


def _event_name(node: ast.expr | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _method(call: ast.Call) -> str | None:
    return call.func.attr if isinstance(call.func, ast.Attribute) else None


def lifecycle_rows() -> dict[str, str]:
    """docs/logs.md's "Lifecycle events" table: each event name -> the rest of its row."""
    table = (ROOT / "docs" / "logs.md").read_text().split("## Lifecycle events", 1)[1]
    rows = re.findall(r"^\| (`[a-z_]+`(?:, `[a-z_]+`)*) \|(.*)$", table, re.M)
    return {name: rest for names, rest in rows for name in re.findall(r"`([a-z_]+)`", names)}


def test_every_event_the_package_logs_is_in_the_logs_docs_table() -> None:
    """Each event name the package logs (a snake_case first argument of ``.info``, ``.warning``, ..., the
    event of a ``FailureLog``, or the ``event`` of a line rendered directly) is a row of docs/logs.md's
    "Lifecycle events" table, and each row is an event the package logs."""
    logged = set(logged_events())
    logged.discard("access")  # the access line: its own section of docs/logs.md, checked in tests/server/test_access
    documented = set(lifecycle_rows())
    assert len(documented) > 20 and {"undocumented": logged - documented, "not logged": documented - logged} == {
        "undocumented": set(),
        "not logged": set(),
    }


def test_every_field_of_a_lifecycle_event_is_named_in_its_row() -> None:
    """Each field the package writes on a lifecycle event (``policy_reloaded``'s ``source``,
    ``draining``'s ``timeout_s``) is named, in backticks, in that event's row of docs/logs.md's
    "Lifecycle events" table, so an SRE writing a log query finds every field there."""
    rows = lifecycle_rows()
    missing = [
        f"{event} ({where}): {field}"
        for event, calls in logged_events().items()
        if event in rows
        for where, fields in calls
        for field in sorted(fields)
        if f"`{field}`" not in rows[event]
    ]
    assert len(rows) > 20
    assert missing == []


def logged_levels() -> dict[str, set[str]]:
    """Each event name the package logs -> the levels it is logged at: the method of a ``.info(...)``,
    ``.warning(...)``, ... call (``exception`` is an error), ``warning`` for a ``FailureLog``'s (it writes
    warnings), the ``level`` of a line rendered directly."""
    levels: dict[str, set[str]] = {}
    for module in sorted((ROOT / "sidecar").rglob("*.py")):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.Call) and _method(node) in LEVELS and node.args and _event_name(node.args[0]):
                level = str(_method(node)).replace("exception", "error")
                levels.setdefault(str(_event_name(node.args[0])), set()).add(level)
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "FailureLog":
                levels.setdefault(str(_event_name(node.args[1])), set()).add("warning")
            elif isinstance(node, ast.Dict):
                keys = {k.value: v for k, v in zip(node.keys, node.values, strict=True) if isinstance(k, ast.Constant)}
                name, level = _event_name(keys.get("event")), _event_name(keys.get("level"))
                if name and level:
                    levels.setdefault(name, set()).add(level)
    return levels


def test_the_level_of_each_lifecycle_event_is_the_one_logs_md_gives() -> None:
    """Each row of docs/logs.md's "Lifecycle events" table gives the level its event is logged at (an
    SRE's alert on ``level="error"`` or a ``SIDECAR_LOG_LEVEL=warning`` keeps what the table says)."""
    levels = logged_levels()
    rows = {event: rest.split("|")[0].strip() for event, rest in lifecycle_rows().items()}
    wrong = {
        event: (level, sorted(levels.get(event, ()))) for event, level in rows.items() if levels.get(event) != {level}
    }
    assert len(rows) > 20 and wrong == {}


def test_the_buffer_sizes_and_interval_logs_md_gives_are_the_codes() -> None:
    """docs/logs.md's stdout buffer (4 MiB, lines past it dropped) and access-line batching (every 50 ms or
    64 KiB) are the sizes and interval the code uses."""
    import inspect

    from sidecar.telemetry.log_pipe import DEFAULT_MAX_BYTES

    text = " ".join((ROOT / "docs" / "logs.md").read_text().split())
    buffer = re.search(r"a buffer of (\d+) MiB", text)
    batch = re.search(r"written together every (\d+) ms \(or every (\d+) KiB\)", text)
    defaults = inspect.signature(LineBuffer).parameters
    assert buffer and batch
    assert (int(buffer.group(1)), int(batch.group(1)), int(batch.group(2))) == (
        DEFAULT_MAX_BYTES // 2**20,
        round(defaults["interval_s"].default * 1000),
        defaults["max_bytes"].default // 1024,
    )
