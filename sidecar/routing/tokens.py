"""A fast prompt-token estimator: a linear model over byte-class counts, no vocabulary, no download.

``estimate_tokens(text)`` counts, with a handful of C-level bytes operations (one ``translate`` to
byte classes, then a ``count`` per class; digits, line breaks and each length of UTF-8 character,
absent from most prompts, only when the text has one; an ASCII text's punctuation by what the other
classes leave), the letters, digits, spaces, runs of indentation, line
breaks, punctuation and UTF-8 lead bytes (2-, 3- and 4-byte characters: accented Latin and Cyrillic,
CJK, emoji) of the text, and weighs each count by a coefficient fitted by least squares against
OpenAI's ``o200k_base`` tokenizer on sample English prose, code, JSON, CJK and numbers
(``bench/token_estimate.py --fit`` prints the coefficients below; ``docs/routing.md`` has its error
per kind of text against ``o200k_base`` and ``cl100k_base``).

Cost does not grow with the text: up to ``EXACT_BYTES`` every byte is counted; above it the counts
are taken on ``SAMPLE_CHUNKS`` evenly spaced slices and scaled up, so an 8,000-token prompt costs
about the same as a 1,000-token one. Callers with many strings (a long conversation) join them with a
space and estimate once (``estimate_joined``).
"""

from __future__ import annotations

from collections.abc import Sequence

EXACT_BYTES = 4096
SAMPLE_CHUNKS = 8
_CHUNK = EXACT_BYTES // SAMPLE_CHUNKS


def _class_table() -> bytes:
    """Each byte's class, as one byte ``bytes.count`` finds: ``a`` ASCII letter, ``0`` digit, `` ``
    space, ``\n`` line break, ``\t`` a tab or a carriage return, ``.`` other ASCII (punctuation and control
    characters), ``2``/``3``/``4`` the lead byte of a 2-, 3- or 4-byte UTF-8 character, ``~`` other
    bytes (continuation bytes)."""
    table = bytearray(b"." * 128 + b"~" * 128)
    for byte in range(256):
        if 48 <= byte <= 57:
            table[byte] = ord("0")
        elif 65 <= byte <= 90 or 97 <= byte <= 122:
            table[byte] = ord("a")
        elif byte in b" \n":
            table[byte] = byte
        elif byte in b"\t\r":  # one class, counted by no coefficient
            table[byte] = ord("\t")
        elif 0xC0 <= byte <= 0xDF:
            table[byte] = ord("2")
        elif 0xE0 <= byte <= 0xEF:
            table[byte] = ord("3")
        elif 0xF0 <= byte <= 0xF7:
            table[byte] = ord("4")
    return bytes(table)


_CLASSES = _class_table()

# Tokens per counted byte class, fitted against o200k_base (see the module docstring). Order:
# letters, digits, spaces, double spaces (indentation), line breaks, ASCII punctuation,
# 2-byte, 3-byte and 4-byte UTF-8 characters.
COEFFICIENTS: tuple[float, ...] = (0.1267, 0.5570, 0.6417, -1.0914, 0.9897, 0.5179, 0.2702, 0.6338, 1.5000)


def byte_class_counts(data: bytes) -> tuple[int, ...]:
    """The counts the estimate weighs, in ``COEFFICIENTS`` order, for ``data`` as it is (no sampling):
    one ``translate`` to byte classes (``_CLASSES``), then a count per class."""
    classes = data.translate(_CLASSES)
    if data.isascii():
        lead2 = lead3 = lead4 = 0
    else:
        lead2, lead3, lead4 = classes.count(b"2"), classes.count(b"3"), classes.count(b"4")
    return (
        classes.count(b"a"),
        classes.count(b"0"),
        classes.count(b" "),
        data.count(b"  "),
        classes.count(b"\n"),
        classes.count(b"."),
        lead2,
        lead3,
        lead4,
    )


def sample(data: bytes) -> tuple[bytes, float]:
    """``data`` itself when short, else evenly spaced slices of it; and the factor that scales counts back."""
    size = len(data)
    if size <= EXACT_BYTES:
        return data, 1.0
    stride = size // SAMPLE_CHUNKS
    chunk = b"".join([data[i * stride : i * stride + _CHUNK] for i in range(SAMPLE_CHUNKS)])
    return chunk, size / len(chunk)


_LETTER, _DIGIT, _SPACE, _INDENT, _BREAK, _PUNCT, _LEAD2, _LEAD3, _LEAD4 = COEFFICIENTS


def estimate_bytes(data: bytes, joins: int = 0) -> int:
    """Estimated tokens of UTF-8 ``data``: ``COEFFICIENTS`` weighing ``byte_class_counts``, summed in
    their order (the counts and products written out: no tuple of counts, no ``map`` per call).
    ``joins``: the spaces ``estimate_joined`` put between texts, whose tokens are taken off (a caller
    that joined its texts itself calls this once, without ``estimate_joined``'s frame)."""
    if not data:
        return 0
    size = len(data)
    if size > EXACT_BYTES:
        data, scale = sample(data)
        size = len(data)
    else:
        scale = 1.0
    classes = data.translate(_CLASSES)
    count = classes.count
    # The terms in ``COEFFICIENTS`` order. Digits and line breaks are absent from most prompts: a class
    # absent from the text adds nothing, so it is not counted (testing one byte, an int, is a fraction
    # of a ``count`` call; a test for the two-byte indentation costs more than its count). Skipping a
    # zero term leaves the float sum exactly what it was.
    letters = count(b"a")
    total = letters * _LETTER
    rest = size - letters  # the bytes of the other classes (``classes`` is as long as ``data``)
    if 48 in classes:  # b"0"
        digits = count(b"0")
        total += digits * _DIGIT
        rest -= digits
    spaces = count(b" ")
    total += spaces * _SPACE
    total += data.count(b"  ") * _INDENT
    if 10 in classes:  # b"\n"
        breaks = count(b"\n")
        total += breaks * _BREAK
        rest -= breaks
    is_ascii = data.isascii()
    # An ASCII text without tabs or carriage returns (their class is b"\t") has no class but those above
    # and punctuation: its punctuation is the bytes left, not one more ``count`` (whose parsing of its
    # arguments is most of its cost on a prompt's few hundred bytes: bench/routing_instructions.py)
    total += (rest - spaces if is_ascii and 9 not in classes else count(b".")) * _PUNCT
    if not is_ascii:  # one script's text has mostly one length of character: the others absent
        if 50 in classes:  # b"2"
            total += count(b"2") * _LEAD2
        if 51 in classes:  # b"3"
            total += count(b"3") * _LEAD3
        if 52 in classes:  # b"4"
            total += count(b"4") * _LEAD4
    tokens = (total * scale).__round__()  # ``round``, without the builtin's look-up of ``__round__``
    if tokens < 1:
        tokens = 1  # ``max(1, tokens)`` without the call
    if not joins:
        return tokens
    tokens = (tokens - _SPACE * joins).__round__()
    return tokens if tokens > 0 else 0


def estimate_tokens(text: str) -> int:
    """Estimated tokens of ``text`` (o200k_base-like)."""
    return estimate_bytes(text.encode("utf-8", "surrogatepass")) if text else 0


def estimate_joined(texts: Sequence[str]) -> int:
    """Estimated tokens of several texts, in one pass over their concatenation (joined by spaces)."""
    # one text is joined to itself, no text to b"" (0 tokens, whatever ``joins``)
    return estimate_bytes(" ".join(texts).encode("utf-8", "surrogatepass"), len(texts) - 1)
