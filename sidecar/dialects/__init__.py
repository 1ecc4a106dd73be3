"""The wire dialects an app may speak, the kinds of provider the sidecar calls, and the registry that
holds what each one is.

A *dialect* is an API family: the paths, the request and response bodies, the stream framing and the
error body (OpenAI, Anthropic, Gemini). A *provider kind* is how one upstream API is reached: which
dialect it speaks, how its URL and its key header are formed (OpenAI and the OpenAI-compatible
servers, Azure OpenAI, Anthropic, Gemini, and the fake provider, which speaks any dialect). An
*operation* is what a request asks for, independent of dialect (``chat``, ``embeddings``...); its
value is the OpenTelemetry ``gen_ai.operation.name``.

Map of the package::

    __init__    Dialect, Operation, ProviderKind: the names (no behaviour; imported by every layer)
    errors      STATUS_BY_ERROR_TYPE, status_of_error: an error's type or status name as an HTTP status
    base        WireDialect and ProviderAPI: what one dialect / one provider kind must provide;
                Endpoint (a path the app calls), RequestShape, RequestProblem, NoEquivalentOperation
    openai      the OpenAI dialect; the openai and azure-openai provider kinds
    anthropic   the Anthropic dialect and provider kind
    gemini      the Gemini dialect and provider kind
    fake        the fake provider kind (speaks the caller's dialect, or the one it is told to)
    registry    wire(dialect) -> WireDialect, provider_api(kind) -> ProviderAPI, every endpoint served,
                error_body(dialect, ...): the only place that lists the dialects and provider kinds

Code that needs a dialect's behaviour asks the registry (``wire(dialect).is_terminal(...)``): nothing
outside ``registry`` branches on a dialect to pick behaviour. Translation stays in ``translate`` (one
pure module per dialect); a dialect object refers to its functions. Adding a dialect is a module here
(and its translation module), a member of ``Dialect`` and one line in ``registry``: docs/dialects.md.

``registry`` is not imported here: it imports ``translate``, which imports these names.
"""

from __future__ import annotations

import enum


class Dialect(enum.StrEnum):
    OPENAI = "openai"
    ANTHROPIC = "anthropic"
    GEMINI = "gemini"


class Operation(enum.StrEnum):
    CHAT = "chat"
    TEXT_COMPLETION = "text_completion"
    EMBEDDINGS = "embeddings"
    RESPONSES = "responses"
    GENERATE_CONTENT = "generate_content"
    COUNT_TOKENS = "count_tokens"


class ProviderKind(enum.StrEnum):
    """A provider's ``kind`` in the policy: how its API is reached and which dialect it speaks."""

    OPENAI = "openai"
    AZURE_OPENAI = "azure-openai"
    ANTHROPIC = "anthropic"
    GEMINI = "gemini"
    FAKE = "fake"


CHAT_OPERATIONS = frozenset({Operation.CHAT, Operation.GENERATE_CONTENT})
"""The operations that are a chat in every dialect (Gemini calls it generateContent)."""
