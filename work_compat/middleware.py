"""The handler and middleware chain (gocraft ``run.go``): middleware in registration order.

Without a pool context, a handler is ``handler(job)`` and a middleware ``middleware(job, next)``;
with one, both get the context first: ``handler(ctx, job)``, ``middleware(ctx, job, next)``.
A middleware calls ``next()`` to go on; it may instead return, raise, catch and replace what
``next()`` raised, or raise a JobFate (RetryAt, DeadNow, PutBack, Discard) to decide the fate.
For ``async def`` handlers the chain runs on the pool's event loop and ``next()`` returns an
awaitable; sync middleware may return it unawaited.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from .job import Job

__all__ = ["Handler", "Middleware", "run_chain", "run_chain_async"]

_NO_CONTEXT: Any = object()


class Handler(Protocol):
    """Runs one job; raising marks it failed."""

    def __call__(self, *args: Any) -> Any: ...


class Middleware(Protocol):
    """Wraps every handler call: ``(job, next)`` or, with a pool context, ``(ctx, job, next)``."""

    def __call__(self, *args: Any) -> Any: ...


def _chain(middleware: Sequence[Middleware], handler: Handler, job: Job, ctx: Any) -> Callable[[], Any]:
    def call(i: int) -> Any:
        if i == len(middleware):
            return handler(job) if ctx is _NO_CONTEXT else handler(ctx, job)

        def nxt() -> Any:
            return call(i + 1)

        mw = middleware[i]
        return mw(job, nxt) if ctx is _NO_CONTEXT else mw(ctx, job, nxt)

    return lambda: call(0)


def run_chain(middleware: Sequence[Middleware], handler: Handler, job: Job, ctx: Any = _NO_CONTEXT) -> None:
    """Run the chain for a sync handler; exceptions propagate to the caller."""
    _chain(middleware, handler, job, ctx)()


async def run_chain_async(middleware: Sequence[Middleware], handler: Handler, job: Job, ctx: Any = _NO_CONTEXT) -> None:
    """Run the chain for an ``async def`` handler, awaiting whatever the chain hands back."""
    result = _chain(middleware, handler, job, ctx)()
    while inspect.isawaitable(result):
        result = await result


NO_CONTEXT = _NO_CONTEXT
