"""What a reservation assumes about a request: its prompt tokens and its output maximum, cheaply.

``estimate_request(facts, raw)`` returns ``(prompt_tokens, max_output_tokens)``:

    routing already read the request's features   -> theirs (the precise estimator, already paid for)
    the body may carry media its dialect's walker  -> the features, computed now (base64 bytes are
      counts, or escaped non-ASCII text               not tokens, a URL is not the image: media count
      (``walk_markers``)                              at fixed costs there)
    otherwise                                      -> (body bytes + 2 x its digits) / BYTES_PER_TOKEN
                                                       of the dialect, rounded up; the output maximum
                                                       read from its one field (the dialect's ``bodies.output_limit``)

``asks_hour_writes(facts, raw)``: whether an Anthropic body asks for 1-hour prompt-cache writes (its
reservation then prices the prompt at the 1-hour write price: ``pricing.estimate_units``).
``searches_asked(facts, raw, default)``: the web searches the body lets its provider run (a search tool's
bound, else ``default``), which its reservation prices at the model's ``web_search_per_1k_calls``
(``searches_offered``: the same count read from the body alone, each tool's capped when asked: routing's
expectation).
``priced_asks(facts, raw, budgets)``: both, as every reservation of a request reads them (the first one, a
retry's, a fallback's, an ensemble member's: ``BudgetRequest.hour_writes`` and ``searches``), so that no
reservation of a request prices less than its first.

The byte estimate costs one ``bytes.translate`` and one ``count`` (the digits: a number is about one
token per two or three digits, a word one per four or five letters) instead of a walk of the body
(about 45 us for a two-message chat on this machine), and the walk test a search per marker of the
body's dialect (three or four, not the eight every dialect's media would need). The budgets need a
number that is not low rather than an exact one, since the settlement charges what the provider
reports: it counts the JSON around the text as text, so it is high, by about 20-35% for prose, code,
JSON and CJK and 60% for accented and Cyrillic text (``bench/budgets_estimate.py``; docs/budgets.md,
"The prompt estimate"), and low for at most a few percent of bodies, by at most 10-20%.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

from sidecar.dialects import Dialect, Operation
from sidecar.dialects.registry import WIRE_DIALECTS, wire
from sidecar.translate import extract_request_params

if TYPE_CHECKING:
    from sidecar.request_facts import RequestFacts

    from .compiled import Budgets

BYTES_PER_TOKEN: dict[Dialect, float] = {Dialect.OPENAI: 3.6, Dialect.ANTHROPIC: 3.6, Dialect.GEMINI: 4.0}
"""Body bytes (digits thrice) per estimated prompt token; Gemini's bodies wrap each text in more JSON.
A dialect not listed (a newly added one) is estimated at ``DEFAULT_BYTES_PER_TOKEN``."""

DEFAULT_BYTES_PER_TOKEN = 3.6

WALK_MARKERS = (b"image", b"audio", b"video", b"file", b"document", b"inline", b"data:", b"\\u")
"""Substrings of a body the byte estimate might misjudge, in any dialect: media (part types, MIME types,
Gemini's ``inlineData``; the walk counts them at fixed costs, an inline PDF by its pages, not their
base64 bytes or their URL) and
``\\u`` escapes (non-ASCII text escaped by its SDK: 6 bytes a character, digits among them). A dialect
``MEDIA_MARKERS`` does not list (a newly added one) is walked when its body names any of them."""

ESCAPE_MARKER = b"\\u"

MEDIA_MARKERS: Mapping[Dialect, tuple[bytes, ...]] = MappingProxyType(
    {
        # image_url and input_image, input_audio, file and input_file parts (chat and responses)
        Dialect.OPENAI: (b"image", b"audio", b"file"),
        Dialect.ANTHROPIC: (b"image", b"document"),  # image and document blocks
        Dialect.GEMINI: (b"inline", b"file"),  # inlineData / inline_data, fileData / file_data parts
    }
)
"""Per dialect, what every media part its feature walker counts (``dialects/<dialect>/features.py``)
names: a body without them carries no media the walk would count, so the walk would only re-estimate
its text. ``tests/budgets/test_estimate.py`` sends each walker's media shapes through it."""


