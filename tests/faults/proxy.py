"""A TCP proxy in front of Redis that can lose one reply: the command reaches Redis and runs, its
reply never reaches the client, and the connection is cut (what a Redis shutdown or a network
failure can do between a command and its reply)."""

from __future__ import annotations

import socket
import threading

from work_compat.embedded import free_port


class LossyProxy:
    """Forwards 127.0.0.1:``port`` to 127.0.0.1:``target_port``.

    ``lose_reply_to(marker)``: the next request that contains ``marker`` is forwarded, and its
    reply is dropped and the connection closed. ``lost`` is set once that happened.
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._lock = threading.Lock()
        self._marker: bytes | None = None
        self.lost = threading.Event()
        self._socks: list[socket.socket] = []
        self._closed = False
        threading.Thread(target=self._accept, name="lossy-proxy", daemon=True).start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def lose_reply_to(self, marker: bytes) -> None:
        with self._lock:
            self._marker = marker
            self.lost.clear()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._closed:
                    client.close()
                    server.close()
                    return
                self._socks += [client, server]
            drop = threading.Event()
            threading.Thread(target=self._up, args=(client, server, drop), daemon=True).start()
            threading.Thread(target=self._down, args=(server, client, drop), daemon=True).start()

    def _up(self, client: socket.socket, server: socket.socket, drop: threading.Event) -> None:
        while True:
            try:
                data = client.recv(65536)
            except OSError:
                data = b""
            if not data:
                break
            with self._lock:
                if self._marker is not None and self._marker in data:
                    self._marker = None
                    drop.set()
            try:
                server.sendall(data)
            except OSError:
                break
        self._close(client, server)

    def _down(self, server: socket.socket, client: socket.socket, drop: threading.Event) -> None:
        while True:
            try:
                data = server.recv(65536)
            except OSError:
                data = b""
            if not data:
                break
            if drop.is_set():  # the reply to the marked request: lose it, cut the connection
                self.lost.set()
                break
            try:
                client.sendall(data)
            except OSError:
                break
        self._close(client, server)

    @staticmethod
    def _close(*socks: socket.socket) -> None:
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            socks, self._socks = self._socks, []
        self._listener.close()
        self._close(*socks)
