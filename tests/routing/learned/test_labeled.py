"""Reading labeled JSONL: the three request forms, and errors with line numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from sidecar.routing.learned.labeled import LabeledFileError, read_labeled


def test_text_messages_and_body_forms(tmp_path: Path) -> None:
    """text (with system), OpenAI messages and a body in another dialect all give features and labels."""
    path = tmp_path / "l.jsonl"
    path.write_text(
        '{"text": "extract the date", "system": "You read invoices.", "task": "extraction"}\n'
        "# a comment\n\n"
        '{"messages": [{"role": "user", "content": "prove it"}], "complexity": "complex"}\n'
        '{"body": {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 5, "tools": [{"name": "t"}]},'
        ' "dialect": "anthropic", "task": "chat"}\n'
    )
    examples = read_labeled(path)
    assert [e.line for e in examples] == [1, 4, 5]
    assert examples[0].features.system_text == "You read invoices."
    assert examples[1].labels == {"complexity": "complex"}
    assert examples[2].features.tools == 1


def test_every_bad_line_is_reported(tmp_path: Path) -> None:
    """Bad JSON, a missing label, a missing request and an unknown dialect: one error per line, numbered."""
    path = tmp_path / "l.jsonl"
    path.write_text(
        '{"text": "a", "task": "x"}\nnot json\n{"text": "b"}\n{"task": "x"}\n'
        '{"body": {}, "dialect": "klingon", "task": "x"}\n'
    )
    with pytest.raises(LabeledFileError) as caught:
        read_labeled(path)
    assert [e.split(": ", 1)[0] for e in caught.value.errors] == [f"{path}:{n}" for n in (2, 3, 4, 5)]
    assert "no label" in caught.value.errors[1] and "needs text, messages or body" in caught.value.errors[2]
