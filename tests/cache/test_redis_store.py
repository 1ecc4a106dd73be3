"""The Redis store against a real redis-server: entries shared by two sidecars under the key prefix with
the store's expiry, the password from an environment variable or a file (never logged), an ACL user
from the URL, TLS, and the settings it refuses."""

from __future__ import annotations

import asyncio
import io
import random
import time
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
import redis.asyncio as redis_client

from sidecar.cache import CacheConfigError, CacheStoreSpec, ResponseCache, RouteCacheSpec
from sidecar.cache.entry import Entry, TextPiece
from sidecar.cache.redis_store import describe
from sidecar.cache.replay import Form, body_template, fill_body, template
from sidecar.cache.spec import RedisStoreSpec
from sidecar.dialects import Dialect
from sidecar.dialects.registry import DIALECTS
from sidecar.telemetry.logging import configure_logging
from sidecar.translate.common import FinishReason, Usage

from ..configmap import configmap_write
from .conftest import RedisServer
from .tls import make_certificates

SETTINGS = RouteCacheSpec(enabled=True, ttl_s=60, stale_s=30)


def _entry(text: str = "cached answer") -> Entry:
    piece = TextPiece(text, (6, len(text) - 6))
    return Entry((piece,), FinishReason.STOP, None, Usage(5, 2), "m", "t", "p", time.time(), 0.5)


def _spec(url: str, **redis: object) -> CacheStoreSpec:
    """Generous timeouts: these tests are about what works, on a machine that may be busy."""
    return CacheStoreSpec.model_validate({"redis": {"url": url, "timeout_s": 5, "connect_timeout_s": 5, **redis}})


async def _stores_and_finds(cache: ResponseCache) -> None:
    """Store an entry and find it again, then close the cache."""
    try:
        assert await cache.store("k", _entry(), SETTINGS) is None
        assert (await cache.lookup("k", SETTINGS)).state == "hit"
    finally:
        await cache.close()


async def test_two_sidecars_share_entries(redis_server: RedisServer) -> None:
    """An answer stored by one sidecar is a hit for another pointing at the same Redis."""
    first = ResponseCache.from_spec(_spec(redis_server.url))
    second = ResponseCache.from_spec(_spec(redis_server.url))
    try:
        entry = _entry()
        assert await first.store("v1:abc", entry, SETTINGS) is None
        lookup = await second.lookup("v1:abc", SETTINGS)
        assert lookup.state == "hit"
        assert lookup.entry == entry
        assert second.stats.bytes_read == first.stats.bytes_written > 0
    finally:
        await first.close()
        await second.close()


async def test_a_hit_from_redis_brings_the_body_stored_with_the_entry(redis_server: RedisServer) -> None:
    """An entry stored for a dialect's caller comes back with its whole body ready (nothing rendered per
    hit), filled with a fresh id; an entry stored without one (an older sidecar's) is rendered."""
    cache = ResponseCache.from_spec(_spec(redis_server.url))
    try:
        await cache.store("with", _entry(), SETTINGS, Dialect.OPENAI)
        await cache.store("without", _entry(), SETTINGS)
        stored, older = await cache.lookup("with", SETTINGS), await cache.lookup("without", SETTINGS)
        assert stored.body is not None and older.body is None
        for lookup in (stored, older):
            assert lookup.entry is not None
            body = orjson.loads(cache.answer("k", lookup.entry, Dialect.OPENAI, "body", lookup.body))
            assert body["choices"][0]["message"]["content"] == "cached answer"
            assert body["id"].startswith("chatcmpl-")
    finally:
        await cache.close()


def _filled_alike(fill: Callable[[], bytes], before: Callable[[], bytes]) -> tuple[bytes, bytes]:
    """``fill()`` and ``before()`` each from the same state of the PRNG (the id, a stream's padding) within one
    second of the wall clock (OpenAI's ``created``): equal when they fill alike."""
    state = random.getstate()
    try:
        for _ in range(3):
            second = int(time.time())
            random.seed(21)
            filled = fill()
            random.seed(21)
            expected = before()
            if int(time.time()) == second:
                break
        return filled, expected
    finally:
        random.setstate(state)


