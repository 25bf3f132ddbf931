"""The ``workwebui`` command: serve the web UI for one namespace (protocol §7.5, Flower's flags).

Go's flags keep their single-dash spelling (``-redis``, ``-database``, ``-ns``, ``-listen``) and gain
double-dash forms; Flower's (``--port``, ``--address``, ``--url_prefix``, ``--read_only``,
``--basic_auth``) are accepted with dashes or underscores. One difference from Go: ``-listen``
defaults to ``127.0.0.1:5040`` (loopback) where Go's ``:5040`` listens on every interface; pass
``-listen :5040`` for Go's behaviour. The only module of webui that configures logging.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence

import tornado.httpserver
import tornado.netutil
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from work_compat import Client, Enqueuer, WorkCompatError, connect
from work_compat.connection import redact_url

from .app import close_app, make_app
from .security import start_warnings
from .settings import DEFAULT_ADDRESS, DEFAULT_PORT, WebSettings

__all__ = ["build_parser", "main", "settings_from_args"]

logger = logging.getLogger(__name__)

SHUTDOWN_TIMEOUT = 5.0  # seconds, as Go's workwebui
CONNECT_TIMEOUT = 5.0


def _flags(*names: str) -> list[str]:
    """Each name with dashes and with underscores (``--url-prefix`` and ``--url_prefix``)."""
    out: list[str] = []
    for n in names:
        for v in (n, n[:2] + n[2:].replace("-", "_"), n[:2] + n[2:].replace("_", "-")):
            if v not in out:
                out.append(v)
    return out


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="workwebui", description="Serve the gocraft/work web UI and JSON API.")
    p.add_argument(*_flags("-redis", "--redis"), default=":6379", help="redis:// or rediss:// URL, or host:port")
    p.add_argument(*_flags("-database", "--database"), type=int, default=0, help="database for host:port (default 0)")
    p.add_argument(*_flags("-ns", "--ns", "--namespace"), dest="ns", default="work", help="namespace (default work)")
    p.add_argument(
        *_flags("-listen", "--listen"),
        default=None,
        help=f"host:port to listen on (default {DEFAULT_ADDRESS}:{DEFAULT_PORT}; Go: :5040, every interface)",
    )
    p.add_argument(*_flags("--address"), default=None, help="listen address (overrides -listen's host)")
    p.add_argument(*_flags("--port"), type=int, default=None, help="listen port; 0 picks a free one")
    p.add_argument(*_flags("--url-prefix"), default="", help="serve under this path, behind a reverse proxy")
    p.add_argument(*_flags("--read-only"), action="store_true", help="refuse every state-changing route (403)")
    p.add_argument(*_flags("--basic-auth"), default="", help="user:pass[,user2:pass2]: HTTP Basic on every route")
    p.add_argument(*_flags("--api-token"), default=None, help="also accept 'Authorization: Bearer TOKEN' on /api/")
    p.add_argument(*_flags("--metrics-public"), action="store_true", help="leave /metrics open under auth")
    p.add_argument(
        *_flags("--result-backend"),
        default=None,
        help="Redis URL where celery_shim keeps results (Flower's result API)",
    )
    p.add_argument(
        *_flags("--cookie-secret"), default=None, help="signs the session cookie (default: random per start)"
    )
    p.add_argument(
        *_flags("--allowed-hosts"),
        default="",
        help="further names the Host header may carry, comma-separated (.example.com: and its subdomains; *: any)",
    )
    p.add_argument(
        *_flags("--xheaders"),
        action="store_true",
        help="behind a proxy: trust its X-Forwarded-Proto and X-Real-Ip (Secure cookies behind TLS)",
    )
    p.add_argument(*_flags("--log-level"), default="INFO")
    p.add_argument(*_flags("--broker"), default=None, help="Flower's name for -redis (a redis:// URL)")
    flower = p.add_argument_group(
        "Flower options accepted for compatibility", "no effect here: the state is in Redis, not in this process"
    )
    for name, takes_value in FLOWER_NO_OPS.items():
        if takes_value:
            flower.add_argument(*_flags(name), dest=f"noop_{name[2:]}", default=None, help=argparse.SUPPRESS)
        else:
            flower.add_argument(*_flags(name), dest=f"noop_{name[2:]}", action="store_true", help=argparse.SUPPRESS)
    return p


# Flower options a command line copied from a Flower deployment may carry. The dashboard keeps no
# in-process state (so persistence and size bounds have nothing to act on) and refreshes pages by
# itself; accepting them keeps such a command working, and each one is named in a warning.
FLOWER_NO_OPS = {
    "--persistent": True,
    "--db": True,
    "--state-save-interval": True,
    "--max-tasks": True,
    "--max-workers": True,
    "--purge-offline-workers": True,
    "--auto-refresh": True,
    "--natural-time": True,
    "--tasks-columns": True,
    "--inspect-timeout": True,
    "--enable-events": True,
    "--broker-api": True,
    "--conf": True,
    "--debug": False,
}


def ignored_flower_options(args: argparse.Namespace) -> list[str]:
    """The Flower options given on this command line, which have no effect here."""
    return [name for name in FLOWER_NO_OPS if getattr(args, f"noop_{name[2:]}", None) not in (None, False)]


def _split_listen(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"-listen {text!r}: expected host:port or :port")
    return host.strip("[]"), int(port)


def settings_from_args(args: argparse.Namespace) -> WebSettings:
    """WebSettings from parsed flags; ValueError names the bad flag."""
    address, port = DEFAULT_ADDRESS, DEFAULT_PORT
    if args.listen is not None:
        address, port = _split_listen(args.listen)
    if args.address is not None:
        address = args.address
    if args.port is not None:
        port = args.port
    users = tuple(u.strip() for u in args.basic_auth.split(",") if u.strip())
    return WebSettings(
        redis=args.broker or args.redis,
        database=args.database,
        namespace=args.ns,
        address=address,
        port=port,
        url_prefix=args.url_prefix,
        read_only=args.read_only,
        basic_auth=users,
        api_token=args.api_token,
        metrics_public=args.metrics_public,
        result_backend=args.result_backend or None,
        cookie_secret=args.cookie_secret or None,
        allowed_hosts=tuple(h.strip() for h in args.allowed_hosts.split(",") if h.strip()),
        xheaders=args.xheaders,
    )


async def serve(settings: WebSettings, client: Client, enqueuer: Enqueuer) -> None:
    """Serve until SIGINT or SIGTERM, then stop accepting and wait up to 5 s for open requests."""
    app = make_app(client, enqueuer, settings)
    server = tornado.httpserver.HTTPServer(app, xheaders=settings.xheaders)
    sockets = tornado.netutil.bind_sockets(settings.port, settings.address or None)
    server.add_sockets(sockets)
    host, port = sockets[0].getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    print(
        f"workwebui: namespace={settings.namespace!r} redis={redact_url(settings.redis)} database={settings.database}"
        f" read_only={settings.read_only} basic_auth={'on' if settings.basic_auth else 'off'}"
        f" api_token={'on' if settings.api_token else 'off'}"
        f" listening on http://{shown}:{port}{settings.url_prefix}/",
        flush=True,
    )
    for warning in start_warnings(settings):
        print(f"workwebui: {warning}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        print("workwebui: shutting down", flush=True)
        server.stop()
        try:
            await asyncio.wait_for(server.close_all_connections(), SHUTDOWN_TIMEOUT)
        except asyncio.TimeoutError:
            logger.warning("connections still open after %.0f s; closing anyway", SHUTDOWN_TIMEOUT)
        close_app(app, wait=False)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = settings_from_args(args)
        conn = connect(
            settings.redis,
            database=settings.database,
            # A down or unreachable Redis answers 503 within seconds instead of holding a thread.
            socket_connect_timeout=CONNECT_TIMEOUT,
            retry=Retry(ExponentialBackoff(cap=0.5, base=0.1), 1),
        )
    except (ValueError, WorkCompatError) as err:
        print(f"workwebui: {err}", file=sys.stderr)
        return 2
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name in ignored_flower_options(args):
        logger.warning("%s is a Flower option; it has no effect on this dashboard (its state lives in Redis)", name)
    try:
        client = Client(settings.namespace, conn)
        enqueuer = Enqueuer(settings.namespace, conn)
        asyncio.run(serve(settings, client, enqueuer))
    except (OSError, WorkCompatError) as err:
        print(f"workwebui: {err}", file=sys.stderr)
        return 1
    finally:
        conn.close()
    return 0
