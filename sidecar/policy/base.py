"""The base of every policy-file model: unknown fields are errors, and a validated spec is frozen.

Kept apart from ``spec`` so that the feature packages (routing, cache, budgets, ensembles) can define
the blocks of the policy they own next to the code that reads them, and ``spec`` can import those
blocks without an import cycle.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Spec(BaseModel):
    """A block of the policy file: ``extra="forbid"`` (a typo is an error), ``frozen=True``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
