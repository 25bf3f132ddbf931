/* Overview: totals, charts of the last hour from the history, queue sizes, live pools. */
"use strict";

(() => {
  const { api, seg, el, badge, fmt, absolute, relSpan, syncRows, onRefresh, charts, now } = WebUI;
  const ONLINE_SECONDS = 10; // a reaper takes a pool for dead after 10 s without a heartbeat
  const ACTIVITY_EVERY = 5; // refreshes between two reads of the history
  // The live samples survive a reload or a visit to another page (this tab only), so the chart
  // shows the recent curve at once; samples older than the chart's span are dropped.
  const SAMPLES_KEY = `webui-live-samples:${WebUI.prefix}:${document.querySelector(".ns").textContent}`;
  const MAX_SAMPLES = 240;
  const samples = (() => {
    try {
      const kept = JSON.parse(sessionStorage.getItem(SAMPLES_KEY) || "[]");
      const since = now() - (MAX_SAMPLES * WebUI.refreshMs) / 1000;
      return Array.isArray(kept) ? kept.filter((p) => Array.isArray(p) && p.length === 2 && p[0] >= since) : [];
    } catch (err) {
      return [];
    }
  })();
  let tick = 0;

  const stat = (name) => document.querySelector(`[data-stat="${name}"]`);
  const setStat = (name, text) => {
    const node = stat(name);
    if (node) node.textContent = text;
  };

  function poolsTable(pools, busy) {
    const busyIds = new Set((busy || []).map((o) => o.worker_id));
    const tbody = document.querySelector("#pools-table tbody");
    document.getElementById("pools-empty").hidden = pools.length > 0;
    const rows = pools.map((p) => ({
      ...p,
      busy: (p.worker_ids || []).filter((w) => busyIds.has(w)).length,
      online: now() - p.heartbeat_at <= ONLINE_SECONDS,
    }));
    syncRows(tbody, rows, (p) => p.worker_pool_id, (p) =>
      el("tr", {},
        el("td", {}, el("a", { class: "id", href: `${WebUI.prefix}/worker/${seg(p.worker_pool_id)}`, text: p.worker_pool_id })),
        el("td", { text: p.host || "–" }),
        el("td", {}, p.online ? badge("online", "ok") : badge("silent", "warn")),
        el("td", { class: "num", text: `${p.busy} / ${p.concurrency}` }),
        el("td", {}, el("div", { class: "tags" }, (p.job_names || []).map((n) => el("span", { class: "tag", text: n })))),
        el("td", { class: "time", title: absolute(p.heartbeat_at) }, relSpan(p.heartbeat_at))));
  }

  async function counts() {
    const [dash, queues, pools, busy] = await Promise.all([
      api("/api/dashboard"), api("/api/queues"), api("/api/worker_pools"), api("/api/busy_workers"),
    ]);
    setStat("queued", fmt(dash.queues.jobs));
    setStat("queues-note", `${fmt(dash.queues.total)} queue${dash.queues.total === 1 ? "" : "s"}`);
    setStat("busy", fmt(dash.workers.active));
    setStat("busy-note", `of ${fmt(dash.workers.total)} workers`);
    setStat("pools", fmt(dash.workers.pools));
    const online = pools.filter((p) => now() - p.heartbeat_at <= ONLINE_SECONDS).length;
    setStat("pools-note", pools.length ? `${online} online` : "none running");
    setStat("scheduled", fmt(dash.scheduled.count));
    setStat("retry", fmt(dash.retry.count));
    setStat("dead", fmt(dash.dead.count));
    stat("dead").classList.toggle("nonzero", dash.dead.count > 0);
    setStat("history", fmt(dash.history.count));
    setStat("schedules", fmt(dash.schedules.count));

    charts.hbars(document.getElementById("chart-queues"), {
      items: (queues || []).map((q) => ({ label: q.job_name, value: q.count, title: `${q.job_name}: ${q.count} queued, oldest ${WebUI.span(q.latency)}` })),
      emptyText: "No queue yet.",
    });
    samples.push([now(), dash.queues.jobs]);
    while (samples.length > MAX_SAMPLES) samples.shift();
    try {
      sessionStorage.setItem(SAMPLES_KEY, JSON.stringify(samples));
    } catch (err) {
      /* storage full or disabled: the chart still works for this visit */
    }
    charts.line(document.getElementById("chart-live"), { points: samples, label: "queued", emptyText: "Collecting samples…" });
    document.getElementById("live-note").textContent = `${fmt(dash.queues.jobs)} now`;
    poolsTable(pools || [], busy);
  }

  async function activity() {
    if (tick++ % ACTIVITY_EVERY !== 0) return;
    const a = await api("/api/ui/activity?minutes=60");
    const sum = (xs) => xs.reduce((s, x) => s + x, 0);
    const partial = a.complete ? "" : ` (newest ${fmt(a.scanned)} attempts only)`;
    charts.bars(document.getElementById("chart-throughput"), {
      start: a.start, step: a.bucket_seconds, label: "",
      series: [{ name: "succeeded", cls: "bar-success", values: a.success }],
      emptyText: "No job finished in the last hour (or the pools keep no history).",
    });
    charts.bars(document.getElementById("chart-failures"), {
      start: a.start, step: a.bucket_seconds,
      series: [
        { name: "dead", cls: "bar-dead", values: a.dead },
        { name: "to retry", cls: "bar-retry", values: a.retry },
      ],
      emptyText: "No failure in the last hour.",
    });
    document.getElementById("throughput-note").textContent = `${fmt(sum(a.success))} in the hour${partial}`;
    document.getElementById("failures-note").textContent = `${fmt(sum(a.retry) + sum(a.dead))} in the hour${partial}`;
  }

  onRefresh(counts);
  onRefresh(activity);
})();
