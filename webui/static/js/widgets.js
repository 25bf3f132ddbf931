/* Widgets several pages share, on top of core.js: long text with a "show all" control, sortable
   column headers, long actions with their progress, and the confirmed pause/resume of a queue. */
"use strict";

(() => {
  const W = WebUI;

  /* Text that may be very long (an error, a job name): the first `limit` characters and a control
     that shows the rest, so one row cannot grow to thousands of pixels. */
  function clamp(text, { limit = 160, cls = "" } = {}) {
    const full = String(text === null || text === undefined ? "" : text);
    if (full.length <= limit) return W.el("span", { class: cls, text: full });
    const shown = W.el("span", { class: "clamped-text", text: full.slice(0, limit) + "…" });
    const toggle = W.el("button", { class: "btn-more", type: "button", "aria-expanded": "false", text: `show all ${W.fmt(full.length)} characters` });
    toggle.addEventListener("click", () => {
      const open = toggle.getAttribute("aria-expanded") !== "true";
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
      shown.textContent = open ? full : full.slice(0, limit) + "…";
      toggle.textContent = open ? "show less" : `show all ${W.fmt(full.length)} characters`;
      wrap.classList.toggle("expanded", open);
    });
    const wrap = W.el("span", { class: "clamped " + cls, title: full.length > 2000 ? "" : full }, shown, " ", toggle);
    return wrap;
  }

  /* Column headers that sort: each <th data-sort="key"> becomes a button; `onSort(key, descending)`
     is called on a click, and `mark(key, descending)` shows the current order. */
  function sortable(table, onSort) {
    const heads = Array.from(table.querySelectorAll("th[data-sort]"));
    const mark = (key, descending) => {
      for (const th of heads) {
        const on = th.dataset.sort === key;
        th.setAttribute("aria-sort", on ? (descending ? "descending" : "ascending") : "none");
      }
    };
    for (const th of heads) {
      const label = th.textContent.trim();
      // a role=button span, not a <button>: it changes the view, never the data (read-only pages keep it)
      const control = W.el("span", { class: "sort", role: "button", tabindex: "0", text: label, title: `Sort by ${label.toLowerCase()}` });
      th.replaceChildren(control);
      const activate = () => {
        const descending = th.getAttribute("aria-sort") === "ascending";
        mark(th.dataset.sort, descending);
        onSort(th.dataset.sort, descending);
      };
      control.addEventListener("click", activate);
      control.addEventListener("keydown", (ev) => {
        if (ev.key === "Enter" || ev.key === " ") {
          ev.preventDefault();
          activate();
        }
      });
    }
    return mark;
  }

  /* Run a long action: its buttons disabled, a status line with the time spent and, when the
     server reports it (GET /api/ui/progress/<id>), how far it is. `fn(progressId)` does the work. */
  async function withProgress(buttons, status, label, fn) {
    const id = (crypto.randomUUID ? crypto.randomUUID() : String(Math.random()).slice(2) + Date.now()).replace(/[^A-Za-z0-9-]/g, "");
    const started = Date.now();
    for (const b of buttons) if (b) b.disabled = true;
    status.hidden = false;
    let progress = "";
    const show = () => {
      status.textContent = `${label}… ${progress}${W.span((Date.now() - started) / 1000)} so far`;
    };
    show();
    const ticker = setInterval(async () => {
      try {
        const p = await W.api(`/api/ui/progress/${W.seg(id)}`);
        if (p && p.total) progress = `${W.fmt(p.done)} of ${W.fmt(p.total)} done, `;
      } catch (err) {
        /* no progress reported (yet): the time spent is shown */
      }
      show();
    }, 500);
    status.setAttribute("aria-busy", "true");
    try {
      return await fn(id);
    } finally {
      clearInterval(ticker);
      status.removeAttribute("aria-busy");
      status.hidden = true;
      status.textContent = "";
      for (const b of buttons) if (b) b.disabled = false;
    }
  }

  /* Pause or resume one job name's queue, after a confirmation (the queues and worker pages). */
  async function toggleQueuePause(q) {
    const action = q.paused ? "unpause" : "pause";
    const ok = await W.confirmAction({
      title: q.paused ? `Resume ${q.job_name}?` : `Pause ${q.job_name}?`,
      message: q.paused
        ? `Every pool, Go or Python, takes ${q.job_name} jobs again.`
        : `Every pool, Go or Python, stops taking ${q.job_name} jobs; they stay queued.`,
      ok: q.paused ? "Resume" : "Pause",
    });
    if (!ok) return;
    try {
      await W.api(`/api/ui/queues/${W.seg(q.job_name)}/${action}`, { method: "POST" });
      W.notify(q.paused ? `Queue ${q.job_name} resumed: pools take its jobs again.` : `Queue ${q.job_name} paused: its jobs stay queued.`);
    } catch (err) {
      W.actionFailed(err, `queue ${q.job_name}`);
    }
    W.refresh();
  }

  Object.assign(W, { clamp, sortable, withProgress, toggleQueuePause });
})();
