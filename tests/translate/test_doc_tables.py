"""docs/translation.md's request tables held to the code, both ways: the "Chat requests" table (what each
parameter becomes in every other dialect, and every field a translated request carries is named in its
column) and the "Refused" table (every parameter it lists is refused towards the dialects it names, only
those, and every parameter the code refuses by name is in the page).

The tables are read from the page; a row or a name the tests have no sample for fails, so that the page
and the code cannot drift apart unnoticed."""

from __future__ import annotations

import ast
import copy
import re
from pathlib import Path
from typing import Any

import pytest

from sidecar.dialects import Dialect, Operation
from sidecar.translate import TranslateOptions, UnsupportedParameter, translate_request
from sidecar.translate.common import ChatRequest

OAI, ANT, GEM = Dialect.OPENAI, Dialect.ANTHROPIC, Dialect.GEMINI
COLUMNS = {"OpenAI": OAI, "Anthropic": ANT, "Gemini": GEM}
ERROR = TranslateOptions()
DROP = TranslateOptions(unsupported="drop")
ROOT = Path(__file__).parents[2]
PAGE = (ROOT / "docs" / "translation.md").read_text()

BASE: dict[Dialect, dict[str, Any]] = {
    OAI: {"model": "m", "messages": [{"role": "user", "content": "hi"}]},
    ANT: {"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]},
    GEM: {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
}
HI = {"role": "user", "parts": [{"text": "hi"}]}
"""A first turn for a sample whose own turn is dropped under ``drop``: a conversation left empty is refused."""
OAI_TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}
ANT_TOOL = {"name": "f", "input_schema": {"type": "object", "properties": {}}}
ANT_USE = {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}
ANT_RESULT = {"type": "tool_result", "tool_use_id": "toolu_1", "content": "ok"}


def table_after(marker: str) -> list[list[str]]:
    """The cells of the first Markdown table after ``marker`` in the page, header and rule left out."""
    rest = PAGE.split(marker, 1)[1]
    lines = rest[rest.index("\n|") + 1 :].split("\n\n", 1)[0].splitlines()
    return [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in lines[2:]]


def ticked(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


def translate(body: dict[str, Any], source: Dialect, target: Dialect, options: TranslateOptions = ERROR) -> Any:
    stream = body.pop("_stream", None) if source is GEM else None
    return translate_request(
        body, source=source, target=target, operation=Operation.CHAT, target_model="t", options=options, stream=stream
    )[:2]


# ---------------------------------------------------------------------------------------------------------
# The "Chat requests" table

REQUEST_ROWS = {row[0]: dict(zip(COLUMNS.values(), row[1:], strict=True)) for row in table_after("## Chat requests")}

# The rows whose cells name plain parameters, with a value to send (one per named parameter).
SCALAR_VALUES: dict[str, tuple[Any, ...]] = {
    "output limit": (100,),
    "temperature": (0.5,),
    "top_p": (0.9,),
    "top_k": (40,),
    "stop sequences": (["END"],),
    "several answers": (2,),
    "seed": (7,),
    "presence / frequency penalty": (0.5, 0.25),
    "end user": ("u-1",),
    "log-probabilities": (True, 3),
}

# Each field of the common request form, and the row of the table that says how it travels.
COMMON_FIELD_ROWS = {
    "system": "system prompt",
    "messages": "turns",
    "tools": "tool definition",
    "tool_choice": "tool choice: this tool",
    "parallel_tool_calls": "one call at a time",
    "response_format": "JSON output with schema",
    "max_tokens": "output limit",
    "temperature": "temperature",
    "top_p": "top_p",
    "top_k": "top_k",
    "stop": "stop sequences",
    "n": "several answers",
    "seed": "seed",
    "presence_penalty": "presence / frequency penalty",
    "frequency_penalty": "presence / frequency penalty",
    "user": "end user",
    "stream": "streaming",
    "thinking": "thinking",
    "logprobs": "log-probabilities",
    "top_logprobs": "log-probabilities",
}


def fields_of(cell: str) -> list[list[str]]:
    """The parameters a cell names, one list of spellings per parameter (``x`` (or ``y``) is one parameter
    with two spellings; other parentheses are comments)."""
    spellings: list[list[str]] = []
    for outside, inside in re.findall(r"([^()]*)(?:\(([^()]*)\))?", cell):
        spellings += [[name] for name in ticked(outside)]
        if inside.startswith("or ") and spellings:
            spellings[-1] += ticked(inside)
    return spellings


def place(dialect: Dialect, name: str, value: Any) -> dict[str, Any]:
    """A request body of ``dialect`` with the parameter ``name`` (dotted: nested) set to ``value``."""
    body = copy.deepcopy(BASE[dialect])
    path = name.removeprefix("generationConfig.").split(".")
    holder = body.setdefault("generationConfig", {}) if dialect is GEM else body
    for key in path[:-1]:
        holder = holder.setdefault(key, {})
    holder[path[-1]] = value
    return body


def found(dialect: Dialect, body: dict[str, Any], name: str) -> Any:
    holder: Any = body.get("generationConfig", {}) if dialect is GEM else body
    for key in name.removeprefix("generationConfig.").split("."):
        holder = holder.get(key) if isinstance(holder, dict) else None
    return holder


def kind_of(cell: str) -> str:
    return "refused" if cell.startswith("refused") else "dropped" if cell.startswith("dropped") else "mapped"


def test_the_request_table_has_the_rows_the_tests_know() -> None:
    """Every parameter row the tests send values for and every row a common request field travels by is
    in the table (a row renamed or removed fails here, not silently)."""
    missing = (set(SCALAR_VALUES) | set(COMMON_FIELD_ROWS.values())) - set(REQUEST_ROWS)
    assert not missing


def test_every_common_request_field_has_a_row() -> None:
    """Each field of the common request form (``ChatRequest``) is mapped to a row of the table: a new field
    fails until the page says how it travels."""
    assert set(ChatRequest.__annotations__) - {"param_names"} == set(COMMON_FIELD_ROWS)  # names, not a field


@pytest.mark.parametrize("row", sorted(SCALAR_VALUES))
def test_documented_parameter_mappings_hold(row: str) -> None:
    """For every parameter row, a request setting the parameter as its source column spells it reaches each
    other dialect as that column says: under its name there with the same value, or refused (an error, or
    dropped and listed under ``drop``), or dropped and listed."""
    cells = REQUEST_ROWS[row]
    values = SCALAR_VALUES[row]
    for source, source_cell in cells.items():
        if kind_of(source_cell) != "mapped":
            continue
        for position, spellings in enumerate(fields_of(source_cell)[: len(values)]):
            for spelling in spellings:
                for target, target_cell in cells.items():
                    if target is source:
                        continue
                    body = place(source, spelling, values[position])
                    kind = kind_of(target_cell)
                    where = f"{row}: {spelling} from {source} to {target}"
                    if kind == "refused":
                        with pytest.raises(UnsupportedParameter):
                            translate(copy.deepcopy(body), source, target)
                        assert translate(body, source, target, DROP)[1], where
                        continue
                    out, dropped = translate(body, source, target)
                    if kind == "dropped":
                        assert dropped, where
                        continue
                    name = fields_of(target_cell)[position][0]
                    assert found(target, out, name) == values[position], where


def column_words(dialect: Dialect) -> set[str]:
    """Every name written in ``dialect``'s column of the request table."""
    words: set[str] = set()
    for cells in REQUEST_ROWS.values():
        for token in ticked(cells[dialect]):
            words |= set(re.findall(r"[A-Za-z_]+", token))
    return words


def rich_request(dialect: Dialect) -> dict[str, Any]:
    """A request of ``dialect`` using every parameter row its column names, with tools, a forced tool, a
    JSON schema and a system prompt, streamed."""
    body = copy.deepcopy(BASE[dialect])
    for row, values in SCALAR_VALUES.items():
        cell = REQUEST_ROWS[row][dialect]
        if kind_of(cell) == "mapped":
            for spellings, value in zip(fields_of(cell), values, strict=False):
                body = _merge(body, place(dialect, spellings[0], value))
    schema = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
    if dialect is OAI:
        body["messages"].insert(0, {"role": "system", "content": "be brief"})
        body.update(tools=[OAI_TOOL], tool_choice={"type": "function", "function": {"name": "f"}}, stream=True)
        body["response_format"] = {"type": "json_schema", "json_schema": {"name": "r", "schema": schema}}
    elif dialect is ANT:
        body.update(system="be brief", tools=[ANT_TOOL], tool_choice={"type": "tool", "name": "f"}, stream=True)
        body["output_config"] = {"format": {"type": "json_schema", "schema": schema}}
    else:
        body["systemInstruction"] = {"parts": [{"text": "be brief"}]}
        body["tools"] = [{"functionDeclarations": [{"name": "f", "parameters": {"type": "OBJECT", "properties": {}}}]}]
        body["toolConfig"] = {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["f"]}}
        body["generationConfig"].update(responseMimeType="application/json", responseSchema=schema)
        body["generationConfig"]["candidateCount"] = 1  # a stream carries one answer
        body["_stream"] = True
    return body


def _merge(body: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(body.get(key), dict):
            body[key] = _merge(body[key], value)
        else:
            body[key] = value
    return body


@pytest.mark.parametrize("source", [OAI, ANT, GEM], ids=str)
def test_translated_requests_carry_only_documented_fields(source: Dialect) -> None:
    """Every field a translated request carries (top level, and inside Gemini's ``generationConfig`` and
    ``toolConfig``) is named in the target's column of the table: the code writes nothing the page does
    not tell."""
    for target in (OAI, ANT, GEM):
        if target is source:
            continue
        body = rich_request(source)
        if source is OAI and target is not ANT:
            body.pop("n")  # a stream carries one answer
        out, _ = translate(body, source, target, DROP)
        names = set(out)
        for nested in ("generationConfig", "toolConfig"):
            names |= set(out.get(nested, {}))
        assert names <= column_words(target), (source, target, names - column_words(target))


# ---------------------------------------------------------------------------------------------------------
# The "Refused" table

REFUSED_ROWS = table_after("Refused (or dropped under `drop`)")

# A request fragment per name the table lists (None: a word of the row that qualifies another name).
GC = "generationConfig"
REFUSED_SAMPLES: dict[tuple[str, str], dict[str, Any] | None] = {
    ("OpenAI", "messages.name"): {"messages": [{"role": "user", "content": "hi", "name": "alice"}]},
    ("OpenAI", "assistant.audio"): {
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": None, "audio": {"id": "audio_1"}},
            {"role": "user", "content": "again"},
        ]
    },
    ("OpenAI", "logprobs: true"): {"logprobs": True},
    ("OpenAI", "top_logprobs"): {"top_logprobs": 2},
    ("OpenAI", "logit_bias"): {"logit_bias": {"50256": -100}},
    ("OpenAI", "reasoning_effort: xhigh"): {"reasoning_effort": "xhigh"},
    ("OpenAI", "reasoning_effort: minimal"): {"reasoning_effort": "minimal"},
    ("OpenAI", "none"): None,
    ("OpenAI", "minimal"): None,
    ("OpenAI", "low"): None,
    ("OpenAI", "medium"): None,
    ("OpenAI", "high"): None,
    ("OpenAI", "verbosity"): {"verbosity": "low"},
    ("OpenAI", "audio"): {"audio": {"voice": "alloy", "format": "wav"}},
    ("OpenAI", "modalities"): {"modalities": ["text", "audio"]},
    ("OpenAI", "prediction"): {"prediction": {"type": "content", "content": "x"}},
    ("OpenAI", "web_search_options"): {"web_search_options": {}},
    ("OpenAI", "moderation"): {
        "moderation": {"model": "omni-moderation-latest", "policy": {"output": {"mode": "block"}}}
    },
    ("OpenAI", "functions"): {"functions": [{"name": "f", "parameters": {}}]},
    ("OpenAI", "function_call"): {"function_call": "auto"},
    ("OpenAI", "input_audio"): {  # with a text: the audio dropped, the turn is not empty
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "what is said?"},
                    {"type": "input_audio", "input_audio": {"data": "AA", "format": "wav"}},
                ],
            }
        ]
    },
    ("OpenAI", "file_id"): {
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "file", "file": {"file_id": "f"}}]}
        ]
    },
    ("OpenAI", "tool_choice.allowed_tools"): {
        "tools": [OAI_TOOL],
        "tool_choice": {
            "type": "allowed_tools",
            "allowed_tools": {"mode": "auto", "tools": [{"type": "function", "function": {"name": "f"}}]},
        },
    },
    ("OpenAI", "auto"): None,
    ("OpenAI", "n > 1"): {"n": 2},
    ("OpenAI", "seed"): {"seed": 7},
    ("OpenAI", "stop"): {"stop": ["\n"]},
    ("OpenAI", "presence_penalty"): {"presence_penalty": 0.5},
    ("OpenAI", "frequency_penalty"): {"frequency_penalty": 0.5},
    ("OpenAI", "parallel_tool_calls: false"): {"tools": [OAI_TOOL], "parallel_tool_calls": False},
    ("OpenAI", "response_format.json_schema.description"): {
        "response_format": {"type": "json_schema", "json_schema": {"name": "r", "description": "a place"}}
    },
    ("OpenAI", "schema"): None,
    ("Anthropic", "thinking"): {"thinking": {"type": "enabled", "budget_tokens": 1024}},
    ("Anthropic", "output_config.effort"): {"output_config": {"effort": "low"}},
    ("Anthropic", "mcp_servers"): {"mcp_servers": [{"type": "url", "url": "https://mcp.test", "name": "m"}]},
    ("Anthropic", "container"): {"container": "container_1"},
    ("Anthropic", "compaction"): {"compaction": {"type": "compaction"}},
    ("Anthropic", "context_management"): {"context_management": {"edits": [{"type": "clear_tool_uses_20250919"}]}},
    ("Anthropic", "thinking.display"): {"thinking": {"type": "enabled", "budget_tokens": 2048, "display": "full"}},
    ("Anthropic", "input_examples"): {"tools": [{**ANT_TOOL, "input_examples": [{}]}]},
    ("Anthropic", "defer_loading"): {"tools": [{**ANT_TOOL, "defer_loading": True}]},
    ("Anthropic", "allowed_callers"): {"tools": [{**ANT_TOOL, "allowed_callers": ["code_execution_20260120"]}]},
    ("Anthropic", "tool_use.toolset_name"): {
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": [{**ANT_USE, "toolset_name": "browser"}]},
            {"role": "user", "content": [ANT_RESULT]},
        ]
    },
    ("Anthropic", "tool_use.caller"): {
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": [{**ANT_USE, "caller": {"type": "code_execution_20250825"}}]},
            {"role": "user", "content": [ANT_RESULT]},
        ]
    },
    ("Anthropic", "top_k"): {"top_k": 5},
    ("Anthropic", "document"): {
        "messages": [
            {
                "role": "user",
                "content": [{"type": "document", "source": {"type": "url", "url": "https://d.test/a.pdf"}}],
            }
        ]
    },
    ("Anthropic", "content.media"): None,
    **{
        ("Anthropic", f"document.{key}"): {
            "messages": [
                {
                    "role": "user",
                    "content": [{"type": "document", "source": {"type": "text", "data": "menu"}, key: value}],
                }
            ]
        }
        for key, value in (("citations", {"enabled": True}), ("title", "Menu"), ("context", "from the inn"))
    },
    ("Anthropic", "disable_parallel_tool_use"): {
        "tools": [ANT_TOOL],
        "tool_choice": {"type": "auto", "disable_parallel_tool_use": True},
    },
    ("Gemini", "safetySettings"): {
        "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}]
    },
    ("Gemini", "cachedContent"): {"cachedContent": "cachedContents/c1"},
    ("Gemini", "thinkingBudget"): {GC: {"thinkingConfig": {"thinkingBudget": 1024, "includeThoughts": False}}},
    ("Gemini", "includeThoughts: true"): {GC: {"thinkingConfig": {"includeThoughts": True}}},
    ("Gemini", "thinkingLevel"): {GC: {"thinkingConfig": {"thinkingLevel": "LOW", "includeThoughts": True}}},
    ("Gemini", "thinkingLevel: xhigh"): {GC: {"thinkingConfig": {"thinkingLevel": "XHIGH"}}},
    ("Gemini", "functionResponse.parts"): {
        "contents": [
            {"role": "user", "parts": [{"text": "draw"}]},
            {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {}}}]},
            {
                "role": "user",
                "parts": [
                    {
                        "functionResponse": {
                            "name": "f",
                            "response": {},
                            "parts": [{"inlineData": {"mimeType": "image/png", "data": "MTIz"}}],
                        }
                    }
                ],
            },
        ]
    },
    ("Gemini", "allowedFunctionNames"): {
        "tools": [{"functionDeclarations": [{"name": "f"}]}],
        "toolConfig": {"functionCallingConfig": {"mode": "VALIDATED", "allowedFunctionNames": ["f"]}},
    },
    ("Gemini", "responseModalities"): {GC: {"responseModalities": ["TEXT", "IMAGE"]}},
    ("Gemini", "speechConfig"): {GC: {"speechConfig": {"voiceConfig": {}}}},
    ("Gemini", "googleSearch"): {"tools": [{"googleSearch": {}}]},
    ("Gemini", "codeExecution"): {"tools": [{"codeExecution": {}}]},
    ("Gemini", "urlContext"): {"tools": [{"urlContext": {}}]},
    ("Gemini", "executableCode"): {
        "contents": [HI, {"role": "model", "parts": [{"executableCode": {"language": "PYTHON", "code": "1"}}]}]
    },
    ("Gemini", "codeExecutionResult"): {
        "contents": [HI, {"role": "model", "parts": [{"codeExecutionResult": {"outcome": "OUTCOME_OK"}}]}]
    },
    ("Gemini", "functionCall.partialArgs"): {
        "contents": [
            {"role": "user", "parts": [{"text": "hi"}]},
            {"role": "model", "parts": [{"functionCall": {"name": "f", "partialArgs": [{"jsonPath": "$.a"}]}}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {}}}]},
        ]
    },
    ("Gemini", "functionResponse.scheduling"): {
        "contents": [
            {"role": "user", "parts": [{"text": "hi"}]},
            {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {}}}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {}, "scheduling": "SILENT"}}]},
        ]
    },
    ("Gemini", "videoMetadata"): {
        "contents": [
            {
                "role": "user",
                "parts": [
                    {"text": "hi"},
                    {"fileData": {"mimeType": "video/mp4", "fileUri": "https://v.test/a.mp4"}, "videoMetadata": {}},
                ],
            }
        ]
    },
    ("Gemini", "toolConfig"): {"toolConfig": {"codeExecutionConfig": {}}},
    ("Gemini", "generationConfig.imageConfig"): {"generationConfig": {"imageConfig": {"aspectRatio": "1:1"}}},
    ("Gemini", "audioTranscriptionConfig"): {"generationConfig": {"audioTranscriptionConfig": {}}},
    ("Gemini", "functionCallingConfig"): None,
    ("Gemini", "inlineData"): {
        "contents": [
            {"role": "user", "parts": [{"text": "hi"}, {"inlineData": {"mimeType": "audio/wav", "data": "AA"}}]}
        ]
    },
    ("Gemini", "fileData"): {
        "contents": [
            {
                "role": "user",
                "parts": [{"text": "hi"}, {"fileData": {"mimeType": "video/mp4", "fileUri": "https://v.test/a"}}],
            }
        ]
    },
    ("Gemini", "content.media"): None,
    ("Gemini", "behavior"): {"tools": [{"functionDeclarations": [{"name": "f", "behavior": "NON_BLOCKING"}]}]},
    ("Gemini", "topK"): {GC: {"topK": 5}},
    ("Gemini", "responseLogprobs"): {GC: {"responseLogprobs": True}},
    ("Gemini", "logprobs"): {GC: {"logprobs": 3}},
    ("Gemini", "candidateCount > 1"): {GC: {"candidateCount": 2}},
    ("Gemini", "seed"): {GC: {"seed": 7}},
    ("Gemini", "stopSequences"): {GC: {"stopSequences": ["\n"]}},
    ("Gemini", "presencePenalty"): {GC: {"presencePenalty": 0.5}},
    ("Gemini", "frequencyPenalty"): {GC: {"frequencyPenalty": 0.5}},
    # A stream carries one answer, from any dialect
    ("any", "n"): {"n": 2, "stream": True},
    ("any", "candidateCount"): {GC: {"candidateCount": 2}, "_stream": True},
}
STREAM_SOURCES = {"n": OAI, "candidateCount": GEM}


