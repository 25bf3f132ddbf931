"""Logging set up by worker and beat, with Celery's rule: a connected ``setup_logging`` receiver
means the project configures logging itself, and nothing is touched."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from celery_shim import signals
from celery_shim.app.log import DEFAULT_FORMAT, setup_logging
from celery_shim.app.config import Settings


@pytest.fixture
def root() -> Iterator[logging.Logger]:
    """The root logger, restored afterwards (pytest's own handlers live there)."""
    logger = logging.getLogger()
    handlers, level = list(logger.handlers), logger.level
    try:
        yield logger
    finally:
        for handler in list(logger.handlers):
            if handler not in handlers:
                handler.close()
        logger.handlers[:] = handlers
        logger.setLevel(level)


def test_a_setup_logging_receiver_takes_over_and_nothing_is_configured(root: logging.Logger, tmp_path: Path) -> None:
    calls: list[dict[str, Any]] = []

    def receiver(**kwargs: Any) -> None:
        calls.append(kwargs)

    signals.setup_logging.connect(receiver)
    try:
        before = (list(root.handlers), root.level)
        assert setup_logging(Settings(), "INFO", str(tmp_path / "w.log")) is False
        assert (list(root.handlers), root.level) == before
    finally:
        signals.setup_logging.disconnect(receiver)
    assert len(calls) == 1
    assert (calls[0]["loglevel"], calls[0]["logfile"], calls[0]["format"]) == (
        logging.INFO,
        str(tmp_path / "w.log"),
        DEFAULT_FORMAT,
    )
    assert not (tmp_path / "w.log").exists()


def test_without_one_the_root_logger_gets_the_level_the_file_and_celerys_format(
    root: logging.Logger, tmp_path: Path
) -> None:
    seen: list[logging.Logger] = []

    def after(logger: logging.Logger, **kwargs: Any) -> None:
        seen.append(logger)

    signals.after_setup_logger.connect(after)
    try:
        conf = Settings({"worker_log_format": "%(levelname)s|%(message)s"})
        assert setup_logging(conf, "DEBUG", str(tmp_path / "w.log")) is True
    finally:
        signals.after_setup_logger.disconnect(after)
    assert root.level == logging.DEBUG and seen == [root]
    logging.getLogger("proj").debug("hello")
    for handler in root.handlers:
        handler.flush()
    assert (tmp_path / "w.log").read_text() == "DEBUG|hello\n"
