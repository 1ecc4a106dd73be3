"""Each dialect's translation functions, gathered: one ``Translation`` per dialect, in ``TRANSLATIONS``.

The facade (``translate.__init__``), the usage readers, the error builders and the stream factories
pick a dialect's functions here; the dialect's object (``dialects``) refers to the same bundle as
its ``translation``. A new dialect's translation module gets one ``case`` in ``_bundle``.

The non-chat conversions are pairwise: ``requests_from[(operation, caller)]`` turns another dialect's
request into this one's, ``responses_to[(operation, caller)]`` this dialect's response into another's
(OpenAI embeddings <-> Gemini embedContent / batchEmbedContents, Anthropic count_tokens <-> Gemini
countTokens).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, assert_never

from ..dialects import Dialect, Operation
from ..sse import SSEEvent
from . import (
    anthropic,
    anthropic_response,
    count_tokens,
    embeddings,
    gemini,
    gemini_response,
    openai,
    openai_response,
    stream_in,
    stream_out,
)
from .common import ChatRequest, ChatResponse, Drops, RequestParams, TranslateOptions, Usage
from .usage import anthropic_params, gemini_params, openai_params

if TYPE_CHECKING:
    from .stream import StreamDecoder, StreamEncoder

RequestConverter = Callable[[dict[str, Any], str, Drops, TranslateOptions], dict[str, Any]]
"""A non-chat request of another dialect as this dialect's body: ``(body, target model, drops, options)``."""
ResponseConverter = Callable[[dict[str, Any], str], dict[str, Any]]
"""A non-chat response of this dialect as another dialect's body: ``(body, reported model)``."""


class ErrorBody(Protocol):
    def __call__(
        self, status: int, message: str, *, code: str | None = None, param: str | None = None
    ) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class Translation:
    """One dialect's functions: chat requests, responses and streams to and from the common form, the
    non-chat conversions it has with other dialects, the readers of usage and request parameters, its
    error body and error event."""

    parse_request: Callable[[dict[str, Any], Drops], ChatRequest]
    build_request: Callable[[ChatRequest, str, Drops, TranslateOptions], dict[str, Any]]
    parse_response: Callable[[dict[str, Any]], ChatResponse]
    build_response: Callable[[ChatResponse, str], dict[str, Any]]
    decoder: Callable[[], StreamDecoder]
    """A decoder of one chat stream's events into common deltas."""
    encoder: Callable[[str, bool], StreamEncoder]
    """An encoder of common deltas into one caller's chat stream: ``(reported model, include_usage)``."""
    usage: Callable[[dict[str, Any]], Usage | None]
    """Usage of a whole (non-stream) response; None when it reports none."""
    stream_usage: Callable[[SSEEvent], Usage | None]
    """Usage carried by one stream event, if any (cumulative: combine with ``Usage.merge``)."""
    request_params: Callable[[dict[str, Any]], RequestParams]
    """The generation parameters of a request body (span attributes)."""
    error_body: ErrorBody
    """The JSON error body the dialect's SDK expects: ``(status, message, *, code, param)``."""
    error_event: Callable[[int, str], SSEEvent]
    """The event that makes the caller's SDK raise after a mid-stream failure."""
    requests_from: Mapping[tuple[Operation, Dialect], RequestConverter] = field(default_factory=dict)
    responses_to: Mapping[tuple[Operation, Dialect], ResponseConverter] = field(default_factory=dict)


def _openai_embeddings_from_gemini(
    body: dict[str, Any], model: str, drops: Drops, options: TranslateOptions
) -> dict[str, Any]:
    return embeddings.gemini_to_openai(body, model, drops)


def _openai_embeddings_to_gemini(body: dict[str, Any], model: str) -> dict[str, Any]:
    return embeddings.openai_response_to_gemini(body)


def _gemini_embeddings_from_openai(
    body: dict[str, Any], model: str, drops: Drops, options: TranslateOptions
) -> dict[str, Any]:
    return embeddings.openai_to_gemini(body, model, drops)


def _gemini_count_to_anthropic(body: dict[str, Any], model: str) -> dict[str, Any]:
    return count_tokens.gemini_response_to_anthropic(body)


def _anthropic_count_to_gemini(body: dict[str, Any], model: str) -> dict[str, Any]:
    return count_tokens.anthropic_response_to_gemini(body)


def _anthropic_encoder(model: str, include_usage: bool) -> StreamEncoder:
    return stream_out.AnthropicEncoder(model)  # usage always goes to an Anthropic caller


def _gemini_encoder(model: str, include_usage: bool) -> StreamEncoder:
    return stream_out.GeminiEncoder(model)  # usage always goes to a Gemini caller


def _bundle(dialect: Dialect) -> Translation:
    match dialect:
        case Dialect.OPENAI:
            return Translation(
                parse_request=openai.parse_request,
                build_request=openai.build_request,
                parse_response=openai_response.parse_response,
                build_response=openai_response.build_response,
                decoder=stream_in.OpenAIDecoder,
                encoder=stream_out.OpenAIEncoder,
                usage=openai_response.usage_of,
                stream_usage=openai_response.stream_usage,
                request_params=openai_params,
                error_body=openai_response.error_body,
                error_event=openai_response.error_event,
                requests_from={(Operation.EMBEDDINGS, Dialect.GEMINI): _openai_embeddings_from_gemini},
                responses_to={(Operation.EMBEDDINGS, Dialect.GEMINI): _openai_embeddings_to_gemini},
            )
        case Dialect.ANTHROPIC:
            return Translation(
                parse_request=anthropic.parse_request,
                build_request=anthropic.build_request,
                parse_response=anthropic_response.parse_response,
                build_response=anthropic_response.build_response,
                decoder=stream_in.AnthropicDecoder,
                encoder=_anthropic_encoder,
                usage=anthropic_response.usage_of,
                stream_usage=anthropic_response.stream_usage,
                request_params=anthropic_params,
                error_body=anthropic_response.error_body,
                error_event=anthropic_response.error_event,
                requests_from={(Operation.COUNT_TOKENS, Dialect.GEMINI): count_tokens.gemini_to_anthropic},
                responses_to={(Operation.COUNT_TOKENS, Dialect.GEMINI): _anthropic_count_to_gemini},
            )
        case Dialect.GEMINI:
            return Translation(
                parse_request=gemini.parse_request,
                build_request=gemini.build_request,
                parse_response=gemini_response.parse_response,
                build_response=gemini_response.build_response,
                decoder=stream_in.GeminiDecoder,
                encoder=_gemini_encoder,
                usage=gemini_response.usage_of,
                stream_usage=gemini_response.stream_usage,
                request_params=gemini_params,
                error_body=gemini_response.error_body,
                error_event=gemini_response.error_event,
                requests_from={
                    (Operation.EMBEDDINGS, Dialect.OPENAI): _gemini_embeddings_from_openai,
                    (Operation.COUNT_TOKENS, Dialect.ANTHROPIC): count_tokens.anthropic_to_gemini,
                },
                responses_to={
                    (Operation.EMBEDDINGS, Dialect.OPENAI): embeddings.gemini_response_to_openai,
                    (Operation.COUNT_TOKENS, Dialect.ANTHROPIC): _gemini_count_to_anthropic,
                },
            )
        case _:
            assert_never(dialect)


TRANSLATIONS: Mapping[Dialect, Translation] = {dialect: _bundle(dialect) for dialect in Dialect}
