"""Schema validation: messages with paths, the compiled-validator cache and its bound, unusable schemas."""

from __future__ import annotations

import orjson

from sidecar.gates.validators import MAX_SCHEMA_BYTES, SchemaUnusable, SchemaValidator, SchemaValidators, compile_schema

SCHEMA = {
    "type": "object",
    "properties": {
        "label": {"type": "string", "enum": ["spam", "ham"]},
        "items": {"type": "array", "items": {"type": "object", "properties": {"n": {"type": "integer", "minimum": 1}}}},
        "note": {"type": "string", "default": "none"},
    },
    "required": ["label"],
    "additionalProperties": False,
}


def validator() -> SchemaValidator:
    compiled = compile_schema(SCHEMA)
    assert isinstance(compiled, SchemaValidator)
    return compiled


def test_errors_name_the_path_from_the_root():
    """A violation names where it is, from ``$``, and what rule it broke."""
    check = validator()
    assert check.error({"label": "spam", "items": [{"n": 1}]}) is None
    assert check.error({"label": "eggs"}) == "$.label must be one of ['spam', 'ham']"
    assert (
        check.error({"label": "ham", "items": [{"n": 1}, {"n": 0}]}) == "$.items[1].n must be bigger than or equal to 1"
    )
    assert check.error({}) == "$ must contain ['label'] properties"
    assert check.error({"label": "ham", "extra": 1}) == "$ must not contain {'extra'} properties"
    assert check.error([]) == "$ must be object"


def test_defaults_are_not_written_into_the_answer():
    """Validation never changes the answer (fastjsonschema would fill defaults unless told not to)."""
    answer = {"label": "ham"}
    validator().error(answer)
    assert answer == {"label": "ham"}


def test_defs_references_resolve():
    """``$ref`` into ``$defs`` (as OpenAI structured-output schemas write them) is followed."""
    compiled = compile_schema(
        {"$defs": {"l": {"type": "string"}}, "type": "object", "properties": {"a": {"$ref": "#/$defs/l"}}}
    )
    assert isinstance(compiled, SchemaValidator)
    assert compiled.error({"a": 1}) == "$.a must be string"


def test_unusable_schemas_say_why():
    """A schema that cannot be compiled is reported, not raised."""
    broken = compile_schema({"type": "object", "properties": {"a": {"$ref": "#/$defs/missing"}}})
    assert isinstance(broken, SchemaUnusable)
    assert "Unresolvable ref" in broken.reason
    assert isinstance(compile_schema({"minLength": "five"}), SchemaUnusable)


def test_cache_compiles_each_schema_once():
    """The same schema (in any key order) is compiled once; a different one is compiled anew."""
    validators = SchemaValidators()
    first = validators.get(SCHEMA)
    reordered = orjson.loads(orjson.dumps(dict(reversed(list(SCHEMA.items())))))
    assert validators.get(reordered) is first
    validators.get({"type": "string"})
    info = validators.cache_info()
    assert (info.hits, info.misses, info.currsize) == (1, 2, 2)


def test_cache_is_bounded():
    """The cache keeps at most ``max_entries`` compiled schemas, dropping the least recently used."""
    validators = SchemaValidators(max_entries=2)
    for length in range(5):
        validators.get({"type": "string", "minLength": length})
    assert validators.cache_info().currsize == 2


def test_unusable_and_oversized_schemas_are_cached_or_refused():
    """An unusable schema is cached like any other; one over the size bound is refused without compiling."""
    validators = SchemaValidators()
    bad = {"$ref": "#/nowhere"}
    assert validators.get(bad) is validators.get(bad)
    huge = {"type": "object", "description": "x" * MAX_SCHEMA_BYTES}
    result = validators.get(huge)
    assert isinstance(result, SchemaUnusable)
    assert "larger than" in result.reason
