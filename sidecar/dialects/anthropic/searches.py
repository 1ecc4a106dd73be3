"""The web searches an Anthropic stream's events show, for the relay of a model priced per search
(``translate.bundles.SearchTally``; ``stream_searches`` makes one per stream): each ``server_tool_use``
block named ``web_search`` that a ``content_block_start`` opens is a search run, less each
``web_search_tool_result`` whose content is a ``web_search_tool_result_error`` (Anthropic does not bill a
search that failed). The final ``message_delta``'s ``usage.server_tool_use.web_search_requests`` counts
the same searches; a stream cut before it (reset, stall, error event) still ran them.
"""

from __future__ import annotations

import orjson

from .. import Operation

SEARCH_KEY = b'"web_search'
"""What an event holds when it may show a search: the block's name ``"web_search"``, a result block's type
(``"web_search_tool_result"``), a usage's ``"web_search_requests"``; any other match is read for nothing."""


class BlockSearches:
    """One Anthropic stream's searches: the ``web_search`` blocks opened, less the failed results."""

    __slots__ = ("failed", "opened")
    key = SEARCH_KEY

    def __init__(self) -> None:
        self.opened = 0
        self.failed = 0

    def see(self, data: bytes) -> None:
        try:
            event = orjson.loads(data)
        except orjson.JSONDecodeError:
            return
        if type(event) is not dict or event.get("type") != "content_block_start":
            return
        block = event.get("content_block")
        if type(block) is not dict:
            return
        kind = block.get("type")
        if kind == "server_tool_use" and block.get("name") == "web_search":
            self.opened += 1
        elif kind == "web_search_tool_result":
            content = block.get("content")
            if type(content) is dict and content.get("type") == "web_search_tool_result_error":
                self.failed += 1

    def count(self) -> int:
        return max(self.opened - self.failed, 0)


def stream_searches(operation: Operation) -> BlockSearches:
    """A new tally for one stream (every operation an Anthropic target streams is its messages')."""
    return BlockSearches()
