"""diff's sections on the example policy: what an SRE reviewing a change is told, section by section."""

from __future__ import annotations

from sidecar.diff import Change, diff_policies
from sidecar.diff.sections import condition_text, routes
from sidecar.policy.conditions import build_conditions
from sidecar.policy.spec import MatchSpec

from .policies import PRODUCTION, ROOT, edited, policy, production_text

PREMIUM = """  - name: premium                      # the checkout team pays for the best model, with a chain
    match:
      app: checkout
      model: "gpt-4*"
    target: [claude-sonnet, gpt-4o, gemini-pro]
    resilience:
      deadline_s: 30
    access_log: {sample: 1}            # every access line of this route, over the policy's 0.1 below
"""
LONG_DOCUMENTS = """  - name: long-documents               # a header the app sets for long inputs
    match:
      headers: {x-task: ["summarize-long", "long-*"]}
    target: [gemini-pro, claude-sonnet]
"""


def test_the_same_policy_has_no_changes() -> None:
    """A policy compared with itself (another file, same content) gives no change at all."""
    assert diff_policies(policy(production_text()), policy(production_text(), "copy.yaml")) == []


def test_a_changed_chain_names_the_route_and_both_chains() -> None:
    """Changing a route's target is one `changed` line with the old and the new chain, in order."""
    new = edited(("target: [claude-sonnet, gpt-4o, gemini-pro]", "target: [gpt-4o, claude-sonnet]"))
    assert diff_policies(policy(production_text()), new) == [
        Change(
            "routes",
            "changed",
            "premium (routes[2])",
            "target",
            "[claude-sonnet, gpt-4o, gemini-pro]",
            "[gpt-4o, claude-sonnet]",
        )
    ]


def test_swapping_two_rules_reports_one_moved_rule_and_nothing_else() -> None:
    """Two rules that trade places are one `moved` line (the smallest set of rules that moved)."""
    text = production_text()
    swapped = text.replace(PREMIUM + "\n" + LONG_DOCUMENTS, LONG_DOCUMENTS + "\n" + PREMIUM)
    assert swapped != text
    changes = diff_policies(policy(text), policy(swapped))
    assert len(changes) == 1
    (change,) = changes
    assert change.op == "moved"
    assert (change.subject, change.old, change.new) in {
        ("premium", "routes[2]", "routes[3]"),
        ("long-documents", "routes[3]", "routes[2]"),
    }


def test_a_rule_inserted_first_is_added_and_shifts_no_one_into_moved() -> None:
    """A new first rule is one `added` line with its match and chain; the rules after it keep their
    relative order, so none of them is reported moved."""
    new = edited(
        (
            "routes:\n",
            "routes:\n  - name: cheap\n    match: {model: 'gpt-4o-mini*'}\n    target: gpt-4o-mini\n\n",
        )
    )
    assert diff_policies(policy(production_text()), new) == [
        Change("routes", "added", "cheap (routes[0])", new="match model gpt-4o-mini* -> [gpt-4o-mini]")
    ]


def test_a_removed_rule_is_listed_with_what_it_did() -> None:
    """Removing a rule is a `removed` line with its old place, its match and its verdict."""
    new = edited(
        ('  - name: retired\n    match: {model: ["gpt-3.5*", "text-davinci-*"]}\n', ""),
        ('    deny: {message: "retired model; use gpt-4o-mini", status: 403}\n\n', ""),
    )
    assert diff_policies(policy(production_text()), new) == [
        Change("routes", "removed", "retired (routes[0])", old="match model gpt-3.5*, text-davinci-* -> deny 403")
    ]


def test_a_default_resilience_change_shows_on_every_route_that_inherits_it() -> None:
    """A changed `defaults.resilience.deadline_s` is listed under defaults, and as an effective change on
    every route that does not set its own deadline (premium sets 30 s, so it is not listed)."""
    changes = diff_policies(
        policy(production_text()), edited(("    deadline_s: 60                     #", "    deadline_s: 45  #"))
    )
    route_subjects = [c.subject for c in changes if c.section == "routes"]
    assert route_subjects == [
        "retired (routes[0])",
        "embeddings (routes[1])",
        "long-documents (routes[3])",
        "claude-family (routes[4])",
        "default (default)",
    ]
    assert all(
        (c.field, c.old, c.new) == ("resilience.deadline_s", "60", "45") for c in changes if c.section == "routes"
    )
    assert Change("defaults", "changed", "resilience", "deadline_s", "60", "45") in changes


