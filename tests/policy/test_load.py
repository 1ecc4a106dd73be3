"""Loading policies: validation with path-qualified errors, the schema in step, every example loads (and
names the schema for editors)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from sidecar.policy import PolicyError, load_policy, load_policy_bytes
from sidecar.policy.schema import policy_json_schema

from .policies import BASE, errors_of, request

ROOT = Path(__file__).resolve().parents[2]


EDITED = sorted([*ROOT.glob("policies/*.yaml"), *ROOT.glob("deploy/k8s/**/policy.yaml")])  # the ones users edit


@pytest.mark.parametrize("path", [*EDITED, ROOT / "sidecar/demo/policy.yaml"], ids=lambda p: str(p.relative_to(ROOT)))
def test_every_example_policy_loads(path: Path) -> None:
    """Every policy shipped in policies/, the deploy kit's ConfigMap policies and the demo policy
    validate, without a warning (a route that can never match, a repeated key, a deprecated name: an
    example teaches none of them)."""
    policy = load_policy(path)
    assert policy.models and policy.warnings == ()


@pytest.mark.parametrize("path", EDITED, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_example_policy_names_the_schema_for_editors_on_its_first_line(path: Path) -> None:
    """The examples of policies/ and the deploy kit's policies start with the line docs/policy.md tells
    users to add (``# yaml-language-server: $schema=...``), its path leading to policies/policy.schema.json
    from where the file is, so an editor checks a copy of any of them as it is typed."""
    first = path.read_text().splitlines()[0]
    said = re.fullmatch(r"# yaml-language-server: \$schema=(\S+)", first)
    assert said is not None, first
    assert (path.parent / said.group(1)).resolve() == ROOT / "policies" / "policy.schema.json"


def test_committed_schema_matches_the_code() -> None:
    """policies/policy.schema.json is exactly what the models generate (`llm-sidecar schema` updates it)."""
    committed = (ROOT / "policies/policy.schema.json").read_text()
    assert committed == policy_json_schema(), "regenerate: llm-sidecar schema > policies/policy.schema.json"


def test_examples_validate_against_the_json_schema() -> None:
    """The JSON Schema editors use accepts every example policy (the deploy kit's too)."""
    jsonschema = pytest.importorskip("jsonschema")
    import yaml

    schema = json.loads(policy_json_schema())
    for path in EDITED:
        jsonschema.validate(yaml.safe_load(path.read_text()), schema)


def test_unknown_target_model_is_reported_with_its_path() -> None:
    """A route naming a model the policy lacks fails with routes[i].target and the name."""
    errors = errors_of(BASE + "routes:\n  - {match: {model: x}, target: a}\n  - {target: gpt-5x}\n")
    assert "routes[0].target: unknown model 'a'" in errors
    assert "routes[1].target: unknown model 'gpt-5x'" in errors


@pytest.mark.parametrize("value", [".inf", ".nan", "-.inf"])
def test_an_infinite_or_nan_number_is_refused_wherever_it_is(value: str) -> None:
    """YAML's .inf and .nan are numbers no policy field means: an infinite price made every request's
    cost infinite (budgets exhausted for good, the cost counter at +Inf), so each is refused by path."""
    text = BASE.replace("model: gpt-4o-mini}", f"model: gpt-4o-mini, price: {{output_per_mtok: {value}}}}}")
    assert any(e.startswith("models.gpt-4o-mini.price.output_per_mtok: ") for e in errors_of(text)), errors_of(text)


def test_chain_member_errors_name_their_index() -> None:
    """An unknown model inside a chain is reported as routes[i].target[j]."""
    errors = errors_of(BASE + "routes:\n  - {target: [gpt-4o, nope]}\n")
    assert errors == ["routes[0].target[1]: unknown model 'nope'"]


def test_unknown_field_is_rejected() -> None:
    """A misspelled key is an error, not silently ignored."""
    errors = errors_of(BASE + "routes:\n  - {target: gpt-4o, fallbcak: [claude]}\n")
    assert errors == ["routes[0].fallbcak: unknown field"]


def test_every_error_is_listed_at_once() -> None:
    """Several independent errors are all reported in one pass."""
    text = BASE.replace('base_url: "https://api.anthropic.com"', 'base_url: "api.anthropic.com"')
    text = text.replace("dialect: openai,", "dialect: opneai,")
    errors = errors_of(text)
    assert any(e.startswith("providers.anthropic.base_url:") for e in errors)
    assert any(e.startswith("providers.openai.dialect:") for e in errors)


def test_unknown_provider_of_a_model_is_reported() -> None:
    """A model pointing at a missing provider names the model and the provider."""
    errors = errors_of(BASE + "  bad: {provider: nowhere, model: m}\n")
    assert errors == ["models.bad.provider: unknown provider 'nowhere'"]


def test_credentials_in_headers_are_refused() -> None:
    """Keys belong in api_key (never shown), not in headers (the policy is not a secret: diff prints them)."""
    text = BASE.replace("api_key: {env: OPENAI_API_KEY}", "headers: {Authorization: 'Bearer sk'}")
    assert any("put credentials in api_key" in e for e in errors_of(text))


@pytest.mark.parametrize(
    ("proxy", "message"),
    [
        ("https://proxy:443", "must be 'none' or an http://host:port URL"),
        ("socks5://proxy:1080", "must be 'none' or an http://host:port URL"),
        ("http://user:secret@proxy:3128", "proxy credentials belong in HTTPS_PROXY"),
        ("http://proxy:3128/path", "scheme, host and port only"),
        ("direct", "must be 'none' or an http://host:port URL"),
    ],
)
def test_a_provider_proxy_is_none_or_an_http_url(proxy: str, message: str) -> None:
    """A provider's proxy is 'none' or http://host:port, never with credentials (the policy is not a secret)."""
    text = BASE.replace("api_key: {env: OPENAI_API_KEY}", f"proxy: '{proxy}'")
    errors = errors_of(text)
    assert len(errors) == 1 and errors[0].startswith("providers.openai.proxy:") and message in errors[0]


def test_a_provider_proxy_is_kept_on_the_compiled_provider() -> None:
    """proxy and tls reach the compiled provider as written."""
    text = BASE.replace("api_key: {env: OPENAI_API_KEY}", "proxy: http://egress:3128, tls: {ca_bundle: /etc/ca.pem}")
    provider = load_policy_bytes(text.encode(), "test.yaml").providers["openai"]
    assert provider.proxy == "http://egress:3128"
    assert provider.tls is not None and provider.tls.ca_bundle == "/etc/ca.pem"


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ("{client_key: /k.pem}", "set ca_bundle, client_cert, or both"),
        ("{ca_bundle: /ca.pem, client_key: /k.pem}", "client_key needs client_cert"),
        ("{}", "set ca_bundle, client_cert, or both"),
    ],
)
def test_a_tls_block_names_what_it_misses(block: str, message: str) -> None:
    """A tls block sets a CA bundle or a client certificate, and a key only with its certificate."""
    text = BASE.replace("api_key: {env: OPENAI_API_KEY}", f"tls: {block}")
    assert any(message in e for e in errors_of(text))


