"""OTLP protobuf wire primitives for attribute values: varints, length-delimited fields, ``AnyValue``
and ``KeyValue`` bodies, whole span attribute records, and per-key record prefixes.

Values follow the official encoder (``encode_spans``): ``None`` is an empty ``AnyValue``; ``bool``,
``str``, ``int`` (int64), ``float``, ``bytes``, sequences (arrays) and mappings (key-value lists). An
attribute it cannot encode (an int outside int64, a string that is not valid UTF-8, an unknown type)
is left out, as there, with a warning naming the key only (``record``, ``attributes_into``).
``otlp_encode`` builds spans and export requests from these.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

_log = logging.getLogger(__name__)

_MASK64: Final = (1 << 64) - 1
_INT64_MIN: Final = -(1 << 63)
INT64_MAX: Final = (1 << 63) - 1
pack_fixed64: Final[Callable[[int], bytes]] = struct.Struct("<Q").pack
pack_double: Final[Callable[[float], bytes]] = struct.Struct("<d").pack
ONE_BYTE: Final = tuple(bytes((n,)) for n in range(128))


# Field tags (field number << 3 | wire type) of the repeated KeyValue fields.
TAG_RESOURCE_ATTRIBUTES: Final = b"\x0a"  # Resource.attributes = 1
TAG_SCOPE_ATTRIBUTES: Final = b"\x1a"  # InstrumentationScope.attributes = 3
TAG_SPAN_ATTRIBUTES: Final = b"\x4a"  # Span.attributes = 9
TAG_EVENT_ATTRIBUTES: Final = b"\x1a"  # Span.Event.attributes = 3
_TAG_KVLIST_VALUES: Final = b"\x0a"  # KeyValueList.values = 1


def varint(value: int) -> bytes:
    """Base-128 varint of a non-negative int (callers mask negative int64 values to 64 bits first)."""
    if value < 0x80:
        return ONE_BYTE[value]
    if value < 0x4000:
        return bytes(((value & 0x7F) | 0x80, value >> 7))
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def field(tag: bytes, payload: bytes) -> bytes:
    """A length-delimited field: tag, length, payload."""
    return tag + varint(len(payload)) + payload


def any_value(value: Any) -> bytes:
    """The body of an ``AnyValue`` message; raises for what ``encode_spans`` cannot encode either."""
    if value is None:
        return b""
    if isinstance(value, bool):
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, str):
        return field(b"\x0a", value.encode())
    if isinstance(value, int):
        if not _INT64_MIN <= value <= INT64_MAX:
            raise ValueError("integer attribute outside the int64 range")
        return b"\x18" + varint(value & _MASK64)
    if isinstance(value, float):
        return b"\x21" + pack_double(value)
    if isinstance(value, bytes):
        return field(b"\x3a", value)
    if isinstance(value, Sequence):
        return field(b"\x2a", b"".join([field(b"\x0a", any_value(item)) for item in value]))
    if isinstance(value, Mapping):
        entries = [field(_TAG_KVLIST_VALUES, key_value(str(k), v)) for k, v in value.items()]
        return field(b"\x32", b"".join(entries))
    raise TypeError(f"attribute value of type {type(value).__name__} cannot be exported")


def key_value(key: str, value: Any) -> bytes:
    """The body of a ``KeyValue`` message."""
    encoded_key = key.encode()
    head = field(b"\x0a", encoded_key) if encoded_key else b""
    return head + field(b"\x12", any_value(value))


def attributes_into(out: list[bytes], tag: bytes, attributes: Mapping[str, Any] | None) -> None:
    """Append one ``tag``-ged KeyValue record per attribute to ``out`` (no caching)."""
    if not attributes:
        return
    for key, value in attributes.items():
        try:
            out.append(field(tag, key_value(key, value)))
        except Exception as error:  # the official encoder logs and leaves the attribute out
            skipped(key, error)


def skipped(key: object, error: Exception) -> None:
    _log.warning("span attribute %r left out of the export: %s", key, type(error).__name__)


def record(key: str, value: Any) -> bytes:
    """A span attribute's whole record (tag, length, KeyValue); empty if it cannot be encoded."""
    try:
        return field(TAG_SPAN_ATTRIBUTES, key_value(key, value))
    except Exception as error:  # the official encoder logs and leaves the attribute out
        skipped(key, error)
        return b""


class AttributeKey:
    """One attribute key's record prefixes, built once: a record is then one prefix plus the value bytes.

    ``number`` writes an int in [0, 2^63) (a token count), ``text`` a ``str`` of under 126 UTF-8 bytes
    (an id); anything else goes through ``record`` (which leaves out what cannot be encoded).
    """

    __slots__ = ("_numbers", "_texts", "name")

    def __init__(self, name: str) -> None:
        key = key_field(name)
        self.name = name
        self._numbers = tuple(_record_prefix(key, b"\x18", size) for size in range(11))  # int: varint
        self._texts = tuple(_record_prefix(key, b"\x0a" + ONE_BYTE[size], size) for size in range(126))

    def number(self, value: Any) -> bytes:
        if type(value) is int and 0 <= value <= INT64_MAX:
            encoded = varint(value)
            return self._numbers[len(encoded)] + encoded
        return record(self.name, value)

    def number_head(self, size: int) -> bytes:
        """The record of an int whose varint is ``size`` bytes, up to those bytes."""
        return self._numbers[size]

    def text_head(self, size: int) -> bytes:
        """The record of a string of ``size`` UTF-8 bytes (under 126), up to those bytes."""
        return self._texts[size]

    def text(self, value: Any) -> bytes:
        if type(value) is str:
            try:
                data = value.encode()
            except UnicodeEncodeError:  # a lone surrogate: record() leaves it out with a warning
                return record(self.name, value)
            if len(data) < 126:
                return self._texts[len(data)] + data
        return record(self.name, value)


def key_field(key: str) -> bytes:
    """``KeyValue.key`` (field 1) of an attribute name."""
    return field(b"\x0a", key.encode())


def _record_prefix(key: bytes, value_head: bytes, payload_size: int) -> bytes:
    """A span attribute record up to its last ``payload_size`` bytes: tag, length, the key field, the
    value field's tag and length, and ``value_head`` (the ``AnyValue`` tag, and length if any)."""
    value_size = len(value_head) + payload_size
    return TAG_SPAN_ATTRIBUTES + varint(len(key) + 2 + value_size) + key + b"\x12" + ONE_BYTE[value_size] + value_head
