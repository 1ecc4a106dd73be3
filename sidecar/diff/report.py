"""The output of ``llm-sidecar diff``: text for a reviewer, JSON for tools. Both are documented in
docs/cli.md and kept stable: sections in ``SECTIONS`` order, changes in the order the section gives,
moves by request count (then by text), money with six decimals.

Text, one line per change under its section's name::

    routes:
      + cheap (routes[0]): match model gpt-4o-mini* -> [gpt-4o-mini]
      - embeddings (routes[1]): match operation embeddings -> [text-embedding]
      > premium: routes[2] -> routes[3]
      ~ premium (routes[3]) target: [claude-sonnet, gpt-4o] -> [gpt-4o]
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from ..policy.compiled import Policy
from .changes import Change
from .replay import Decision, Replay

_MARK = {"added": "+", "removed": "-", "changed": "~", "moved": ">"}


def change_line(change: Change) -> str:
    mark = _MARK[change.op]
    if change.op == "added":
        return f"{mark} {change.subject}: {change.new}"
    if change.op == "removed":
        return f"{mark} {change.subject}: {change.old}"
    field = f" {change.field}" if change.field else ""
    return f"{mark} {change.subject}{field}: {change.old} -> {change.new}"


def text_report(old: Policy, new: Policy, changes: list[Change], replayed: Replay | None, replay_source: str) -> str:
    lines = [f"--- {old.source} (version {old.version})", f"+++ {new.source} (version {new.version})"]
    section = None
    for change in changes:
        if change.section != section:
            section = change.section
            lines.append(f"{section}:")
        lines.append(f"  {change_line(change)}")
    lines.append(f"{len(changes)} change{'' if len(changes) == 1 else 's'}" if changes else "no changes")
    if replayed is not None:
        lines.extend(_replay_lines(old, replayed, replay_source))
    return "\n".join(lines)


def _replay_lines(old: Policy, r: Replay, source: str) -> list[str]:
    lines = [f"replay of {source}: {r.replayed} of {r.lines} lines replayed"]
    if r.skipped:
        lines.append("  skipped: " + ", ".join(f"{n} {why}" for why, n in sorted(r.skipped.items())))
    if not r.replayed:
        return lines
    if r.sampled_lines:
        lines.append(
            f"  sampled log: {r.sampled_lines} of {r.replayed} lines were written at a sample rate below 1"
            f" (sample_rate): the figures below weight each line by 1 / sample_rate, {_count(r.requests)} requests"
        )
    versions = ", ".join(f"{v or '(none)'} ({n})" for v, n in sorted(r.policy_versions.items()))
    lines.append(f"  logged under policy versions: {versions}; old is {old.version}")
    differ = r.requests - r.old_agrees_with_log
    agree = f"  old policy picks the logged route for {_count(r.old_agrees_with_log)} of {_count(r.requests)}"
    if differ:
        agree += (
            f" ({_count(differ)} differ: logged under another policy, or routed by headers or an app the log lacks)"
        )
    lines.append(agree)
    moved = r.routed_differently
    lines.append(
        f"  routed differently by new: {_count(moved)} of {_count(r.requests)} ({_percent(moved, r.requests)})"
    )
    for move in _moves(r):
        moved_cost = _signed(move.cost_delta_usd)
        lines.append(f"    {_count(move.requests):>6}  {move.old.text()}  =>  {move.new.text()}  ({moved_cost})")
    if r.priced:
        delta = r.new_cost_usd - r.old_cost_usd
        relative = f", {delta / r.old_cost_usd:+.1%}" if r.old_cost_usd else ""
        lines.append(
            f"  estimated cost of {_count(r.priced)} requests with usage: old ${r.old_cost_usd:.6f}, "
            f"new ${r.new_cost_usd:.6f} ({_signed(delta)}{relative})"
        )
    if r.unpriced:
        lines.append(f"  not priced: {_count(r.unpriced)} requests whose model has no price in one of the policies")
    return lines


def _moves(r: Replay) -> list[Any]:
    return sorted(r.moves.values(), key=lambda m: (-m.requests, m.old.text(), m.new.text()))


def _count(requests: float) -> int | float:
    """A count of requests as written: whole (every count of a log that was not sampled), else to 0.1."""
    return int(requests) if requests == int(requests) else round(requests, 1)


def _percent(part: float, whole: float) -> str:
    return f"{part / whole:.1%}" if whole else "0.0%"


def _signed(usd: float) -> str:
    return f"{'-' if usd < 0 else '+'}${abs(usd):.6f}"


def json_report(
    old: Policy, new: Policy, changes: list[Change], replayed: Replay | None, replay_source: str
) -> dict[str, Any]:
    report: dict[str, Any] = {
        "old": {"source": old.source, "version": old.version},
        "new": {"source": new.source, "version": new.version},
        "changes": [asdict(change) for change in changes],
    }
    if replayed is not None:
        r = replayed
        report["replay"] = {
            "source": replay_source,
            "lines": r.lines,
            "replayed": r.replayed,
            "skipped": dict(sorted(r.skipped.items())),
            "policy_versions": dict(sorted(r.policy_versions.items())),
            "requests": _count(r.requests),
            "sampled_lines": r.sampled_lines,
            "old_agrees_with_log": _count(r.old_agrees_with_log),
            "routed_differently": _count(r.routed_differently),
            "moves": [
                {
                    "requests": _count(m.requests),
                    "old": _decision(m.old),
                    "new": _decision(m.new),
                    "cost_delta_usd": round(m.cost_delta_usd, 6),
                }
                for m in _moves(r)
            ],
            "cost": {
                "priced_requests": _count(r.priced),
                "unpriced_requests": _count(r.unpriced),
                "old_usd": round(r.old_cost_usd, 6),
                "new_usd": round(r.new_cost_usd, 6),
                "delta_usd": round(r.new_cost_usd - r.old_cost_usd, 6),
                "logged_usd": round(r.logged_cost_usd, 6),
            },
        }
    return report


def _decision(decision: Decision) -> dict[str, Any]:
    return {"route": decision.route, "chain": list(decision.chain), "deny": decision.deny}