@pytest.mark.parametrize("form", ["body", "stream_usage"])
@pytest.mark.parametrize("dialect", DIALECTS, ids=[d.value for d in DIALECTS])
async def test_a_redis_hit_fills_as_its_stored_bytes_do(
    redis_server: RedisServer, dialect: Dialect, form: Form
) -> None:
    """A hit read from Redis answers, whole or as a stream, the very bytes its entry's template filled by
    replacement gives (the stored body as it is, ``replay.fill_body`` of ``body_template``; a stream
    rendered from the entry), the first hit and a repeated one (its body kept cut at its marks)."""
    cache = ResponseCache.from_spec(_spec(redis_server.url))
    try:
        entry = _entry("a cached answer, with its id and time filled for each hit")
        await cache.store("k", entry, SETTINGS, dialect)
        for _ in range(2):
            lookup = await cache.lookup("k", SETTINGS, dialect)
            assert lookup.entry is not None
            found = lookup.entry
            rendered = body_template(entry, dialect) if form == "body" else template(entry, dialect, form)
            filled, expected = _filled_alike(
                lambda: cache.answer("k", found, dialect, form, lookup.body),  # noqa: B023 (called at once)
                lambda: fill_body(rendered, dialect),  # noqa: B023
            )
            assert filled == expected
    finally:
        await cache.close()


async def test_a_hot_keys_value_is_decoded_once(redis_server: RedisServer) -> None:
    """Two hits on one key, Redis answering the same bytes, give the same entry object: the value was
    decoded and checked once (``decoded.DecodedValues``)."""
    cache = ResponseCache.from_spec(_spec(redis_server.url))
    try:
        await cache.store("k", _entry(), SETTINGS, Dialect.OPENAI)
        first, second = [await cache.lookup("k", SETTINGS, Dialect.OPENAI) for _ in range(2)]
        assert first.state == second.state == "hit"
        assert first.entry is not None and second.entry is first.entry and second.body is first.body
    finally:
        await cache.close()


async def test_lookups_beyond_the_kept_connections_use_the_pool(redis_server: RedisServer) -> None:
    """Lookups at once outnumbering the connections kept for reads (half of ``max_connections``) all find
    their entry: the ones that find every kept connection busy read through the pool."""
    cache = ResponseCache.from_spec(_spec(redis_server.url, max_connections=4))
    try:
        await cache.store("k", _entry(), SETTINGS, Dialect.OPENAI)
        lookups = await asyncio.gather(*(cache.lookup("k", SETTINGS, Dialect.OPENAI) for _ in range(3)))
        assert [lookup.state for lookup in lookups] == ["hit"] * 3
        assert cache.stats.errors == 0
    finally:
        await cache.close()


async def test_the_first_lookup_after_redis_restarted_finds_its_entry(redis_server: RedisServer) -> None:
    """A lookup after Redis restarted (its connections all closed) is a hit for an entry stored since: the
    connection kept for reads is connected again before its command, as a pooled one is, not found dead
    by it (a miss, a timeout against the breaker)."""
    cache = ResponseCache.from_spec(_spec(redis_server.url, timeout_s=0.5))
    try:
        await cache.store("k", _entry(), SETTINGS, Dialect.OPENAI)
        assert (await cache.lookup("k", SETTINGS, Dialect.OPENAI)).state == "hit"
        redis_server.kill()
        redis_server.start()
        assert await cache.store("k", _entry(), SETTINGS, Dialect.OPENAI) is None
        assert (await cache.lookup("k", SETTINGS, Dialect.OPENAI)).state == "hit"
        assert cache.stats.errors == 0
    finally:
        await cache.close()


