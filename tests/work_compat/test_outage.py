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


def test_the_end_of_an_outage_runs_the_callbacks_and_starts_the_quiet_clock() -> None:
    now = [0.0]
    outage = RedisOutage("redis://x", clock=lambda: now[0])
    called: list[str] = []

    def fails() -> None:
        raise ConnectionError("gone again")

    outage.on_recovery(fails)  # a failing callback does not stop the others
    outage.on_recovery(lambda: called.append("beat"))
    assert outage.seconds_since_recovery() == float("inf")
    outage.failed("worker 0", ConnectionError("refused"))
    assert outage.seconds_since_recovery() == 0.0
    now[0] = 30.0
    outage.recovered()
    outage.recovered()
    assert called == ["beat"]
    now[0] = 34.0
    assert outage.seconds_since_recovery() == 4.0
