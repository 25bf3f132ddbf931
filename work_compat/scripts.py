"""The Lua scripts of ``lua/``, read once at import and registered per client.

redis-py's ``Script`` already runs EVALSHA and falls back to loading the script on NOSCRIPT, inside
pipelines too, so nothing here caches SHAs by hand.
"""

from __future__ import annotations

from importlib.resources import files
from typing import Any

__all__ = ["SCRIPT_NAMES", "Scripts", "source"]

SCRIPT_NAMES = (
    "work_step",
    "requeue_due",
    "reenqueue_job",
    "remove_stale_locks",
    "put_back",
    "enqueue_unique",
    "enqueue_unique_in",
    "delete_single",
    "requeue_dead",
)

_SOURCES: dict[str, str] = {
    name: (files("work_compat") / "lua" / f"{name}.lua").read_text(encoding="utf-8") for name in SCRIPT_NAMES
}


def source(name: str) -> str:
    """The text of one script, as shipped."""
    return _SOURCES[name]


class Scripts:
    """Every script registered on one client. Each attribute is a redis-py ``Script``."""

    def __init__(self, client: Any) -> None:
        self.enqueue_unique = client.register_script(_SOURCES["enqueue_unique"])
        self.enqueue_unique_in = client.register_script(_SOURCES["enqueue_unique_in"])
        self.delete_single = client.register_script(_SOURCES["delete_single"])
        self.requeue_dead = client.register_script(_SOURCES["requeue_dead"])
        self.work_step = client.register_script(_SOURCES["work_step"])
        self.requeue_due = client.register_script(_SOURCES["requeue_due"])
        self.reenqueue_job = client.register_script(_SOURCES["reenqueue_job"])
        self.remove_stale_locks = client.register_script(_SOURCES["remove_stale_locks"])
        self.put_back = client.register_script(_SOURCES["put_back"])
