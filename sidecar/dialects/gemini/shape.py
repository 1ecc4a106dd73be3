"""The JSON types of a Gemini generateContent request's documented fields (``translate.shapes``): what
the 400 names when a translator cannot read a body (``contents[0].parts: must be an array``). Field
names as the REST API documents them (camelCase), with the snake_case spellings the translator reads."""

from __future__ import annotations

from ...translate.shapes import ARRAY, BOOLEAN, INTEGER, NUMBER, OBJECT, STRING

_BLOB = OBJECT(mimeType=STRING, mime_type=STRING, data=STRING)
_FILE = OBJECT(mimeType=STRING, mime_type=STRING, fileUri=STRING, file_uri=STRING)
_PART = OBJECT(
    text=STRING,
    thought=BOOLEAN,
    thoughtSignature=STRING,
    inlineData=_BLOB,
    fileData=_FILE,
    functionCall=OBJECT(name=STRING, args=OBJECT(), id=STRING),
    functionResponse=OBJECT(name=STRING, response=OBJECT(), id=STRING),
)
_CONTENT = OBJECT(role=STRING, parts=ARRAY(_PART))
_THINKING = OBJECT(thinkingBudget=INTEGER, includeThoughts=BOOLEAN, thinkingLevel=STRING)
_GENERATION = OBJECT(
    maxOutputTokens=INTEGER,
    temperature=NUMBER,
    topP=NUMBER,
    topK=NUMBER,
    stopSequences=ARRAY(STRING),
    candidateCount=INTEGER,
    responseMimeType=STRING,
    responseSchema=OBJECT(),
    responseJsonSchema=OBJECT(),
    seed=INTEGER,
    presencePenalty=NUMBER,
    frequencyPenalty=NUMBER,
    thinkingConfig=_THINKING,
    responseLogprobs=BOOLEAN,
    logprobs=INTEGER,
)
_DECLARATION = OBJECT(name=STRING, description=STRING, parameters=OBJECT(), parametersJsonSchema=OBJECT())

CHAT_REQUEST = OBJECT(
    contents=ARRAY(_CONTENT),
    systemInstruction=_CONTENT,
    generationConfig=_GENERATION,
    generation_config=_GENERATION,
    tools=ARRAY(OBJECT(functionDeclarations=ARRAY(_DECLARATION))),
    toolConfig=OBJECT(functionCallingConfig=OBJECT(mode=STRING, allowedFunctionNames=ARRAY(STRING))),
    safetySettings=ARRAY(OBJECT(category=STRING, threshold=STRING)),
)
"""A Gemini generateContent / streamGenerateContent request."""
