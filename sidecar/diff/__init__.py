"""``llm-sidecar diff OLD NEW [--replay ACCESS_LOG]``: what a policy change does, before it ships.

- ``changes``   ``Change`` (one line of the diff) and the helpers that find changes in policy blocks
- ``sections``  one function per policy section (providers, models, routes, defaults), ``SECTIONS``
                in diff order, ``ROUTE_ASPECTS`` compared for every route; ``diff_policies(old, new)``
- ``routing``   the ``routing`` section (settings, classes, levels) and each route's selection, split
                and caps
- ``replay``    ``replay(old, new, lines)``: the requests of an access log routed by both policies:
                how many move, from what to what, and the estimated cost of each policy
- ``report``    the text and JSON outputs (stable; docs/cli.md)

Both policies are compared compiled (names resolved, defaults merged), as the sidecar would serve
them. A new policy section is one function added to ``SECTIONS``; a new per-route setting one
function added to ``ROUTE_ASPECTS``.
"""

from .changes import Change
from .replay import Replay, replay
from .report import json_report, text_report
from .sections import ROUTE_ASPECTS, SECTIONS, diff_policies

__all__ = ["ROUTE_ASPECTS", "SECTIONS", "Change", "Replay", "diff_policies", "json_report", "replay", "text_report"]