async def test_a_value_rewritten_after_a_hit_is_checked_again(redis_server: RedisServer) -> None:
    """After a hit, the key's value replaced by hand with the same entry and a ``{}`` body is refused (a
    miss, counted damaged, deleted): only the exact bytes already checked are taken as they were."""
    cache = ResponseCache.from_spec(_spec(redis_server.url))
    client = redis_client.Redis(port=redis_server.port)
    try:
        await cache.store("k", _entry(), SETTINGS, Dialect.OPENAI)
        assert (await cache.lookup("k", SETTINGS, Dialect.OPENAI)).state == "hit"
        (name,) = await client.keys("*")
        head = (await client.get(name)).partition(b"\n")[0]
        await client.set(name, head + b"\n{}")
        assert (await cache.lookup("k", SETTINGS, Dialect.OPENAI)).state == "miss"
        assert cache.stats.damaged == 1
        assert await client.keys("*") == []
    finally:
        await cache.close()
        await client.aclose()


async def test_keys_live_under_the_prefix_for_ttl_plus_stale(redis_server: RedisServer) -> None:
    """Redis holds the entry under ``key_prefix:`` with an expiry of ttl_s + stale_s."""
    cache = ResponseCache.from_spec(_spec(redis_server.url, key_prefix="team-a"))
    client = redis_client.Redis(port=redis_server.port)
    try:
        await cache.store("v1:abc", _entry(), SETTINGS)
        assert await client.keys("*") == [b"team-a:v1:abc"]
        assert 85_000 < await client.pttl("team-a:v1:abc") <= 90_000
    finally:
        await cache.close()
        await client.aclose()


async def test_a_key_prefix_outside_ascii_is_read_under_the_key_it_was_written_to(redis_server: RedisServer) -> None:
    """A lookup's ``GET`` (packed from the key's UTF-8 bytes) reads the key aiocache's ``set`` wrote (the client's
    encoder): a prefix outside ASCII included."""
    cache = ResponseCache.from_spec(_spec(redis_server.url, key_prefix="équipe-ü"))
    client = redis_client.Redis(port=redis_server.port)
    try:
        await cache.store("v3:abc", _entry(), SETTINGS)
        assert await client.keys("*") == ["équipe-ü:v3:abc".encode()]
        assert (await cache.lookup("v3:abc", SETTINGS)).state == "hit"
    finally:
        await cache.close()
        await client.aclose()


async def test_password_from_environment(start_redis: Callable[..., RedisServer]) -> None:
    """With requirepass, the password named by password.env opens the store."""
    server = start_redis("--requirepass", "s3cret-env")
    cache = ResponseCache.from_spec(_spec(server.url, password={"env": "REDIS_PW"}), {"REDIS_PW": "s3cret-env"})
    await _stores_and_finds(cache)


async def test_password_from_file(start_redis: Callable[..., RedisServer], tmp_path: Path) -> None:
    """The password can come from a mounted file (trailing newline ignored)."""
    server = start_redis("--requirepass", "s3cret-file")
    secret = tmp_path / "redis-password"
    secret.write_text("s3cret-file\n")
    cache = ResponseCache.from_spec(_spec(server.url, password={"file": str(secret)}), {})
    await _stores_and_finds(cache)


async def test_a_rotated_password_file_is_read_by_the_next_connection(
    start_redis: Callable[..., RedisServer], tmp_path: Path
) -> None:
    """Redis's password changed (CONFIG SET requirepass) and the Secret's file rewritten by the kubelet's
    ``..data`` swap: once Redis drops the cache's connections (a restart, a failover), the next connection
    logs in with the new password from the file, no restart of the sidecar."""
    server = start_redis("--requirepass", "old-password")
    configmap_write(tmp_path, {"redis-password": b"old-password\n"}, "2026_12_04_10_00_00.1")
    cache = ResponseCache.from_spec(_spec(server.url, password={"file": str(tmp_path / "redis-password")}), {})
    try:
        assert await cache.store("k", _entry(), SETTINGS) is None
        with server.client(password="old-password") as admin:
            admin.config_set("requirepass", "new-password")
        configmap_write(tmp_path, {"redis-password": b"new-password\n"}, "2026_12_04_10_01_00.2")
        with server.client(password="new-password") as admin:
            assert admin.client_kill_filter(_type="normal", skipme=True) >= 1  # the cache's connection
        # The first lookup may find the dropped connection (a miss, as any lost connection costs); the
        # next one connects again, with the password the file holds now.
        states = [(await cache.lookup("k", SETTINGS)).state for _ in range(2)]
        assert states[-1] == "hit"
    finally:
        await cache.close()


