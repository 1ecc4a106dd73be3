"""The JSON types of an OpenAI Responses API request's documented fields (``translate.shapes``): what the
400 names when the Responses translator cannot read a body (``input[0].content: must be a string or an
array``), and the scalar settings checked in every translated body (``max_output_tokens``, ``temperature``...)."""

from __future__ import annotations

from ...translate.shapes import ARRAY, BOOLEAN, INTEGER, NULL, NUMBER, OBJECT, STRING

_PART = OBJECT(type=STRING, text=STRING, image_url=STRING, file_id=STRING, file_data=STRING, file_url=STRING)
_ITEM = OBJECT(
    type=STRING,
    role=STRING,
    content=STRING | ARRAY(_PART),
    call_id=STRING,
    name=STRING,
    arguments=STRING,
    output=STRING | ARRAY(_PART),
)
_TOOL = OBJECT(type=STRING, name=STRING, description=STRING | NULL, parameters=OBJECT() | NULL, strict=BOOLEAN | NULL)
_FORMAT = OBJECT(type=STRING, name=STRING, schema=OBJECT(), description=STRING, strict=BOOLEAN | NULL)

RESPONSES_REQUEST = OBJECT(
    input=STRING | ARRAY(_ITEM),
    instructions=STRING | NULL,
    tools=ARRAY(_TOOL) | NULL,
    tool_choice=STRING | OBJECT(type=STRING, name=STRING) | NULL,
    parallel_tool_calls=BOOLEAN | NULL,
    text=OBJECT(format=_FORMAT, verbosity=STRING | NULL) | NULL,
    reasoning=OBJECT(effort=STRING | NULL, summary=STRING | NULL) | NULL,
    include=ARRAY(STRING) | NULL,
    max_output_tokens=INTEGER | NULL,
    temperature=NUMBER | NULL,
    top_p=NUMBER | NULL,
    top_logprobs=INTEGER | NULL,
    user=STRING | NULL,
    metadata=OBJECT() | NULL,
    store=BOOLEAN | NULL,
    stream=BOOLEAN | NULL,
    background=BOOLEAN | NULL,
)
"""An OpenAI Responses API request."""
