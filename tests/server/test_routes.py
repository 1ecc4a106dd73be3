"""The router: exact paths, one-segment patterns, HEAD by GET, and the fallback for everything else."""

from __future__ import annotations

from typing import Any

import pytest

from sidecar.http1.messages import Request, Response
from sidecar.http1.request_parser import RequestHead
from sidecar.server.routes import Router


def request(method: str, path: str) -> Request:
    head = RequestHead(method, path, "", False, {}, True, False, 0)
    return Request(head, b"", conn=None)  # type: ignore[arg-type]  # the router never touches the connection


def answering(name: str) -> Any:
    async def handler(req: Request) -> Response:
        return Response(text=f"{name} {sorted(req.match_info.items())}")

    return handler


@pytest.fixture
def router() -> Router:
    routes = Router(answering("fallback"))
    routes.add("POST", "/v1/chat/completions", answering("chat"))
    routes.add("GET", "/v1/models", answering("models"))
    routes.add("POST", "/v1/models/{tail}", answering("gemini"))
    routes.add("POST", "/openai/deployments/{model}/chat/completions", answering("azure"))
    return routes


@pytest.mark.parametrize(
    ("method", "path", "answer"),
    [
        ("POST", "/v1/chat/completions", "chat []"),
        ("GET", "/v1/models", "models []"),
        ("HEAD", "/v1/models", "models []"),
        (
            "POST",
            "/v1/models/gemini-2.0-flash:generateContent",
            "gemini [('tail', 'gemini-2.0-flash:generateContent')]",
        ),
        ("POST", "/openai/deployments/gpt4o/chat/completions", "azure [('model', 'gpt4o')]"),
        ("GET", "/v1/chat/completions", "fallback []"),
        ("POST", "/v1/models/", "fallback []"),
        ("POST", "/v1/models/a/b", "fallback []"),
        ("POST", "/openai/deployments//chat/completions", "fallback []"),
        ("POST", "/v1/chat/completions/", "fallback []"),
        ("DELETE", "/nowhere", "fallback []"),
    ],
)
async def test_each_method_and_path_reaches_its_handler(router: Router, method: str, path: str, answer: str) -> None:
    """Exact paths, one non-empty segment without '/', HEAD by the GET handler; anything else to the fallback."""
    response = await router(request(method, path))
    assert isinstance(response, Response)
    assert response.body.decode() == answer


def test_two_segments_in_one_path_are_refused() -> None:
    """A path with two {name} segments is a programming error, caught when the route is added."""
    with pytest.raises(ValueError, match="one"):
        Router(answering("fallback")).add("GET", "/{a}/{b}", answering("x"))
