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
    versions = ", ".join(f"{v or '(none)'} ({n})" for v, n in sorted(r.policy_versions.items()))
    lines.append(f"  logged under policy versions: {versions}; old is {old.version}")
    differ = r.replayed - r.old_agrees_with_log
    agree = f"  old policy picks the logged route for {r.old_agrees_with_log} of {r.replayed}"
    if differ:
        agree += f" ({differ} differ: logged under another policy, or routed by headers or an app the log lacks)"
    lines.append(agree)
    moved = r.routed_differently
    lines.append(f"  routed differently by new: {moved} of {r.replayed} ({_percent(moved, r.replayed)})")
    for move in _moves(r):
        lines.append(
            f"    {move.requests:>6}  {move.old.text()}  =>  {move.new.text()}  ({_signed(move.cost_delta_usd)})"
        )
    if r.priced:
        delta = r.new_cost_usd - r.old_cost_usd
        relative = f", {delta / r.old_cost_usd:+.1%}" if r.old_cost_usd else ""
        lines.append(
            f"  estimated cost of {r.priced} requests with usage: old ${r.old_cost_usd:.6f}, "
            f"new ${r.new_cost_usd:.6f} ({_signed(delta)}{relative})"
        )
    if r.unpriced:
        lines.append(f"  not priced: {r.unpriced} requests whose model has no price in one of the policies")
    return lines


def _moves(r: Replay) -> list[Any]:
    return sorted(r.moves.values(), key=lambda m: (-m.requests, m.old.text(), m.new.text()))


def _percent(part: int, whole: int) -> str:
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
            "old_agrees_with_log": r.old_agrees_with_log,
            "routed_differently": r.routed_differently,
            "moves": [
                {
                    "requests": m.requests,
                    "old": _decision(m.old),
                    "new": _decision(m.new),
                    "cost_delta_usd": round(m.cost_delta_usd, 6),
                }
                for m in _moves(r)
            ],
            "cost": {
                "priced_requests": r.priced,
                "unpriced_requests": r.unpriced,
                "old_usd": round(r.old_cost_usd, 6),
                "new_usd": round(r.new_cost_usd, 6),
                "delta_usd": round(r.new_cost_usd - r.old_cost_usd, 6),
                "logged_usd": round(r.logged_cost_usd, 6),
            },
        }
    return report


def _decision(decision: Decision) -> dict[str, Any]:
    return {"route": decision.route, "chain": list(decision.chain), "deny": decision.deny}
