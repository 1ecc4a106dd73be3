"""The policy's JSON Schema, generated from the pydantic models (committed at policies/policy.schema.json)."""

from __future__ import annotations

import orjson

from .spec import PolicySpec

SCHEMA_ID = "https://llm-sidecar.dev/policy.schema.json"


def policy_json_schema() -> str:
    """The schema as stable, pretty JSON text (what ``llm-sidecar schema`` prints)."""
    schema = PolicySpec.model_json_schema(mode="validation")
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}
    schema["title"] = "llm-sidecar policy"
    return orjson.dumps(schema, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode() + "\n"
