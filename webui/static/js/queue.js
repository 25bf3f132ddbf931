/* One queue: its waiting jobs 20 a page, next to run first, each linked to its task page; purge
   behind a confirmation, with its progress while it runs. */
"use strict";

(() => {
  const W = WebUI;
  const { api, seg, el, jsonBlock, idCell, timeCell, fmt, syncRows, onRefresh, refresh, notify, actionFailed, confirmAction } = W;
  const name = document.getElementById("queue-head").dataset.queue;
  const page = W.pageNumber;
  let total = 0;

  function row(item) {
    const job = item.job;
    if (!job) {
      return el("tr", { dataset: { position: item.position } },
        el("td", { class: "num", text: fmt(item.position) }),
        el("td", { class: "muted", text: "–" }),
        el("td", {}, idCell("")),
        el("td", { class: "args" }, W.clamp(item.raw, { limit: 200, cls: "err" })),
        el("td", { class: "num", text: "–" }));
    }
    return el("tr", { dataset: { jobId: job.id, position: item.position } },
      el("td", { class: "num", text: fmt(item.position) }),
      job.t ? timeCell(job.t) : el("td", { class: "muted", text: "–" }),
      el("td", {}, idCell(job.id)),
      el("td", { class: "args" }, jsonBlock(job.args === undefined ? null : job.args)),
      el("td", { class: "num", text: fmt(job.fails) }));
  }

  async function purge() {
    if (!total) {
      notify(`Nothing was changed: no job is waiting in ${name}.`, "warn");
      return;
    }
    const ok = await confirmAction({
      title: `Purge ${name}?`,
      message: `All ${fmt(total)} jobs waiting in ${name} are deleted for good; no pool will run them. Jobs running, scheduled, retrying or dead stay.`,
      ok: "Purge",
      danger: true,
    });
    if (!ok) return;
    const button = document.getElementById("purge");
    try {
      const r = await W.withProgress([button], document.getElementById("purge-progress"), `Purging ${name}`,
        (progress_id) => api(`/api/ui/queues/${seg(name)}/purge`, { method: "POST", body: { progress_id } }));
      notify(`Purged ${fmt(r.purged)} job${r.purged === 1 ? "" : "s"} from ${name}.`);
    } catch (err) {
      actionFailed(err, `queue ${name}`);
    }
    refresh();
  }

  async function load() {
    const data = await api(`/api/ui/queues/${seg(name)}/jobs?page=${page}`);
    total = data.count;
    const inRange = W.countLine(document.getElementById("count-line"), page, data.jobs.length, total, "jobs waiting", "job waiting");
    W.pager(document.getElementById("pager-top"), page, total);
    W.pager(document.getElementById("pager-bottom"), page, total);
    document.getElementById("queue-empty").hidden = data.jobs.length > 0 || !inRange;
    syncRows(document.querySelector("#queue-table tbody"), data.jobs, (j) => `${j.position}|${j.job ? j.job.id : j.raw}`, row);
  }

  if (!W.readOnly) document.getElementById("purge").addEventListener("click", purge);
  onRefresh(load);
})();
