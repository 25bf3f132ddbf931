"""Ask the fork's workwebui and ours the same thing on one namespace, and what each answered and did.

A read is asked of Go, then of ours, then of Go again: when Go's two answers agree, nothing moved in
between (a heartbeat, a queue's latency, the clock), and ours must equal them. A change (POST,
DELETE) is made on a snapshot of the namespace: Go's server acts on it, the resulting keys are
recorded, the snapshot is put back, ours acts, and both answers and both resulting states are
compared. Values a server takes from its clock (``t``, ``updated_at``, scores) are compared as
"some second within the request" (``NOW``), and an enqueued job's random id as ``ID``.
"""

from __future__ import annotations

import http.client
import math
import re
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import redis

from work_compat import namespace_prefix

STABLE_ATTEMPTS = 8


@dataclass(frozen=True)
class Answer:
    """What the tests compare of one HTTP response (framing headers are not compared)."""

    status: int
    content_type: str
    body: bytes
    allow: str | None = None  # the Allow header of a 405

    def replaced(self, body: bytes) -> Answer:
        return Answer(self.status, self.content_type, body, self.allow)


def ask(base: str, method: str, path: str, body: bytes | None = None) -> Answer:
    """One request, sent as written (no redirect followed, no path cleaning)."""
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        return Answer(resp.status, resp.getheader("Content-Type", ""), data, resp.getheader("Allow"))
    finally:
        conn.close()


@dataclass
class Change:
    """What one server answered to a change, and every key of the namespace afterwards."""

    answer: Answer
    state: dict[str, Any]
    window: tuple[int, int]


@dataclass
class Servers:
    """The fork's workwebui (``go``) and ours (``ours``) on one namespace of one Redis."""

    go: str
    ours: str
    r: redis.Redis
    namespace: str

    @property
    def prefix(self) -> str:
        return namespace_prefix(self.namespace)

    def read(self, method: str, path: str) -> tuple[Answer, Answer]:
        """Go's answer (the same twice in a row) and ours, asked in between."""
        for _ in range(STABLE_ATTEMPTS):
            first = ask(self.go, method, path)
            ours = ask(self.ours, method, path)
            second = ask(self.go, method, path)
            if first == second:
                return first, ours
            # something moved between Go's two answers (a second ticked, a heartbeat): ask again
        raise AssertionError(f"{method} {path}: Go's answer changed on every one of {STABLE_ATTEMPTS} tries")

    def change(self, method: str, path: str, body: bytes | None = None) -> tuple[Change, Change]:
        """The same change made by Go's server and by ours, each on the same starting keys."""
        before = self.snapshot()
        go = self._act(self.go, method, path, body)
        self.restore(before)
        ours = self._act(self.ours, method, path, body)
        return go, ours

    def _act(self, base: str, method: str, path: str, body: bytes | None) -> Change:
        start = math.floor(time.time())
        answer = ask(base, method, path, body)
        end = math.ceil(time.time())
        return Change(answer, self.state(), (start, end))

    # -- the namespace's keys ---------------------------------------------------------------------
    def _keys(self) -> list[bytes]:
        return sorted(self.r.scan_iter(match=self.prefix.replace("[", "\\[") + "*", count=1000))

    def snapshot(self) -> dict[bytes, tuple[bytes, int]]:
        """Every key of the namespace as DUMP bytes and its TTL in ms (0: none)."""
        out = {}
        for key in self._keys():
            dumped = self.r.dump(key)
            if dumped is not None:
                out[key] = (dumped, max(int(self.r.pttl(key)), 0))
        return out

    def restore(self, snap: dict[bytes, tuple[bytes, int]]) -> None:
        """Make the namespace hold exactly the snapshot's keys again."""
        keys = self._keys()
        if keys:
            self.r.delete(*keys)
        for key, (dumped, ttl) in snap.items():
            self.r.restore(key, ttl, dumped, replace=True)

    def clear(self) -> None:
        self.restore({})

    def state(self) -> dict[str, Any]:
        """Every key of the namespace and its value, in a form that compares and prints well."""
        out: dict[str, Any] = {}
        for key in self._keys():
            kind = self.r.type(key).decode()
            name = key.decode("utf-8", "surrogateescape")
            if kind == "string":
                out[name] = self.r.get(key)
            elif kind == "list":
                out[name] = ("list", self.r.lrange(key, 0, -1))
            elif kind == "set":
                out[name] = ("set", sorted(self.r.smembers(key)))
            elif kind == "zset":
                out[name] = ("zset", self.r.zrange(key, 0, -1, withscores=True))
            elif kind == "hash":
                out[name] = ("hash", sorted(self.r.hgetall(key).items()))
            else:
                out[name] = (kind, None)
        return out


# -- normalising what depends on the clock or on chance ----------------------------------------------
_EPOCH = re.compile(rb"(?<![0-9.])1[0-9]{9}(?:\.0)?(?![0-9])")


def now_masked(data: bytes, window: tuple[int, int]) -> bytes:
    """Every 10-digit epoch second inside ``window`` becomes ``NOW``."""
    lo, hi = window

    def sub(m: re.Match[bytes]) -> bytes:
        return b"NOW" if lo <= int(float(m.group(0))) <= hi else m.group(0)

    return _EPOCH.sub(sub, data)


def masked_state(change: Change, ids: dict[str, str] | None = None) -> Any:
    """The state with this change's clock values as ``NOW`` and the given ids renamed."""

    def fix(v: Any) -> Any:
        if isinstance(v, bytes):
            out = now_masked(v, change.window)
            for old, new in (ids or {}).items():
                out = out.replace(old.encode(), new.encode())
            return out
        if isinstance(v, float):
            return fix(repr(v).encode())
        if isinstance(v, (list, tuple)):
            return type(v)(fix(x) for x in v)
        if isinstance(v, str):
            return v
        return v

    return {k: fix(v) for k, v in change.state.items()}


def array_elements(body: bytes) -> list[bytes]:
    """The elements of a MarshalIndent array of objects, as their own bytes.

    Go writes ``[\\n\\t{`` ... ``},\\n\\t{`` ... ``}\\n]``; a string never holds a raw newline and a
    nested object closes with more TABs, so the separator only occurs between elements.
    """
    if body in (b"[]", b"null"):
        return []
    assert body.startswith(b"[\n\t{") and body.endswith(b"}\n]"), body[:40]
    return body[4:-3].split(b"},\n\t{")


def fields_masked(body: bytes, names: list[str]) -> bytes:
    """``"name": value`` becomes ``"name": *`` for each name (values that change by themselves)."""
    for name in names:
        body = re.sub(rb'("' + name.encode() + rb'": )("[^"]*"|-?[0-9]+)', rb"\1*", body)
    return body
