"""The bounded memory backend, driven through aiocache's API: the entry and byte bounds, least recently
used first, lazy expiry, and the counters."""

from __future__ import annotations

import pytest

from sidecar.cache.memory import ENTRY_OVERHEAD, BoundedMemoryBackend


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_entry_bound_evicts_the_least_recently_used() -> None:
    """Past max_entries the entry read least recently goes first; a read entry survives."""
    cache = BoundedMemoryBackend(max_entries=3, max_bytes=1 << 20)
    for key in ("a", "b", "c"):
        await cache.set(key, b"v-" + key.encode())
    assert await cache.get("a") == b"v-a"  # a is now the most recently used
    await cache.set("d", b"v-d")
    assert await cache.get("b") is None
    assert [await cache.get(k) for k in ("a", "c", "d")] == [b"v-a", b"v-c", b"v-d"]
    assert (cache.entries, cache.evictions) == (3, 1)


def test_a_recent_read_keeps_its_entry_without_reading_the_clock() -> None:
    """``recent`` gives the value and makes it the most recently used (the least recently used goes first past
    the bound), without reading the clock: nothing written without a ttl expires."""
    readings: list[float] = []

    def clock() -> float:
        readings.append(1.0)
        return 1.0

    cache = BoundedMemoryBackend(max_entries=2, max_bytes=1 << 20, clock=clock)
    cache.write("a", b"v-a")
    cache.write("b", b"v-b")
    assert cache.recent("a") == b"v-a"  # a is now the most recently used
    assert cache.recent("z") is None
    cache.write("c", b"v-c")
    assert [cache.peek(k) for k in ("a", "b", "c")] == [b"v-a", None, b"v-c"]
    assert readings == []


async def test_byte_bound_evicts_until_it_holds() -> None:
    """Past max_bytes entries leave from the least recently used end until the total fits."""
    value = b"x" * 1000
    per_entry = BoundedMemoryBackend.cost("k0", value)
    cache = BoundedMemoryBackend(max_entries=1000, max_bytes=per_entry * 4)
    for i in range(10):
        await cache.set(f"k{i}", value)
    assert cache.entries == 4
    assert cache.bytes <= cache.max_bytes
    assert cache.evictions == 6
    assert await cache.get("k0") is None
    assert await cache.get("k9") == value


async def test_bytes_count_value_key_and_overhead() -> None:
    """Each entry counts its value, its key and the fixed overhead; a delete gives them back."""
    cache = BoundedMemoryBackend(max_entries=10, max_bytes=1 << 20)
    await cache.set("key", b"12345")
    assert cache.bytes == 5 + 3 + ENTRY_OVERHEAD
    await cache.set("key", b"1234567890")  # replacing counts the new size only
    assert cache.bytes == 10 + 3 + ENTRY_OVERHEAD
    assert await cache.delete("key") == 1
    assert (cache.bytes, cache.entries) == (0, 0)


async def test_value_larger_than_the_bound_is_not_stored() -> None:
    """A value that alone exceeds max_bytes is refused and evicts nothing."""
    cache = BoundedMemoryBackend(max_entries=10, max_bytes=1024)
    await cache.set("small", b"s")
    assert await cache.set("huge", b"x" * 2048) is False
    assert await cache.get("huge") is None
    assert await cache.get("small") == b"s"
    assert cache.evictions == 0


async def test_entries_expire_lazily_at_their_deadline() -> None:
    """An entry is served until its TTL passes, then it is gone (and counted as expired, not evicted)."""
    clock = Clock()
    cache = BoundedMemoryBackend(max_entries=10, max_bytes=1 << 20, clock=clock)
    await cache.set("k", b"v", ttl=10)
    clock.now += 9.9
    assert await cache.get("k") == b"v"
    assert await cache.exists("k")
    clock.now += 0.2
    assert await cache.get("k") is None
    assert (cache.entries, cache.bytes, cache.expirations, cache.evictions) == (0, 0, 1, 0)


async def test_no_timer_per_entry() -> None:
    """Entries with a TTL schedule nothing on the event loop (aiocache's memory backend would)."""
    cache = BoundedMemoryBackend(max_entries=100, max_bytes=1 << 20)
    for i in range(50):
        await cache.set(f"k{i}", b"v", ttl=60)
    assert cache._handlers == {}


async def test_clear_empties_and_resets_bytes() -> None:
    """clear() drops every entry and the byte count."""
    cache = BoundedMemoryBackend(max_entries=10, max_bytes=1 << 20)
    await cache.set("a", b"1", ttl=5)
    await cache.clear()
    assert (cache.entries, cache.bytes) == (0, 0)


async def test_only_bytes_are_stored() -> None:
    """The backend holds encoded entries: anything but bytes is a programming error."""
    cache = BoundedMemoryBackend(max_entries=10, max_bytes=1 << 20)
    with pytest.raises(TypeError):
        await cache.set("k", "text")


async def test_grow_counts_more_bytes_and_evicts_the_least_recently_used() -> None:
    """Growing an entry (something added to its value) counts the bytes and evicts from the least
    recently used end until the bound holds; the grown entry stays."""
    value = b"x" * 100
    per_entry = BoundedMemoryBackend.cost("k0", value)
    cache = BoundedMemoryBackend(max_entries=10, max_bytes=per_entry * 3)
    for key in ("k0", "k1", "k2"):
        cache.write(key, value)
    cache.read("k2")
    assert cache.grow("k2", 50)
    assert cache.bytes == per_entry * 2 + 50
    assert (cache.entries, cache.evictions) == (2, 1)
    assert cache.read("k0") is None
    assert cache.read("k2") == value


async def test_grow_refuses_what_would_not_fit_alone() -> None:
    """An entry that would outgrow the whole bound (or is absent) is not grown and nothing is counted."""
    cache = BoundedMemoryBackend(max_entries=10, max_bytes=1000)
    cache.write("k", b"x" * 100)
    before = cache.bytes
    assert not cache.grow("k", 1000)
    assert not cache.grow("absent", 10)
    assert cache.bytes == before


async def test_objects_are_kept_with_the_size_given() -> None:
    """An object (not bytes) is kept as it is and counts the size it was written with."""
    cache = BoundedMemoryBackend(max_entries=10, max_bytes=1 << 20)
    value = object()
    assert cache.write("key", value, size=500)
    assert cache.read("key") is value
    assert cache.bytes == 500 + 3 + ENTRY_OVERHEAD
