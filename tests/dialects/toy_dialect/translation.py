"""The toy dialect's translation: requests, responses and streams to and from the common form."""

from __future__ import annotations

from typing import Any

import orjson

from ...sse import SSEEvent
from ...translate.bundles import Translation
from ...translate.common import ChatRequest, ChatResponse, FinishReason, RequestParams, Usage
from ...translate.deltas import Delta, End, Failure, Finish, Start, Text, UsageSeen
from ...translate.options import Drops, TranslateOptions
from ...translate.stream_in import failure_of, load_data
from ...translate.stream_out import frame, json_event
from .. import Dialect
from ..errors import ErrorCondition

TOY = Dialect("toy")
"""The dialect's name, made once (``wire`` holds it as its ``dialect``)."""

_FINISH_FROM = {"end": FinishReason.STOP, "limit": FinishReason.LENGTH}


def parse_request(body: dict[str, Any], drops: Drops) -> ChatRequest:
    prompt = body["prompt"]
    return {
        "system": [],
        "messages": [{"role": "user", "parts": [{"type": "text", "text": prompt}]}],
        "stream": bool(body.get("stream")),
    }


def build_request(req: ChatRequest, model: str, drops: Drops, options: TranslateOptions) -> dict[str, Any]:
    texts = [part["text"] for message in req["messages"] for part in message["parts"] if part["type"] == "text"]
    return {"model": model, "prompt": "\n".join([*req.get("system", []), *texts]), "stream": bool(req.get("stream"))}


def _usage(tokens: Any) -> Usage | None:
    if not isinstance(tokens, dict):
        return None
    return Usage(input_tokens=int(tokens.get("in", 0)), output_tokens=int(tokens.get("out", 0)))


def parse_response(body: dict[str, Any]) -> ChatResponse:
    return {
        "id": body.get("id"),
        "choices": [
            {
                "parts": [{"type": "text", "text": body["text"]}],
                "finish_reason": _FINISH_FROM.get(body.get("stop", "end"), FinishReason.OTHER),
                "stop_sequence": None,
            }
        ],
        "usage": _usage(body.get("tokens")),
    }


def build_response(resp: ChatResponse, model: str) -> dict[str, Any]:
    choice = resp["choices"][0]
    text = "".join(part["text"] for part in choice["parts"] if part["type"] == "text")
    usage = resp["usage"] or Usage()
    stop = "limit" if choice["finish_reason"] is FinishReason.LENGTH else "end"
    return {
        "id": resp["id"] or "toy-0",
        "model": model,
        "text": text,
        "stop": stop,
        "tokens": {"in": usage.input_tokens, "out": usage.output_tokens},
    }


def usage_of(body: dict[str, Any]) -> Usage | None:
    return _usage(body.get("tokens"))


def stream_usage(event: SSEEvent, earlier: Usage | None = None) -> Usage | None:
    if event.event != "done":
        return None
    data = load_data(event.data)
    return _usage(data.get("tokens")) if isinstance(data, dict) else None


def request_params(body: dict[str, Any]) -> RequestParams:
    model = body.get("model")
    return RequestParams(model=model if isinstance(model, str) else None)


def error_body(
    status: int,
    message: str,
    *,
    code: str | None = None,
    param: str | None = None,
    condition: ErrorCondition | None = None,
) -> dict[str, Any]:
    """The toy's error; another provider's error names its condition (``kind``), as a dialect's provider
    words it (the real dialects' ``response.ERROR_WORDS``)."""
    error: dict[str, Any] = {"message": message, "status": status}
    if condition is not None:
        error["kind"] = condition.value
    return {"error": error}


def error_event(
    status: int, message: str, *, code: str | None = None, condition: ErrorCondition | None = None
) -> SSEEvent:
    return json_event(error_body(status, message, condition=condition), "error")


class ToyDecoder:
    __slots__ = ("_started",)

    def __init__(self) -> None:
        self._started = False

    def feed(self, event: SSEEvent) -> list[Delta]:
        data = load_data(event.data)
        if not isinstance(data, dict):
            return []
        if event.event == "error":
            return [failure_of(TOY, data.get("error"))]
        out: list[Delta] = []
        if not self._started:
            self._started = True
            out.append(Start(None))
        if event.event == "done":
            stop = str(data.get("stop", "end"))
            out.append(Finish(_FINISH_FROM.get(stop, FinishReason.OTHER), stop))
            usage = _usage(data.get("tokens"))
            if usage is not None:
                out.append(UsageSeen(usage))
            out.append(End())
        elif data.get("text"):
            out.append(Text(data["text"]))
        return out


class ToyEncoder:
    __slots__ = ("_closed", "_stop", "_usage")

    def __init__(self, model: str, include_usage: bool) -> None:
        self._closed = False
        self._stop = "end"
        self._usage = Usage()

    def feed(self, delta: Delta) -> list[SSEEvent]:
        if self._closed:
            return []
        if isinstance(delta, Text):
            return [frame(orjson.dumps({"text": delta.text}))]
        if isinstance(delta, Finish):
            self._stop = "limit" if delta.reason is FinishReason.LENGTH else "end"
        elif isinstance(delta, UsageSeen):
            self._usage = delta.usage
        elif isinstance(delta, End):
            return self.close()
        elif isinstance(delta, Failure):
            self._closed = True
            return [error_event(delta.status, delta.message, condition=delta.condition)]
        return []

    def close(self) -> list[SSEEvent]:
        if self._closed:
            return []
        self._closed = True
        tokens = {"in": self._usage.input_tokens, "out": self._usage.output_tokens}
        return [json_event({"stop": self._stop, "tokens": tokens}, "done")]


TRANSLATION = Translation(
    parse_request=parse_request,
    build_request=build_request,
    parse_response=parse_response,
    build_response=build_response,
    decoder=ToyDecoder,
    encoder=ToyEncoder,
    usage=usage_of,
    stream_usage=stream_usage,
    request_params=request_params,
    error_body=error_body,
    error_event=error_event,
)
