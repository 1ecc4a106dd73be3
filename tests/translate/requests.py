"""One rich request per dialect, modelled on each provider's documented examples, and the exact body
each other dialect must receive for it (system prompt, images by URL and base64, tools, a tool call and
its result, a multi-turn conversation, sampling parameters, stop sequences, tool_choice)."""

from __future__ import annotations

from typing import Any

SKIP = "skip_thought_signature_validator"
PHOTO_URL = "https://upload.wikimedia.org/wikipedia/commons/d/dd/Gfp-wisconsin-madison-the-nature-boardwalk.jpg"
JPEG_B64 = "/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAP"
PNG_B64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAAB"

WEATHER_SCHEMA = {
    "type": "object",
    "properties": {
        "location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
    },
    "required": ["location"],
}
WEATHER_GEMINI = {
    "type": "OBJECT",
    "properties": {
        "location": {"type": "STRING", "description": "The city and state, e.g. San Francisco, CA"},
        "unit": {"type": "STRING", "enum": ["celsius", "fahrenheit"]},
    },
    "required": ["location"],
}

# --------------------------------------------------------------------------------------------------------
# OpenAI source

OPENAI_REQUEST: dict[str, Any] = {
    "model": "gpt-4o",
    "messages": [
        {"role": "developer", "content": "You are a helpful assistant."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What's the weather like in Boston today? Here are two photos."},
                {"type": "image_url", "image_url": {"url": PHOTO_URL}},
                {"type": "image_url", "image_url": {"url": f"data:image/jpeg;base64,{JPEG_B64}"}},
            ],
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_abc123",
                    "type": "function",
                    "function": {"name": "get_current_weather", "arguments": '{"location": "Boston, MA"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_abc123", "content": '{"temperature": 22, "unit": "celsius"}'},
        {"role": "assistant", "content": "It is 22°C in Boston."},
        {"role": "user", "content": "Thanks!"},
    ],
    "tools": [
        {
            "type": "function",
            "function": {
                "name": "get_current_weather",
                "description": "Get the current weather in a given location",
                "parameters": WEATHER_SCHEMA,
            },
        }
    ],
    "tool_choice": "auto",
    "temperature": 0.2,
    "top_p": 0.9,
    "max_completion_tokens": 256,
    "stop": ["\n\nHuman:"],
    "user": "user-1234",
}

OPENAI_TO_ANTHROPIC: dict[str, Any] = {
    "model": "claude-sonnet-4-5",
    "max_tokens": 256,
    "system": "You are a helpful assistant.",
    "messages": [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What's the weather like in Boston today? Here are two photos."},
                {"type": "image", "source": {"type": "url", "url": PHOTO_URL}},
                {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": JPEG_B64}},
            ],
        },
        {
            "role": "assistant",
            "content": [
                {
                    "type": "tool_use",
                    "id": "call_abc123",
                    "name": "get_current_weather",
                    "input": {"location": "Boston, MA"},
                }
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "call_abc123",
                    "content": '{"temperature": 22, "unit": "celsius"}',
                }
            ],
        },
        {"role": "assistant", "content": [{"type": "text", "text": "It is 22°C in Boston."}]},
        {"role": "user", "content": [{"type": "text", "text": "Thanks!"}]},
    ],
    "temperature": 0.2,
    "top_p": 0.9,
    "stop_sequences": ["\n\nHuman:"],
    "metadata": {"user_id": "user-1234"},
    "tools": [
        {
            "name": "get_current_weather",
            "description": "Get the current weather in a given location",
            "input_schema": WEATHER_SCHEMA,
        }
    ],
    "tool_choice": {"type": "auto"},
}

OPENAI_TO_GEMINI: dict[str, Any] = {
    "systemInstruction": {"parts": [{"text": "You are a helpful assistant."}]},
    "contents": [
        {
            "role": "user",
            "parts": [
                {"text": "What's the weather like in Boston today? Here are two photos."},
                {"fileData": {"mimeType": "image/jpeg", "fileUri": PHOTO_URL}},
                {"inlineData": {"mimeType": "image/jpeg", "data": JPEG_B64}},
            ],
        },
        {
            "role": "model",
            "parts": [
                {
                    "functionCall": {"name": "get_current_weather", "args": {"location": "Boston, MA"}},
                    "thoughtSignature": SKIP,
                }
            ],
        },
        {
            "role": "user",
            "parts": [
                {
                    "functionResponse": {
                        "name": "get_current_weather",
                        "response": {"temperature": 22, "unit": "celsius"},
                    }
                }
            ],
        },
        {"role": "model", "parts": [{"text": "It is 22°C in Boston."}]},
        {"role": "user", "parts": [{"text": "Thanks!"}]},
    ],
    "tools": [
        {
            "functionDeclarations": [
                {
                    "name": "get_current_weather",
                    "description": "Get the current weather in a given location",
                    "parameters": WEATHER_GEMINI,
                }
            ]
        }
    ],
    "toolConfig": {"functionCallingConfig": {"mode": "AUTO"}},
    "generationConfig": {
        "maxOutputTokens": 256,
        "temperature": 0.2,
        "topP": 0.9,
        "stopSequences": ["\n\nHuman:"],
    },
}

