"""``GET /api/openapi.json``: the OpenAPI 3 description of every JSON route (webui/openapi.json)."""

from __future__ import annotations

import json
from importlib import resources

from .base import JSON_TYPE, BaseHandler

__all__ = ["OpenApiHandler", "openapi_text"]


def openapi_text() -> bytes:
    """The description as shipped in the package."""
    return resources.files("webui").joinpath("openapi.json").read_bytes()


class OpenApiHandler(BaseHandler):
    """Serves the description (behind the same auth as the routes it describes), with the
    server's URL prefix as its ``servers`` entry so clients resolve the paths under it."""

    def get(self) -> None:
        spec = json.loads(openapi_text())
        spec["servers"] = [{"url": self.web_settings.url_prefix or "/"}]
        self.set_header("Content-Type", JSON_TYPE)
        self.finish(json.dumps(spec, ensure_ascii=False, indent=1).encode("utf-8"))
