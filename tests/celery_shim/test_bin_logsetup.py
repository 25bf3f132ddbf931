"""The stream that turns what tasks print into log records (Celery's worker_redirect_stdouts)."""

from __future__ import annotations

import io
import logging

import pytest

from celery_shim.app.log import LoggingProxy


def test_lines_become_records_and_partial_lines_wait_for_their_end(caplog: pytest.LogCaptureFixture) -> None:
    fallback = io.StringIO()
    proxy = LoggingProxy(logging.getLogger("celery.redirected"), logging.WARNING, fallback)
    caplog.set_level(logging.WARNING, logger="celery.redirected")
    print("one", file=proxy)
    print("two", "three", file=proxy, end="")
    assert [r.getMessage() for r in caplog.records] == ["one"]
    print(" four", file=proxy)
    print("", file=proxy)  # blank lines are not logged
    proxy.write("tail")
    proxy.flush()
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.WARNING, "one"),
        (logging.WARNING, "two three four"),
        (logging.WARNING, "tail"),
    ]
    assert fallback.getvalue() == "" and not proxy.isatty()


def test_a_handler_writing_to_the_proxy_goes_to_the_real_stream() -> None:
    fallback = io.StringIO()
    logger = logging.getLogger("celery.redirected.loop")
    logger.propagate = False
    proxy = LoggingProxy(logger, logging.WARNING, fallback)
    handler = logging.StreamHandler(proxy)  # as logging's last resort would, with stderr redirected
    logger.addHandler(handler)
    try:
        proxy.write("once\n")
    finally:
        logger.removeHandler(handler)
    assert fallback.getvalue() == "once\n"
