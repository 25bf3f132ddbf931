"""Flower's ``/api/tasks`` filters: limit, offset, sort_by, workername, taskname, state,
received_start, received_end and the search box's terms, over assembled task dicts.

Flower's rules are kept: ``All`` means no filter; a task without a worker or a received time is
not excluded by the worker or date filters; dates are ``YYYY-MM-DD HH:MM`` in the server's local
time; ``sort_by`` is name, state, received or started, ``-`` first for descending, and without it
the newest tasks come first. Search terms (``state:X``, ``result:X``, ``args:X``, ``kwargs:k=v``,
free text, which also looks in the error text; quotes keep spaces) match a task when any one of
them does. Where Flower fails with 500 on a bad value, these raise ValueError (the handler's 400).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["SORT_KEYS", "Search", "TaskQuery"]

SORT_KEYS = ("name", "state", "received", "started")
_DATE_FORMAT = "%Y-%m-%d %H:%M"
_TOKEN = re.compile(r'(?:"(?:\\.|[^"])*"|[^\s,"])+')


def _unquote(text: str) -> str:
    return text.strip().strip('"').strip()


@dataclass
class Search:
    """The search box: each kind of term, as Flower parses them."""

    any: str = ""
    result: str = ""
    args: list[str] = field(default_factory=list)
    kwargs: dict[str, str] = field(default_factory=dict)
    states: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str) -> Search:
        search = cls()
        for token in _TOKEN.findall(text or ""):
            if token.startswith("result:"):
                search.result = _unquote(token[7:])
            elif token.startswith("args:"):
                search.args.append(_unquote(token[5:]))
            elif token.startswith("kwargs:"):
                key, sep, value = token[7:].partition("=")
                if sep:
                    search.kwargs[_unquote(key)] = _unquote(value)
            elif token.startswith("state:"):
                search.states.append(_unquote(token[6:]))
            else:
                search.any = _unquote(token)
        return search

    def empty(self) -> bool:
        return not (self.any or self.result or self.args or self.kwargs or self.states)

    def matches(self, task: dict[str, Any]) -> bool:
        if self.empty():
            return True
        if self.states and task.get("state") in self.states:
            return True
        if self.any:
            keys = ("name", "uuid", "state", "worker", "args", "kwargs", "result", "exception", "traceback")
            fields = (task.get(k) for k in keys)
            if self.any in "|".join(str(f) for f in fields if f):
                return True
        if self.result and self.result in str(task.get("result") or ""):
            return True
        if self.kwargs and all(self._kwarg_is(task, k, v) for k, v in self.kwargs.items()):
            return True
        args = str(task.get("args") or "")
        return bool(self.args) and all(a in args for a in self.args)

    @staticmethod
    def _kwarg_is(task: dict[str, Any], key: str, value: str) -> bool:
        try:
            kwargs = json.loads(task.get("kwargs") or "{}")
        except ValueError:
            return False
        if not isinstance(kwargs, dict) or key not in kwargs:
            return False
        found = kwargs[key]
        return (found if isinstance(found, str) else json.dumps(found)) == value


def _int(name: str, raw: str | None, default: int | None) -> int | None:
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None


def _date(name: str, raw: str | None) -> float | None:
    if not raw:
        return None
    try:
        return dt.datetime.strptime(raw, _DATE_FORMAT).timestamp()  # naive: the local zone, as Flower
    except ValueError:
        pass
    try:
        when = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"{name} must be a date as YYYY-MM-DD HH:MM, got {raw!r}") from None
    return when.timestamp()


def _filter(raw: str | None) -> str | None:
    return None if raw in (None, "", "All") else raw


@dataclass(frozen=True)
class TaskQuery:
    """The parsed query string of ``/api/tasks``."""

    limit: int | None = None
    offset: int = 0
    sort_by: str | None = None
    workername: str | None = None
    taskname: str | None = None
    state: str | None = None
    received_start: float | None = None
    received_end: float | None = None
    search: Search = field(default_factory=Search)

    @classmethod
    def parse(cls, arg: Callable[[str], str | None]) -> TaskQuery:
        """From a getter of query arguments (None when absent); ValueError names a bad one."""
        limit = _int("limit", arg("limit"), None)
        if limit is not None and limit < 0:
            raise ValueError("limit must be 0 or more")
        sort_by = arg("sort_by") or None
        if sort_by is not None and sort_by.lstrip("-") not in SORT_KEYS:
            raise ValueError(f"sort_by must be one of {', '.join(SORT_KEYS)} (with '-' to reverse), got {sort_by!r}")
        return cls(
            limit=limit,
            offset=max(_int("offset", arg("offset"), 0) or 0, 0),
            sort_by=sort_by,
            workername=_filter(arg("workername")),
            taskname=_filter(arg("taskname")),
            state=_filter(arg("state")),
            received_start=_date("received_start", arg("received_start")),
            received_end=_date("received_end", arg("received_end")),
            search=Search.parse(arg("search") or ""),
        )

    def keeps(self, task: dict[str, Any]) -> bool:
        if self.taskname and task.get("name") != self.taskname:
            return False
        if self.workername and task.get("worker") and task["worker"] != self.workername:
            return False
        if self.state and task.get("state") != self.state:
            return False
        received = task.get("received")
        if self.received_start is not None and received and received < self.received_start:
            return False
        if self.received_end is not None and received and received > self.received_end:
            return False
        return self.search.matches(task)

    def apply(self, tasks: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """Filter, order and page the tasks."""
        kept = [t for t in tasks if self.keeps(t)]
        if self.sort_by is None:
            kept.sort(key=lambda t: t.get("timestamp") or 0.0, reverse=True)
        else:
            key = self.sort_by.lstrip("-")
            empty: Any = "" if key in ("name", "state") else 0.0
            kept.sort(key=lambda t: t.get(key) or empty, reverse=self.sort_by.startswith("-"))
        end = None if self.limit is None else self.offset + self.limit
        return kept[self.offset : end]
