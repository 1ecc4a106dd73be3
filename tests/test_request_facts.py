"""describe_request: a logged or typed request is read as the server reads it (dialect, operation, model)."""

from __future__ import annotations

import pytest

from sidecar.dialects import Dialect, Operation
from sidecar.request_facts import RequestFacts, RequestProblem, describe_request


def facts(path: str, body_model: str = "body-model", **kw: object) -> RequestFacts:
    return describe_request(path, {}, {"alt": "sse"}, {"model": body_model}, app="app", **kw)  # type: ignore[arg-type]


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
    described = facts(path)
    assert (described.dialect, described.operation, described.model) == expected


@pytest.mark.parametrize(
    "path", ["/v2/chat", "/v1beta/models/x:fly", "/openai/deployments//chat/completions", "/status"]
)
def test_a_path_the_sidecar_does_not_serve_is_a_404_problem(path: str) -> None:
    """Unknown paths and Gemini methods are refused with the server's 404, not guessed."""
    with pytest.raises(RequestProblem) as problem:
        facts(path)
    assert (problem.value.status, problem.value.code) == (404, "unknown_path")


def test_a_body_the_server_refuses_is_refused_the_same_way() -> None:
    """A chat body without a model gets the 400 the server answers, naming the parameter."""
    with pytest.raises(RequestProblem) as problem:
        describe_request("/v1/chat/completions", {}, {}, {"messages": []}, app="")
    assert (problem.value.status, problem.value.param) == (400, "model")


def test_the_app_header_names_the_calling_app_else_the_default() -> None:
    """x-sidecar-app wins over the sidecar's SIDECAR_APP, which is the default."""
    assert facts("/v1/chat/completions").app == "app"
    with_header = describe_request("/v1/messages", {"x-sidecar-app": "billing"}, {}, {"model": "m"}, app="app")
    assert with_header.app == "billing"


def test_features_are_computed_once_on_first_use() -> None:
    """RequestFacts.features reads the body on first use and gives the same object after."""
    body = {"model": "m", "messages": [{"role": "user", "content": "summarise this report please"}]}
    described = describe_request("/v1/chat/completions", {}, {}, body, app="")
    first = described.features
    assert first.turns == 1 and first.prompt_tokens > 0
    assert described.features is first
