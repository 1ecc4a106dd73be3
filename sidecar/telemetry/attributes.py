"""The sidecar's own span attribute names (``sidecar.*``), beside the GenAI and HTTP ones in ``genai``.

docs/observability.md lists which span carries each and when it is set.
"""

from __future__ import annotations

from typing import Final

# SERVER span
DIALECT: Final = "sidecar.dialect"
REQUESTED_MODEL: Final = "sidecar.request.model"
REQUESTED_STREAM: Final = "sidecar.request.stream"
ROUTE_TARGETS: Final = "sidecar.route.targets"
REJECTED_REASON: Final = "sidecar.rejected.reason"
CACHE_HIT: Final = "sidecar.cache.hit"
OUTCOME: Final = "sidecar.outcome"
ATTEMPTS: Final = "sidecar.attempts"
STREAMED: Final = "sidecar.streamed"
ROUTE: Final = "sidecar.route"
SERVED_MODEL: Final = "sidecar.served_model"
FALLBACK_REASON: Final = "sidecar.fallback.reason"
COST_USD: Final = "sidecar.cost_usd"
BRANCH: Final = "sidecar.branch"  # an INTERNAL span's role: ensemble_member, ensemble_judge
BRANCH_NAME: Final = "sidecar.branch.name"  # the member's name
BRANCH_RESULT: Final = "sidecar.branch.result"  # won, outvoted, failed, unusable, cancelled, answered
ROUTING_TASK: Final = "sidecar.routing.task"
ROUTING_TASK_SOURCE: Final = "sidecar.routing.task_source"
ROUTING_COMPLEXITY: Final = "sidecar.routing.complexity"
ROUTING_TIER: Final = "sidecar.routing.tier"
ROUTING_ARM: Final = "sidecar.routing.split_arm"
ROUTING_ESTIMATED_COST: Final = "sidecar.routing.estimated_cost_usd"
# SERVER span events
TARGET_SKIPPED: Final = "sidecar.target.skipped"
SKIP_REASON: Final = "sidecar.skip.reason"
BULKHEAD_WAITED: Final = "sidecar.bulkhead.waited"
BULKHEAD_WAIT_S: Final = "sidecar.bulkhead.wait_s"
FALLBACK: Final = "sidecar.fallback"
CACHE: Final = "sidecar.cache"
CACHE_RESULT: Final = "sidecar.cache.result"
CACHE_REASON: Final = "sidecar.cache.reason"
# CLIENT span (TARGET also names the target in both events)
TARGET: Final = "sidecar.target"
BREAKER_STATE: Final = "sidecar.breaker.state"
CONTENT_TRUNCATED: Final = "sidecar.content.truncated"
