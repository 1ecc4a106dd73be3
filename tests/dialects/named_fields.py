"""What the field checks' tests share (``tests/dialects/*/test_fields.py``): a chat request translated
from one dialect to another, and the check that a field is refused by its name under "error" and dropped,
listed alone, under "drop"."""

from __future__ import annotations

from typing import Any

import pytest

from sidecar.dialects import Dialect, Operation
from sidecar.translate import TranslateOptions, UnsupportedParameter, translate_request

DROP = TranslateOptions(unsupported="drop")
ERROR = TranslateOptions()


def translated(body: dict[str, Any], source: Dialect, target: Dialect, options: TranslateOptions = ERROR) -> Any:
    """The upstream body and the dropped names."""
    return translate_request(
        body, source=source, target=target, operation=Operation.CHAT, target_model="m", options=options
    )[:2]


def assert_refused_then_listed(body: dict[str, Any], source: Dialect, target: Dialect, name: str) -> None:
    """``body`` is refused naming ``name`` under "error", and under "drop" translated with ``name`` the one
    name listed."""
    with pytest.raises(UnsupportedParameter) as info:
        translated(body, source, target)
    assert info.value.name == name
    assert translated(body, source, target, DROP)[1] == [name]
