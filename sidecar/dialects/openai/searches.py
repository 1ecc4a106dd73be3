"""The web searches an OpenAI stream's events show, for the relay of a model priced per search
(``translate.bundles.SearchTally``; ``stream_searches`` makes one per stream):

- a chat stream (a search model's, ``gpt-4o-search-preview``): one search when an event cites the web
  (``url_citation`` in ``delta.annotations``, ``STREAM_SEARCH_KEY``), as its whole answer's
  ``response.web_searches`` counts; its usage chunk never counts it;
- a Responses stream: each ``web_search_call`` item it shows (``response.output_item.added`` or
  ``.done``, or the closing ``response.completed``'s output), one search each, by its id, as
  ``response.completed``'s ``web_search_call`` items are counted: a stream cut before that event still
  ran the searches its items began.
"""

from __future__ import annotations

from typing import Any

import orjson

from .. import Operation

STREAM_SEARCH_KEY = b'"url_citation"'
"""What a chat stream's event holds when it shows the call's web search (a search model's
``delta.annotations``): quoted, so an answer's text saying it (escaped in its JSON string) does not match."""

RESPONSES_SEARCH_KEY = b'"web_search_call"'
"""What a Responses event holds when it shows a ``web_search_call`` item (quoted: an event's type
``response.web_search_call.searching`` and an escaped text do not match)."""


class ChatCitations:
    """One chat stream's search: one once an event cites the web."""

    __slots__ = ("cited",)
    key = STREAM_SEARCH_KEY

    def __init__(self) -> None:
        self.cited = False

    def see(self, data: bytes) -> None:
        self.cited = True

    def count(self) -> int:
        return 1 if self.cited else 0


class ResponsesSearches:
    """One Responses stream's ``web_search_call`` items, by id."""

    __slots__ = ("ids",)
    key = RESPONSES_SEARCH_KEY

    def __init__(self) -> None:
        self.ids: set[str] = set()

    def see(self, data: bytes) -> None:
        try:
            event = orjson.loads(data)
        except orjson.JSONDecodeError:
            return
        if type(event) is not dict:
            return
        items: Any = [event.get("item")]
        response = event.get("response")
        if type(response) is dict:  # response.completed (.incomplete, .failed): its whole output
            items = response.get("output")
        for item in items if type(items) is list else ():
            if type(item) is dict and item.get("type") == "web_search_call":
                ident = item.get("id")
                self.ids.add(ident if type(ident) is str else str(len(self.ids)))

    def count(self) -> int:
        return len(self.ids)


def stream_searches(operation: Operation) -> ChatCitations | ResponsesSearches | None:
    """A new tally for one stream of ``operation``: a chat's citations, a Responses stream's search calls."""
    if operation is Operation.CHAT:
        return ChatCitations()
    if operation is Operation.RESPONSES:
        return ResponsesSearches()
    return None
