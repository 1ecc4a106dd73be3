"""The GenAI attribute builders: request parameters and usage, added to the dict a span's attributes are
gathered in."""

from __future__ import annotations

from sidecar.telemetry.genai import Usage, request_param_attributes, usage_attributes
from sidecar.translate.common import RequestParams


def test_request_params_are_added_to_the_given_attributes() -> None:
    """``request_param_attributes(params, into)`` adds the set parameters to ``into`` and returns it."""
    attributes: dict[str, object] = {"sidecar.target": "openai/gpt-4o"}
    params = RequestParams(max_tokens=256, temperature=0.2, stop_sequences=("END",))

    result = request_param_attributes(params, attributes)

    assert result is attributes
    assert attributes == {
        "sidecar.target": "openai/gpt-4o",
        "gen_ai.request.max_tokens": 256,
        "gen_ai.request.temperature": 0.2,
        "gen_ai.request.stop_sequences": ["END"],
    }


def test_request_params_give_the_same_attributes_from_a_named_tuple_a_mapping_and_an_object() -> None:
    """The request's ``RequestParams`` (a named tuple, read without the ``Mapping`` check), a mapping of the
    same fields and an object with only some of them give the same attributes, field by field: every
    set parameter, stop sequences as a list of strings, nothing for None or an empty sequence."""
    params = RequestParams(model="gpt-4o", max_tokens=256, top_p=0.9, stop_sequences=("END", "STOP"), seed=7)
    expected = {
        "gen_ai.request.max_tokens": 256,
        "gen_ai.request.top_p": 0.9,
        "gen_ai.request.stop_sequences": ["END", "STOP"],
        "gen_ai.request.seed": 7,
    }

    class Some:
        max_tokens = 256
        top_p = 0.9
        stop_sequences = ["END", "STOP"]
        seed = 7
        temperature = None

    mapping = {"max_tokens": 256, "top_p": 0.9, "stop_sequences": ("END", "STOP"), "seed": 7, "top_k": None}
    assert request_param_attributes(params) == expected
    assert request_param_attributes(mapping) == expected
    assert request_param_attributes(Some()) == expected
    assert request_param_attributes(RequestParams(stop_sequences=())) == {}


def test_usage_is_added_to_the_given_attributes_leaving_unknown_counts_out() -> None:
    """``usage_attributes(usage, into)`` adds the known token counts to ``into`` and returns it."""
    attributes: dict[str, object] = {"http.response.status_code": 200}

    result = usage_attributes(Usage(input_tokens=120, output_tokens=None, cached_input_tokens=100), attributes)

    assert result is attributes
    assert attributes == {
        "http.response.status_code": 200,
        "gen_ai.usage.input_tokens": 120,
        "gen_ai.usage.cache_read.input_tokens": 100,
    }
