"""Task ids: random UUID4 strings, as Celery's, made for every publish without a syscall each.

The random bytes are read from ``os.urandom`` (what ``uuid.uuid4`` uses) 4 KiB at a time; a forked
child drops what it inherited, so parent and child never hand out the same bytes. The string is
``str(uuid.uuid4())``'s: version nibble 4, variant ``10``, lower-case hex in 8-4-4-4-12 groups.
"""

from __future__ import annotations

import os
import threading

__all__ = ["new_task_id"]

_CHUNK = 4096
_VARIANT = "89ab" * 4  # the top hex digit of byte 8 after uuid4's masking, by its random digit
_lock = threading.Lock()
_random = b""
_used = 0


def _forget() -> None:
    global _random, _used
    _random, _used = b"", 0


os.register_at_fork(after_in_child=_forget)


def new_task_id() -> str:
    """A new random UUID4 string."""
    global _random, _used
    with _lock:
        if _used >= len(_random):
            _random, _used = os.urandom(_CHUNK), 0
        start = _used
        _used = start + 16
        h = _random[start : start + 16].hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[int(h[16], 16)]}{h[17:20]}-{h[20:]}"
