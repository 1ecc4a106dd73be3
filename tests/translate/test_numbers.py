"""Integers beyond 64 bits read exactly (``sidecar.translate.numbers``)."""

from __future__ import annotations

import orjson
import pytest

from sidecar.translate.numbers import exact_arguments, exact_body, holds_inexact, long_digit_run, read_exactly

BIG = "123456789012345678901234567890"


def test_an_integer_beyond_64_bits_is_kept_exact_and_written_back_verbatim() -> None:
    """A 30-digit integer, 2**64 and -2**63-1 come back digit for digit; ints within 64 bits and floats read
    as orjson reads them."""
    text = f'{{"a": {BIG}, "b": 18446744073709551616, "c": -9223372036854775809, "d": 7, "f": 0.1234567890123456789}}'
    parsed = read_exactly(text)
    written = orjson.dumps(parsed).decode()
    assert f'"a":{BIG},"b":18446744073709551616,"c":-9223372036854775809,"d":7' in written
    assert (parsed["d"], parsed["f"]) == (7, orjson.loads(text)["f"])


def test_only_a_double_of_2_to_the_63_or_more_is_inexact() -> None:
    """orjson reads a u64 exactly and an integer past it as a double of 2**63 or more: only such a double,
    at any depth, sends a value to the exact reading."""
    assert not holds_inexact(orjson.loads(b'{"seed": 18446744073709551615, "t": 0.7, "l": [1, "x", {"y": 2.5}]}'))
    assert holds_inexact(orjson.loads(b'{"l": [1, {"y": 18446744073709551616}]}'))
    assert holds_inexact(orjson.loads(b"[-9223372036854775809]"))


def test_arguments_with_a_30_digit_integer_are_read_exactly_and_nan_refused() -> None:
    """An arguments text with a 30-digit integer reads it exactly; ``NaN``, which the standard library's
    reader takes, is refused as orjson refuses it."""
    assert orjson.dumps(exact_arguments(f'{{"order": {BIG}}}')) == f'{{"order":{BIG}}}'.encode()
    assert exact_arguments('{"order": 12}') == {"order": 12}
    with pytest.raises(ValueError, match="NaN"):
        read_exactly(f'{{"a": {BIG}, "b": NaN}}')


def test_exact_body_puts_the_integers_back_and_keeps_what_changed_since() -> None:
    """Where the raw body holds a long integer, the double orjson made of it is replaced; a field changed
    since the reading (a cap written into the body) stays as changed."""
    raw = f'{{"seed": {BIG}, "max_tokens": 5, "list": [1, {BIG}]}}'.encode()
    parsed = orjson.loads(raw)
    parsed["max_tokens"] = 9
    exact = exact_body(parsed, raw)
    assert orjson.dumps(exact) == f'{{"seed":{BIG},"max_tokens":9,"list":[1,{BIG}]}}'.encode()
    plain = orjson.loads(b'{"seed": 1}')
    assert exact_body(plain, b'{"seed": 1}') is plain


def test_a_body_without_a_long_digit_run_is_not_read_again() -> None:
    """No run of 19 digits in a body: ``exact_body`` returns orjson's reading itself (a u64 of 20 digits has
    one, and reads exactly either way)."""
    assert not long_digit_run(b'{"seed": 42, "t": 0.7}')
    assert long_digit_run(b'{"seed": 18446744073709551615}')


def test_a_long_digit_run_inside_a_string_leaves_the_body_as_orjson_read_it() -> None:
    """Nineteen digits in a row inside a string (a phone list, base64) send the body down the exact reading,
    which gives back what orjson read: the same strings, the same numbers."""
    raw = b'{"content": "call 0044207946000012345678 or data:;base64,AAAA12345678901234567890==", "t": 0.7, "n": 3}'
    parsed = orjson.loads(raw)
    assert long_digit_run(raw)
    assert orjson.dumps(exact_body(parsed, raw)) == orjson.dumps(parsed)