# --------------------------------------------------------------------------------------------------------
# Anthropic source

ANTHROPIC_REQUEST: dict[str, Any] = {
    "model": "claude-sonnet-4-5",
    "max_tokens": 1024,
    "system": [
        {"type": "text", "text": "You are a weather assistant."},
        {"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}},
    ],
    "messages": [
        {
            "role": "user",
            "content": [
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64}},
                {"type": "text", "text": "What's the weather like in San Francisco?"},
            ],
        },
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "I'll check the current weather in San Francisco."},
                {
                    "type": "tool_use",
                    "id": "toolu_01A09q90qw90lq917835lq9",
                    "name": "get_weather",
                    "input": {"location": "San Francisco, CA", "unit": "celsius"},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_01A09q90qw90lq917835lq9",
                    "content": "15 degrees",
                },
                {"type": "text", "text": "Should I bring an umbrella?"},
            ],
        },
    ],
    "tools": [{"name": "get_weather", "description": "Get the current weather", "input_schema": WEATHER_SCHEMA}],
    "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
    "temperature": 0.5,
    "top_k": 40,
    "stop_sequences": ["END"],
    "metadata": {"user_id": "u-42"},
    "stream": True,
}

ANTHROPIC_TO_OPENAI: dict[str, Any] = {
    "model": "gpt-4o",
    "messages": [
        {"role": "system", "content": "You are a weather assistant.\n\nBe brief."},
        {
            "role": "user",
            "content": [
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_B64}"}},
                {"type": "text", "text": "What's the weather like in San Francisco?"},
            ],
        },
        {
            "role": "assistant",
            "content": "I'll check the current weather in San Francisco.",
            "tool_calls": [
                {
                    "id": "toolu_01A09q90qw90lq917835lq9",
                    "type": "function",
                    "function": {
                        "name": "get_weather",
                        "arguments": '{"location":"San Francisco, CA","unit":"celsius"}',
                    },
                }
            ],
        },
        {"role": "tool", "tool_call_id": "toolu_01A09q90qw90lq917835lq9", "content": "15 degrees"},
        {"role": "user", "content": "Should I bring an umbrella?"},
    ],
    "max_completion_tokens": 1024,
    "temperature": 0.5,
    "stop": ["END"],
    "user": "u-42",
    "tool_choice": "required",
    "tools": [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Get the current weather",
                "parameters": WEATHER_SCHEMA,
            },
        }
    ],
    "parallel_tool_calls": False,
    "stream": True,
    "stream_options": {"include_usage": True},
}
ANTHROPIC_TO_OPENAI_DROPPED = ["cache_control", "top_k"]

ANTHROPIC_TO_GEMINI: dict[str, Any] = {
    "systemInstruction": {"parts": [{"text": "You are a weather assistant."}, {"text": "Be brief."}]},
    "contents": [
        {
            "role": "user",
            "parts": [
                {"inlineData": {"mimeType": "image/png", "data": PNG_B64}},
                {"text": "What's the weather like in San Francisco?"},
            ],
        },
        {
            "role": "model",
            "parts": [
                {"text": "I'll check the current weather in San Francisco."},
                {
                    "functionCall": {
                        "name": "get_weather",
                        "args": {"location": "San Francisco, CA", "unit": "celsius"},
                    },
                    "thoughtSignature": SKIP,
                },
            ],
        },
        {
            "role": "user",
            "parts": [
                {"functionResponse": {"name": "get_weather", "response": {"result": "15 degrees"}}},
                {"text": "Should I bring an umbrella?"},
            ],
        },
    ],
    "tools": [
        {
            "functionDeclarations": [
                {
                    "name": "get_weather",
                    "description": "Get the current weather",
                    "parameters": WEATHER_GEMINI,
                }
            ]
        }
    ],
    "toolConfig": {"functionCallingConfig": {"mode": "ANY"}},
    "generationConfig": {"maxOutputTokens": 1024, "temperature": 0.5, "topK": 40, "stopSequences": ["END"]},
}
ANTHROPIC_TO_GEMINI_DROPPED = ["cache_control", "tool_choice.disable_parallel_tool_use", "metadata.user_id"]

# --------------------------------------------------------------------------------------------------------
# Gemini source

