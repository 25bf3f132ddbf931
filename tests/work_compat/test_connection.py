"""Connecting the way users do: Redis Cluster, Sentinel (with a failover), unix sockets, databases,
and the errors a wrong address or an unreachable server gives.

Cluster and Sentinel tests run against real servers the session fixtures start (see conftest).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
import redis.cluster

import work_compat
from tests.redis_server import ClusterServers, RedisServer, SentinelServers, free_port
from work_compat import Client, ConfigurationError, Enqueuer, Job, RedisUnavailableError, connect, make_identifier

NS = "{app}"


def wait_until(what: str, timeout: float, check: Callable[[], bool]) -> None:
    """Poll ``check`` every 50 ms until true; fail naming ``what`` after ``timeout`` seconds.

    A dropped connection while a server changes role counts as "not yet".
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except redis.ConnectionError:
            pass
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


# -- Redis Cluster ------------------------------------------------------------------------------


def node_clients(cluster: ClusterServers) -> list[redis.Redis]:
    return [redis.Redis(host="127.0.0.1", port=p) for p in cluster.ports]


@pytest.fixture
def cluster(redis_cluster: ClusterServers) -> Iterator[ClusterServers]:
    """The session's cluster, emptied on every master first."""
    clients = node_clients(redis_cluster)
    try:
        for c in clients:
            c.flushall()
    finally:
        for c in clients:
            c.close()
    yield redis_cluster


@pytest.fixture(params=["connect", "instance"])
def cluster_target(request: pytest.FixtureRequest, cluster: ClusterServers) -> Iterator[Any]:
    """What a user hands Enqueuer and Client: ``connect(url, cluster=True)`` or a RedisCluster."""
    if request.param == "connect":
        conn = connect(cluster.url, cluster=True)
        assert conn.cluster and isinstance(conn.client, redis.cluster.RedisCluster)
        client = conn.client
        target: Any = conn
    else:
        client = redis.cluster.RedisCluster.from_url(cluster.url)
        target = client
    try:
        yield target
    finally:
        client.close()


def dead_job(name: str, died_at: int, **args: Any) -> Job:
    return Job(name, make_identifier(), died_at - 60, dict(args), fails=4, last_err="boom", failed_at=died_at)


@pytest.mark.cluster
def test_cluster_enqueuer_and_client(cluster: ClusterServers, cluster_target: Any) -> None:
    enq = Enqueuer(NS, cluster_target)
    cli = Client(NS, cluster_target)

    job = enq.enqueue("email", {"to": "a@example.com"})
    later = enq.enqueue_in("report", 300, {"month": 5})
    unique = enq.enqueue_unique("sync", {"account": 1})
    assert unique is not None
    assert enq.enqueue_unique("sync", {"account": 1}) is None
    keyed = enq.enqueue_unique_in_by_key("digest", 600, {"user": 7, "n": 1}, {"user": 7})
    assert keyed is not None
    assert enq.enqueue_unique_in_by_key("digest", 600, {"user": 7, "n": 2}, {"user": 7}) is None
    many = enq.enqueue_many([("bulk", {"i": i}) for i in range(5)] + [("email", {"to": "b@example.com"})])
    assert [j.name for j in many] == ["bulk"] * 5 + ["email"]

    counts = {q.job_name: q.count for q in cli.queues()}
    assert counts == {"bulk": 5, "digest": 0, "email": 2, "report": 0, "sync": 1}
    scheduled, total = cli.scheduled_jobs()
    assert total == 2
    assert {(s.run_at, s.job.id) for s in scheduled} == {(later.run_at, later.job.id), (keyed.run_at, keyed.job.id)}

    # Deleting the by-key scheduled job releases its lock: the same key enqueues again.
    cli.delete_scheduled_job(keyed.run_at, keyed.job.id)
    assert cli.scheduled_jobs()[1] == 1
    assert enq.enqueue_unique_in_by_key("digest", 600, {"user": 7, "n": 3}, {"user": 7}) is not None

    # Dead jobs, as a Go worker leaves them, retried one by one, all at once, and deleted.
    rc = cluster_target.client if isinstance(cluster_target, work_compat.Connection) else cluster_target
    now = int(time.time())
    one, two, three, gone = (dead_job("email", now - 30 + i, n=i) for i in range(4))
    rc.zadd(f"{NS}:dead", {j.to_bytes(): j.failed_at for j in (one, two, three, gone)})
    assert cli.dead_jobs()[1] == 4
    cli.retry_dead_job(one.failed_at, one.id)
    cli.delete_dead_job(gone.failed_at, gone.id)
    assert cli.retry_all_dead_jobs() == 2
    assert cli.dead_jobs()[1] == 0
    assert {q.job_name: q.count for q in cli.queues()}["email"] == 5
    requeued = {work_compat.decode_job(raw).id for raw in rc.lrange(f"{NS}:jobs:email", 0, -1)}
    assert requeued == {job.id, many[-1].id, one.id, two.id, three.id}

    # Every key the protocol wrote lives in the one slot of the hash tag, on one node.
    slot = rc.cluster_keyslot(NS)
    assert rc.cluster_keyslot(f"{NS}:jobs:email") == rc.cluster_keyslot(f"{NS}:dead") == slot
    found: dict[int, list[bytes]] = {}
    clients = node_clients(cluster)
    try:
        for port, c in zip(cluster.ports, clients):
            keys = c.keys("*")
            if keys:
                found[port] = keys
        assert len(found) == 1, f"keys spread over several nodes: {found}"
        ((port, keys),) = found.items()
        node = clients[cluster.ports.index(port)]
        assert {node.cluster("KEYSLOT", k) for k in keys} == {slot}
    finally:
        for c in clients:
            c.close()
    names = {k.decode() for k in keys}
    assert {f"{NS}:known_jobs", f"{NS}:jobs:email", f"{NS}:jobs:bulk", f"{NS}:jobs:sync", f"{NS}:scheduled"} <= names
    assert any(n.startswith(f"{NS}:unique:sync:") for n in names)


