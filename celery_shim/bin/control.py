"""``inspect``, ``control``, ``status``, ``purge``, ``call`` and ``result``: thin commands over
``app.control``, ``app.send_task`` and ``app.AsyncResult``, printing what Celery's commands print."""

from __future__ import annotations

import argparse
import datetime as dt
import inspect as pyinspect
import json
import pprint
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..app.base import Celery
from ..app.routes import queues_of
from .options import comma_list

__all__ = ["CONTROL_COMMANDS", "INSPECT_COMMANDS", "add_parsers", "purge_queues"]

EX_UNAVAILABLE = 69  # Celery's exit status when no node replies

INSPECT_COMMANDS = (
    "active",
    "active_queues",
    "conf",
    "ping",
    "query_task",
    "registered",
    "reserved",
    "revoked",
    "scheduled",
    "stats",
)


def _number(text: str) -> float:
    return float(text)


def _int(text: str) -> int:
    return int(text)


# command -> (argument names, how to read each from the command line). A trailing "*" name takes
# every remaining value as a list. Celery's `control --list` shows the same shapes.
CONTROL_COMMANDS: dict[str, tuple[tuple[str, ...], tuple[Callable[[str], Any], ...], int]] = {
    # name: (parameters, converters, how many are required)
    "revoke": (("task_id*",), (str,), 1),
    "terminate": (("signal", "task_id*"), (str, str), 2),
    "rate_limit": (("task_name", "rate_limit"), (str, str), 2),
    "time_limit": (("task_name", "soft", "hard"), (str, _number, _number), 2),
    "shutdown": ((), (), 0),
    "pool_grow": (("n",), (_int,), 0),
    "pool_shrink": (("n",), (_int,), 0),
    "pool_restart": ((), (), 0),
    "autoscale": (("max", "min"), (_int, _int), 0),
    "add_consumer": (("queue", "exchange", "exchange_type", "routing_key"), (str, str, str, str), 1),
    "cancel_consumer": (("queue",), (str,), 1),
    "enable_events": ((), (), 0),
    "disable_events": ((), (), 0),
    "heartbeat": ((), (), 0),
}


def _remote_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("-t", "--timeout", type=float, default=1.0, help="seconds to wait for replies (default 1.0)")
    p.add_argument("-d", "--destination", type=comma_list, action="extend", help="only these node names")
    p.add_argument("-j", "--json", action="store_true", help="print JSON")


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("inspect", help="ask the worker nodes (answered from Redis, Go pools included)")
    p.add_argument("method", metavar="COMMAND", choices=INSPECT_COMMANDS, help=", ".join(INSPECT_COMMANDS))
    p.add_argument("arguments", nargs="*", help="task ids for query_task; attributes for registered")
    _remote_options(p)
    p.set_defaults(func=run_inspect)

    p = sub.add_parser("control", help="send a control command to the Python worker nodes")
    p.add_argument("method", metavar="COMMAND", choices=sorted(CONTROL_COMMANDS), help=", ".join(CONTROL_COMMANDS))
    p.add_argument("arguments", nargs="*", help="the command's arguments (see Celery's `control --list`)")
    _remote_options(p)
    p.set_defaults(func=run_control)

    p = sub.add_parser("status", help="list the worker nodes that are online")
    _remote_options(p)
    p.set_defaults(func=run_status)

    p = sub.add_parser("purge", help="delete every waiting job of the app's queues")
    p.add_argument("-f", "--force", action="store_true", help="do not ask for confirmation")
    p.add_argument("-Q", "--queues", type=comma_list, action="extend", help="only these queues")
    p.add_argument("-X", "--exclude-queues", type=comma_list, action="extend", help="not these queues")
    p.set_defaults(func=run_purge)

    p = sub.add_parser("call", help="send a task by name; prints its id")
    p.add_argument("name", help="task name")
    p.add_argument("-a", "--args", default="[]", help="positional arguments, a JSON array")
    p.add_argument("-k", "--kwargs", default="{}", help="keyword arguments, a JSON object")
    p.add_argument("--eta", help="run at this ISO-8601 time")
    p.add_argument("--countdown", type=float, help="run in this many seconds")
    p.add_argument("--expires", help="ISO-8601 time or seconds from now")
    p.add_argument("--serializer", default="json", help="json only")
    p.add_argument("--queue", help="queue (a task keeps its own; see the docs on queues)")
    p.add_argument("--exchange", help="accepted and ignored")
    p.add_argument("--routing-key", help="accepted and ignored")
    p.set_defaults(func=run_call)

    p = sub.add_parser("result", help="print a task's return value")
    p.add_argument("task_id")
    p.add_argument("-t", "--task", help="task name")
    p.add_argument("--traceback", action="store_true", help="print the traceback instead")
    p.add_argument("--timeout", type=float, help="seconds to wait for a result (default: wait until it is ready)")
    p.set_defaults(func=run_result)


