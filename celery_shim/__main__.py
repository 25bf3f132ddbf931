"""``python -m celery_shim -A proj worker``: the ``celery-shim`` command."""

from __future__ import annotations

import sys

from .bin.celery import main

if __name__ == "__main__":
    sys.exit(main())
