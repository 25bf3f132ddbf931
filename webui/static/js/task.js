/* Task: every field of /api/task/info/<id>, where gocraft holds the job, and the actions that fit
   where it is (revoke; retry now or delete from the dead, retry or scheduled set), each confirmed. */
"use strict";

(() => {
  const W = WebUI;
  const { api, seg, el, stateBadge, num, jsonBlock, absolute, relSpan, span, notify, actionFailed, confirmAction, onRefresh, refresh } = W;
  const taskId = document.getElementById("task-head").dataset.taskId;
  const infoPath = `/api/task/info/${seg(taskId)}`;
  const FINISHED = new Set(["SUCCESS", "FAILURE", "REVOKED"]);
  const PLACES = {
    queue: "queued, waiting for a worker",
    inprogress: "taken by a pool (in its in-progress list)",
    worker: "running on a worker",
    scheduled: "in the scheduled set",
    retry: "in the retry set",
    dead: "in the dead set",
    history: "finished (in the history log)",
  };
  // The fork's routes the scheduled, retry and dead pages use, by where the job is.
  const SET_ACTIONS = {
    dead: { retry: "retry_dead_job", del: "delete_dead_job", noun: "dead job" },
    retry: { del: "delete_retry_job", noun: "job waiting to retry" },
    scheduled: { del: "delete_scheduled_job", noun: "scheduled job" },
  };
  let shownSig = "";

  const none = () => el("span", { class: "muted", text: "–" });
  const text = (v) => (v === null || v === undefined || v === "" ? none() : el("span", { text: String(v) }));
  const block = (v) => (v === null || v === undefined ? none() : jsonBlock(v, { raw: true }));
  const when = (raw) => {
    const ts = num(raw);
    return ts ? el("div", {}, relSpan(Math.floor(ts)), el("span", { class: "time-sub", text: absolute(Math.floor(ts)) })) : none();
  };
  const isoWhen = (iso) => (iso ? when(Date.parse(iso) / 1000) : none());
  const link = (path, label) => el("a", { class: "id", href: W.prefix + path, text: label });

  function where(t) {
    const g = t.gocraft || {};
    if (!g.where) return el("span", { class: "muted", text: "nowhere in gocraft now (known from its result or the revoked set)" });
    const parts = [el("span", { text: PLACES[g.where] || g.where })];
    if (g.at) parts.push(" · ", relSpan(num(g.at)));
    if (g.checkin) parts.push(" · check-in: ", el("span", { class: "checkin-text", text: g.checkin }));
    return el("span", {}, parts);
  }

  /* A finished attempt whose pool recorded no run time (a Go pool: the fork's history keeps only
     the completion time), so its start and pool are unknown and its runtime is an estimate. */
  const fromHistory = (t) => Boolean(t.gocraft && t.gocraft.timing === "history");
  const notRecorded = () => el("span", { class: "muted", text: "not recorded (Go pools keep no start time or pool in the history)" });

  function runtimeCell(t) {
    if (t.runtime === null || t.runtime === undefined) return none();
    if (!fromHistory(t)) return text(W.runtime(num(t.runtime)));
    return el("span", {}, text(span(num(t.runtime))),
      el("span", { class: "muted", text: " (completion minus enqueue time, whole seconds, queue wait included: the pool recorded no run time)" }));
  }

  function fields(t) {
    const ids = (list) => (list && list.length ? el("div", { class: "tags" }, list.map((c) => link(`/task/${seg(c)}`, c))) : none());
    return [
      ["Name", text(t.name)],
      ["UUID", el("span", { class: "id", text: t.uuid })],
      ["State", stateBadge(t.state)],
      ["Where in gocraft", where(t)],
      ["Args", block(t.args)],
      ["Kwargs", block(t.kwargs)],
      ["Result", block(t.result)],
      ["Exception", t.exception ? W.clamp(t.exception, { limit: 400, cls: "err" }) : none()],
      ["Received", when(t.received)],
      ["Started", t.started || !fromHistory(t) ? when(t.started) : notRecorded()],
      ["Succeeded", when(t.succeeded)],
      ["Failed", when(t.failed)],
      ["Retried", when(t.retried)],
      ["Revoked", when(t.revoked)],
      ["Runtime", runtimeCell(t)],
      ["Retries", text(num(t.retries))],
      ["ETA", isoWhen(t.eta)],
      ["Expires", isoWhen(t.expires)],
      ["Worker", t.worker ? link(`/worker/${seg(t.worker)}`, t.worker) : fromHistory(t) ? notRecorded() : none()],
      ["Root ID", t.root_id ? link(`/task/${seg(t.root_id)}`, t.root_id) : none()],
      ["Parent ID", t.parent_id ? link(`/task/${seg(t.parent_id)}`, t.parent_id) : none()],
      ["Children", ids(t.children)],
    ];
  }

  const describe = (t) => `${t.name || "(unnamed)"} ${t.uuid}`;

  async function act(t, { title, message, ok, danger, path, done, what }) {
    if (!(await confirmAction({ title, message, ok, danger }))) return;
    try {
      await api(path, { method: "POST" });
      notify(done);
    } catch (err) {
      actionFailed(err, what);
    }
    refresh();
  }

  function buttons(t) {
    const out = [];
    if (!FINISHED.has(t.state)) {
      out.push(el("button", { class: "btn btn-danger-outline", type: "button", text: "Revoke", onclick: () => act(t, {
        title: "Revoke this task?",
        message: `${describe(t)} leaves its queue and the scheduled and retry sets, and no Python worker will start it.`,
        ok: "Revoke", danger: true, path: `/api/task/revoke/${seg(t.uuid)}`, done: `Revoked ${describe(t)}.`, what: "this task",
      }) }));
    }
    if (t.state === "STARTED") {
      out.push(el("button", { class: "btn btn-danger-outline", type: "button", text: "Terminate", onclick: () => act(t, {
        title: "Revoke and terminate this task?",
        message: `${describe(t)} is revoked and a Python worker running it is told to stop it (a Go worker finishes it).`,
        ok: "Terminate", danger: true, path: `/api/task/revoke/${seg(t.uuid)}?terminate=true`, done: `Revoked ${describe(t)} and asked its worker to stop it.`, what: "this task",
      }) }));
    }
    const g = t.gocraft || {};
    const set = SET_ACTIONS[g.where];
    if (set && g.at) {
      const at = `${JSON.stringify(g.at)}/${seg(t.uuid)}`;
      if (set.retry) {
        out.push(el("button", { class: "btn", type: "button", text: "Retry now", onclick: () => act(t, {
          title: "Retry this job now?", message: `${describe(t)} goes back on its queue with a fresh set of attempts.`,
          ok: "Retry", path: `/api/${set.retry}/${at}`, done: `Retried ${describe(t)}: it is back on its queue.`, what: `this ${set.noun}`,
        }) }));
      }
      out.push(el("button", { class: "btn btn-danger-outline", type: "button", text: "Delete", onclick: () => act(t, {
        title: "Delete this job?", message: `${describe(t)} is removed for good; no pool will run it.`,
        ok: "Delete", danger: true, path: `/api/${set.del}/${at}`, done: `Deleted ${describe(t)}.`, what: `this ${set.noun}`,
      }) }));
    }
    return out;
  }

  function show(t) {
    const sig = JSON.stringify(t);
    if (sig === shownSig) return;
    shownSig = sig;
    document.getElementById("task-gone").hidden = true;
    document.getElementById("task-name").textContent = t.name || "(unnamed)";
    document.getElementById("task-state").replaceChildren(stateBadge(t.state));
    document.getElementById("task-where").textContent = t.gocraft && t.gocraft.where ? PLACES[t.gocraft.where] || t.gocraft.where : "";
    const tbody = document.querySelector("#task-table tbody");
    tbody.replaceChildren(...fields(t).map(([k, v]) => el("tr", { dataset: { field: k } }, el("th", { text: k }), el("td", {}, v))));
    document.getElementById("traceback-panel").hidden = !t.traceback;
    document.getElementById("task-traceback").textContent = t.traceback || "";
    const panel = document.getElementById("task-actions-panel");
    if (panel && !W.readOnly) {
      const list = buttons(t);
      document.getElementById("task-actions").replaceChildren(...list);
      panel.hidden = list.length === 0;
    }
  }

  function gone() {
    shownSig = "";
    const note = document.getElementById("task-gone");
    note.textContent = `No task with id “${taskId}” any more: it was deleted, or its history and result expired.`;
    note.hidden = false;
    document.getElementById("task-state").replaceChildren();
    const panel = document.getElementById("task-actions-panel");
    if (panel) panel.hidden = true;
  }

  onRefresh(async () => {
    try {
      show(await api(infoPath));
    } catch (err) {
      if (err.status !== 404) throw err;
      gone();
    }
  });
})();
