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
    openai/     the OpenAI dialect; the openai and azure-openai provider kinds   } one package per
    anthropic/  the Anthropic dialect and provider kind                          } dialect: wire,
    gemini/     the Gemini dialect and provider kind                             } translation, request,
                                                                                 } response, decoder, encoder
    fake        the fake provider kind (speaks the caller's dialect, or the one it is told to)
    registry    wire(dialect) -> WireDialect, provider_api(kind) -> ProviderAPI, TRANSLATIONS, every
                endpoint served, error_body(dialect, ...): the only place that lists the dialects and
                provider kinds

Code that needs a dialect's behaviour asks the registry (``wire(dialect).is_terminal(...)``): nothing
outside ``registry`` branches on a dialect to pick behaviour. Each dialect's package holds its whole
translation (pure modules over ``translate``'s common form) next to its object. Adding a dialect is a
package here, a member of ``Dialect`` (and ``ProviderKind``) and its lines in ``registry``:
docs/dialects.md.

Neither ``registry`` nor the dialects' packages are imported here: they import ``translate``, which
imports these names.
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
