/* Worker: one pool from /api/workers?workername=, its job names with queue sizes and pause state
   (pause and resume through the queues page's routes) and its running jobs with their check-ins. */
"use strict";

(() => {
  const W = WebUI;
  const { api, seg, el, badge, num, jsonBlock, absolute, relSpan, fmt, syncRows, notify, actionFailed, confirmAction, onRefresh, refresh } = W;
  const name = document.getElementById("worker-head").dataset.worker;
  const path = `/api/workers?workername=${encodeURIComponent(name)}`;

  const none = () => el("span", { class: "muted", text: "–" });
  const when = (raw) => {
    const ts = num(raw);
    return ts ? el("div", {}, relSpan(ts), el("span", { class: "time-sub", text: absolute(ts) })) : none();
  };

  const pause = (q) => W.toggleQueuePause(q);

  function nameRow(q) {
    const cells = [
      el("td", {}, el("a", { href: `${W.prefix}/tasks?name=${encodeURIComponent(q.job_name)}`, text: q.job_name, title: "Tasks of this job name" })),
      el("td", { class: "num", text: fmt(q.count) }),
      el("td", {}, q.paused ? badge("paused", "warn") : badge("active", "ok")),
    ];
    if (!W.readOnly) {
      cells.push(el("td", { class: "actions" },
        el("button", { class: "btn btn-sm", type: "button", text: q.paused ? "Resume" : "Pause", onclick: () => pause(q) })));
    }
    return el("tr", { dataset: { name: q.job_name } }, cells);
  }

  function activeRow(a) {
    return el("tr", { dataset: { jobId: a.id } },
      el("td", { class: "job-name", text: a.name || "(unnamed)" }),
      el("td", {}, a.id ? el("a", { class: "id", href: `${W.prefix}/task/${seg(a.id)}`, text: a.id }) : none()),
      el("td", { class: "args" }, jsonBlock(a.args)),
      el("td", { class: "args" }, jsonBlock(a.kwargs)),
      el("td", { class: "time", title: a.time_start ? absolute(Math.floor(num(a.time_start))) : "" },
        a.time_start ? relSpan(Math.floor(num(a.time_start)), { since: true }) : none()),
      el("td", { class: "checkin" }, a.checkin ? el("span", { class: "checkin-text", text: a.checkin }) : none()));
  }

  function showPool(w) {
    const s = w.stats || {};
    document.getElementById("worker-state").replaceChildren(w.online ? badge("online", "ok") : badge("offline", "warn"));
    const rows = [
      ["State", w.online ? badge("online", "ok") : badge("offline: no heartbeat for 10 s", "warn")],
      ["Host", el("span", { text: s.hostname || "–" })],
      ["PID", el("span", { text: s.pid || "–" })],
      ["Concurrency", el("span", { text: fmt((s.pool || {})["max-concurrency"]) })],
      ["Busy", el("span", { text: `${(w.active || []).length} / ${fmt((s.pool || {})["max-concurrency"])}` })],
      ["Started", when(s.started_at)],
      ["Heartbeat", when(s.heartbeat_at)],
      ["Worker IDs", el("div", { class: "tags" }, ((s.pool || {}).worker_ids || []).map((id) => el("span", { class: "tag", text: id })))],
    ];
    syncRows(document.querySelector("#worker-table tbody"), rows, ([k]) => k, ([k, v]) => el("tr", { dataset: { field: k } }, el("th", { text: k }), el("td", {}, v)));
    // a row's content (relative times) changes without its key: rebuild every refresh
    for (const tr of document.querySelectorAll("#worker-table tbody tr")) tr.dataset.stale = "1";
  }

  onRefresh(async () => {
    let workers;
    try {
      workers = await api(path);
    } catch (err) {
      if (err.status !== 404) throw err;
      const note = document.getElementById("worker-gone");
      note.textContent = `No worker pool with id “${name}” any more: it stopped and was reaped.`;
      note.hidden = false;
      document.getElementById("worker-state").replaceChildren(badge("gone", "muted"));
      return;
    }
    document.getElementById("worker-gone").hidden = true;
    const w = workers[name];
    const queues = await api("/api/ui/queues");
    const byName = new Map(queues.map((q) => [q.job_name, q]));
    const names = (w.registered || []).map((n) => byName.get(n) || { job_name: n, count: 0, paused: false });
    showPool(w);
    document.getElementById("names-empty").hidden = names.length > 0;
    syncRows(document.querySelector("#names-table tbody"), names, (q) => q.job_name, nameRow);
    const active = w.active || [];
    document.getElementById("active-empty").hidden = active.length > 0;
    document.getElementById("active-note").textContent = `${fmt(active.length)} running`;
    syncRows(document.querySelector("#active-table tbody"), active, (a, i) => `${a.id}|${i}`, activeRow);
  });
})();
