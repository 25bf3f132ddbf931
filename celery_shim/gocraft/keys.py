"""Every Redis key and channel celery_shim adds to a gocraft namespace, built in one place.

Two families: the shim's side keys live under the gocraft namespace (``<ns>:celery:...``, spec D4,
D14, D15, D17), which Go never reads; result keys follow Celery's own Redis backend layout
(``celery-task-meta-<id>``, D5) so a stock Celery client reading the same backend sees them. The
result prefix is optional, as Celery's ``result_backend_transport_options['global_keyprefix']``.
"""

from __future__ import annotations

from dataclasses import dataclass

from work_compat import namespace_prefix

__all__ = ["KombuKeys", "ResultKeys", "ShimKeys"]


@dataclass(frozen=True)
class ShimKeys:
    """Side keys of one gocraft namespace; Go pools never touch them."""

    namespace: str

    def _p(self) -> str:
        return namespace_prefix(self.namespace) + "celery:"

    def canvas(self, task_id: str) -> str:
        """The continuation of a task (link, link_error, chain, chord): a JSON string (D15)."""
        return f"{self._p()}canvas:{task_id}"

    def chord(self, group_id: str) -> str:
        """How many header tasks of a chord have finished (INCR counter, D15)."""
        return f"{self._p()}chord:{group_id}"

    def revoked(self) -> str:
        """Revoked task ids: a sorted set scored by revoke time (D17)."""
        return f"{self._p()}revoked"

    def rate_limits(self) -> str:
        """Rate limits set at runtime: a hash task name -> rate (``"10/s"``, D14)."""
        return f"{self._p()}rate_limits"

    def time_limits(self) -> str:
        """Time limits set at runtime: a hash task name -> JSON ``{"soft":..,"hard":..}``."""
        return f"{self._p()}time_limits"

    def control(self) -> str:
        """The pub/sub channel of remote-control commands for Python workers (D17)."""
        return f"{self._p()}control"

    def control_reply(self, ticket: str) -> str:
        """The pub/sub channel where workers answer one ``broadcast(..., reply=True)``."""
        return f"{self._p()}control:reply:{ticket}"

    def nodes(self) -> str:
        """Celery node names of Python worker pools: a hash pool id -> ``celery@host``, so
        ``inspect`` replies are keyed as Celery's are (pools without one go by their host)."""
        return f"{self._p()}nodes"

    def abort(self, task_id: str) -> str:
        """The abort flag of an AbortableTask."""
        return f"{self._p()}abort:{task_id}"


@dataclass(frozen=True)
class ResultKeys:
    """Celery's Redis result-backend keys (``celery.backends.redis`` layout)."""

    prefix: str = ""

    def task(self, task_id: str) -> str:
        """The task's result and state as JSON; also the pub/sub channel ``get()`` listens on."""
        return f"{self.prefix}celery-task-meta-{task_id}"

    def group(self, group_id: str) -> str:
        """A saved GroupResult."""
        return f"{self.prefix}celery-taskset-meta-{group_id}"

    def task_pattern(self) -> str:
        """SCAN pattern over every stored task result."""
        return f"{self.prefix}celery-task-meta-*"

    def task_id_of(self, key: str) -> str | None:
        """The task id in a result key, or None for another key."""
        head = f"{self.prefix}celery-task-meta-"
        return key[len(head) :] if key.startswith(head) else None


@dataclass(frozen=True)
class KombuKeys:
    """A Celery broker's keys on Redis (kombu's Redis transport), read by ``import-backlog``.

    A queue is a list per priority step (``<queue>``, then ``<queue>\\x06\\x16<step>``); exchanges list
    their bound queues in ``_kombu.binding.<exchange>`` sets; ``prefix`` is the transport's
    ``global_keyprefix``. The claim list is the shim's own: messages being imported wait there, so a
    crash mid-import loses none of them.
    """

    prefix: str = ""
    SEP = "\x06\x16"
    PRIORITY_STEPS = (0, 3, 6, 9)

    def queue(self, name: str, priority: int = 0) -> str:
        """The list holding ``name``'s messages of one priority step (0 is the plain queue key)."""
        return f"{self.prefix}{name}{self.SEP}{priority}" if priority else f"{self.prefix}{name}"

    def queues(self, name: str) -> list[str]:
        """Every priority list of ``name``, in the order kombu consumes them."""
        return [self.queue(name, step) for step in self.PRIORITY_STEPS]

    def bindings_pattern(self) -> str:
        """SCAN pattern over the binding sets of every exchange."""
        return f"{self.prefix}_kombu.binding.*"

    def exchange_of(self, key: str) -> str | None:
        """The exchange a binding-set key belongs to, or None for another key."""
        head = f"{self.prefix}_kombu.binding."
        return key[len(head) :] if key.startswith(head) else None

    def unacked(self) -> str:
        """Messages delivered to Celery workers and not acknowledged yet (a hash by delivery tag)."""
        return f"{self.prefix}unacked"

    def import_claim(self, queue: str, priority: int = 0) -> str:
        """Messages of one priority list of ``queue`` that import-backlog took and has not finished with."""
        suffix = f"{self.SEP}{priority}" if priority else ""
        return f"{self.prefix}celery_shim.import-claim:{queue}{suffix}"
