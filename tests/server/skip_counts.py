"""What the tests of targets skipped without a call read (tests/server/test_credentials_skip.py,
test_tls_config_skip.py): a breaker that a few failures would open (``BREAKER``, a defaults line), and a
target's attempt, error and skip samples in /metrics (``metric_lines``)."""

from __future__ import annotations

BREAKER = "  breaker: {window_size: 10, minimum_calls: 3, failure_rate: 0.5, open_s: 30}\n"


def metric_lines(metrics: str, target: str) -> list[str]:
    """The attempt, error and skip samples of ``target`` in /metrics text."""
    names = ("llm_sidecar_upstream_attempts_total{", "llm_sidecar_upstream_errors_total{", "llm_sidecar_skips_total{")
    return sorted(line for line in metrics.splitlines() if line.startswith(names) and f'target="{target}"' in line)