@pytest.mark.cluster
@pytest.mark.parametrize("ns", ["app", "{}app", "app{", "work"])
def test_cluster_namespace_without_hash_tag_is_refused(cluster_target: Any, ns: str) -> None:
    for cls in (Enqueuer, Client):
        with pytest.raises(ConfigurationError, match="hash tag") as info:
            cls(ns, cluster_target)
        assert repr(ns) in str(info.value)


@pytest.mark.cluster
def test_cluster_namespace_with_prefix_before_tag_is_accepted(cluster_target: Any) -> None:
    """``work:{app}`` puts the tag in every key before the job name: all keys share one slot."""
    enq = Enqueuer("work:{app}", cluster_target)
    assert enq.enqueue_unique("sync", {"a": 1}) is not None
    assert [(q.job_name, q.count) for q in Client("work:{app}", cluster_target).queues()] == [("sync", 1)]


# -- Redis Sentinel -----------------------------------------------------------------------------


@pytest.fixture
def sentinel_conn(redis_sentinel: SentinelServers) -> Iterator[work_compat.Connection]:
    conn = connect(redis_sentinel.url)
    try:
        yield conn
    finally:
        conn.client.close()
        conn.client.connection_pool.sentinel_manager.close()


@pytest.mark.sentinel
def test_sentinel_url_writes_to_the_master(
    redis_sentinel: SentinelServers, sentinel_conn: work_compat.Connection, namespace: str
) -> None:
    host, port = redis_sentinel.master_address()
    assert sentinel_conn.client.info("replication")["role"] == "master"
    assert sentinel_conn.client.connection_pool.get_master_address() == (host, port)
    assert "sentinel 127.0.0.1:" in sentinel_conn.address

    job = Enqueuer(namespace, sentinel_conn).enqueue("email", {"to": "a@example.com"})
    queues = Client(namespace, sentinel_conn).queues()
    assert [(q.job_name, q.count) for q in queues] == [("email", 1)]

    master = redis_sentinel.server_at(port).client()
    try:
        assert master.lrange(f"{namespace}:jobs:email", 0, -1) == [job.to_bytes()]
    finally:
        master.close()


@pytest.mark.sentinel
def test_sentinel_failover_keeps_the_enqueuer_working(
    redis_sentinel: SentinelServers, sentinel_conn: work_compat.Connection, namespace: str
) -> None:
    enq = Enqueuer(namespace, sentinel_conn)
    cli = Client(namespace, sentinel_conn)
    before = enq.enqueue("email", {"n": 1})
    # The replica has the job before the failover, so the new master starts with it.
    assert sentinel_conn.client.wait(1, 5000) == 1

    _, old_port = redis_sentinel.master_address()
    (new,) = [s for s in redis_sentinel.servers if s.port != old_port]
    old = redis_sentinel.server_at(old_port)
    sentinel = redis_sentinel.sentinel_client(0)
    try:
        assert sentinel.execute_command("SENTINEL", "FAILOVER", redis_sentinel.service)
    finally:
        sentinel.close()
    redis_sentinel.wait_for_master(new.port, timeout=20)

    # Sentinel demotes the old master (and drops its clients) some seconds after the switch;
    # until then it still takes writes, which a pooled connection to it would send there.
    old_client = old.client()
    try:
        wait_until(
            f"the old master {old_port} to become a replica",
            20,
            lambda: old_client.info("replication")["role"] == "slave",
        )
    finally:
        old_client.close()

    # No retry needed: the demotion closed the pooled connection, and redis-py asks the Sentinels
    # for the master again when it reconnects.
    after = enq.enqueue("email", {"n": 2})
    assert sentinel_conn.client.connection_pool.master_address == ("127.0.0.1", new.port)
    new_client = new.client()
    try:
        stored = new_client.lrange(f"{namespace}:jobs:email", 0, -1)
    finally:
        new_client.close()
    assert stored == [after.to_bytes(), before.to_bytes()]
    assert [(q.job_name, q.count) for q in cli.queues()] == [("email", 2)]


# -- addresses and their errors ----------------------------------------------------------------


