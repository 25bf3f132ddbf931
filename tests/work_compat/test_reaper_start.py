"""The reaper's pass at start (reaper.py): a dead pool is reaped when a pool starts; right after a
Redis restart, a pool that last beat before the restart is left to the second pass, dead_after + 1 s
later, since it may be alive and not have beaten again yet.

Both run on a redis-server of their own: the first needs one that has been up for dead_after, the
second one that has just started.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.work_compat.test_background import fake_pool
from work_compat import Client
from work_compat.clock import SYSTEM_CLOCK
from work_compat.embedded import EmbeddedRedis
from work_compat.reaper import Reaper
from work_compat.scripts import Scripts

DEAD_AFTER = 2
JOB = b'{"name":"work","id":"j1","t":1,"args":{}}'


@pytest.fixture
def server() -> Iterator[EmbeddedRedis]:
    s = EmbeddedRedis().start()
    try:
        yield s
    finally:
        s.cleanup()


def _reaper(r: object, client: Client) -> Reaper:
    return Reaper(
        r,
        Scripts(r),
        client.keys,
        lambda: ["work"],
        clock=SYSTEM_CLOCK,
        dead_after=DEAD_AFTER,
        first_delay=0,
        period=600,
        jitter=0,
        history_retention=None,
    )


def test_the_pass_at_start_reaps_a_pool_dead_for_dead_after(server: EmbeddedRedis) -> None:
    r = server.client()
    client = Client("ns", server.url)
    try:
        # Given a Redis up for longer than dead_after and a pool that last beat a minute ago
        while int(r.info("server")["uptime_in_seconds"]) < DEAD_AFTER:
            time.sleep(0.2)
        dead = fake_pool(r, client, int(time.time()) - 60, [JOB])
        reaper = _reaper(r, client)
        # When a pool starts, its reaper's first pass takes the dead pool's job back at once
        reaper.tick()
        assert r.lrange(client.keys.jobs("work"), 0, -1) == [JOB]
        assert not r.sismember(client.keys.worker_pools(), dead)
        # And the second pass comes dead_after + 1 s later, then every period
        assert reaper.next_wait() == DEAD_AFTER + 1
        reaper.tick()
        assert reaper.next_wait() == 600
    finally:
        r.close()
        client.close()


def test_right_after_a_redis_restart_the_pass_at_start_waits_for_pools_that_beat_before(
    server: EmbeddedRedis,
) -> None:
    r = server.client()
    client = Client("ns", server.url)
    try:
        # Given a Redis that has just (re)started, holding a pool that beat before it went down
        assert int(r.info("server")["uptime_in_seconds"]) < DEAD_AFTER
        maybe_alive = fake_pool(r, client, int(time.time()) - 60, [JOB])
        gone = fake_pool(r, client, 0, [])
        r.delete(client.keys.heartbeat(gone))  # no heartbeat hash at all: dead whatever the restart
        reaper = _reaper(r, client)
        # When a pool starts now, its first pass leaves that pool alone
        reaper.tick()
        assert r.sismember(client.keys.worker_pools(), maybe_alive)
        assert not r.sismember(client.keys.worker_pools(), gone)
        assert r.llen(client.keys.jobs_in_progress("work", maybe_alive)) == 1
        # Then the second pass, by which a live pool would have beaten again, reaps it
        reaper.tick()
        assert not r.sismember(client.keys.worker_pools(), maybe_alive)
        assert r.lrange(client.keys.jobs("work"), 0, -1) == [JOB]
    finally:
        r.close()
        client.close()
