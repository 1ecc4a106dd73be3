"""What routing knows about a request: ``RequestFeatures``, computed once from the parsed body.

``extract_features(body, dialect, operation, stream=...)`` walks the body as the app sent it (no
translation to the common form) with the walker of its dialect and operation (in the dialect's
package: ``registry.feature_walker``), collecting into a ``Tally`` (the ``dialects.walking.Tally``
protocol): the texts whose tokens are estimated in one pass (``tokens.estimate_joined``), the media
parts by kind, the tools and structured values (estimated from their JSON), the system prompt and the
last user message. It never raises: a body the translation layer would reject still gets features (it
is rejected later, in the caller's dialect, by the code that owns that answer).

The usual OpenAI chat body (every message's content a string, no tools, tool calls or response format)
is read by ``plain_chat`` instead, straight into ``RequestFeatures`` with no ``Tally``: the same
features (a test compares the two on generated bodies) for about 10,000 instructions less a request.

The texts the rules and the learned model read are windows, not the whole text: the first
``USER_HEAD`` and last ``USER_TAIL`` characters of the last user message, the first ``SYSTEM_HEAD`` and
last ``SYSTEM_TAIL`` of the system prompt. An app states its task at the start of its instructions
or at the end of a pasted document, and a bounded window keeps routing's cost flat: scanning a
32 KB prompt with a regular expression costs milliseconds, a window of at most 1.3 KB tens of microseconds.

Media are counted at fixed token costs (``IMAGE_TOKENS`` etc.; images, audio and video vary by
provider and size, see docs/routing.md), but for a document sent inline: a PDF by its pages, a text
file by its text (``documents.document_tokens``); every message adds ``MESSAGE_TOKENS`` for its framing.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import orjson

from ..dialects import Dialect, Operation
from ..dialects.registry import FEATURE_WALKERS
from .documents import FILE_TOKENS, document_tokens
from .tokens import estimate_bytes, estimate_joined

USER_HEAD, USER_TAIL = 1024, 256
SYSTEM_HEAD, SYSTEM_TAIL = 512, 128
_USER_WINDOW, _SYSTEM_WINDOW = USER_HEAD + USER_TAIL, SYSTEM_HEAD + SYSTEM_TAIL  # a longer text is windowed

MESSAGE_TOKENS = 4  # role and separators around each message (OpenAI documents 3-4)
IMAGE_TOKENS = 800  # OpenAI high detail 1024x1024: 765; Anthropic up to ~1,600; Gemini 258
AUDIO_TOKENS = 1000  # about 30 s (Gemini counts 32 tokens per second)
VIDEO_TOKENS = 8000  # about 30 s at Gemini's 263 tokens per second


@dataclass(slots=True, kw_only=True)
class RequestFeatures:
    """The facts routing reads about one request; ``texts`` are the windows rules and the model read.

    Immutable by convention, made once per request, every field by name: the dataclass's ``__init__``
    takes keywords only (mypy checks each, none can be swapped); the two builders of every request store
    each field by name on a blank instead (``_blank``: a call of sixteen keywords is slow). A slotted class,
    not a named tuple: Python 3.11 specializes a slot's read (``LOAD_ATTR_SLOT``) and leaves a tuple
    subclass's subscript or field read generic (docs/benchmarks.md, "Wave 52 `route53`"). A changed copy
    is ``dataclasses.replace`` (a capped request's); ``as_dict`` gives the fields by name in their order."""

    prompt_tokens: int
    max_output_tokens: int | None
    turns: int
    tools: int
    tool_choice_forced: bool
    images: int
    audio: int
    video: int
    files: int
    json_mode: bool
    json_schema: bool
    stream: bool
    last_user_chars: int
    system_text: str
    last_user_text: str
    thinking: bool = False

    def as_dict(self) -> dict[str, Any]:
        """The fields by name, in their order (``FIELDS``)."""
        return {name: getattr(self, name) for name in FIELDS}


FIELDS: tuple[str, ...] = tuple(field.name for field in fields(RequestFeatures))
"""``RequestFeatures``' fields in their order."""


class Tally:
    """What a dialect walker collects; ``features()`` turns it into ``RequestFeatures``.

    Slotted, every field set in ``__init__`` (counts 0, flags false): reading a slot is cheaper than
    reading a class-level default through the instance (``bench/routing_instructions.py``: 2,000
    instructions a request less than class-level defaults)."""

    __slots__ = (
        "audio",
        "file_tokens",
        "files",
        "images",
        "json_mode",
        "json_schema",
        "last_user",
        "max_output_tokens",
        "messages",
        "stream",
        "structured",
        "system",
        "texts",
        "thinking",
        "tool_choice_forced",
        "tools",
        "video",
    )

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.structured: list[Any] = []
        self.system: list[str] = []
        self.last_user: list[str] = []
        self.messages = self.tools = self.images = self.audio = self.video = self.files = self.file_tokens = 0
        self.tool_choice_forced = self.json_mode = self.json_schema = self.stream = self.thinking = False
        self.max_output_tokens: int | None = None

    def text(self, value: Any) -> None:
        if isinstance(value, str) and value:
            self.texts.append(value)

    def media(self, mime: Any, kind: str = "") -> None:
        """One media part, by MIME type (``image/png``) or, when the type is unknown, by ``kind``."""
        major = mime.partition("/")[0] if isinstance(mime, str) and mime else kind
        if major == "image":
            self.images += 1
        elif major == "audio":
            self.audio += 1
        elif major == "video":
            self.video += 1
        else:
            self.files += 1
            self.file_tokens += FILE_TOKENS

    def document(self, mime: Any, data: Any) -> None:
        """One file sent inline: ``data`` its base64, ``mime`` its type (a PDF counts its pages, a text
        file its text: ``documents.document_tokens``); an image, audio or video is ``media``."""
        if isinstance(mime, str) and mime.partition("/")[0] in ("image", "audio", "video"):
            self.media(mime)
            return
        self.files += 1
        self.file_tokens += document_tokens(mime if isinstance(mime, str) else "", data)

    def output_limit(self, value: Any) -> None:
        """The request's output maximum when ``value`` is one (``bodies.positive``, without the call)."""
        if type(value) is int and value > 0:  # a bool is not one (its type is bool)
            self.max_output_tokens = value

    def features(self) -> RequestFeatures:
        tokens = estimate_joined(self.texts) + MESSAGE_TOKENS * self.messages
        if self.structured:
            try:
                tokens += estimate_bytes(orjson.dumps(self.structured))
            except (orjson.JSONEncodeError, TypeError):  # an integer past 64 bits
                tokens += sum(len(str(value)) for value in self.structured) // 3
        if self.images or self.audio or self.video or self.files:
            tokens += (
                IMAGE_TOKENS * self.images + AUDIO_TOKENS * self.audio + VIDEO_TOKENS * self.video + self.file_tokens
            )
        last_user, system = self.last_user, self.system
        user = last_user[0] if len(last_user) == 1 else "\n".join(last_user)
        system_text = system_window(system)
        features = _blank(RequestFeatures)  # every field stored by name (``_blank``)
        features.prompt_tokens = tokens
        features.max_output_tokens = self.max_output_tokens
        features.turns = self.messages
        features.tools = self.tools
        features.tool_choice_forced = self.tool_choice_forced
        features.images = self.images
        features.audio = self.audio
        features.video = self.video
        features.files = self.files
        features.json_mode = self.json_mode or self.json_schema
        features.json_schema = self.json_schema
        features.stream = self.stream
        features.last_user_chars = len(user)
        features.system_text = system_text
        features.last_user_text = window(user, USER_HEAD, USER_TAIL) if len(user) > USER_HEAD + USER_TAIL else user
        features.thinking = self.thinking
        return features


_blank = object.__new__
"""A ``RequestFeatures`` without its fields, for the two builders of every request (``Tally.features``,
``plain_chat``) to store each by name: mypy checks each store's type, and a field left out fails every
test reading the features (``tests/routing/test_features.py`` compares all of them). Python 3.11 makes a
call with sixteen keywords slow (``__init__``'s: some 11,000 instructions against some 2,200 for the
blank and the sixteen slot stores; docs/benchmarks.md, "Wave 52 `route53`")."""


def system_window(system: list[str]) -> str:
    """The system prompt's window: its texts joined by line breaks, windowed when long."""
    text = system[0] if len(system) == 1 else "\n".join(system)
    return window(text, SYSTEM_HEAD, SYSTEM_TAIL) if len(text) > SYSTEM_HEAD + SYSTEM_TAIL else text


_NOT_PLAIN_CHAT = frozenset(
    ("tools", "functions", "tool_choice", "function_call", "response_format", "reasoning_effort")
)
"""An OpenAI chat body's fields that only the walker reads (``plain_chat`` leaves such a body to it)."""


def plain_chat(body: dict[str, Any], stream: bool | None) -> RequestFeatures | None:
    """The features of the usual OpenAI chat body, without a ``Tally``: every message an object whose
    ``content`` is a string and that has no ``tool_calls``, and none of ``_NOT_PLAIN_CHAT``; else None
    (the dialect's walker reads it). The same features as the walker (``dialects.openai.features.chat``)
    and ``Tally.features`` (tests/routing/test_features.py compares them), a third fewer instructions."""
    if not _NOT_PLAIN_CHAT.isdisjoint(body):  # one C call over the body's keys, not a loop of five tests
        return None
    messages = body.get("messages")
    if type(messages) is not list:
        return None
    texts: list[str] = []
    system = ""  # the system texts joined by line breaks, as ``system_window`` joins them
    last_user = ""
    turns = 0
    for message in messages:
        if type(message) is not dict or "tool_calls" in message:
            return None
        content = message.get("content")
        if type(content) is not str:
            return None
        role = message.get("role")
        if role == "system" or role == "developer":
            if content:
                texts.append(content)
                system = system + "\n" + content if system else content
            continue
        turns += 1
        if content:
            texts.append(content)
            if role == "user":
                last_user = content
    # ``body.get("max_completion_tokens", body.get("max_tokens"))`` with one method call, not two
    limit = body["max_completion_tokens"] if "max_completion_tokens" in body else body.get("max_tokens")
    features = _blank(RequestFeatures)  # every field stored by name (``_blank``)
    # ``estimate_joined(texts)``, without its frame
    features.prompt_tokens = (
        estimate_bytes(" ".join(texts).encode("utf-8", "surrogatepass"), len(texts) - 1) + MESSAGE_TOKENS * turns
    )
    features.max_output_tokens = limit if type(limit) is int and limit > 0 else None  # a bool is not one
    features.turns = turns
    features.tools = features.images = features.audio = features.video = features.files = 0
    features.tool_choice_forced = features.json_mode = features.json_schema = features.thinking = False
    features.stream = body.get("stream") is True if stream is None else stream
    features.last_user_chars = len(last_user)
    features.system_text = window(system, SYSTEM_HEAD, SYSTEM_TAIL) if len(system) > _SYSTEM_WINDOW else system
    features.last_user_text = window(last_user, USER_HEAD, USER_TAIL) if len(last_user) > _USER_WINDOW else last_user
    return features


def window(text: str, head: int, tail: int) -> str:
    """``text`` when short, else its first ``head`` and last ``tail`` characters joined by a line break."""
    if len(text) <= head + tail:
        return text
    return text[:head] + "\n" + text[-tail:]


_OPENAI, _CHAT = Dialect.OPENAI, Operation.CHAT  # globals: an Enum member read off its class costs a look-up


def extract_features(
    body: Any, dialect: Dialect, operation: Operation, *, stream: bool | None = None
) -> RequestFeatures:
    """The features of a request body in ``dialect``; ``stream`` for Gemini, whose body does not say it."""
    if dialect is _OPENAI and operation is _CHAT and type(body) is dict:
        features = plain_chat(body, stream)
        if features is not None:
            return features
    tally = Tally()
    if isinstance(body, dict):
        walker = FEATURE_WALKERS.get((dialect, operation))  # ``registry.feature_walker``, without the call
        if walker is not None:
            walker(body, tally)
    if stream is not None:
        tally.stream = stream
    return tally.features()