async def test_wrong_password_is_a_miss_and_is_never_logged(start_redis: Callable[..., RedisServer]) -> None:
    """A refused password makes misses and one log line, which holds neither password."""
    server = start_redis("--requirepass", "right-password-123")
    logs = io.BytesIO()
    configure_logging("info", stream=logs, cache=False)
    cache = ResponseCache.from_spec(_spec(server.url, password={"env": "PW"}), {"PW": "wrong-password-456"})
    try:
        assert await cache.store("k", _entry(), SETTINGS) == "store_failed"
        assert (await cache.lookup("k", SETTINGS)).state == "miss"
        assert cache.stats.errors == 2
        text = logs.getvalue().decode()
        assert "cache_store_failing" in text
        assert "wrong-password-456" not in text and "right-password-123" not in text
    finally:
        await cache.close()


async def test_acl_user_from_the_url(start_redis: Callable[..., RedisServer]) -> None:
    """A user name in the URL authenticates as that ACL user, with its password; the commands and keys
    docs/caching.md gives that user are all the cache needs."""
    acl = ("on", ">pw-of-cache", "~llm-sidecar:*", "+get", "+psetex", "+del", "+ping")
    server = start_redis("--user", "default", "off", "--user", "cache", *acl)
    url = server.url.replace("redis://", "redis://cache@")
    cache = ResponseCache.from_spec(_spec(url, password={"env": "PW"}), {"PW": "pw-of-cache"})
    await _stores_and_finds(cache)


async def test_tls_with_a_private_ca(start_redis: Callable[..., RedisServer], tmp_path: Path) -> None:
    """A rediss:// URL talks TLS and checks the server against tls.ca_file."""
    paths = make_certificates(tmp_path)
    server = start_redis(tls=paths)
    cache = ResponseCache.from_spec(_spec(server.url, tls={"ca_file": str(paths["ca"])}))
    await _stores_and_finds(cache)


async def test_tls_refuses_an_unknown_ca(start_redis: Callable[..., RedisServer], tmp_path: Path) -> None:
    """Without the server's CA the TLS handshake fails: misses, counted, no exception."""
    server = start_redis(tls=make_certificates(tmp_path))
    cache = ResponseCache.from_spec(_spec(server.url))
    try:
        assert (await cache.lookup("k", SETTINGS)).state == "miss"
        assert cache.stats.errors == 1
    finally:
        await cache.close()


def test_missing_password_names_its_source() -> None:
    """An unset password variable is a CacheConfigError naming the variable."""
    with pytest.raises(CacheConfigError, match="REDIS_PASSWORD is not set"):
        ResponseCache.from_spec(_spec("redis://127.0.0.1:6379/0", password={"env": "REDIS_PASSWORD"}), {})


@pytest.mark.parametrize(
    ("redis", "problem"),
    [
        ({"url": "redis://:hunter2@cache:6379/0"}, "must not hold a password"),
        ({"url": "redis://cache:6379/0?password=hunter2"}, "must not hold a password"),
        ({"url": "redis://cache:6379/0?db=1&Password=hunter2"}, "must not hold a password"),
        ({"url": "http://cache:6379"}, "redis://"),
        ({"url": "redis://cache:6379/zero"}, "database number"),
        ({"url": "redis://cache", "tls": {"verify": False}}, "rediss://"),
        ({"url": "redis://cache", "password": {"env": "A", "file": "/b"}}, "exactly one"),
    ],
)
def test_store_settings_that_are_refused(redis: dict[str, object], problem: str) -> None:
    """A password in the URL, another scheme, a bad database, TLS settings on redis://: refused."""
    with pytest.raises(ValueError, match=problem):
        CacheStoreSpec.model_validate({"redis": redis})


def test_description_holds_no_credentials() -> None:
    """What logs and /status show of the store has no user name."""
    spec = RedisStoreSpec(url="rediss://cache-user@redis.internal:6380/2")
    assert describe(spec) == "rediss://redis.internal:6380/2"
