"""webui: a Tornado dashboard and JSON API for a gocraft/work namespace.

The JSON API answers on the fork's (LarnTechKe/work ``webui``) paths with Go's bytes (protocol §7),
so the fork's SPA and scripts written against ``workwebui`` work unchanged. ``make_app`` builds the
application; ``python -m webui`` (or ``workwebui``) serves it.

The names are loaded on first use, so that ``workwebui`` can say which extra to install when
tornado is missing (``webui.entry``) instead of failing while this package imports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import make_app
    from .settings import WebSettings

__all__ = ["WebSettings", "make_app"]


def __getattr__(name: str) -> Any:
    if name == "make_app":
        from .app import make_app

        return make_app
    if name == "WebSettings":
        from .settings import WebSettings

        return WebSettings
    raise AttributeError(f"module 'webui' has no attribute {name!r}")
