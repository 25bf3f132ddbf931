/* History: completed attempts, newest first; find one job by id, or list one job name's attempts. */
"use strict";

(() => {
  const W = WebUI;
  const { api, seg, el, badge, jsonBlock, idCell, timeCell, fmt, absolute, syncRows, onRefresh, refresh } = W;
  const STATUS = { success: "ok", retry: "warn", dead: "bad" };
  const params = () => new URLSearchParams(location.search);

  function statusBadge(status) {
    return badge(status || "unknown", STATUS[status] || "muted");
  }

  function searchFor(id) {
    document.getElementById("search-id").value = id;
    W.setUrl({ id });
    showDetail(id);
    window.scrollTo({ top: 0, behavior: "smooth" });
  }

  function row(h) {
    return el("tr", { dataset: { jobId: h.id } },
      timeCell(h.completed_at),
      el("td", {}, statusBadge(h.status)),
      el("td", { class: "job-name", text: h.name }),
      el("td", {}, h.id
        ? el("a", { class: "id", href: `?id=${encodeURIComponent(h.id)}`, text: h.id, title: "Every detail of this job's latest attempt",
          onclick: (ev) => { ev.preventDefault(); searchFor(h.id); } })
        : idCell("")),
      el("td", { class: "args" }, jsonBlock(h.args === undefined ? null : h.args)),
      el("td", { class: "num", text: fmt(h.fails) }),
      el("td", { class: "err", text: h.err || "" }));
  }

  function field(label, value) {
    return [el("dt", { text: label }), el("dd", {}, value)];
  }

  async function showDetail(id = params().get("id")) {
    const box = document.getElementById("detail");
    if (id === null) {
      box.hidden = true;
      return;
    }
    box.hidden = false;
    const close = el("button", { class: "btn btn-sm", type: "button", text: "Close",
      onclick: () => { W.setUrl({ id: null }); document.getElementById("search-id").value = ""; showDetail(); } });
    if (!id.trim()) {
      box.replaceChildren(el("div", { class: "panel-head" }, el("h2", { text: "Find a job" }), close),
        el("p", { class: "muted", text: "Type a job id to find its latest attempt." }));
      return;
    }
    let h;
    try {
      h = await api(`/api/history_jobs/${seg(id)}`);
    } catch (err) {
      if (err.status !== 404) throw err;
      box.replaceChildren(el("div", { class: "panel-head" }, el("h2", { text: "No history for this id" }), close),
        el("p", { class: "muted" }, "No completed attempt of job ", el("span", { class: "id", text: id }),
          " is in the history. It may not have run yet, be older than 15 days, or have run on a pool that keeps no history."));
      return;
    }
    const extra = Object.fromEntries(Object.entries(h).filter(([k]) =>
      !["completed_at", "status", "name", "id", "t", "args", "fails", "err", "failed_at"].includes(k)));
    box.replaceChildren(
      el("div", { class: "panel-head" }, el("h2", {}, "Job ", el("span", { class: "id", text: h.id })), close),
      el("dl", {},
        field("Status", statusBadge(h.status)),
        field("Job name", h.name),
        field("Completed", `${absolute(h.completed_at)} (${W.relative(h.completed_at)})`),
        field("Enqueued", absolute(h.t)),
        field("Fails", fmt(h.fails)),
        h.err ? field("Last error", el("span", { class: "err", text: h.err })) : null,
        h.failed_at ? field("Failed at", absolute(h.failed_at)) : null,
        field("Args", jsonBlock(h.args === undefined ? null : h.args)),
        Object.keys(extra).length ? field("Other fields", jsonBlock(extra)) : null));
  }

  async function load() {
    const name = params().get("job_name") || "";
    const page = W.pageNumber;
    const data = await api(`/api/history_jobs?page=${page}${name ? "&job_name=" + encodeURIComponent(name) : ""}`);
    const noun = name ? `attempts of ${name}` : "attempts";
    const one = name ? `attempt of ${name}` : "attempt";
    const inRange = W.countLine(document.getElementById("count-line"), page, data.jobs.length, data.count, noun, one);
    W.pager(document.getElementById("pager-top"), page, data.count);
    W.pager(document.getElementById("pager-bottom"), page, data.count);
    const emptyNote = document.getElementById("history-empty");
    emptyNote.hidden = data.jobs.length > 0 || !inRange;
    emptyNote.textContent = name
      ? `No attempt of “${name}” in the history.`
      : "The history is empty: no job has finished yet, or the pools keep no history (gocraft/work v0.5 does not).";
    syncRows(document.querySelector("#history-table tbody"), data.jobs, (h, i) => `${h.completed_at}|${h.id}|${h.status}|${i}`, row);
  }

  document.getElementById("search-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    searchFor(document.getElementById("search-id").value.trim());
  });
  document.getElementById("filter-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const name = document.getElementById("filter-name").value.trim();
    W.setUrl({ job_name: name, page: null });
    W.pageNumber = 1;
    document.getElementById("filter-clear").hidden = !name;
    refresh();
  });
  document.getElementById("filter-clear").addEventListener("click", () => {
    document.getElementById("filter-name").value = "";
    W.setUrl({ job_name: null, page: null });
    W.pageNumber = 1;
    document.getElementById("filter-clear").hidden = true;
    refresh();
  });
  window.addEventListener("popstate", () => {
    document.getElementById("search-id").value = params().get("id") || "";
    document.getElementById("filter-name").value = params().get("job_name") || "";
    W.pageNumber = Number(params().get("page")) || 1;
    showDetail();
    refresh();
  });

  const initial = params();
  document.getElementById("search-id").value = initial.get("id") || "";
  document.getElementById("filter-name").value = initial.get("job_name") || "";
  document.getElementById("filter-clear").hidden = !initial.get("job_name");
  W.fillJobNames("job-names");
  onRefresh(load);
  let detailShown = false; // the detail is read once (and on each search), not on every refresh
  onRefresh(async () => {
    if (!detailShown) {
      await showDetail();
      detailShown = true;
    }
  });
})();
