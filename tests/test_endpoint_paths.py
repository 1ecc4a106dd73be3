"""endpoint_for: a logged or typed path is read as the server reads it (dialect, operation, model)."""

from __future__ import annotations

import pytest

from sidecar.dialects import Dialect, Operation
from sidecar.endpoint_paths import endpoint_for


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/v1/chat/completions", (Dialect.OPENAI, Operation.CHAT, "body-model")),
        ("/v1/embeddings", (Dialect.OPENAI, Operation.EMBEDDINGS, "body-model")),
        ("/v1/messages", (Dialect.ANTHROPIC, Operation.CHAT, "body-model")),
        ("/openai/deployments/gpt-4o/chat/completions", (Dialect.OPENAI, Operation.CHAT, "gpt-4o")),
        (
            "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse",
            (Dialect.GEMINI, Operation.GENERATE_CONTENT, "gemini-2.5-pro"),
        ),
        ("/v1/models/gemini-x:embedContent", (Dialect.GEMINI, Operation.EMBEDDINGS, "gemini-x")),
    ],
)
def test_a_served_path_gives_dialect_operation_and_model(path: str, expected: tuple[Dialect, Operation, str]) -> None:
    """Each kind of served path: the model from the body, or from the path (Azure, Gemini)."""
    assert endpoint_for(path, "body-model") == expected


@pytest.mark.parametrize(
    "path", ["/v2/chat", "/v1beta/models/x:fly", "/openai/deployments//chat/completions", "/status"]
)
def test_a_path_the_sidecar_does_not_serve_is_a_value_error(path: str) -> None:
    """Unknown paths and Gemini methods are refused with ValueError, not guessed."""
    with pytest.raises(ValueError, match="not a path the sidecar serves"):
        endpoint_for(path, "m")