def test_tls_on_a_plain_http_provider_is_refused() -> None:
    """A tls block on an http:// base_url is a mistake, reported as such."""
    text = BASE.replace(
        '"https://api.openai.com/v1", api_key: {env: OPENAI_API_KEY}',
        '"http://vllm:8000/v1", tls: {ca_bundle: /ca.pem}',
    )
    assert any("tls needs an https:// base_url" in e for e in errors_of(text))


def test_invalid_yaml_names_the_line() -> None:
    """A YAML syntax error says where it is."""
    errors = errors_of("version: 1\nproviders: [\n  a: b\n")
    assert len(errors) == 1 and "invalid YAML at line" in errors[0]


def test_a_policy_that_is_not_utf8_names_the_byte_and_the_line() -> None:
    """A file saved as Latin-1 is a PolicyError naming the byte and its line (PyYAML's ReaderError
    escaped the loader: a traceback from ``validate``, and the end of hot reload in a running pod)."""
    data = (BASE + "default: {target: gpt-4o}  # caf\xe9\n").encode("latin-1")
    with pytest.raises(PolicyError) as caught:
        load_policy_bytes(data, "test.yaml")
    assert caught.value.errors == ["invalid YAML: not UTF-8 text: byte 0xe9 on line 10 (save the file as UTF-8)"]


def test_an_alias_is_read_once_whatever_refers_to_it() -> None:
    """A recursive alias (and, alike, aliases of aliases, exponential if each use were walked again) is
    read once by the check for repeated keys: the policy gets its ordinary errors, not "nested too
    deeply" (nor a load that never ends)."""
    text = BASE + "default: {target: gpt-4o}\nloop: &loop\n  self: *loop\n"
    assert errors_of(text) == ["loop: unknown field"]


