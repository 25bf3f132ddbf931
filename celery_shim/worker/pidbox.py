"""The worker's side of remote control: commands published on ``<ns>:celery:control`` (D17).

``app.control`` keeps the state in Redis (the revoked set, runtime rate and time limits), so a
worker needs the channel only to act at once: ``revoke`` adds the ids to the worker's copy of the
revoked set (``revoked``) and, with ``terminate``, kills the task where it runs (prefork: its child
gets the signal; threads cannot be killed, as in Celery); ``rate_limit`` and ``time_limit`` re-read
the limits; ``shutdown`` asks for a warm shutdown; any other command runs the project's handler
registered with ``celery.worker.control`` (``worker.control``), replying on the message's
``reply_to`` channel. Messages are JSON ``{"command", "arguments", "destination", "reply_to"}``; a
destination list without this node is ignored.
"""

from __future__ import annotations

import json
import logging
import signal as signal_module
import threading
from typing import TYPE_CHECKING, Any

import redis

from work_compat.outage import UNREACHABLE, RedisOutage

from ..gocraft.keys import ShimKeys
from .control import State, run_command

if TYPE_CHECKING:
    from .worker import WorkController

__all__ = ["ControlListener", "signal_number"]

logger = logging.getLogger(__name__)


def signal_number(value: Any) -> int:
    """A signal given as ``"SIGTERM"``, ``"TERM"``, ``15`` or ``"15"``; SIGTERM when unknown."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value or "SIGTERM").upper()
    if text.isdigit():
        return int(text)
    name = text if text.startswith("SIG") else f"SIG{text}"
    return int(getattr(signal_module, name, signal_module.SIGTERM))


class ControlListener:
    """A thread subscribed to the control channel for one worker."""

    def __init__(self, worker: WorkController, client: Any, channel: str) -> None:
        self.worker = worker
        self.client = client
        self.channel = channel
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="celery-shim-control", daemon=True)
        self.outage: RedisOutage | None = None  # the pool's: an outage is logged once, not each second

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _loop(self) -> None:
        pubsub = None
        while not self._stop.is_set():
            try:
                if pubsub is None:
                    pubsub = self.client.pubsub(ignore_subscribe_messages=True)
                    pubsub.subscribe(self.channel)
                    if self.outage is not None:
                        self.outage.recovered()
                message = pubsub.get_message(timeout=0.1)
                if message is not None and message.get("type") == "message":
                    self.handle(message.get("data"))
            except redis.RedisError as err:
                if self.outage is not None and isinstance(err, UNREACHABLE):
                    self.outage.failed("celery-shim-control", err)
                else:
                    logger.warning("worker %s: control channel: %s; resubscribing", self.worker.hostname, err)
                _close(pubsub)
                pubsub = None
                self._stop.wait(1.0)
            except Exception:
                logger.exception("worker %s: control command failed", self.worker.hostname)
        _close(pubsub)

    def handle(self, data: Any) -> None:
        """Apply one control message (bytes or text JSON)."""
        try:
            message = json.loads(data)
        except (TypeError, ValueError):
            logger.warning("worker %s: control message is not JSON: %.200r", self.worker.hostname, data)
            return
        if not isinstance(message, dict):
            return
        destination = message.get("destination")
        if destination and self.worker.hostname not in destination:
            return
        command = message.get("command")
        arguments = message.get("arguments") or {}
        if command == "revoke":
            ids = arguments.get("task_id")
            task_ids = [str(task_id) for task_id in ([ids] if isinstance(ids, str) else list(ids or ()))]
            self.worker.revoked_heard(task_ids)  # before the set's next re-read: honoured from now on
            if arguments.get("terminate"):
                for task_id in task_ids:
                    self.worker.terminate(task_id, signal_number(arguments.get("signal")))
        elif command in ("rate_limit", "time_limit"):
            self.worker.refresh_runtime_settings()
        elif command == "shutdown":
            logger.warning("worker %s: shutdown requested by remote control", self.worker.hostname)
            self.worker.request_stop()
        else:
            self._custom(str(command), arguments, message.get("reply_to"))

    def _custom(self, command: str, arguments: Any, reply_to: Any) -> None:
        """A command registered with ``@control_command``/``@inspect_command``, answered on the reply channel."""
        state = State(app=self.worker.app, hostname=self.worker.hostname, consumer=self.worker)
        known, reply = run_command(command, dict(arguments) if isinstance(arguments, dict) else {}, state)
        if not known:
            logger.debug("worker %s: control command %r has nothing to do here", self.worker.hostname, command)
            return
        if reply_to:
            try:
                text = json.dumps({self.worker.hostname: reply}, default=repr)
                self.client.publish(ShimKeys(self.worker.app.namespace).control_reply(str(reply_to)), text)
            except redis.RedisError as err:
                logger.warning("worker %s: cannot reply to %r: %s", self.worker.hostname, command, err)


def _close(pubsub: Any) -> None:
    if pubsub is not None:
        try:
            pubsub.close()
        except Exception:  # a broken connection: nothing more to release
            pass