GEMINI_REQUEST: dict[str, Any] = {
    "systemInstruction": {"parts": [{"text": "You are a cat. Your name is Neko."}]},
    "contents": [
        {
            "role": "user",
            "parts": [
                {"text": "What is in these pictures, and what's the weather in Boston?"},
                {"inlineData": {"mimeType": "image/jpeg", "data": JPEG_B64}},
                {"fileData": {"mimeType": "image/jpeg", "fileUri": PHOTO_URL}},
            ],
        },
        {
            "role": "model",
            "parts": [
                {
                    "functionCall": {"name": "get_weather", "args": {"location": "Boston, MA"}},
                    "thoughtSignature": "CiQBcsjafE9U",
                },
                {"functionCall": {"name": "get_time", "args": {"tz": "America/New_York"}}},
            ],
        },
        {
            "role": "user",
            "parts": [
                {"functionResponse": {"name": "get_weather", "response": {"temperature": 22}}},
                {"functionResponse": {"name": "get_time", "response": {"result": "09:30"}}},
            ],
        },
        {"role": "model", "parts": [{"text": "It is 22 degrees at 09:30."}]},
        {"role": "user", "parts": [{"text": "Thanks"}]},
    ],
    "tools": [
        {
            "functionDeclarations": [
                {
                    "name": "get_weather",
                    "description": "Get the weather",
                    "parameters": {
                        "type": "OBJECT",
                        "properties": {"location": {"type": "STRING"}},
                        "required": ["location"],
                    },
                },
                {
                    "name": "get_time",
                    "description": "Get the time",
                    "parameters": {
                        "type": "OBJECT",
                        "properties": {"tz": {"type": "STRING", "nullable": True}},
                    },
                },
            ]
        }
    ],
    "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}},
    "generationConfig": {
        "temperature": 1.0,
        "topP": 0.95,
        "maxOutputTokens": 8192,
        "stopSequences": ["STOP!"],
        "candidateCount": 1,
    },
    "safetySettings": [],
}

_WEATHER_JSON = {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}
_TIME_JSON = {"type": "object", "properties": {"tz": {"type": ["string", "null"]}}}

GEMINI_TO_OPENAI: dict[str, Any] = {
    "model": "gpt-4o",
    "messages": [
        {"role": "system", "content": "You are a cat. Your name is Neko."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is in these pictures, and what's the weather in Boston?"},
                {"type": "image_url", "image_url": {"url": f"data:image/jpeg;base64,{JPEG_B64}"}},
                {"type": "image_url", "image_url": {"url": PHOTO_URL}},
            ],
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1_0",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"location":"Boston, MA"}'},
                },
                {
                    "id": "call_1_1",
                    "type": "function",
                    "function": {"name": "get_time", "arguments": '{"tz":"America/New_York"}'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_1_0", "content": '{"temperature":22}'},
        {"role": "tool", "tool_call_id": "call_1_1", "content": "09:30"},
        {"role": "assistant", "content": "It is 22 degrees at 09:30."},
        {"role": "user", "content": "Thanks"},
    ],
    "max_completion_tokens": 8192,
    "temperature": 1.0,
    "top_p": 0.95,
    "stop": ["STOP!"],
    "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
    "tools": [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Get the weather",
                "parameters": _WEATHER_JSON,
            },
        },
        {
            "type": "function",
            "function": {"name": "get_time", "description": "Get the time", "parameters": _TIME_JSON},
        },
    ],
}

GEMINI_TO_ANTHROPIC: dict[str, Any] = {
    "model": "claude-sonnet-4-5",
    "max_tokens": 8192,
    "system": "You are a cat. Your name is Neko.",
    "messages": [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is in these pictures, and what's the weather in Boston?"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": JPEG_B64}},
                {"type": "image", "source": {"type": "url", "url": PHOTO_URL}},
            ],
        },
        {
            "role": "assistant",
            "content": [
                {
                    "type": "tool_use",
                    "id": "call_1_0",
                    "name": "get_weather",
                    "input": {"location": "Boston, MA"},
                },
                {
                    "type": "tool_use",
                    "id": "call_1_1",
                    "name": "get_time",
                    "input": {"tz": "America/New_York"},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "call_1_0", "content": '{"temperature":22}'},
                {"type": "tool_result", "tool_use_id": "call_1_1", "content": "09:30"},
            ],
        },
        {"role": "assistant", "content": [{"type": "text", "text": "It is 22 degrees at 09:30."}]},
        {"role": "user", "content": [{"type": "text", "text": "Thanks"}]},
    ],
    "temperature": 1.0,
    "top_p": 0.95,
    "stop_sequences": ["STOP!"],
    "tools": [
        {"name": "get_weather", "description": "Get the weather", "input_schema": _WEATHER_JSON},
        {"name": "get_time", "description": "Get the time", "input_schema": _TIME_JSON},
    ],
    "tool_choice": {"type": "tool", "name": "get_weather"},
}
