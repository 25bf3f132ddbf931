"""/metrics: Prometheus text with Flower's names and the gocraft gauges, read from a real pool's work."""

from __future__ import annotations

import re
from collections.abc import Sequence

from tests.webui.conftest import WebTestCase
from tests.webui.flower_fixtures import T0, FlowerTestCase
from tests.webui.test_errors_and_access import basic
from webui import WebSettings
from webui.metrics import HistoryMetrics
from webui.taskstore import TaskStore
from work_compat import ManualClock

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:\\.|[^"\\])*)"')


def parse(text: str) -> tuple[dict[tuple[str, frozenset[tuple[str, str]]], float], dict[str, str]]:
    """Samples keyed by (name, labels), and each family's TYPE; fails on a line that is neither."""
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    types: dict[str, str] = {}
    assert text.endswith("\n")
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            types[name] = kind
            continue
        if line.startswith("# HELP "):
            continue
        m = _SAMPLE.match(line)
        assert m, line
        labels = frozenset(_LABEL.findall(m.group(2) or ""))
        samples[(m.group(1), labels)] = float(m.group(3))
    return samples, types


def value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


class TestMetrics(FlowerTestCase):
    def scrape(self) -> tuple[dict[tuple[str, frozenset[tuple[str, str]]], float], dict[str, str]]:
        resp = self.call("GET", "/metrics")
        assert resp.code == 200, resp.body
        assert resp.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
        return parse(resp.body.decode())

    def test_flower_names_from_history_heartbeats_and_observations(self) -> None:
        made = self.populate()
        self.client.pause("later")
        samples, types = self.scrape()
        assert types["flower_events_total"] == "counter"
        assert types["flower_task_runtime_seconds"] == "histogram"
        assert value(samples, "flower_events_total", worker="", type="task-succeeded", task="ok") == 1
        assert value(samples, "flower_events_total", worker="", type="task-failed", task="boom") == 1
        assert value(samples, "flower_events_total", worker="", type="task-retried", task="flaky") == 1
        assert value(samples, "flower_task_runtime_seconds_bucket", worker="", task="ok", le="1") == 1
        assert value(samples, "flower_task_runtime_seconds_bucket", worker="", task="ok", le="+Inf") == 1
        assert value(samples, "flower_task_runtime_seconds_count", worker="", task="ok") == 1
        assert value(samples, "flower_worker_online", worker=made.pool_id) == 1
        assert value(samples, "flower_worker_number_of_currently_executing_tasks", worker=made.pool_id) == 1
        assert value(samples, "flower_task_prefetch_time_seconds", worker=made.pool_id, task="slow") == 0
        assert value(samples, "flower_worker_prefetched_tasks", worker=made.pool_id, task="ok") == 0
        assert value(samples, "work_queue_length", job="later") == 1
        assert value(samples, "work_job_paused", job="later") == 1
        assert value(samples, "work_job_paused", job="ok") == 0
        assert value(samples, "work_queue_latency_seconds", job="later") == 0
        assert value(samples, "work_scheduled_size") == 1
        assert value(samples, "work_retry_size") == 1
        assert value(samples, "work_dead_size") == 1
        assert value(samples, "work_busy_workers") == 1

    def test_counters_only_grow_and_count_each_completion_once(self) -> None:
        self.populate()
        first, _ = self.scrape()
        again, _ = self.scrape()
        assert again == first
        self.made.release.set()  # the slow job finishes: one more success
        self.pools[0].drain(10)
        later, _ = self.scrape()
        assert value(later, "flower_events_total", worker="", type="task-succeeded", task="slow") == 1
        assert value(later, "flower_events_total", worker="", type="task-succeeded", task="ok") == 1

    def test_completions_before_the_dashboard_started_are_not_counted(self) -> None:
        # a pool whose clock is 100 s behind writes history "before" the app's start (T0)
        early = self.start_pool(clock=ManualClock(T0 - 100))
        self.enqueuer.enqueue("ok", {})
        assert early.drain(10)
        samples, _ = self.scrape()
        assert not [k for k in samples if k[0] == "flower_events_total"]


class TestHistoryMetricsBound(FlowerTestCase):
    def test_a_scrape_reads_a_bounded_slice_and_the_next_ones_catch_up(self) -> None:
        for n in range(12):
            self.enqueuer.enqueue("ok", {"n": n})
        pool = self.start_pool()
        assert pool.drain(10)
        store = TaskStore.beside(self.client)
        reads: list[int] = []

        class Counting:
            def history_counts(self, scores: Sequence[int]) -> list[int]:
                return store.history_counts(scores)

            def history_between(self, low: str, high: str, offset: int, count: int) -> list[tuple[bytes, float]]:
                rows = store.history_between(low, high, offset, count)
                reads.append(len(rows))
                return rows

        metrics = HistoryMetrics(start=T0, max_per_scrape=5)
        # all twelve completed in the same second (the pool's manual clock): each scrape re-reads that
        # second's counted entries and gets 5 further; the budget bounds every scrape
        assert sum(metrics.advance(Counting()) for _ in range(6)) == 12
        assert max(reads) <= 5
        assert metrics.events == {("task-succeeded", "ok"): 12}


class TestMetricsAuth(WebTestCase):
    def web_settings(self) -> WebSettings:
        return WebSettings(namespace=self.ns, basic_auth=("ada:pw",))

    def test_metrics_need_auth_like_everything(self) -> None:
        assert self.call("GET", "/metrics").code == 401
        assert self.call("GET", "/metrics", headers=basic("ada", "pw")).code == 200


class TestMetricsPublic(WebTestCase):
    def web_settings(self) -> WebSettings:
        return WebSettings(namespace=self.ns, basic_auth=("ada:pw",), metrics_public=True)

    def test_metrics_public_opens_only_metrics(self) -> None:
        assert self.call("GET", "/metrics").code == 200
        assert self.call("GET", "/api/queues").code == 401
        assert self.call("GET", "/api/tasks").code == 401
