"""Option types shared by the subcommands: Celery's comma-separated lists and log levels."""

from __future__ import annotations

import argparse

from ..app.log import LEVELS

__all__ = ["comma_list", "loglevel"]


def comma_list(text: str) -> list[str]:
    """``-Q a,b`` (repeatable): the non-empty names."""
    return [part.strip() for part in text.split(",") if part.strip()]


def loglevel(text: str) -> str:
    """A level name in any case (``info``, ``INFO``); FATAL is CRITICAL, as in logging."""
    level = text.upper()
    if level not in LEVELS:
        raise argparse.ArgumentTypeError(f"{text!r}: choose one of {', '.join(LEVELS)}")
    return "CRITICAL" if level == "FATAL" else level
