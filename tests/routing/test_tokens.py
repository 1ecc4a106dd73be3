"""The prompt-token estimator against real o200k_base counts (quicktok ships the vocabulary)."""

from __future__ import annotations

import inspect
import random
from pathlib import Path

import orjson
import pytest
import quicktok
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sidecar.routing import tokens

O200K = quicktok.get_encoding("o200k_base")
ROOT = Path(__file__).resolve().parents[2]

PROSE = (
    "The sidecar runs next to every application pod and forwards each model call according to a policy "
    "file that operators edit and the sidecar reloads without a restart. When the preferred provider "
    "fails or is slow, the request falls back to the next model of the chain, and every attempt is "
    "recorded in the access log with its status, its latency and its cost. Routing by task sends "
    "classification and extraction to small models, which answer those as well as the large ones for "
    "a fraction of the price, and keeps the large models for the questions that need them: proofs, "
    "multi-step arithmetic, long analyses. When the classifier is unsure, the request goes one tier up."
)


def _numbers() -> str:
    rng = random.Random(3)
    return "\n".join(
        f"{rng.randint(1, 99999)},{rng.uniform(-1e3, 1e3):.3f},{rng.randint(1, 12):02d}/2026" for _ in range(80)
    )


def _json() -> str:
    rng = random.Random(5)
    records = [
        {"id": i, "name": f"item {rng.randint(1, 999)}", "price": round(rng.uniform(1, 99), 2), "tags": ["a", "b"]}
        for i in range(40)
    ]
    return orjson.dumps(records, option=orjson.OPT_INDENT_2).decode()


SAMPLES = {
    "English prose": PROSE * 2,
    "Python code": inspect.getsource(tokens),
    "JSON": _json(),
    "CJK": (ROOT / "bench" / "data" / "cjk_samples.txt").read_text(),
    "numbers": _numbers(),
}


@pytest.mark.parametrize("kind", list(SAMPLES))
def test_estimate_within_a_fifth_of_real_count(kind: str) -> None:
    """For prose, code, JSON, CJK and numbers the estimate is within 20% of o200k_base's count."""
    text = SAMPLES[kind]
    real = len(O200K.encode_ordinary(text))
    assert abs(tokens.estimate_tokens(text) - real) / real < 0.20


def test_long_text_is_sampled_not_skewed() -> None:
    """Above EXACT_BYTES the sampled estimate stays within 5% of the sum of its pieces' exact estimates."""
    piece = SAMPLES["Python code"][:3000]
    assert len(piece.encode()) <= tokens.EXACT_BYTES
    assert abs(
        tokens.estimate_tokens(piece * 12) - 12 * tokens.estimate_tokens(piece)
    ) < 0.05 * 12 * tokens.estimate_tokens(piece)


def test_joined_estimate_matches_separate_estimates() -> None:
    """Estimating several texts in one pass gives about the sum of their separate estimates."""
    texts = [PROSE[:200], PROSE[200:450], "short", PROSE[450:]]
    separate = sum(tokens.estimate_tokens(t) for t in texts)
    assert abs(tokens.estimate_joined(texts) - separate) <= 3


def test_empty_text_is_zero_tokens() -> None:
    """No text, no tokens."""
    assert (tokens.estimate_tokens(""), tokens.estimate_joined([])) == (0, 0)


@settings(max_examples=300, deadline=None)
@given(
    text=st.one_of(
        st.text(alphabet=st.characters(max_codepoint=0x1F600), max_size=6000),
        st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=6000),
    )
)
@example(text="Say hello to the benchmark, in one short sentence please.")
@example(text="def f(x):\n\treturn x  # 2 spaces\r\n")
@example(text="col1\tcol2\r\n" * 600)
@example(text="ASCII, then caf\u00e9 4.5\n")
def test_estimate_weighs_each_byte_class_count_in_order(text: str) -> None:
    """The estimate is the coefficients times ``byte_class_counts`` of the (sampled) bytes, added in
    the coefficients' order, scaled and rounded: what the counts documented by the module give (an
    ASCII text's punctuation taken as the bytes no other class counts, with and without tabs and
    carriage returns, included)."""
    data = text.encode("utf-8", "surrogatepass")
    sampled, scale = tokens.sample(data)
    total = 0.0
    for coefficient, count in zip(tokens.COEFFICIENTS, tokens.byte_class_counts(sampled), strict=True):
        total += coefficient * count
    assert tokens.estimate_bytes(data) == (max(1, round(total * scale)) if data else 0)


@settings(max_examples=200, deadline=None)
@given(texts=st.lists(st.text(alphabet=st.characters(max_codepoint=0x7F), min_size=1, max_size=300), max_size=6))
@example(texts=["You are terse.", "Say hello to the benchmark, in one short sentence please."])
@example(texts=["a", "b", "c"])
def test_joined_estimate_takes_off_the_joining_spaces(texts: list[str]) -> None:
    """Several texts are the estimate of their join by spaces less a space's weight per join, rounded,
    never below 0; one text is its own estimate; none is 0."""
    joined = tokens.estimate_tokens(" ".join(texts))
    spaces = tokens.COEFFICIENTS[2] * (len(texts) - 1)
    expected = max(0, round(joined - spaces)) if len(texts) > 1 else joined
    assert tokens.estimate_joined(texts) == expected
