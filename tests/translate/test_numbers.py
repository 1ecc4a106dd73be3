"""Integers beyond 64 bits read exactly (``sidecar.translate.numbers``)."""

from __future__ import annotations

import orjson
import pytest

from sidecar.translate.numbers import exact_body, exact_loads, long_digit_run

BIG = "123456789012345678901234567890"


def test_an_integer_beyond_64_bits_is_kept_exact_and_written_back_verbatim() -> None:
    """A 30-digit integer, 2**64 and -2**63-1 come back digit for digit; ints within 64 bits, floats and
    strings read as orjson reads them."""
    text = f'{{"a": {BIG}, "b": 18446744073709551616, "c": -9223372036854775809, "d": 7, "f": 0.12345678901234567890}}'
    parsed = exact_loads(text)
    written = orjson.dumps(parsed).decode()
    assert f'"a":{BIG},"b":18446744073709551616,"c":-9223372036854775809,"d":7' in written
    assert (parsed["d"], parsed["f"]) == (7, orjson.loads(text)["f"])


def test_a_body_without_a_long_digit_run_is_orjson_s_reading() -> None:
    """No run of 19 digits: orjson reads it (a u64 of 20 digits is one, and reads exactly either way)."""
    assert not long_digit_run(b'{"seed": 42, "t": 0.7}')
    assert long_digit_run(b'{"seed": 18446744073709551615}')
    assert exact_loads(b'{"seed": 18446744073709551615}') == {"seed": 18446744073709551615}


def test_nan_is_refused_as_orjson_refuses_it() -> None:
    """The standard library's reader takes ``NaN``; the exact reading refuses it as orjson does."""
    with pytest.raises(ValueError, match="NaN"):
        exact_loads(f'{{"a": {BIG}, "b": NaN}}')


def test_exact_body_puts_the_integers_back_and_keeps_what_changed_since() -> None:
    """Where the raw body holds a long integer, the double orjson made of it is replaced; a field changed
    since the reading (a cap written into the body) stays as changed."""
    raw = f'{{"seed": {BIG}, "max_tokens": 5, "list": [1, {BIG}]}}'.encode()
    parsed = orjson.loads(raw)
    parsed["max_tokens"] = 9
    exact = exact_body(parsed, raw)
    assert orjson.dumps(exact) == f'{{"seed":{BIG},"max_tokens":9,"list":[1,{BIG}]}}'.encode()
    assert exact_body(parsed, b'{"seed": 1}') is parsed
