/* Workers: every pool's heartbeat, and every busy worker with its job, args and check-in. */
"use strict";

(() => {
  const { api, seg, el, badge, fmt, absolute, relSpan, jsonBlock, idCell, timeCell, syncRows, onRefresh, now } = WebUI;
  const ONLINE_SECONDS = 10;

  function poolRow(p) {
    return el("tr", { dataset: { pool: p.worker_pool_id } },
      el("td", {}, el("a", { class: "id", href: `${WebUI.prefix}/worker/${seg(p.worker_pool_id)}`, text: p.worker_pool_id })),
      el("td", { text: p.host || "–" }),
      el("td", { class: "num", text: p.pid || "–" }),
      el("td", {}, p.online ? badge("online", "ok") : badge("silent", "warn")),
      el("td", { class: "num", text: `${p.busy} / ${p.concurrency}` }),
      el("td", {}, el("div", { class: "tags" }, (p.job_names || []).map((n) => el("span", { class: "tag", text: n })))),
      timeCell(p.started_at),
      el("td", { class: "time", title: absolute(p.heartbeat_at) }, relSpan(p.heartbeat_at)));
  }

  function busyRow(o) {
    return el("tr", { dataset: { worker: o.worker_id } },
      el("td", {}, el("span", { class: "id", text: o.worker_id })),
      el("td", {}, o.pool ? el("a", { class: "id", href: `${WebUI.prefix}/worker/${seg(o.pool.worker_pool_id)}`, text: o.pool.worker_pool_id, title: o.pool.host }) : "–"),
      el("td", { text: o.job_name }),
      el("td", {}, idCell(o.job_id)),
      el("td", { class: "args" }, o.args_json ? jsonBlock(o.args_json, { raw: true }) : el("span", { class: "muted", text: "none" })),
      el("td", { class: "time", title: absolute(o.started_at) }, relSpan(o.started_at, { since: true })),
      el("td", { class: "checkin" }, o.checkin
        ? el("div", {}, el("span", { class: "checkin-text", text: o.checkin }), el("span", { class: "time-sub" }, relSpan(o.checkin_at)))
        : el("span", { class: "muted", text: "–" })));
  }

  onRefresh(async () => {
    const [pools, busy] = await Promise.all([api("/api/worker_pools"), api("/api/busy_workers")]);
    const workers = busy || []; // Go answers null when no worker is busy
    const poolOf = new Map();
    for (const p of pools) for (const w of p.worker_ids || []) poolOf.set(w, { worker_pool_id: p.worker_pool_id, host: p.host });
    const busyIds = new Set(workers.map((o) => o.worker_id));
    const poolRows = pools.map((p) => ({
      ...p,
      busy: (p.worker_ids || []).filter((w) => busyIds.has(w)).length,
      online: now() - p.heartbeat_at <= ONLINE_SECONDS,
    }));
    const busyRows = workers.map((o) => ({ ...o, pool: poolOf.get(o.worker_id) || null }));
    document.getElementById("pools-empty").hidden = pools.length > 0;
    document.getElementById("busy-empty").hidden = workers.length > 0;
    const total = pools.reduce((s, p) => s + (p.concurrency || 0), 0);
    document.getElementById("pools-note").textContent = pools.length ? `${fmt(pools.length)} pool${pools.length === 1 ? "" : "s"}, ${fmt(total)} workers` : "";
    document.getElementById("busy-note").textContent = `${fmt(workers.length)} busy`;
    syncRows(document.querySelector("#pools-table tbody"), poolRows, (p) => p.worker_pool_id, poolRow);
    syncRows(document.querySelector("#busy-table tbody"), busyRows, (o) => o.worker_id, busyRow);
  });
})();
