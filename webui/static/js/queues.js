/* Queues: count, latency, pause state and concurrency limit per job name, sortable by any column;
   pause/resume (confirmed) and limit. A queue's name opens its jobs (/queue/<name>). */
"use strict";

(() => {
  const W = WebUI;
  const { api, seg, el, badge, fmt, span, clamp, syncRows, onRefresh, refresh, notify, actionFailed, confirmAction, readOnly } = W;
  let sortKey = "job_name";
  let descending = false;
  let last = [];

  async function limit(q) {
    const value = await confirmAction({
      title: `Max concurrency of ${q.job_name}`,
      message: "How many jobs of this name may run at once over all pools. 0 removes the cap. A pool that starts later writes its own setting.",
      ok: "Set",
      input: { label: "Jobs at once", value: String(q.max_concurrency) },
    });
    if (value === null) return;
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0) {
      notify(`Nothing was changed: “${value}” is not a whole number from 0.`, "warn");
      return;
    }
    try {
      await api(`/api/ui/queues/${seg(q.job_name)}/max_concurrency`, { method: "POST", body: { max_concurrency: n } });
      notify(n ? `At most ${n} ${q.job_name} job${n === 1 ? "" : "s"} will run at once.` : `${q.job_name} has no concurrency cap now.`);
    } catch (err) {
      actionFailed(err, `queue ${q.job_name}`);
    }
    refresh();
  }

  function row(q) {
    const cells = [
      el("td", { class: "job-name" },
        el("a", { href: `${W.prefix}/queue/${seg(q.job_name)}`, title: "The jobs waiting in this queue" }, clamp(q.job_name, { limit: 60 })),
        " ", el("a", { class: "sub-link", href: `${W.prefix}/history?job_name=${encodeURIComponent(q.job_name)}`, text: "history" })),
      el("td", { class: "num", text: fmt(q.count) }),
      el("td", { class: "num", text: q.count ? span(q.latency) : "–" }),
      el("td", {}, q.paused ? badge("paused", "warn") : badge("active", "ok")),
      el("td", { class: "num", text: q.max_concurrency ? fmt(q.max_concurrency) : "no cap" }),
    ];
    if (!readOnly) {
      cells.push(el("td", { class: "actions" },
        el("button", { class: "btn btn-sm", type: "button", text: q.paused ? "Resume" : "Pause", onclick: () => W.toggleQueuePause(q) }),
        el("button", { class: "btn btn-sm", type: "button", text: "Limit…", onclick: () => limit(q) })));
    }
    return el("tr", { dataset: { name: q.job_name } }, cells);
  }

  function show() {
    const sorted = [...last].sort((a, b) => {
      const x = a[sortKey];
      const y = b[sortKey];
      const c = typeof x === "string" ? x.localeCompare(y) : Number(x) - Number(y);
      return (descending ? -c : c) || a.job_name.localeCompare(b.job_name);
    });
    syncRows(document.querySelector("#queues-table tbody"), sorted, (q) => q.job_name, row);
  }

  const mark = W.sortable(document.getElementById("queues-table"), (key, desc) => {
    sortKey = key;
    descending = desc;
    show();
  });
  mark(sortKey, descending);

  onRefresh(async () => {
    last = await api("/api/ui/queues");
    document.getElementById("queues-empty").hidden = last.length > 0;
    show();
  });
})();
