"""The web searches a Gemini stream's fragments show, for the relay of a model priced per search
(``translate.bundles.SearchTally``; ``stream_searches`` makes one per stream): the distinct non-empty
``groundingMetadata.webSearchQueries`` of every fragment that holds grounding (``response.search_queries``),
as a whole answer's are counted. The relay reads the usage of the last fragment alone (Gemini repeats its
totals on each): a grounding an earlier fragment carried, or one before a cut, counts all the same.
"""

from __future__ import annotations

import orjson

from .. import Operation
from .response import search_queries

SEARCH_KEY = b'"webSearchQueries"'
"""What a fragment holds when its grounding names the queries it searched."""


class GroundingQueries:
    """One Gemini stream's distinct search queries so far."""

    __slots__ = ("queries",)
    key = SEARCH_KEY

    def __init__(self) -> None:
        self.queries: set[str] = set()

    def see(self, data: bytes) -> None:
        try:
            fragment = orjson.loads(data)
        except orjson.JSONDecodeError:
            return
        for body in fragment if type(fragment) is list else (fragment,):
            if type(body) is dict:
                self.queries |= search_queries(body)

    def count(self) -> int:
        return len(self.queries)


def stream_searches(operation: Operation) -> GroundingQueries:
    """A new tally for one stream (every operation a Gemini target streams is its generateContent)."""
    return GroundingQueries()