def walk_markers(dialect: Dialect) -> tuple[bytes, ...]:
    """The substrings that send a body of ``dialect`` to the walk: its ``MEDIA_MARKERS`` and the escape
    (every ``WALK_MARKERS`` for a dialect not listed)."""
    media = MEDIA_MARKERS.get(dialect)
    return WALK_MARKERS if media is None else (*media, ESCAPE_MARKER)


def _as_text(markers: tuple[bytes, ...]) -> tuple[str, ...]:
    return tuple(marker.decode("latin-1") for marker in markers)


def _four(dialect: Dialect) -> tuple[str, str, str, str]:
    """``walk_markers(dialect)`` as four texts (the last repeated when fewer), searched unrolled: a
    ``str`` search costs about 900 instructions on a 216-byte body, the loop around it 150 more."""
    markers = _as_text(walk_markers(dialect))
    if len(markers) > 4:
        raise ValueError(f"{dialect}: at most three MEDIA_MARKERS")
    return (*markers, *(markers[-1:] * (4 - len(markers))))  # type: ignore[return-value]


_EVERY_MARKER = _as_text(WALK_MARKERS)


_DIGITS = b"0123456789"

_BY_DIALECT = MappingProxyType(
    {
        dialect: (
            BYTES_PER_TOKEN.get(dialect, DEFAULT_BYTES_PER_TOKEN),
            w.bodies.output_limit,
            _four(dialect) if dialect in MEDIA_MARKERS else None,
        )
        for dialect, w in WIRE_DIALECTS.items()
    }
)
"""Each dialect's bytes per token, reader of a body's output maximum (``bodies.output_limit``) and walk
markers (``_four``; None: every ``WALK_MARKERS``, ``needs_walk``), looked up once."""


def needs_walk(raw: bytes, dialect: Dialect | None = None) -> bool:
    """Whether ``raw`` names one of ``dialect``'s ``walk_markers`` (None: every ``WALK_MARKERS``).
    Searched as text decoded as Latin-1 (one character per byte, so the same matches): a ``str``
    search costs less than a ``bytes`` one (whose ``__contains__`` first tries the needle as an
    integer), and all of them a third of one alternation regular expression."""
    markers = _EVERY_MARKER if dialect is None else _as_text(walk_markers(dialect))
    return any(map(raw.decode("latin-1").__contains__, markers))


def estimate_request(facts: RequestFacts, raw: bytes) -> tuple[int, int | None]:
    """The prompt tokens and the request's own output maximum (None: it set none) for a reservation."""
    features = facts.known_features
    if features is None:
        dialect = facts.dialect
        known = _BY_DIALECT.get(dialect)
        if known is None:
            known = (DEFAULT_BYTES_PER_TOKEN, wire(dialect).bodies.output_limit, None)
        per_token, read_limit, four = known
        if four is None:
            walk = needs_walk(raw)
        else:  # needs_walk's test, without the call and the loop
            first, second, third, fourth = four
            text = raw.decode("latin-1")
            walk = first in text or second in text or third in text or fourth in text
        if not walk:
            tokens = _by_bytes(raw, per_token)
            limit = read_limit(facts.body, facts.operation)  # positive(), without a call:
            return tokens, limit if type(limit) is int and limit > 0 else None
        features = facts.features
    return features.prompt_tokens, features.max_output_tokens


def reservation_tokens(facts: RequestFacts, raw: bytes, default_output: int) -> tuple[int, int | None]:
    """What admission reserves for a request: its prompt tokens (``estimate_request``) and the output:
    none for embeddings; the request's own maximum (None: it set none, the target's applies), times the
    answers it asks for when more than one (``answers_asked``), each up to ``default_output`` when it
    sets no maximum. The budget stage and ``explain`` both read a request so."""
    prompt_tokens, output = estimate_request(facts, raw)
    if facts.operation is Operation.EMBEDDINGS:
        output = 0
    elif choices := answers_asked(facts, raw):  # several answers, each up to the output maximum
        output = (output or default_output) * choices
    return prompt_tokens, output


_HOUR_TTL = re.compile(rb'"ttl"\s*:\s*"1h"')


