"""The one error type of routing's load-time checks: every problem found, each with its path."""

from __future__ import annotations


class RoutingError(Exception):
    """A routing block, router file or labeled file that cannot be used; ``errors`` lists every problem."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors
