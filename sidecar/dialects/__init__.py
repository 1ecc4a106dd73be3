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
    errors      what an upstream's error says, read once: STATUS_BY_ERROR_TYPE / status_of_error (an error's
                type or status name as an HTTP status), ErrorInfo and the quota / overload / overflow
                matchers, ErrorCondition / condition_of (what it stands for, which each dialect's
                response.ERROR_WORDS words in its provider's type and code)
    base        WireDialect and ProviderAPI: what one dialect / one provider kind must provide;
                Endpoint (a path the app calls), RequestShape, RequestProblem, NoEquivalentOperation
    openai/     the OpenAI dialect; the openai and azure-openai provider kinds   } one package per
    anthropic/  the Anthropic dialect and provider kind                          } dialect: wire,
    gemini/     the Gemini dialect and provider kind                             } translation, request,
                                                                                 } response, decoder, encoder
    fake        the fake provider kind (speaks the caller's dialect, or the one it is told to)
    registry    PACKAGES (the only list of the dialects), wire(dialect) -> WireDialect,
                provider_api(kind) -> ProviderAPI, dialect_named (a name's one dialect instance),
                TRANSLATIONS, every endpoint served, error_body(dialect, ...),
                feature_walker(dialect, operation) (routing's features of a body)
    walking     what a dialect's feature walkers fill (the Tally protocol) and the readers they share

Code that needs a dialect's behaviour asks the registry (``wire(dialect).is_terminal(...)``): nothing
outside ``registry`` branches on a dialect to pick behaviour. Each dialect's package holds its whole
translation (pure modules over ``translate``'s common form) and what the features need of its bodies
(``bodies``) and routing's feature walkers (``features``) next to its object. Adding a dialect is a
package here, which names itself (``Dialect("...")``), and its name in ``registry.PACKAGES``:
docs/dialects.md.

Neither ``registry`` nor the dialects' packages are imported here: they import ``translate``, which
imports these names.
"""

from __future__ import annotations

import enum
from typing import ClassVar


class _Name(str):
    """A typed name (a ``str`` that mypy keeps apart from other strings)."""

    __slots__ = ()

    @property
    def value(self) -> str:
        """The name as a plain ``str``."""
        return str.__str__(self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str.__repr__(self)})"


class Dialect(_Name):
    """A wire dialect's name (``"openai"``). Its behaviour is its object, ``registry.wire(dialect)``.

    A name, not an enum: a dialect's package makes its own (``Dialect("toy")``) and the registry keeps
    the one instance of each (``registry.dialect_named``, the policy's validator), so ``is`` compares
    them as it compared enum members. The names the sidecar's own code refers to are attributes here.
    """

    __slots__ = ()
    OPENAI: ClassVar[Dialect]
    ANTHROPIC: ClassVar[Dialect]
    GEMINI: ClassVar[Dialect]


Dialect.OPENAI = Dialect("openai")
Dialect.ANTHROPIC = Dialect("anthropic")
Dialect.GEMINI = Dialect("gemini")


class Operation(enum.StrEnum):
    CHAT = "chat"
    TEXT_COMPLETION = "text_completion"
    EMBEDDINGS = "embeddings"
    RESPONSES = "responses"
    GENERATE_CONTENT = "generate_content"
    COUNT_TOKENS = "count_tokens"


class ProviderKind(_Name):
    """A provider's ``kind`` in the policy: how its API is reached and which dialect it speaks. A name, as
    ``Dialect`` is: its object is ``registry.provider_api(kind)``; a dialect's package makes its own."""

    __slots__ = ()
    OPENAI: ClassVar[ProviderKind]
    AZURE_OPENAI: ClassVar[ProviderKind]
    ANTHROPIC: ClassVar[ProviderKind]
    GEMINI: ClassVar[ProviderKind]
    FAKE: ClassVar[ProviderKind]


ProviderKind.OPENAI = ProviderKind("openai")
ProviderKind.AZURE_OPENAI = ProviderKind("azure-openai")
ProviderKind.ANTHROPIC = ProviderKind("anthropic")
ProviderKind.GEMINI = ProviderKind("gemini")
ProviderKind.FAKE = ProviderKind("fake")


CHAT_OPERATIONS = frozenset({Operation.CHAT, Operation.GENERATE_CONTENT})
"""The operations that are a chat in every dialect (Gemini calls it generateContent)."""
