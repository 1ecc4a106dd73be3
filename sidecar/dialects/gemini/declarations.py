"""Gemini ``tools[].functionDeclarations`` read into the common form's tools (``parse_tools``).

A declaration's ``name``, ``description`` and ``parameters`` (Gemini ``Schema``, turned into JSON Schema)
or ``parametersJsonSchema`` translate. Its ``response`` / ``responseJsonSchema`` (what the function
returns, https://ai.google.dev/api/caching#FunctionDeclaration) has no place in an OpenAI function or an
Anthropic tool, and does not change the call the model makes: it is always dropped and listed, never
refused (google-genai writes ``responseJsonSchema`` from a Python function's return annotation, so every
automatic function calling app sends one). Any other field is refused by name, dropped and listed under
``drop``. A ``behavior`` left at its default (``BLOCKING``) asks for nothing.
"""

from __future__ import annotations

from typing import Any

from ...translate.options import Drops, name_of
from ...translate.schema import to_json_schema
from .keys import camel

_TRANSLATED = frozenset(("name", "description", "parameters", "parametersJsonSchema"))
_DEFAULTS: dict[str, Any] = {"behavior": ("BLOCKING", "UNSPECIFIED")}
_RESULT_SCHEMAS = frozenset(("response", "responseJsonSchema"))  # what the function returns: dropped, listed


def parse_tools(value: Any, drops: Drops) -> list[Any]:
    """The function declarations of ``value`` (a Gemini ``tools`` list) as common tools; other tools
    (``googleSearch``...) and declaration fields with no equivalent go to ``drops``."""
    tools = []
    for group in value:
        for raw_key, decls in group.items():
            key = camel(raw_key)
            if key != "functionDeclarations":
                drops.unsupported(f"tools.{key}", "only function declarations translate")
                continue
            for decl in decls:
                decl = {camel(k): v for k, v in decl.items()}
                for field, v in decl.items():
                    if field in _TRANSLATED or v is None or v in _DEFAULTS.get(field, ()):
                        continue
                    if field in _RESULT_SCHEMAS:
                        drops.ignored(f"functionDeclarations.{field}")
                    else:
                        drops.unsupported(f"functionDeclarations.{name_of(field)}")
                if "parametersJsonSchema" in decl:
                    params = decl["parametersJsonSchema"]
                else:
                    params = to_json_schema(decl["parameters"]) if decl.get("parameters") else None
                tools.append({"name": decl["name"], "description": decl.get("description"), "parameters": params})
    return tools
