"""The ``celery-shim`` command line (``celery_shim.bin.celery:main``), laid out like Celery's."""

from __future__ import annotations

__all__ = ["main"]


def main() -> int:
    from .celery import main as run

    return run()