# -- output -----------------------------------------------------------------------------------------
def _pretty(reply: Any) -> str:
    """A node's reply as Celery's commands print it: ``ok`` text, bullet lists, else pretty data."""
    if isinstance(reply, Mapping) and set(reply) <= {"ok"} and "ok" in reply:
        return str(reply["ok"])
    if isinstance(reply, Mapping) and "error" in reply and len(reply) == 1:
        return f"Error: {reply['error']}"
    if isinstance(reply, list):
        if not reply:
            return "- empty -"
        return "\n".join(f"* {item if isinstance(item, str) else _compact(item)}" for item in reply)
    if isinstance(reply, str):
        return reply
    return pprint.pformat(reply, width=100)


def _compact(value: Any) -> str:
    try:
        return json.dumps(value, default=str)
    except (TypeError, ValueError):
        return repr(value)


def _indent(text: str, pad: str = "    ") -> str:
    return "\n".join(pad + line for line in text.splitlines())


def _print_replies(replies: Mapping[str, Any] | None, as_json: bool, show_body: bool = True) -> int:
    if not replies:
        print("Error: No nodes replied within time constraint", file=sys.stderr)
        return EX_UNAVAILABLE
    if as_json:
        print(json.dumps(replies, default=str))
        return 0
    for node, reply in replies.items():
        print(f"->  {node}: OK")
        if show_body:
            print(_indent(_pretty(reply)))
    n = len(replies)
    print(f"\n{n} node{'s' if n != 1 else ''} online.")
    return 0


def _merge(replies: Any) -> dict[str, Any] | None:
    """Celery's two reply shapes (``{node: reply}`` and ``[{node: reply}, ...]``) as one dict."""
    if replies is None:
        return None
    if isinstance(replies, Mapping):
        return dict(replies)
    out: dict[str, Any] = {}
    for item in replies:
        if isinstance(item, Mapping):
            out.update(item)
    return out


# -- commands ---------------------------------------------------------------------------------------
def run_inspect(app: Celery, args: argparse.Namespace) -> int:
    inspector = app.control.inspect(destination=args.destination, timeout=args.timeout)
    method = getattr(inspector, args.method)
    replies = method(*args.arguments) if args.arguments else method()
    return _print_replies(_merge(replies), args.json)


def run_status(app: Celery, args: argparse.Namespace) -> int:
    replies = _merge(app.control.ping(destination=args.destination, timeout=args.timeout))
    return _print_replies(replies, args.json, show_body=False)


def _control_kwargs(command: str, values: Sequence[str]) -> dict[str, Any]:
    names, converters, required = CONTROL_COMMANDS[command]
    if len(values) < required:
        raise ValueError(f"control {command} needs {' '.join('<' + n.rstrip('*') + '>' for n in names[:required])}")
    out: dict[str, Any] = {}
    rest = list(values)
    for name, convert in zip(names, converters):
        if name.endswith("*"):
            out[name.rstrip("*")] = [convert(v) for v in rest]
            rest = []
            break
        if not rest:
            break
        out[name] = convert(rest.pop(0))
    if rest:
        raise ValueError(f"control {command}: unexpected arguments {' '.join(rest)}")
    return out


def _call_control(app: Celery, command: str, kwargs: dict[str, Any], args: argparse.Namespace) -> Any:
    control = app.control
    if command in ("revoke", "terminate"):
        ids = kwargs.pop("task_id")
        options: dict[str, Any] = {"destination": args.destination}
        if command == "terminate":
            options.update(terminate=True, signal=kwargs.pop("signal"))
        return control.revoke(ids, **_accepted(control.revoke, options, reply=True, timeout=args.timeout))
    method = getattr(control, command, None)
    if method is not None:
        extra = {"destination": args.destination}
        return method(**kwargs, **_accepted(method, extra, reply=True, timeout=args.timeout))
    return control.broadcast(command, arguments=kwargs, destination=args.destination, reply=True, timeout=args.timeout)


