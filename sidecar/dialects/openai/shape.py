"""The JSON types of an OpenAI chat request's documented fields (``translate.shapes``): what the 400
names when a translator cannot read a body (``messages[0].content: must be a string or an array``)."""

from __future__ import annotations

from ...translate.shapes import ARRAY, BOOLEAN, INTEGER, NULL, NUMBER, OBJECT, STRING

_PART = OBJECT(
    type=STRING,
    text=STRING,
    image_url=OBJECT(url=STRING, detail=STRING) | STRING,
    file=OBJECT(file_data=STRING, file_id=STRING, filename=STRING),
    input_audio=OBJECT(data=STRING, format=STRING),
)
_CALL = OBJECT(id=STRING, type=STRING, function=OBJECT(name=STRING, arguments=STRING | OBJECT()))
_MESSAGE = OBJECT(
    role=STRING,
    content=STRING | ARRAY(_PART) | NULL,
    name=STRING,
    tool_calls=ARRAY(_CALL) | NULL,
    tool_call_id=STRING,
)
_FUNCTION = OBJECT(name=STRING, description=STRING, parameters=OBJECT(), strict=BOOLEAN | NULL)

CHAT_REQUEST = OBJECT(
    messages=ARRAY(_MESSAGE),
    tools=ARRAY(OBJECT(type=STRING, function=_FUNCTION)) | NULL,
    tool_choice=STRING | OBJECT(type=STRING, function=OBJECT(name=STRING)) | NULL,
    parallel_tool_calls=BOOLEAN | NULL,
    response_format=OBJECT(type=STRING, json_schema=OBJECT(name=STRING, schema=OBJECT(), strict=BOOLEAN | NULL)) | NULL,
    max_tokens=INTEGER | NULL,
    max_completion_tokens=INTEGER | NULL,
    temperature=NUMBER | NULL,
    top_p=NUMBER | NULL,
    n=INTEGER | NULL,
    seed=INTEGER | NULL,
    presence_penalty=NUMBER | NULL,
    frequency_penalty=NUMBER | NULL,
    stop=STRING | ARRAY(STRING) | NULL,
    reasoning_effort=STRING | NULL,
    user=STRING | NULL,
    metadata=OBJECT() | NULL,
    logprobs=BOOLEAN | NULL,
    top_logprobs=INTEGER | NULL,
    logit_bias=OBJECT() | NULL,
)
"""An OpenAI chat completions request."""