def test_a_control_character_yaml_forbids_names_its_line() -> None:
    """A control character (a stray BEL pasted into a comment) is a PolicyError naming it and its line."""
    assert errors_of(BASE + "# \x07\n") == ["invalid YAML: control character U+0007 on line 10 is not allowed"]


@pytest.mark.parametrize(
    ("text", "path"),
    [
        (BASE.replace("model: gpt-4o-mini}", 'model: "gpt-4o-mini\\r\\nx-injected: 1"}'), "models.gpt-4o-mini.model"),
        (BASE.replace("  claude:", '  "claude\\n":') + "default: {target: gpt-4o}\n", "models"),
        (BASE + 'routes:\n  - {name: "r\\u0000", match: {model: x}, target: gpt-4o}\n', "routes[0].name"),
    ],
    ids=["upstream model id", "model name", "route name"],
)
def test_a_name_written_in_headers_or_urls_refuses_control_characters(text: str, path: str) -> None:
    """A model name, an upstream model id or a route name goes into response headers and upstream URLs:
    one with a line break or NUL is a load error naming it (it loaded, and every request was a 500)."""
    errors = [e for e in errors_of(text) if "control character" in e]
    assert errors and errors[0].startswith(path), errors_of(text)


def test_json_policy_is_accepted() -> None:
    """A policy written as JSON loads like YAML."""
    import yaml

    document = yaml.safe_load(BASE + "default: {target: gpt-4o}\n")
    policy = load_policy_bytes(json.dumps(document).encode(), "p.json")
    assert policy.route(request("anything")) is policy.default


def test_duplicate_route_names_are_refused() -> None:
    """Two routes with one name would be indistinguishable in metrics."""
    errors = errors_of(BASE + "routes:\n  - {name: a, target: gpt-4o}\n  - {name: a, target: claude}\n")
    assert errors == ["routes[1].name: 'a' already names routes[0]"]


def test_route_needs_exactly_one_of_target_and_deny() -> None:
    """A route with none of target, split, ensemble and deny is refused."""
    errors = errors_of(BASE + "routes:\n  - {match: {model: x}}\n")
    assert errors == ["routes[0]: set exactly one of target, split, ensemble, deny"]


def test_version_is_a_hash_of_the_content() -> None:
    """The same bytes give the same version; different bytes a different one."""
    a = load_policy_bytes((BASE + "default: {target: gpt-4o}\n").encode(), "a")
    b = load_policy_bytes((BASE + "default: {target: gpt-4o}\n").encode(), "b")
    c = load_policy_bytes((BASE + "default: {target: claude}\n").encode(), "c")
    assert a.version == b.version != c.version


def test_route_settings_merge_over_defaults_field_by_field() -> None:
    """A route overriding one resilience field keeps the policy defaults for the others."""
    text = BASE + (
        "defaults:\n  resilience: {deadline_s: 50, backoff: {base_s: 0.5, cap_s: 4}}\n"
        "routes:\n  - {target: gpt-4o, resilience: {backoff: {cap_s: 9}}}\n"
    )
    policy = load_policy_bytes(text.encode(), "t")
    settings = policy.routes[0].settings.resilience
    assert settings.deadline_s == 50
    assert settings.backoff is not None and (settings.backoff.base_s, settings.backoff.cap_s) == (0.5, 9)
    assert settings.max_attempts_per_target == 2  # built-in default


@pytest.mark.parametrize(
    "field", ["max_attempts_per_target", "deadline_s", "backoff", "rate_limit_max_wait_s", "last_resort"]
)
def test_a_resilience_field_with_a_built_in_default_may_not_be_null(field: str) -> None:
    """`null` for a resilience field the request path needs (it has a built-in default) is refused with
    its path, in a route as in the defaults (it used to validate and fail every request with a 500)."""
    text = BASE + f"default: {{target: gpt-4o}}\nroutes:\n  - {{target: gpt-4o, resilience: {{{field}: null}}}}\n"
    [error] = errors_of(text)
    assert error.startswith(f"routes[0].resilience.{field}: ")
    assert "may not be null" in error


def test_a_provider_kind_loads_without_warnings() -> None:
    """``kind`` is the provider field's name: a policy using it loads with no warning."""
    policy = load_policy_bytes(BASE.replace("dialect:", "kind:").encode(), "test.yaml")
    assert policy.providers["anthropic"].kind == "anthropic"
    assert policy.warnings == ()


