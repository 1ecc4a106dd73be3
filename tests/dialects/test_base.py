"""Endpoint templates: a path matches exactly, and a ``{name}`` is one non-empty path segment."""

from __future__ import annotations

from sidecar.dialects import Dialect, Operation
from sidecar.dialects.base import Endpoint


def test_a_fixed_path_matches_only_itself_with_an_empty_parameter() -> None:
    """A template without a parameter matches its exact path and gives ``""``."""
    endpoint = Endpoint(Dialect.OPENAI, Operation.CHAT, "/v1/chat/completions")
    assert endpoint.match("/v1/chat/completions") == ""
    assert endpoint.match("/v1/chat/completions/") is None


def test_a_parameter_is_one_segment_taken_verbatim() -> None:
    """``{model}`` captures one segment (dots and colons included), never an empty one or a slash."""
    endpoint = Endpoint(Dialect.OPENAI, Operation.CHAT, "/openai/deployments/{model}/chat/completions", True)
    assert endpoint.match("/openai/deployments/gpt-4o.prod:1/chat/completions") == "gpt-4o.prod:1"
    assert endpoint.match("/openai/deployments//chat/completions") is None
    assert endpoint.match("/openai/deployments/a/b/chat/completions") is None