def refusal_cases() -> list[Any]:
    """(name, source, body, the dialects the table says refuse it) per name the table lists."""
    cases = []
    for source_cell, towards_cell, names_cell in REFUSED_ROWS:
        for name in ticked(names_cell):
            sample = REFUSED_SAMPLES[(source_cell, name)]
            if sample is None:
                continue
            source = STREAM_SOURCES[name] if source_cell == "any" else COLUMNS[source_cell]
            targets = {d for d in COLUMNS.values() if d is not source}
            if towards_cell not in ("all", "any (streams)"):
                targets = {COLUMNS[name] for name in towards_cell.split(", ")}
            body = _merge(copy.deepcopy(BASE[source]), copy.deepcopy(sample))
            cases.append(pytest.param(name, source, body, targets, id=f"{source}:{name}"))
    return cases


def test_every_refused_name_has_a_sample() -> None:
    """The tests hold a request for every name the Refused table lists, and no sample for a name it
    no longer lists."""
    listed = {(row[0], name) for row in REFUSED_ROWS for name in ticked(row[2])}
    assert listed == set(REFUSED_SAMPLES)


@pytest.mark.parametrize(("name", "source", "body", "targets"), refusal_cases())
def test_documented_refusals_hold(name: str, source: Dialect, body: dict[str, Any], targets: set[Dialect]) -> None:
    """A parameter the Refused table lists is refused towards the dialects it names (and dropped, listed,
    under ``drop``), by the name the table gives, which is the caller's (a media part by ``content.media``),
    and translates towards the others."""
    written = name.split(" ")[0].split(":")[0].split(".")[-1]
    for target in (OAI, ANT, GEM):
        if target is source:
            continue
        if target in targets:
            with pytest.raises(UnsupportedParameter) as info:
                translate(copy.deepcopy(body), source, target)
            assert written in info.value.name.split(".") or info.value.name == "content.media", target
            assert translate(copy.deepcopy(body), source, target, DROP)[1], (name, target)
        else:
            translate(copy.deepcopy(body), source, target)


def refused_names_in_code() -> set[str]:
    """The names the translation code refuses by (``drops.unsupported("name", ...)``; an f-string's leading
    text, such as ``content.``, stands for its names)."""
    names: set[str] = set()
    for path in [*(ROOT / "sidecar" / "dialects").rglob("*.py"), *(ROOT / "sidecar" / "translate").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args):
                continue
            if node.func.attr != "unsupported":
                continue
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                names.add(first.value)
            elif isinstance(first, ast.JoinedStr) and isinstance(first.values[0], ast.Constant):
                names.add(str(first.values[0].value))
            elif isinstance(first, ast.BinOp) and isinstance(first.left, ast.Constant):
                names.add(str(first.left.value))
    return names


def test_every_parameter_the_code_refuses_is_in_the_page() -> None:
    """Each name the code refuses by appears in the page (its last part, written in backticks): a refusal
    added to the code fails here until the page lists it."""
    written = {word for token in ticked(PAGE) for word in re.findall(r"[A-Za-z_]+", token)}
    missing = set()
    for name in refused_names_in_code():
        parts = [part for part in name.split(".") if part]
        if parts and parts[-1] not in written:
            missing.add(name)
    assert not missing
