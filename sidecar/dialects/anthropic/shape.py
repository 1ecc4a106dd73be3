"""The JSON types of an Anthropic messages request's documented fields (``translate.shapes``): what the
400 names when a translator cannot read a body (``messages[0].content: must be a string or an array``)."""

from __future__ import annotations

from ...translate.shapes import ARRAY, BOOLEAN, INTEGER, NULL, NUMBER, OBJECT, STRING

_SOURCE = OBJECT(type=STRING, media_type=STRING, data=STRING, url=STRING)
_TEXT = OBJECT(type=STRING, text=STRING, cache_control=OBJECT() | NULL)
_BLOCK = OBJECT(
    type=STRING,
    text=STRING,
    source=_SOURCE,
    id=STRING,
    name=STRING,
    input=OBJECT(),
    tool_use_id=STRING,
    content=STRING | ARRAY(OBJECT(type=STRING, text=STRING, source=_SOURCE)),
    is_error=BOOLEAN | NULL,
    thinking=STRING,
    signature=STRING,
    data=STRING,
    cache_control=OBJECT() | NULL,
)

CHAT_REQUEST = OBJECT(
    messages=ARRAY(OBJECT(role=STRING, content=STRING | ARRAY(_BLOCK))),
    system=STRING | ARRAY(_TEXT),
    max_tokens=INTEGER,
    temperature=NUMBER,
    top_p=NUMBER,
    top_k=INTEGER,
    stop_sequences=ARRAY(STRING),
    tools=ARRAY(OBJECT(type=STRING, name=STRING, description=STRING, input_schema=OBJECT())),
    tool_choice=OBJECT(type=STRING, name=STRING, disable_parallel_tool_use=BOOLEAN),
    metadata=OBJECT(user_id=STRING | NULL),
    thinking=OBJECT(type=STRING, budget_tokens=INTEGER),
    output_config=OBJECT(effort=STRING, format=OBJECT(type=STRING, schema=OBJECT())),
    output_format=OBJECT(type=STRING, schema=OBJECT()),
)
"""An Anthropic messages request."""