def test_provider_changes_show_the_key_source_never_a_key() -> None:
    """A provider whose key moves from an env var to a file shows both sources by name; a timeout change
    is a field of its own."""
    new = edited(
        ("api_key: {env: GEMINI_API_KEY}", "api_key: {file: /keys/gemini}"),
        ("timeouts: {connect_s: 3, first_byte_s: 30,", "timeouts: {connect_s: 3, first_byte_s: 20,"),
    )
    assert diff_policies(policy(production_text()), new) == [
        Change("providers", "changed", "openai", "timeouts.first_byte_s", "30", "20"),
        Change("providers", "changed", "gemini", "api_key", "env GEMINI_API_KEY", "file /keys/gemini"),
    ]


def test_a_price_change_is_a_model_change() -> None:
    """A model's new price is a `changed` line under models, field by field."""
    new = edited(
        ("price: {input_per_mtok: 0.15, output_per_mtok: 0.6}", "price: {input_per_mtok: 0.1, output_per_mtok: 0.6}")
    )
    assert diff_policies(policy(production_text()), new) == [
        Change("models", "changed", "gpt-4o-mini", "price.input_per_mtok", "0.15", "0.1")
    ]


def test_a_first_service_tier_is_its_fields_and_nothing_more() -> None:
    """A price's first service tier shows as the tier's fields, without a ``price.service_tiers (none) ->
    (unset)`` line beside them (until wave 40 the empty mapping was a field of its own)."""
    tier = "service_tiers: {flex: {input_per_mtok: 0.075, output_per_mtok: 0.3}}"
    new = edited(
        (
            "price: {input_per_mtok: 0.15, output_per_mtok: 0.6}",
            "price: {input_per_mtok: 0.15, output_per_mtok: 0.6, " + tier + "}",
        )
    )
    assert diff_policies(policy(production_text()), new) == [
        Change("models", "changed", "gpt-4o-mini", "price.service_tiers.flex.input_per_mtok", "(unset)", "0.075"),
        Change("models", "changed", "gpt-4o-mini", "price.service_tiers.flex.output_per_mtok", "(unset)", "0.3"),
    ]


def test_an_added_model_shows_its_long_context_audio_and_service_tier_prices() -> None:
    """A model added says every part of its price, not only the standard input and output prices."""
    price = (
        "{input_per_mtok: 1.25, output_per_mtok: 10, audio_input_per_mtok: 3, "
        "long_context: {above_input_tokens: 200000, input_per_mtok: 2.5, output_per_mtok: 15}, "
        "service_tiers: {priority: {input_per_mtok: 2.5, output_per_mtok: 20}}}"
    )
    model = f"  gemini-long:\n    provider: gemini\n    model: gemini-2.5-pro\n    price: {price}\n"
    new = edited(("models:\n", "models:\n" + model))
    assert [c for c in diff_policies(policy(production_text()), new) if c.op == "added"] == [
        Change(
            "models",
            "added",
            "gemini-long",
            new="gemini/gemini-2.5-pro, $1.25 in / $10 out per Mtok, audio $3 in / $10 out, "
            "above 200,000 input tokens $2.5 in / $15 out, service tiers priority",
        )
    ]


def test_breaker_and_bulkhead_limits_are_defaults_changes() -> None:
    """Per-target limits (breaker, bulkhead) changed under `defaults` are listed by block and field."""
    new = edited(("    open_s: 5\n", "    open_s: 10\n"), ("max_concurrent: 256", "max_concurrent: 64"))
    assert diff_policies(policy(production_text()), new) == [
        Change("defaults", "changed", "breaker", "open_s", "5", "10"),
        Change("defaults", "changed", "bulkhead", "max_concurrent", "256", "64"),
    ]


def test_a_routing_policy_compared_with_itself_has_no_changes() -> None:
    """policies/routing.yaml (routes matching on complexity and on features) against itself: no change,
    and no route's match is the router's whole repr (it differed between any two loads)."""
    text = (ROOT / "policies" / "routing.yaml").read_text()
    assert diff_policies(policy(text), policy(text, "copy.yaml")) == []


def test_routing_conditions_read_as_their_kind_and_values() -> None:
    """``task``, ``complexity`` and ``features`` conditions read as `kind values`, not as the router."""
    text = (ROOT / "policies" / "routing.yaml").read_text()
    loaded = policy(text)
    assert [condition_text(c) for c in build_conditions(MatchSpec(task=["code", "math"]), loaded.router)] == [
        "task code, math"
    ]
    by_name = {route.name: route for route in loaded.routes}
    assert [condition_text(c) for c in by_name["canary"].conditions] == [
        "app checkout, support",
        "complexity complex",
    ]
    assert [condition_text(c) for c in by_name["big-documents"].conditions] == ["features prompt_tokens > 100000"]


def test_a_changed_match_is_shown_as_conditions() -> None:
    """A rule's match written differently is one `match` change with both condition lists."""
    new = edited(('      model: "gpt-4*"\n', '      model: ["gpt-4*", "o1*"]\n'))
    changes = routes(policy(production_text()), new)
    assert changes == [
        Change(
            "routes",
            "changed",
            "premium (routes[2])",
            "match",
            "model gpt-4*; app checkout",
            "model gpt-4*, o1*; app checkout",
        )
    ]


