/* Queues: count, latency, pause state and concurrency limit per job name; pause/resume and limit. */
"use strict";

(() => {
  const { api, seg, el, badge, fmt, span, syncRows, onRefresh, refresh, notify, actionFailed, confirmAction, readOnly } = WebUI;

  async function pause(q) {
    const action = q.paused ? "unpause" : "pause";
    try {
      await api(`/api/ui/queues/${seg(q.job_name)}/${action}`, { method: "POST" });
      notify(q.paused ? `Queue ${q.job_name} resumed: pools take its jobs again.` : `Queue ${q.job_name} paused: its jobs stay queued.`);
    } catch (err) {
      actionFailed(err, `queue ${q.job_name}`);
    }
    refresh();
  }

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
      el("td", {}, el("a", { href: `${WebUI.prefix}/history?job_name=${encodeURIComponent(q.job_name)}`, text: q.job_name, title: "History of this job name" })),
      el("td", { class: "num", text: fmt(q.count) }),
      el("td", { class: "num", text: q.count ? span(q.latency) : "–" }),
      el("td", {}, q.paused ? badge("paused", "warn") : badge("active", "ok")),
      el("td", { class: "num", text: q.max_concurrency ? fmt(q.max_concurrency) : "no cap" }),
    ];
    if (!readOnly) {
      cells.push(el("td", { class: "actions" },
        el("button", { class: "btn btn-sm", type: "button", text: q.paused ? "Resume" : "Pause", onclick: () => pause(q) }),
        el("button", { class: "btn btn-sm", type: "button", text: "Limit…", onclick: () => limit(q) })));
    }
    return el("tr", { dataset: { name: q.job_name } }, cells);
  }

  onRefresh(async () => {
    const queues = await api("/api/ui/queues");
    document.getElementById("queues-empty").hidden = queues.length > 0;
    syncRows(document.querySelector("#queues-table tbody"), queues, (q) => q.job_name, row);
  });
})();
