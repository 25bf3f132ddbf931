"""webui: a Tornado dashboard and JSON API for a gocraft/work namespace.

The JSON API answers on the fork's (LarnTechKe/work ``webui``) paths with Go's bytes (protocol §7),
so the fork's SPA and scripts written against ``workwebui`` work unchanged. ``make_app`` builds the
application; ``python -m webui`` (or ``workwebui``) serves it.
"""

from __future__ import annotations

from .app import make_app
from .settings import WebSettings

__all__ = ["WebSettings", "make_app"]
