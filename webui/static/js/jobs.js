/* Scheduled, retry and dead jobs: a page of 20 in the chosen order (dead: latest death first), the
   row actions (retry, run now, delete) and the bulk actions, each confirmed; a bulk action shows
   its progress and disables the buttons while it runs. */
"use strict";

(() => {
  const W = WebUI;
  const { api, seg, el, jsonBlock, idCell, clamp, timeCell, fmt, syncRows, onRefresh, refresh, notify, actionFailed, confirmAction } = W;
  const kind = W.pageName;
  const conf = {
    scheduled: { list: "/api/scheduled_jobs", score: "run_at", noun: "scheduled jobs", one: "scheduled job", del: "delete_scheduled_job" },
    retry: { list: "/api/retry_jobs", score: "retry_at", noun: "jobs waiting to retry", one: "job waiting to retry", del: "delete_retry_job" },
    dead: { list: "/api/dead_jobs", score: "died_at", noun: "dead jobs", one: "dead job", del: "delete_dead_job", retry: "retry_dead_job" },
  }[kind];
  const page = W.pageNumber;
  const defaultOrder = kind === "dead" ? "newest" : "oldest";
  const orderPick = document.getElementById("jobs-order");
  const order = () => new URLSearchParams(location.search).get("order") || defaultOrder;
  orderPick.value = order();
  orderPick.addEventListener("change", () => {
    W.setUrl({ order: orderPick.value === defaultOrder ? null : orderPick.value, page: null });
    refresh();
  });
  window.addEventListener("popstate", () => {
    orderPick.value = order();
    refresh();
  });
  const progressLine = document.getElementById("bulk-progress");
  const bulkButtons = () => Array.from(document.querySelectorAll("#bulk-form button, #retry-all, #delete-all"));
  let total = 0;

  const describe = (job) => `${job.name || "(unnamed)"} ${job.id ? job.id : "(no id)"}`;

  async function runNow(job) {
    const ok = await confirmAction({
      title: "Run this job now?",
      message: `${describe(job)} becomes due now: the next pool to look (Go or Python, within a few seconds) puts it on its queue.`,
      ok: "Run now",
    });
    if (!ok) return;
    try {
      await api(`/api/ui/${kind}_jobs/run_now/${job[conf.score]}/${seg(job.id)}`, { method: "POST" });
      notify(`${describe(job)} is due now: a pool will queue it shortly.`);
    } catch (err) {
      actionFailed(err, `this ${conf.one}`);
    }
    refresh();
  }

  async function rowAction(job, action) {
    const retrying = action === "retry";
    const ok = await confirmAction({
      title: retrying ? "Retry this job?" : "Delete this job?",
      message: retrying
        ? `${describe(job)} goes back on its queue with a fresh set of attempts.`
        : `${describe(job)} is removed for good; no pool will run it.`,
      ok: retrying ? "Retry" : "Delete",
      danger: !retrying,
    });
    if (!ok) return;
    const route = retrying ? conf.retry : conf.del;
    try {
      await api(`/api/${route}/${job[conf.score]}/${seg(job.id)}`, { method: "POST" });
      notify(retrying ? `Retried ${describe(job)}: it is back on its queue.` : `Deleted ${describe(job)}.`);
    } catch (err) {
      actionFailed(err, `this ${conf.one}`);
    }
    refresh();
  }

  function row(job) {
    const cells = [
      timeCell(job[conf.score]),
      el("td", { class: "job-name" }, clamp(job.name || "(unnamed)", { limit: 60 })),
      el("td", {}, idCell(job.id)),
      el("td", { class: "args" }, jsonBlock(job.args === undefined ? null : job.args)),
    ];
    if (kind !== "scheduled") {
      cells.push(el("td", { class: "num", text: fmt(job.fails) }));
      cells.push(el("td", { class: "err" }, clamp(job.err || "", { limit: 200 })));
    }
    if (!W.readOnly) {
      const noId = !job.id;
      const why = noId ? "This entry has no id (it could not be decoded), so it cannot be addressed alone; use Delete all." : undefined;
      const buttons = [];
      if (conf.retry) {
        buttons.push(el("button", { class: "btn btn-sm", type: "button", text: "Retry", disabled: noId, title: why, onclick: () => rowAction(job, "retry") }));
      } else {
        buttons.push(el("button", { class: "btn btn-sm", type: "button", text: "Run now", disabled: noId, title: why, onclick: () => runNow(job) }));
      }
      buttons.push(el("button", { class: "btn btn-sm btn-danger-outline", type: "button", text: "Delete", disabled: noId, title: why, onclick: () => rowAction(job, "delete") }));
      cells.push(el("td", { class: "actions" }, buttons));
    }
    return el("tr", { dataset: { jobId: job.id } }, cells);
  }

  async function load() {
    const data = await api(`/api/ui/${kind}_jobs?page=${page}&order=${order()}`);
    total = data.count;
    const inRange = W.countLine(document.getElementById("count-line"), page, data.jobs.length, total, conf.noun, conf.one);
    W.pager(document.getElementById("pager-top"), page, total);
    W.pager(document.getElementById("pager-bottom"), page, total);
    const emptyNote = document.getElementById("jobs-empty");
    emptyNote.hidden = data.jobs.length > 0 || !inRange;
    emptyNote.textContent = `No ${conf.noun}.`;
    syncRows(document.querySelector("#jobs-table tbody"), data.jobs, (j, i) => `${j[conf.score]}|${j.id}|${i}`, row);
    const names = document.getElementById("job-names");
    if (names && !names.childElementCount) W.fillJobNames("job-names");
  }

  async function bulk(action, jobName) {
    const retrying = action === "retry";
    const ok = await confirmAction({
      title: `${retrying ? "Retry" : "Delete"} every ${conf.one} named ${jobName}?`,
      message: retrying
        ? `Every dead job named “${jobName}” goes back on its queue with a fresh set of attempts.`
        : `Every ${conf.one} named “${jobName}” is removed for good.`,
      ok: retrying ? "Retry them" : "Delete them",
      danger: !retrying,
    });
    if (!ok) return;
    try {
      const r = await W.withProgress(bulkButtons(), progressLine, `${retrying ? "Retrying" : "Deleting"} every ${conf.one} named “${jobName}”`,
        (progress_id) => api(`/api/ui/${kind}_jobs/bulk`, { method: "POST", body: { action, job_name: jobName, progress_id } }));
      if (!r.matched) notify(`Nothing was changed: no ${conf.one} is named “${jobName}”.`, "warn");
      else {
        const moved = r.matched - r.changed - r.skipped;
        notify(`${retrying ? "Retried" : "Deleted"} ${fmt(r.changed)} ${r.changed === 1 ? conf.one : conf.noun} named “${jobName}”` +
          (moved ? `; ${fmt(moved)} had already moved and were left as they are.` : ".") +
          (r.skipped ? ` ${fmt(r.skipped)} without an id could not be addressed.` : ""), moved || r.skipped ? "warn" : undefined);
      }
    } catch (err) {
      actionFailed(err, `the ${conf.noun} named “${jobName}”`);
    }
    refresh();
  }

  async function all(action) {
    const retrying = action === "retry";
    if (!total) {
      notify(`Nothing was changed: there are no ${conf.noun}.`, "warn");
      return;
    }
    const ok = await confirmAction({
      title: `${retrying ? "Retry" : "Delete"} all ${fmt(total)} ${conf.noun}?`,
      message: retrying
        ? "Every dead job goes back on its queue with a fresh set of attempts."
        : `Every one of the ${conf.noun} is removed for good, on every page, not only this one.`,
      ok: retrying ? "Retry all" : "Delete all",
      danger: !retrying,
    });
    if (!ok) return;
    try {
      const label = `${retrying ? "Retrying" : "Deleting"} all ${fmt(total)} ${conf.noun}`;
      if (kind === "dead") {
        await W.withProgress(bulkButtons(), progressLine, label,
          () => api(retrying ? "/api/retry_all_dead_jobs" : "/api/delete_all_dead_jobs", { method: "POST" }));
        notify(retrying ? "Retried every dead job: they are back on their queues." : "Deleted every dead job.");
      } else {
        const r = await W.withProgress(bulkButtons(), progressLine, label,
          (progress_id) => api(`/api/ui/${kind}_jobs/bulk`, { method: "POST", body: { action: "delete", all: true, progress_id } }));
        notify(`Deleted ${fmt(r.changed)} ${conf.noun}.`);
      }
    } catch (err) {
      actionFailed(err, `the ${conf.noun}`);
    }
    refresh();
  }

  if (!W.readOnly) {
    const form = document.getElementById("bulk-form");
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const name = document.getElementById("bulk-name").value.trim();
      if (!name) return;
      bulk(ev.submitter && ev.submitter.dataset.bulk === "retry" ? "retry" : "delete", name);
    });
    const retryAll = document.getElementById("retry-all");
    if (retryAll) retryAll.addEventListener("click", () => all("retry"));
    document.getElementById("delete-all").addEventListener("click", () => all("delete"));
  }

  onRefresh(load);
})();
