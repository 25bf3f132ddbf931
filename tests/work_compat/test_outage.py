"""The pool's outage log: one warning when Redis goes away, reminders while it stays away, one
line when it is back (the fault suite checks the same on a real restart)."""

from __future__ import annotations

import logging

import pytest

from work_compat.outage import RedisOutage


def test_an_outage_is_logged_once_with_reminders_and_its_end(caplog: pytest.LogCaptureFixture) -> None:
    now = [100.0]
    outage = RedisOutage("redis://127.0.0.1:6379/0", remind=30, clock=lambda: now[0])
    caplog.set_level(logging.DEBUG, logger="work_compat.outage")

    outage.recovered()  # nothing was down: nothing to say
    for second in range(65):
        now[0] = 100.0 + second
        for who in ("worker 0", "worker 1", "work-compat-heartbeat"):
            outage.failed(who, ConnectionError("Connection refused"))
    now[0] = 170.0
    outage.recovered()
    outage.recovered()

    loud = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert len(loud) == 4, loud
    assert loud[0].startswith("Redis at redis://127.0.0.1:6379/0 is unreachable (worker 0: Connection refused)")
    assert loud[1].startswith("Redis at redis://127.0.0.1:6379/0 still unreachable after 30s")
    assert loud[2].startswith("Redis at redis://127.0.0.1:6379/0 still unreachable after 60s")
    assert loud[3] == "Redis at redis://127.0.0.1:6379/0 is reachable again after 70.0s (195 failed calls)"
    assert not outage.down
    # The next outage is a new one.
    outage.failed("worker 0", ConnectionError("reset"))
    assert outage.down and "is unreachable (worker 0: reset)" in caplog.records[-1].getMessage()
