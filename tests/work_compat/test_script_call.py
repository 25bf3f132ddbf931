"""ScriptCaller: the worker's work step on a connection of its own, against a real redis-server.

What a user relies on: the call returns what the script returns; Redis forgetting its scripts, closing
an idle connection or dropping a busy one never loses or repeats a call silently.
"""

from __future__ import annotations

import pytest
import redis

from tests.redis_server import RedisServer
from work_compat.script_call import IDLE_CHECK_SECONDS, ScriptCaller

ECHO = "return {KEYS[1], ARGV[1], ARGV[2], redis.call('INCR', KEYS[1])}"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _kill_connection(r: redis.Redis, caller: ScriptCaller) -> None:
    """Close the caller's connection from the server side, as a Redis `timeout` or a restart does."""
    name = "script-call-victim"
    caller._conn.send_command("CLIENT", "SETNAME", name)
    assert caller._conn.read_response() == b"OK"
    victims = [c["id"] for c in r.client_list() if c.get("name") == name]
    assert len(victims) == 1
    r.client_kill_filter(_id=victims[0])


@pytest.fixture
def r(redis_client: redis.Redis) -> redis.Redis:
    return redis_client


def test_returns_the_scripts_reply_with_keys_and_args_in_place(r: redis.Redis, namespace: str) -> None:
    call = ScriptCaller(r.register_script(ECHO))
    key = f"{namespace}:n"
    assert call([key], [b"raw\x00bytes", 7]) == [key.encode(), b"raw\x00bytes", b"7", 1]
    assert call([key], ["é", 8]) == [key.encode(), "é".encode(), b"8", 2]
    call.close()


def test_runs_once_after_redis_forgot_its_scripts(r: redis.Redis, namespace: str) -> None:
    call = ScriptCaller(r.register_script(ECHO))
    key = f"{namespace}:n"
    call([key], ["a", 1])
    r.script_flush()
    assert call([key], ["a", 1])[3] == 2  # NOSCRIPT: nothing ran, so it is sent again, once
    assert r.get(key) == b"2"


def test_an_idle_connection_redis_closed_is_replaced_before_use(r: redis.Redis, namespace: str) -> None:
    clock = Clock()
    call = ScriptCaller(r.register_script(ECHO), clock=clock)
    key = f"{namespace}:n"
    call([key], ["a", 1])
    _kill_connection(r, call)
    clock.now += IDLE_CHECK_SECONDS
    assert call([key], ["a", 1])[3] == 2
    assert r.get(key) == b"2"


def test_a_busy_connection_dropped_raises_and_the_next_call_reconnects(r: redis.Redis, namespace: str) -> None:
    call = ScriptCaller(r.register_script(ECHO), clock=Clock())
    key = f"{namespace}:n"
    call([key], ["a", 1])
    _kill_connection(r, call)
    with pytest.raises(redis.ConnectionError):  # no idle check: the caller says it may not have run
        call([key], ["a", 1])
    assert call._conn is None
    assert call([key], ["a", 1])[3] == 2


def test_an_error_reply_raises_and_keeps_the_connection(r: redis.Redis, namespace: str) -> None:
    call = ScriptCaller(r.register_script("return redis.call('LPUSH', KEYS[1], 'x')"))
    key = f"{namespace}:s"
    r.set(key, "a string")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        call([key], [])
    conn = call._conn
    r.delete(key)
    assert call([key], []) == 1
    assert call._conn is conn


def test_hands_its_connection_back_on_close(redis_server: RedisServer, namespace: str) -> None:
    client = redis.Redis.from_url(redis_server.url)
    call = ScriptCaller(client.register_script(ECHO))
    call([f"{namespace}:n"], ["a", 1])
    pool = client.connection_pool
    assert len(pool._in_use_connections) == 1
    call.close()
    assert len(pool._in_use_connections) == 0
    client.close()


def test_a_single_connection_client_goes_through_redis_py(redis_server: RedisServer, namespace: str) -> None:
    client = redis.Redis.from_url(redis_server.url, single_connection_client=True)
    call = ScriptCaller(client.register_script(ECHO))
    assert call([f"{namespace}:n"], ["a", 1])[3] == 1
    assert call._conn is None
    client.close()
