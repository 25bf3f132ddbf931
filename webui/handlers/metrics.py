"""``GET /metrics``: Prometheus text, a bounded amount of Redis work per scrape (webui.metrics)."""

from __future__ import annotations

import logging

from ..metrics import CONTENT_TYPE, Gauges, HistoryMetrics, render
from ..security import loggable
from ..shared import SharedCalls
from ..taskstore import TaskStore
from .base import ApiError, BaseHandler

__all__ = ["MetricsHandler"]

logger = logging.getLogger(__name__)


class MetricsHandler(BaseHandler):
    """Behind the dashboard's auth like every route, unless ``metrics_public`` (``--metrics-public``)
    opens it to a scraper that has no credentials. Scrapes arriving together share one run."""

    probe = True

    def _authorized(self) -> bool:
        return self.web_settings.metrics_public or super()._authorized()

    async def get(self) -> None:
        try:
            shared: SharedCalls[str] = self.application.settings["work_shared_metrics"]
            body = await shared.get("scrape", lambda: self.run_blocking(self._scrape))
        except ApiError as err:
            if err.status_code != 503 or not self.web_settings.metrics_public:
                raise
            logger.warning("metrics: %s", loggable(err.message))
            raise ApiError(503, "redis unavailable") from err  # open to anyone: not where Redis is
        self.set_header("Content-Type", CONTENT_TYPE)
        self.finish(body.encode("utf-8", "surrogatepass"))

    def _scrape(self) -> str:
        store: TaskStore = self.application.settings["work_store"]
        history: HistoryMetrics = self.application.settings["work_metrics"]
        history.advance(store)
        client = store.client
        pools = client.worker_pool_heartbeats()
        queues = client.queues()
        gauges = Gauges(
            now=store.now(),
            pools=pools,
            observations=client.worker_observations(),
            queues=queues,
            paused=store.paused([q.job_name for q in queues]),
            scheduled=client.scheduled_count(),
            retry=client.retry_count(),
            dead=client.dead_count(),
        )
        return render(history, gauges)
