"""llm-sidecar explain on a routing policy: features, the deciding rules, candidates with costs and exclusions."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson

from sidecar.explain import explain_report, explain_text
from sidecar.policy import load_policy
from sidecar.request_facts import describe_request
from sidecar.routing.record import expected_cost, routed

EXAMPLE = Path(__file__).parents[2] / "policies" / "routing.yaml"
TOOL = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}


def explain(body: dict[str, Any], headers: dict[str, str] | None = None, app: str = "") -> dict[str, Any]:
    policy = load_policy(EXAMPLE)
    return explain_report(policy, describe_request("/v1/chat/completions", headers or {}, {}, body, app=app))


def chat(text: str, **extra: Any) -> dict[str, Any]:
    return {"model": "auto", "messages": [{"role": "user", "content": text}], **extra}


def test_explain_names_the_class_the_level_and_the_deciding_rules() -> None:
    """The report gives the task and complexity, each with the rule that decided it and why it matched."""
    report = explain(chat("Extract the invoice number."))["routing"]
    task, level = report["decision"]["task"], report["decision"]["complexity"]
    assert (task["label"], task["rule"]) == ("extraction", "routing.classes[2].rules[0]")
    assert task["why"] == ["keywords 'extract' in last_user"]
    assert (level["label"], level["source"]) == ("simple", "rule")
    assert report["decision"]["tier"] == "economy"


def test_explain_lists_candidates_in_cost_order_and_why_others_were_excluded() -> None:
    """Every candidate appears: the chain cheapest first with expected costs, the rest with their reasons."""
    report = explain(chat("Prove that the square root of 2 is irrational."))
    selection = report["routing"]["selection"]
    assert [c["model"] for c in selection["chain"]] == ["gpt-4o", "claude-sonnet"]
    costs = [c["expected_cost_usd"] for c in selection["chain"]]
    assert costs == sorted(costs) and costs[0] > 0
    reasons = {e["model"]: e["reason"] for e in selection["excluded"]}
    assert reasons["gpt-4o-mini"] == "tier economy for math is below premium"
    assert [t["model"] for t in report["route"]["targets"]] == ["gpt-4o", "claude-sonnet"]


def test_explain_text_shows_features_decision_and_exclusions() -> None:
    """The text form prints the features, the decision with its rule, each candidate and each exclusion."""
    text = explain_text(explain(chat("Look up the order.", tools=[TOOL])))
    assert "features: prompt_tokens=" in text and "tools=1" in text
    assert "complexity: medium (by default)" in text
    assert "  1. gpt-4.1-mini" in text
    assert "excluded: gpt-4o-mini          tier economy for chat is below standard" in text
    assert "caps: max output tokens set to 4096" in text


def test_explain_shows_the_split_arm_for_the_sticky_key() -> None:
    """For a split route, explain names the arm this user's key lands on, and every arm's weight."""
    body = chat("Prove that there are infinitely many primes.")
    report = explain(body, {"x-user-id": "user-42"}, app="checkout")
    split = report["routing"]["split"]
    assert report["route"]["name"] == "canary"
    assert [(a["name"], a["weight"]) for a in split["arms"]] == [("gpt-4o", 90), ("sonnet-canary", 10)]
    again = explain(body, {"x-user-id": "user-42"}, app="checkout")["routing"]["split"]["arm"]
    assert split["arm"] == again


def test_explain_text_shows_the_learned_models_scores(router_file: Path, tmp_path: Path) -> None:
    """A label the learned model decided is printed with the model's probabilities of the likeliest
    labels (how close the runner-up was), not only the winner's confidence, by `llm-sidecar explain`."""
    (tmp_path / "router.json").write_bytes(router_file.read_bytes())
    (tmp_path / "policy.yaml").write_text(
        "version: 1\n"
        "providers: {openai: {kind: openai, base_url: 'https://api.openai.com/v1', api_key: {env: OPENAI_API_KEY}}}\n"
        "models: {mini: {provider: openai, model: gpt-4o-mini}}\n"
        "routing:\n"
        "  classes: [{name: extraction}, {name: classification}, {name: code}, {name: math}]\n"
        "  learned: {file: router.json}\n"
        "default: {target: mini}\n"
    )
    (tmp_path / "request.json").write_text(orjson.dumps(chat("Prove that there are infinitely many primes.")).decode())
    result = subprocess.run(
        [sys.executable, "-m", "sidecar", "explain", "--policy", "policy.yaml", "--request", "request.json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    task = next(line for line in result.stdout.splitlines() if line.startswith("task: "))
    assert re.fullmatch(r"task: math \(by learned model: math 0\.\d+, \w+ 0\.\d+, \w+ 0\.\d+, \w+ 0\.\d+\)", task), task


def test_the_proof_transcript_of_docs_routing_is_what_explain_prints() -> None:
    """docs/routing.md's `explain` of `proof.json` on policies/routing.yaml, as the page shows it: the
    body the page gives, and every line the command prints."""
    text = (Path(__file__).parents[2] / "docs" / "routing.md").read_text()
    body = re.search(r"\(`proof\.json`: `(\{.*?\})`\)", text, re.S).group(1)  # type: ignore[union-attr]
    shown = re.search(
        r"\$ llm-sidecar explain --policy policies/routing.yaml --request proof.json\n(.*?)```", text, re.S
    )
    assert shown is not None
    assert explain_text(explain(orjson.loads(body))).splitlines() == shown.group(1).splitlines()


def test_the_decision_docs_routing_reads_is_the_one_its_rules_give(tmp_path: Path) -> None:
    """docs/routing.md's "Reading a decision" example (`Which is larger, 9.11 or 9.9?` with the rules of
    bench/data/routing_rules.yaml): the task, the level with its deciding rule, the tier and the output
    tokens it shows are what the router decides."""
    import json

    import yaml

    root = Path(__file__).parents[2]
    document = yaml.safe_load(EXAMPLE.read_text())
    document["routing"] = yaml.safe_load((root / "bench/data/routing_rules.yaml").read_text())["routing"]
    (tmp_path / "policy.yaml").write_text(yaml.safe_dump(document))
    request = describe_request("/v1/chat/completions", {}, {}, chat("Which is larger, 9.11 or 9.9?"), app="")
    decision = explain_report(load_policy(tmp_path / "policy.yaml"), request)["routing"]["decision"]
    text = (root / "docs" / "routing.md").read_text().split("## Reading a decision", 1)[1]
    shown = " ".join(re.search(r"```json\n(.*?)```", text, re.S).group(1).split())  # type: ignore[union-attr]
    level = {k: v for k, v in decision["complexity"].items() if k != "why"}
    for part in (f'"task": {json.dumps(decision["task"])}', f'"complexity": {json.dumps(level)}'):
        assert part in shown
    assert (
        f'"tier": "{decision["tier"]}", "escalated_from": null, "output_tokens": {decision["output_tokens"]}' in shown
    )
    assert json.dumps(decision["complexity"]["why"]) in shown


def test_explain_says_when_no_model_can_serve_and_the_policys_warnings(tmp_path: Path) -> None:
    """A select route whose candidates lack the tier a request needs: explain's last line says the caller
    gets 400 (not an empty chain), and the policy's load warnings follow, in the text and the JSON."""
    text = EXAMPLE.read_text().replace(
        "from: [gpt-4o-mini, gemini-flash, gpt-4.1-mini, gpt-4o, claude-sonnet]", "from: [gpt-4o-mini, gpt-4.1-mini]"
    )
    (tmp_path / "policy.yaml").write_text(text)
    policy = load_policy(tmp_path / "policy.yaml")
    body = chat("Prove that the square root of 2 is irrational.")
    report = explain_report(policy, describe_request("/v1/chat/completions", {}, {}, body, app=""))
    assert report["route"]["targets"] == []
    assert report["warnings"] == list(policy.warnings) and policy.warnings
    printed = explain_text(report).splitlines()
    assert (
        "=> by-task (routes[3], by rule): no model can serve it: the caller gets 400 no_capable_model"
        in printed[-1 - len(policy.warnings)]
    )
    assert printed[-len(policy.warnings) :] == [f"policy warning: {w}" for w in policy.warnings]
    assert any("no candidate reaches premium for task math" in w for w in policy.warnings)


def test_a_prompt_above_a_models_long_context_threshold_is_priced_at_that_tier(tmp_path: Path) -> None:
    """gpt-4o with a long-context tier above 1,000 tokens (twice its prices): a short proof is cheapest there,
    a long one is priced at the tier (until wave 40 at the standard prices, so still "cheapest") and goes to
    claude-sonnet first; the access line's and the header's estimate (``record.expected_cost``) is the same."""
    standard = "price: {input_per_mtok: 2.50, output_per_mtok: 10.00}"
    tier = "long_context: {above_input_tokens: 1000, input_per_mtok: 5.00, output_per_mtok: 20.00}"
    (tmp_path / "policy.yaml").write_text(EXAMPLE.read_text().replace(standard, standard[:-1] + ", " + tier + "}"))
    policy = load_policy(tmp_path / "policy.yaml")
    proof = "Prove that the square root of 2 is irrational."
    short = explain_report(policy, describe_request("/v1/chat/completions", {}, {}, chat(proof), app=""))
    assert [c["model"] for c in short["routing"]["selection"]["chain"]] == ["gpt-4o", "claude-sonnet"]
    request = describe_request("/v1/chat/completions", {}, {}, chat(proof + " Step." * 1500), app="")
    selection = explain_report(policy, request)["routing"]["selection"]
    assert [c["model"] for c in selection["chain"]] == ["claude-sonnet", "gpt-4o"]
    prompt, output = selection["input_tokens"], selection["output_tokens"]
    assert prompt > 1000
    at_tier = (prompt * 5.0 + output * 20.0) / 1e6
    assert selection["chain"][1]["expected_cost_usd"] == at_tier
    assert expected_cost(request, routed(request), policy.models["gpt-4o"]) == at_tier