@pytest.mark.parametrize(
    "make_target, shown",
    [
        (lambda port: f"redis://:secret@127.0.0.1:{port}/0", lambda port: f"127.0.0.1:{port}"),
        (lambda port: f"redis://user:secret@127.0.0.1:{port}/2", lambda port: f"127.0.0.1:{port}"),
        # redis-py gives host/port clients (not URL ones) 3 retries with up to 14 s of backoff;
        # the message is the same without them.
        (lambda port: connect(f"127.0.0.1:{port}", retry=None), lambda port: f"127.0.0.1:{port}"),
        (lambda port: f"unix:///nonexistent-{port}/r.sock", lambda port: f"/nonexistent-{port}/r.sock"),
    ],
    ids=["password", "user-password", "host-port", "unix"],
)
def test_unreachable_redis_names_the_address_not_the_password(
    make_target: Callable[[int], Any], shown: Callable[[int], str]
) -> None:
    port = free_port()  # nothing listens there
    with pytest.raises(RedisUnavailableError) as info:
        Enqueuer("ns", make_target(port)).enqueue("x")
    message = str(info.value)
    assert shown(port) in message
    assert "secret" not in message


@pytest.mark.sentinel
def test_unreachable_sentinel_names_the_sentinels_not_the_password() -> None:
    port = free_port()
    conn = connect(f"sentinel://:secret@127.0.0.1:{port}/mymaster/0")
    try:
        with pytest.raises(RedisUnavailableError) as info:
            Enqueuer("ns", conn).enqueue("x")
    finally:
        conn.client.close()
        conn.client.connection_pool.sentinel_manager.close()
    message = str(info.value)
    assert f"127.0.0.1:{port}" in message and "mymaster" in message
    assert "secret" not in message


@pytest.mark.parametrize(
    "target, complaint",
    [
        ("redis://host:notaport/0", "notaport"),
        ("redis://:pw@host:notaport/0", "notaport"),
        ("redis://host/abc", "invalid database 'abc'"),
        ("redis://host:0/0", "port 0"),
        ("amqp://x", "unsupported scheme 'amqp'"),
        ("host:port:extra", "expected host:port"),
        ("host:notaport", "port 'notaport' is not a port number"),
        ("host:70000", "port '70000' is not a port number"),
        ("sentinel://127.0.0.1:26379", "expected sentinel://"),
        ("sentinel://127.0.0.1:26379/mymaster/x", "invalid database 'x'"),
    ],
)
def test_malformed_address_says_what_is_wrong(target: str, complaint: str) -> None:
    for make in (connect, lambda t: Enqueuer("ns", t), lambda t: Client("ns", t)):
        with pytest.raises(ConfigurationError) as info:
            make(target)
        assert complaint in str(info.value)
        assert ":pw@" not in str(info.value)


def test_host_port_with_database_selects_that_database(redis_server: RedisServer, namespace: str) -> None:
    conn = connect(f"127.0.0.1:{redis_server.port}", database=3)
    db3, db0 = redis_server.client(db=3), redis_server.client(db=0)
    try:
        assert conn.address == f"127.0.0.1:{redis_server.port}/3"
        job = Enqueuer(namespace, conn).enqueue("email", {"to": "a@example.com"})
        assert db3.lrange(f"{namespace}:jobs:email", 0, -1) == [job.to_bytes()]
        assert db3.smembers(f"{namespace}:known_jobs") == {b"email"}
        assert db0.exists(f"{namespace}:jobs:email", f"{namespace}:known_jobs") == 0
    finally:
        for c in (conn.client, db3, db0):
            c.close()


def test_url_path_selects_the_database_and_database_is_ignored(redis_server: RedisServer, namespace: str) -> None:
    """As in Go's workwebui, a URL's own database wins over ``database``."""
    conn = connect(f"redis://127.0.0.1:{redis_server.port}/5", database=3)
    db5 = redis_server.client(db=5)
    try:
        job = Enqueuer(namespace, conn).enqueue("email")
        assert db5.lrange(f"{namespace}:jobs:email", 0, -1) == [job.to_bytes()]
    finally:
        conn.client.close()
        db5.close()


@pytest.fixture(scope="module")
def unix_server() -> Iterator[RedisServer]:
    server = RedisServer(unix_socket=True).start()
    try:
        yield server
    finally:
        server.cleanup()


def test_unix_socket_url(unix_server: RedisServer, namespace: str) -> None:
    assert unix_server.socket_path is not None
    conn = connect(f"unix://{unix_server.socket_path}?db=2")
    plain = redis.Redis(unix_socket_path=unix_server.socket_path, db=2)
    try:
        enq, cli = Enqueuer(namespace, conn), Client(namespace, conn)
        job = enq.enqueue("email", {"to": "a@example.com"})
        assert enq.enqueue_unique("sync", {"a": 1}) is not None
        assert enq.enqueue_unique("sync", {"a": 1}) is None
        assert [(q.job_name, q.count) for q in cli.queues()] == [("email", 1), ("sync", 1)]
        assert plain.lrange(f"{namespace}:jobs:email", 0, -1) == [job.to_bytes()]
    finally:
        conn.client.close()
        plain.close()