def test_the_deprecated_dialect_name_still_loads_with_a_warning_naming_the_new_one() -> None:
    """A provider written with ``dialect`` (the old name of ``kind``) loads, and each use is a warning."""
    policy = load_policy_bytes(BASE.encode(), "test.yaml")
    assert policy.providers["openai"].kind == "openai"
    assert policy.warnings == (
        "providers.openai.dialect: deprecated name of kind; write kind: openai",
        "providers.anthropic.dialect: deprecated name of kind; write kind: anthropic",
    )


def test_kind_and_dialect_together_are_refused() -> None:
    """A provider cannot say its kind twice, under the new and the old name."""
    text = BASE.replace("openai: {dialect: openai,", "openai: {kind: openai, dialect: openai,")
    assert "providers.openai.dialect: unknown field" in errors_of(text)


def test_the_json_schema_accepts_the_deprecated_name_and_not_both() -> None:
    """Editors using policy.schema.json accept ``dialect`` (marked deprecated) as they accept ``kind``."""
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(policy_json_schema())
    provider = {"base_url": "https://api.openai.com/v1"}
    document = {"version": 1, "providers": {"p": provider}, "models": {}}
    for name in ("kind", "dialect"):
        provider.clear()
        provider.update({name: "openai", "base_url": "https://api.openai.com/v1"})
        jsonschema.validate(document, schema)
    provider["kind"] = "openai"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, schema)


def test_the_headers_routes_match_on_are_the_ones_logged_credentials_never() -> None:
    """Policy.logged_headers: every header a route matches on, lower-case, sorted; credentials left out."""
    text = BASE + (
        "routes:\n"
        "  - {match: {headers: {X-Team: ops, authorization: 'Bearer *'}}, target: claude}\n"
        "  - {match: {headers: {x-tier: gold}}, target: gpt-4o}\n"
    )
    assert load_policy_bytes(text.encode(), "test.yaml").logged_headers == ("x-team", "x-tier")


def test_a_key_a_json_policy_repeats_is_a_warning_by_its_path() -> None:
    """A JSON object that writes a key twice loads with the last value, and a warning for each repeat by
    its path, as YAML gets (``json`` keeps the last value without a word)."""
    text = (
        BASE.replace("dialect:", "kind:")
        + "routes:\n  - {match: {model: x}, target: gpt-4o}\ndefault: {target: gpt-4o}\n"
    )
    written = json.dumps(yaml.safe_load(text))
    written = written.replace('"version": 1', '"version": 1, "default": {"target": "claude"}', 1)
    written = written.replace('"match": {"model": "x"}', '"match": {"model": "x", "model": "y"}', 1)
    policy = load_policy_bytes(written.encode(), "policy.json")
    assert policy.warnings == (
        "key 'default' written twice: only the last one is used",
        "key 'routes[0].match.model' written twice: only the last one is used",
    )
    assert policy.default is not None and policy.default.chain[0].name == "gpt-4o"
    assert policy.route(request("y")) is policy.routes[0]


def test_a_number_or_true_false_in_quotes_is_read_as_one_and_named() -> None:
    """A number or true/false written as text ('20', "yes", an item of a list of statuses) is read as the
    value it spells (pydantic's lax mode: quoting by habit, a Helm ``| quote``), and each is named by its
    path in a warning; text that is no number (``20s``) stays an error (test_author_errors)."""
    text = BASE.replace("dialect:", "kind:").replace("context_window: 128000", 'context_window: "128000"') + (
        'defaults:\n  resilience:\n    deadline_s: "20"\n    fallback_on: ["500", 502]\n'
        'routes:\n  - {match: {features: {stream: "yes"}}, target: gpt-4o}\ndefault: {target: gpt-4o}\n'
    )
    policy = load_policy_bytes(text.encode(), "policy.yaml")
    assert policy.defaults.resilience.deadline_s == 20
    assert 500 in policy.defaults.resilience.fallback_on
    assert policy.warnings == (
        "models.gpt-4o.context_window: a number written in quotes ('128000'): read as 128000 (write it without quotes)",
        "defaults.resilience.deadline_s: a number written in quotes ('20'): read as 20 (write it without quotes)",
        "defaults.resilience.fallback_on[0]: a number written in quotes ('500'): read as 500 (write it without quotes)",
        "routes[0].match.features.stream: true or false written in quotes ('yes'): read as true"
        " (write it without quotes)",
    )
