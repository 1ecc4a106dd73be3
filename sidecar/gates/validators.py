"""JSON Schema validation with fastjsonschema, compiled once per schema and cached by schema content.

Why fastjsonschema and not jsonschema: validating a 2 KB answer against a typical extraction schema took
25 us with fastjsonschema and 570 us with jsonschema (``bench/ensemble_core_bench.py``, docs/benchmarks.md);
the gate's budget is 200 us. fastjsonschema turns a schema into Python code once (about 3 ms), so
compiled validators are kept: ``SchemaValidators`` caches them by the schema's canonical JSON (sorted keys)
in a ``functools.lru_cache`` of ``max_entries`` (default 128); schemas over ``MAX_SCHEMA_BYTES`` are not
compiled. It implements drafts 4, 6 and 7 (``$defs`` references resolve; 2019+ keywords such as
``prefixItems`` or ``unevaluatedProperties`` are ignored); defaults are never written into the answer.

A schema it cannot compile (a ``pattern`` Python's ``re`` refuses included) is ``SchemaUnusable``
(cached too): the gate then checks only that the answer is JSON. A check that raises while it runs
(``multipleOf: 0`` divides by zero; a recursive ``$ref``) fails the answer as "could not be checked".
Error messages name the path from the answer's root as ``$``: ``$.items[3].quantity must be bigger than
or equal to 1``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from fastjsonschema import JsonSchemaValueException

MAX_SCHEMA_BYTES = 64 * 1024
DEFAULT_CACHE_ENTRIES = 128


@dataclass(frozen=True, slots=True)
class SchemaUnusable:
    reason: str


@dataclass(frozen=True, slots=True)
class SchemaValidator:
    _validate: Callable[[Any], Any]
    _violation: type[JsonSchemaValueException]  # passed in: fastjsonschema is imported with the first schema

    def error(self, value: Any) -> str | None:
        """None when ``value`` satisfies the schema, else the first violation with its path."""
        try:
            self._validate(value)
        except self._violation as exc:
            message = exc.message
            return "$" + message[4:] if message.startswith("data") else message
        except (RecursionError, ValueError, TypeError, ArithmeticError) as exc:  # a pathological schema or value
            # (ArithmeticError: ``multipleOf: 0``, which no schema allows, is a division by zero)
            return f"the answer could not be checked: {type(exc).__name__}"
        return None


Compiled = SchemaValidator | SchemaUnusable


def compile_schema(schema: Mapping[str, Any]) -> Compiled:
    """A validator for ``schema``, or why it cannot be had (not cached: policy schemas, at load).

    fastjsonschema is imported here, by the first schema: a sidecar whose policy has none never loads it
    (start time)."""
    import fastjsonschema

    try:
        return SchemaValidator(
            fastjsonschema.compile(dict(schema), use_default=False), fastjsonschema.JsonSchemaValueException
        )
    except fastjsonschema.JsonSchemaDefinitionException as exc:
        return SchemaUnusable(str(exc))
    except (RecursionError, ValueError, TypeError, KeyError, AttributeError, SyntaxError, re.error) as exc:
        # re.error: a ``pattern`` or ``patternProperties`` key Python's re refuses, compiled with the schema
        return SchemaUnusable(f"{type(exc).__name__}: {exc}"[:200])


class SchemaValidators:
    """Compiled validators for the schemas requests carry, cached by content (one per process)."""

    def __init__(self, max_entries: int = DEFAULT_CACHE_ENTRIES) -> None:
        self._compiled = functools.lru_cache(maxsize=max_entries)(self._compile_canonical)

    def get(self, schema: Mapping[str, Any]) -> Compiled:
        try:
            canonical = orjson.dumps(schema, option=orjson.OPT_SORT_KEYS)
        except TypeError as exc:
            return SchemaUnusable(f"not JSON: {exc}")
        if len(canonical) > MAX_SCHEMA_BYTES:
            return SchemaUnusable(f"larger than {MAX_SCHEMA_BYTES} bytes")
        return self._compiled(canonical)

    def _compile_canonical(self, canonical: bytes) -> Compiled:
        return compile_schema(orjson.loads(canonical))

    def cache_info(self) -> Any:
        """Hits, misses and size of the cache (for metrics)."""
        return self._compiled.cache_info()
