"""Custom remote-control commands (Celery's ``celery.worker.control``): ``@control_command`` and
``@inspect_command`` register a handler that every Python worker runs when the command is broadcast.

A handler is called as Celery calls it, ``handler(state, **arguments)``: ``state`` has the worker's
``app``, ``hostname`` and ``consumer`` (here the WorkController itself, which stands in for Celery's
consumer: Celery-only parts such as ``state.consumer.qos`` are not there). What it returns is the
worker's reply to ``app.control.broadcast(name, reply=True)`` (and to ``inspect``'s ``_request``).
The built-in commands (``revoke``, ``rate_limit``, ...) keep their state in Redis (D17) and are not
in this registry.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

__all__ = ["Panel", "State", "control_command", "inspect_command"]

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class CommandMeta:
    """What Celery records about a command: its name, kind, and the CLI's argument spec."""

    name: str
    type: str
    args: Sequence[tuple[str, Any]] = ()
    variadic: str | None = None
    signature: str | None = None
    help: str | None = None
    default_timeout: float = 1.0
    visible: bool = True


@dataclass
class State:
    """The ``state`` a handler gets: the worker node it runs in."""

    app: Any
    hostname: str
    consumer: Any
    extra: dict[str, Any] = field(default_factory=dict)


class Panel:
    """The registry of custom commands, by name (Celery's ``Panel.data`` and ``Panel.meta``)."""

    data: ClassVar[dict[str, Callable[..., Any]]] = {}
    meta: ClassVar[dict[str, CommandMeta]] = {}

    @classmethod
    def register(cls, *handlers: Any, **kwargs: Any) -> Any:
        """``Panel.register(handler)`` or ``@Panel.register(type='inspect', ...)``, as in Celery."""
        if handlers:
            return cls._register(**kwargs)(handlers[0])
        return cls._register(**kwargs)

    @classmethod
    def _register(
        cls,
        name: str | None = None,
        *,
        control_kind: str = "control",
        type: str | None = None,
        args: Sequence[tuple[str, Any]] = (),
        variadic: str | None = None,
        signature: str | None = None,
        help: str | None = None,
        default_timeout: float = 1.0,
        visible: bool = True,
        alias: str | None = None,
        **_: Any,
    ) -> Callable[[F], F]:
        def register(handler: F) -> F:
            command = name or handler.__name__
            kind = type or control_kind
            doc = help or (handler.__doc__ or "").strip().split("\n")[0] or None
            for key in filter(None, (command, alias)):
                cls.data[key] = handler
                cls.meta[key] = CommandMeta(
                    command, kind, tuple(args), variadic, signature, doc, default_timeout, visible
                )
            return handler

        return register


def control_command(name: str | None = None, **kwargs: Any) -> Callable[[F], F]:
    """Register a command that changes the worker: ``@control_command(args=[('n', int)])``."""
    return Panel._register(name, control_kind="control", **kwargs)


def inspect_command(name: str | None = None, **kwargs: Any) -> Callable[[F], F]:
    """Register a command that reports on the worker: ``@inspect_command()``."""
    return Panel._register(name, control_kind="inspect", **kwargs)


def run_command(command: str, arguments: dict[str, Any], state: State) -> tuple[bool, Any]:
    """Run a registered command: ``(True, reply)``, or ``(False, None)`` when no such command exists.
    An exception in the handler becomes Celery's error reply ``{"error": "..."}``."""
    handler = Panel.data.get(command)
    if handler is None:
        return False, None
    try:
        return True, handler(state, **arguments)
    except Exception as err:  # a handler's failure is its reply, as in Celery; the worker goes on
        return True, {"error": f"{type(err).__name__}: {err}"}
