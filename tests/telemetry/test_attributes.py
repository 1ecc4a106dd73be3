"""The sidecar's span attribute names (``telemetry/attributes.py``) against their documentation."""

from __future__ import annotations

from pathlib import Path

from sidecar.telemetry import attributes

ROOT = Path(__file__).resolve().parents[2]
# docs/observability.md lists the request's and the calls' spans; each feature's doc its own spans
DOCS = ("observability.md", "ensembles.md", "routing.md", "caching.md", "budgets.md")


def test_every_sidecar_attribute_is_documented() -> None:
    """Each ``sidecar.*`` span attribute name the package sets is written (in backticks) in the docs."""
    text = "".join((ROOT / "docs" / doc).read_text() for doc in DOCS)
    names = {value for key, value in vars(attributes).items() if key.isupper() and isinstance(value, str)}
    assert (
        len(names) > 20
        and sorted(name for name in names if f"`{name}`" not in text and f"`[{name}]`" not in text) == []
    )
