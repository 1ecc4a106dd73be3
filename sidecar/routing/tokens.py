"""A fast prompt-token estimator: a linear model over byte-class counts, no vocabulary, no download.

``estimate_tokens(text)`` counts, with a handful of C-level bytes operations (``translate`` and
``count``), the letters, digits, spaces, runs of indentation, line breaks, punctuation and UTF-8 lead
bytes (2-, 3- and 4-byte characters: accented Latin and Cyrillic, CJK, emoji) of the text, and weighs
each count by a coefficient fitted by least squares against OpenAI's ``o200k_base`` tokenizer on sample
English prose, code, JSON, CJK and numbers (``bench/token_estimate.py --fit`` prints the coefficients
below; ``docs/routing.md`` has its error per kind of text against ``o200k_base`` and ``cl100k_base``).

Cost does not grow with the text: up to ``EXACT_BYTES`` every byte is counted; above it the counts
are taken on ``SAMPLE_CHUNKS`` evenly spaced slices and scaled up, so an 8,000-token prompt costs
about the same as a 1,000-token one. Callers with many strings (a long conversation) join them with a
space and estimate once (``estimate_joined``).
"""

from __future__ import annotations

import operator
from collections.abc import Sequence

EXACT_BYTES = 4096
SAMPLE_CHUNKS = 8
_CHUNK = EXACT_BYTES // SAMPLE_CHUNKS

_ALNUM = bytes(range(48, 58)) + bytes(range(65, 91)) + bytes(range(97, 123))
_NOT_DIGIT = bytes(b for b in range(256) if not 48 <= b <= 57)
_NOT_LEAD2 = bytes(b for b in range(256) if not 0xC0 <= b <= 0xDF)
_NOT_LEAD3 = bytes(b for b in range(256) if not 0xE0 <= b <= 0xEF)
_NOT_LEAD4 = bytes(b for b in range(256) if not 0xF0 <= b <= 0xF7)
_NOT_HIGH = bytes(range(128))

# Tokens per counted byte class, fitted against o200k_base (see the module docstring). Order:
# letters, digits, spaces, double spaces (indentation), line breaks, ASCII punctuation,
# 2-byte, 3-byte and 4-byte UTF-8 characters.
COEFFICIENTS: tuple[float, ...] = (0.1267, 0.5570, 0.6417, -1.0914, 0.9897, 0.5179, 0.2702, 0.6338, 1.5000)


def byte_class_counts(data: bytes) -> tuple[int, ...]:
    """The counts the estimate weighs, in ``COEFFICIENTS`` order, for ``data`` as it is (no sampling)."""
    size = len(data)
    other = len(data.translate(None, _ALNUM))
    digits = len(data.translate(None, _NOT_DIGIT))
    spaces = data.count(b" ")
    indent = data.count(b"  ")
    newlines = data.count(b"\n")
    if data.isascii():
        lead2 = lead3 = lead4 = high = 0
    else:
        lead2 = len(data.translate(None, _NOT_LEAD2))
        lead3 = len(data.translate(None, _NOT_LEAD3))
        lead4 = len(data.translate(None, _NOT_LEAD4))
        high = len(data.translate(None, _NOT_HIGH))
    letters = size - other - digits
    punctuation = other - spaces - newlines - high - data.count(b"\t") - data.count(b"\r")
    return (letters, digits, spaces, indent, newlines, punctuation, lead2, lead3, lead4)


def sample(data: bytes) -> tuple[bytes, float]:
    """``data`` itself when short, else evenly spaced slices of it; and the factor that scales counts back."""
    size = len(data)
    if size <= EXACT_BYTES:
        return data, 1.0
    stride = size // SAMPLE_CHUNKS
    chunk = b"".join([data[i * stride : i * stride + _CHUNK] for i in range(SAMPLE_CHUNKS)])
    return chunk, size / len(chunk)


def estimate_bytes(data: bytes) -> int:
    """Estimated tokens of UTF-8 ``data``."""
    if not data:
        return 0
    part, scale = sample(data)
    total: float = sum(map(operator.mul, COEFFICIENTS, byte_class_counts(part)))  # the weighted sum, in C
    return max(1, round(total * scale))


def estimate_tokens(text: str) -> int:
    """Estimated tokens of ``text`` (o200k_base-like)."""
    return estimate_bytes(text.encode("utf-8", "surrogatepass")) if text else 0


def estimate_joined(texts: Sequence[str]) -> int:
    """Estimated tokens of several texts, in one pass over their concatenation (joined by spaces)."""
    if not texts:
        return 0
    if len(texts) == 1:
        return estimate_tokens(texts[0])
    joined = estimate_tokens(" ".join(texts))
    return max(0, round(joined - COEFFICIENTS[2] * (len(texts) - 1)))