def _accepted(method: Callable[..., Any], options: dict[str, Any], **maybe: Any) -> dict[str, Any]:
    """``options`` plus those of ``maybe`` that ``method`` takes."""
    try:
        params = pyinspect.signature(method).parameters
    except (TypeError, ValueError):
        return options
    takes_any = any(p.kind is pyinspect.Parameter.VAR_KEYWORD for p in params.values())
    return {**options, **{k: v for k, v in maybe.items() if takes_any or k in params}}


def run_control(app: Celery, args: argparse.Namespace) -> int:
    try:
        kwargs = _control_kwargs(args.method, args.arguments)
    except ValueError as err:
        print(f"celery-shim control: {err}", file=sys.stderr)
        return 2
    replies = _merge(_call_control(app, args.method, kwargs, args))
    if not replies:
        # Commands with no reply channel (revoke, rate_limit) act on Redis; say what was sent.
        print(f"{args.method}: sent")
        return 0
    return _print_replies(replies, args.json)


def purge_queues(app: Celery, queues: Sequence[str] | None, exclude: Sequence[str] | None) -> int:
    """Delete the waiting jobs of the app's task names in ``queues`` minus ``exclude``; how many."""
    return app.control.purge(queues=queues or None, exclude=exclude or None)


def run_purge(app: Celery, args: argparse.Namespace) -> int:
    table = queues_of(app)
    chosen = [q for q in (args.queues or sorted(table)) if q not in (args.exclude_queues or ())]
    if not chosen:
        print("No queues to purge.")
        return 0
    plural = "s" if len(chosen) != 1 else ""
    if not args.force:
        print(
            f"WARNING: This will remove all tasks from queue{plural}: {', '.join(chosen)}.\n"
            "         There is no undo for this operation!\n\n(to skip this prompt use the -f option)"
        )
        try:
            answer = input("Are you sure you want to delete all tasks (yes/NO)? ")
        except EOFError:
            answer = ""
        if answer.strip().lower() not in ("yes", "y"):
            print("Aborted: nothing purged.")
            return 1
    count = purge_queues(app, args.queues, args.exclude_queues)
    if count:
        print(f"Purged {count} message{'s' if count != 1 else ''} from {len(chosen)} known task queue{plural}.")
    else:
        print(f"No messages purged from {len(chosen)} queue{plural}.")
    return 0


def _json_arg(text: str, kind: type, what: str) -> Any:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"{what} is not JSON: {err}") from None
    if not isinstance(value, kind):
        raise ValueError(f"{what} must be a JSON {'array' if kind is list else 'object'}")
    return value


def _time(text: str, what: str) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{what} {text!r} is not an ISO-8601 time") from None


def run_call(app: Celery, args: argparse.Namespace) -> int:
    try:
        call_args = _json_arg(args.args, list, "--args")
        call_kwargs = _json_arg(args.kwargs, dict, "--kwargs")
        eta = _time(args.eta, "--eta") if args.eta else None
        expires: Any = None
        if args.expires:
            try:
                expires = float(args.expires)
            except ValueError:
                expires = _time(args.expires, "--expires")
    except ValueError as err:
        print(f"celery-shim call: {err}", file=sys.stderr)
        return 2
    options: dict[str, Any] = {"expires": expires, "serializer": args.serializer}
    if args.queue:
        options["queue"] = args.queue
    result = app.send_task(args.name, call_args, call_kwargs, countdown=args.countdown, eta=eta, **options)
    print(result.id)
    return 0


def run_result(app: Celery, args: argparse.Namespace) -> int:
    task = app.tasks.get(args.task) if args.task else None
    result = task.AsyncResult(args.task_id) if task is not None else app.AsyncResult(args.task_id)
    if args.traceback:
        value: Any = result.traceback
    else:
        value = result.get(timeout=args.timeout, propagate=False)
    print(value if isinstance(value, str) else pprint.pformat(value, width=100))
    return 0
