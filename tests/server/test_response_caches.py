"""The sidecar's response cache across reloads (``server.response_caches``)."""

from __future__ import annotations

from sidecar.cache.spec import CacheStoreSpec
from sidecar.server.response_caches import ResponseCaches


async def test_a_store_is_kept_while_its_block_is_unchanged_and_handed_back_when_it_goes() -> None:
    """No block builds no store; a block builds one, kept by a reload with the same block; a reload
    without a block returns it (for the app to close) and leaves none."""
    caches = ResponseCaches({})
    assert caches.update(None) is None and caches.cache is None
    assert caches.update(CacheStoreSpec()) is None
    store = caches.cache
    assert store is not None and store.in_memory
    assert caches.update(CacheStoreSpec()) is None and caches.cache is store
    assert caches.update(None) is store and caches.cache is None
    await store.close()