def asks_hour_writes(facts: RequestFacts, raw: bytes) -> bool:
    """Whether the request asks its provider to write the prompt cache for an hour (Anthropic's
    ``cache_control: {type: ephemeral, ttl: "1h"}``, relayed as sent): such writes are priced at
    ``cache_write_1h_per_mtok``, so its reservation prices the prompt at that price when it is higher.
    Only an Anthropic body can ask (the translators carry no ``ttl``); its bytes are searched for
    ``"1h"`` first, the field's pattern only then."""
    return facts.dialect is Dialect.ANTHROPIC and raw.find(b'"1h"') >= 0 and _HOUR_TTL.search(raw) is not None


_GEMINI_SEARCH_TOOLS = ("google_search", "googleSearch", "google_search_retrieval", "googleSearchRetrieval")


def searches_asked(facts: RequestFacts, raw: bytes, default: int) -> int:
    """The web searches the request lets its provider run, which a reservation prices at the model's
    ``web_search_per_1k_calls``: Anthropic's ``web_search_*`` tool, its ``max_uses``; OpenAI Responses'
    ``web_search*`` tool, the body's ``max_tool_calls`` (every built-in tool's calls together); a chat
    body's ``web_search_options`` (a search model's call), one; Gemini's ``google_search`` tool (or the
    older retrieval), each; ``default`` (``Budgets.default_web_searches``) for a tool the body does not
    bound. The body is read only when its bytes name a search ("earch": ``web_search``, ``googleSearch``)."""
    if raw.find(b"earch") < 0:
        return 0
    return searches_offered(facts, default)


def searches_offered(facts: RequestFacts, default: int, each: int | None = None) -> int:
    """``searches_asked`` of the request's body (unread before it: its bytes not tested), each search
    tool's count at most ``each`` when given (routing's expected searches, one a tool:
    ``routing.record.expected_searches``)."""
    body, dialect = facts.body, facts.dialect
    if dialect is Dialect.OPENAI and facts.operation is Operation.CHAT:
        return 1 if body.get("web_search_options") is not None else 0
    tools = body.get("tools")
    if type(tools) is not list:
        return 0
    searches = 0
    for tool in tools:
        if type(tool) is not dict:
            continue
        kind = tool.get("type")
        if dialect is Dialect.GEMINI:
            if any(name in tool for name in _GEMINI_SEARCH_TOOLS):
                searches += default if each is None or default < each else each
        elif type(kind) is str and kind.startswith("web_search"):
            bound = tool.get("max_uses") if dialect is Dialect.ANTHROPIC else body.get("max_tool_calls")
            bound = bound if type(bound) is int and bound >= 0 else default
            searches += bound if each is None or bound < each else each
    return searches


def priced_asks(facts: RequestFacts, raw: bytes, budgets: Budgets) -> tuple[bool, int]:
    """What every reservation of the request prices beyond its tokens: whether it asks for 1-hour cache
    writes (``asks_hour_writes``) and the web searches it lets its provider run (``searches_asked``, read
    only when some model of the policy has a search fee: ``Budgets.searches_priced``, decided at load).
    The budget stage's first reservation, a retry's (``server.budget``) and ``explain`` read them here;
    a fallback's and an ensemble call's read them from the ``BudgetRequest`` built with them."""
    searches = searches_asked(facts, raw, budgets.default_web_searches) if budgets.searches_priced else 0
    return asks_hour_writes(facts, raw), searches


def answers_asked(facts: RequestFacts, raw: bytes) -> int:
    """How many answers the request asks for when more than one (OpenAI's ``n``, Gemini's
    ``candidateCount``: the provider bills every one's output), else 0. The body is read only when its
    bytes name one of them."""
    if raw.find(b'"n"') < 0 and raw.find(b"andidate") < 0:
        return 0
    count = extract_request_params(facts.dialect, facts.body).choice_count
    return count if count is not None and count > 1 else 0


def _by_bytes(raw: bytes, per_token: float) -> int:
    """Bytes, digits thrice (the length plus twice the digits, the bytes ``translate`` deletes), over
    ``per_token``, rounded up."""
    return -int(-(3 * len(raw) - 2 * len(raw.translate(None, _DIGITS))) // per_token)


def byte_estimate(raw: bytes, dialect: Dialect) -> int:
    """The prompt tokens of a body by its length: (bytes + 2 x digits) / ``BYTES_PER_TOKEN``, rounded up."""
    return _by_bytes(raw, BYTES_PER_TOKEN.get(dialect, DEFAULT_BYTES_PER_TOKEN))