def test_every_condition_kind_has_a_readable_text() -> None:
    """Each kind of match condition reads as `kind value` (a header as `header name: values`)."""
    match = MatchSpec(
        model="gpt-4*",
        headers={"X-Task": ["a", "b*"]},
        app="checkout",
        dialect=["openai"],
        operation=["embeddings"],
    )
    assert [condition_text(c) for c in build_conditions(match)] == [
        "dialect openai",
        "operation embeddings",
        "model gpt-4*",
        "app checkout",
        "header x-task: a, b*",
    ]


def test_ensemble_gates_and_shadow_changes_are_route_changes() -> None:
    """A route's ensemble, gates and shadow settings are compared field by field."""
    text = (ROOT / "policies" / "ensemble.yaml").read_text()
    new = text.replace("early_quorum: true ", "early_quorum: false").replace("max_reasks: 1", "max_reasks: 2")
    new = new.replace("sample: 0.05", "sample: 0.2")
    changes = [(c.subject, c.field, c.old, c.new) for c in diff_policies(policy(text), policy(new, "new.yaml"))]
    assert changes == [
        ("refund-decision (routes[0])", "ensemble.early_quorum", "true", "false"),
        ("extract (routes[2])", "gates.max_reasks", "1", "2"),
        ("trusted (routes[3])", "shadow.sample", "0.05", "0.2"),
    ]


def test_budget_changes_name_the_limit_and_the_setting() -> None:
    """A budget limit's amount changed, a limit added and a block setting changed are one line each,
    under the section budgets, the limit by its name."""
    text = (ROOT / "policies" / "budgets.yaml").read_text()
    added = "    - name: app-rpm\n      measure: requests\n      amount: 5\n      window: minute\n"
    new = text.replace("amount: 200", "amount: 300").replace("headers: true", "headers: false") + added
    assert diff_policies(policy(text), policy(new, "new.yaml")) == [
        Change("budgets", "changed", "team-day", "amount", "200", "300"),
        Change("budgets", "added", "app-rpm", new="deny at 5 requests per minute, by global"),
        Change("budgets", "changed", "settings", "headers", "true", "false"),
    ]


CACHING = (PRODUCTION.parent / "caching.yaml").read_text()


def test_a_routes_changed_cache_ttl_is_one_line_under_the_route() -> None:
    """A route's cache.ttl_s changed is one `changed` line for that route, field cache.ttl_s."""
    new = policy(CACHING.replace("ttl_s: 86400,", "ttl_s: 600,"), "new.yaml")
    assert diff_policies(policy(CACHING), new) == [
        Change("routes", "changed", "classify (routes[0])", "cache.ttl_s", "86400", "600")
    ]


def test_turning_a_routes_cache_on_shows_its_settings_and_the_store() -> None:
    """A policy that starts caching a route shows cache.enabled false -> true on the route, and the
    memory store the caching routes now use in the cache section."""
    old = production_text()
    new = old.replace(PREMIUM, PREMIUM + "    cache: {enabled: true}\n")
    changes = diff_policies(policy(old), policy(new, "new.yaml"))
    enabled = [c for c in changes if c.section == "routes" and c.field == "cache.enabled"]
    assert [(c.subject, c.old, c.new) for c in enabled] == [("premium (routes[2])", "false", "true")]
    store = [c for c in changes if c.section == "cache"]
    assert ("memory.max_bytes", "(unset)", "33554432") in [(c.field, c.old, c.new) for c in store]


def test_a_passthrough_prefix_added_and_a_limit_changed_are_passthrough_changes() -> None:
    """The ``passthrough`` section: a prefix added is ``added`` with where it goes; a changed body limit is
    ``changed`` on its dialect and prefix."""
    old = policy(production_text())
    new = edited(
        ("paths: [/v1/audio/transcriptions, /v1/files, /v1/batches]", "paths: [/v1/audio/, /v1/files, /v1/batches]"),
        ("max_body_bytes: 104857600", "max_body_bytes: 209715200"),
    )
    changes = [change for change in diff_policies(old, new) if change.section == "passthrough"]
    expected = [
        Change("passthrough", "removed", "openai /v1/audio/transcriptions", old="to openai, max_body_bytes 104857600"),
        Change("passthrough", "added", "openai /v1/audio/", new="to openai, max_body_bytes 209715200"),
        Change("passthrough", "changed", "openai /v1/batches", "max_body_bytes", "104857600", "209715200"),
        Change("passthrough", "changed", "openai /v1/files", "max_body_bytes", "104857600", "209715200"),
    ]
    assert len(changes) == len(expected) and all(change in changes for change in expected)
