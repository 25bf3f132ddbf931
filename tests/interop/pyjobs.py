"""A pool for ``python -m work_compat worker tests.interop.pyjobs:pool`` in the interop tests.

Its handler sleeps far longer than any test waits, so the process is killed with its jobs in
progress; ``--redis``, ``--ns`` and ``-c`` on the command line replace the values here.
"""

from __future__ import annotations

import time

from work_compat import Job, WorkerPool

SLOW_JOB = "py_crash"


def _slow(job: Job) -> None:
    time.sleep(300)


pool = WorkerPool(1, "pyjobs", "redis://127.0.0.1:6379/0").job(SLOW_JOB, _slow)
