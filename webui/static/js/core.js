/* Shared by every page: JSON API calls, DOM building (text only, never HTML), time formats,
   the live refresh loop, the status banner, toasts, confirmations and the pager. */
"use strict";

window.WebUI = (() => {
  const body = document.body;
  const prefix = body.dataset.prefix || "";
  const readOnly = body.dataset.readOnly === "true";
  const refreshMs = Number(body.dataset.refreshMs) || 3000;
  const pageName = body.dataset.page;
  let skewMs = 0; // server clock minus this browser's, from the Date header

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  function cookie(name) {
    for (const part of document.cookie.split(";")) {
      const [k, ...v] = part.trim().split("=");
      if (k === name) return decodeURIComponent(v.join("="));
    }
    return "";
  }

  // One path segment (a job id, a name): "periodic:n:*/5 * * * * *:170" -> "periodic%3An%3A*%2F5%20...".
  const seg = (s) => encodeURIComponent(String(s));

  /* A number JavaScript cannot hold exactly (12345678901234567890, a Python int) keeps its text
     where the browser supports it, so args show what the job holds. */
  const rawJSON = typeof JSON.rawJSON === "function" ? JSON.rawJSON : null;
  function keepNumbers(key, value, context) {
    if (rawJSON && typeof value === "number" && context && context.source !== String(value)) return rawJSON(context.source);
    return value;
  }

  async function api(path, { method = "GET", body: payload } = {}) {
    const headers = { Accept: "application/json" };
    if (method !== "GET") {
      const token = cookie("_xsrf");
      if (token) headers["X-XSRFToken"] = token;
    }
    const init = { method, headers, credentials: "same-origin", cache: "no-store" };
    if (payload !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(payload);
    } else if (method !== "GET") {
      init.body = "";
    }
    let resp;
    try {
      resp = await fetch(prefix + path, init);
    } catch (err) {
      throw new ApiError(0, "the dashboard server does not answer");
    }
    const date = Date.parse(resp.headers.get("Date") || "");
    if (!Number.isNaN(date)) {
      const skew = date + 500 - Date.now(); // the header has whole seconds
      skewMs = Math.abs(skew) > 2000 ? skew : 0;
    }
    const text = await resp.text();
    let data = null;
    try {
      data = text ? JSON.parse(text, keepNumbers) : null;
    } catch (err) {
      data = null;
    }
    if (!resp.ok) {
      const message = data && typeof data.error === "string" ? data.error : `${resp.status} ${resp.statusText}`;
      throw new ApiError(resp.status, message);
    }
    return data;
  }

  /* -- DOM: every value goes in as text ---------------------------------------------------------- */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k === "dataset") Object.assign(node.dataset, v);
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : String(v));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function badge(text, kind) {
    return el("span", { class: "badge" + (kind ? " badge-" + kind : ""), text });
  }

  /* A number as JavaScript holds it, also when the parser kept its text (1795837277.0 from Python). */
  function num(v) {
    if (v === null || v === undefined) return v;
    return rawJSON && JSON.isRawJSON(v) ? Number(JSON.stringify(v)) : Number(v);
  }

  /* A Celery state (Flower's task states) as a badge coloured by what it means. */
  const STATE_KIND = { SUCCESS: "ok", FAILURE: "bad", RETRY: "warn", REVOKED: "muted", STARTED: "info", RECEIVED: "info" };
  function stateBadge(state) {
    return badge(state || "UNKNOWN", STATE_KIND[state] || "");
  }

  function oneLine(v) {
    if (Array.isArray(v)) return "[" + v.map(oneLine).join(", ") + "]";
    if (rawJSON && JSON.isRawJSON(v)) return JSON.stringify(v);
    if (v && typeof v === "object") return "{" + Object.entries(v).map(([k, x]) => JSON.stringify(k) + ": " + oneLine(x)).join(", ") + "}";
    return JSON.stringify(v);
  }

  /* Args as indented JSON in a <pre>, as text. A string that is not JSON is shown as it is. */
  function jsonBlock(value, { raw = false } = {}) {
    let text;
    if (raw) {
      try {
        text = JSON.stringify(JSON.parse(value, keepNumbers), null, 2);
      } catch (err) {
        text = String(value);
      }
    } else {
      text = value === undefined ? "" : JSON.stringify(value, null, 2);
    }
    // A short document reads best on one line: {"k": 1, "s": "x"}
    if (text.length <= 200) {
      try {
        const one = oneLine(JSON.parse(text, keepNumbers));
        if (one.length <= 60) text = one;
      } catch (err) {
        /* not JSON: shown as it is */
      }
    }
    const pre = el("pre", { class: "json", text, title: "Click to expand" });
    pre.addEventListener("click", () => pre.classList.toggle("expanded"));
    return pre;
  }

  /* A job id, linked to its task page (which finds the job wherever it is). */
  function idCell(id) {
    if (!id) return el("span", { class: "id id-empty", text: "(no id)" });
    return el("a", { class: "id", href: `${prefix}/task/${seg(id)}`, text: id, title: "Everything about this job" });
  }

  /* Replace a tbody's rows with rows built from items; a row whose item did not change is kept. */
  function syncRows(tbody, items, keyOf, build) {
    // each cell carries its column's name, shown beside it when narrow screens stack the rows
    const head = tbody.closest("table").tHead;
    const labels = head ? Array.from(head.rows[0].cells, (th) => th.textContent.trim()) : [];
    const old = new Map();
    for (const tr of Array.from(tbody.rows)) old.set(tr.dataset.key, tr);
    const rows = items.map((item, i) => {
      const key = String(keyOf(item, i));
      const sig = JSON.stringify(item);
      const prev = old.get(key);
      if (prev && prev.dataset.sig === sig && !prev.dataset.stale) return prev;
      const tr = build(item);
      Array.from(tr.cells).forEach((td, i) => {
        if (labels[i]) td.dataset.label = labels[i];
      });
      tr.dataset.key = key;
      tr.dataset.sig = sig;
      return tr;
    });
    tbody.replaceChildren(...rows);
  }

  /* -- time -------------------------------------------------------------------------------------- */
  const now = () => Math.floor((Date.now() + skewMs) / 1000);

  function span(seconds) {
    const s = Math.max(0, Math.round(seconds));
    if (s < 60) return `${s} s`;
    if (s < 3600) return `${Math.floor(s / 60)} min${s % 60 && s < 600 ? " " + (s % 60) + " s" : ""}`;
    if (s < 86400) return `${Math.floor(s / 3600)} h${Math.floor((s % 3600) / 60) ? " " + Math.floor((s % 3600) / 60) + " min" : ""}`;
    return `${Math.floor(s / 86400)} d${Math.floor((s % 86400) / 3600) ? " " + Math.floor((s % 86400) / 3600) + " h" : ""}`;
  }

  /* A run time: milliseconds under a minute when the pool recorded them (2.345 s), else span's. */
  function runtime(seconds) {
    const s = Number(seconds);
    if (!Number.isFinite(s)) return "–";
    if (s < 1) return `${Math.round(s * 1000)} ms`;
    if (s < 60 && !Number.isInteger(s)) return `${s.toFixed(3)} s`;
    return span(s);
  }

  function relative(ts) {
    if (!ts) return "never";
    const d = ts - now();
    if (Math.abs(d) < 2) return "now";
    return d > 0 ? `in ${span(d)}` : `${span(-d)} ago`;
  }

  function absolute(ts) {
    if (!ts) return "";
    return new Date(ts * 1000).toLocaleString(undefined, {
      year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit",
    });
  }

  /* A relative time ("3 min ago") that every refresh brings up to date; since=true shows a duration. */
  function relSpan(ts, { since = false } = {}) {
    return el("span", { class: "rel", "data-ts": ts, "data-since": since ? "1" : null, text: since ? span(now() - ts) : relative(ts) });
  }

  function retime() {
    for (const node of document.querySelectorAll(".rel[data-ts]")) {
      const ts = Number(node.dataset.ts);
      node.textContent = node.dataset.since ? span(now() - ts) : relative(ts);
    }
  }

  function timeCell(ts) {
    return el("td", { class: "time", title: ts ? new Date(ts * 1000).toISOString() : "" },
      el("div", {}, relSpan(ts), el("span", { class: "time-sub", text: absolute(ts) })));
  }

  const fmt = (n) => Number(n || 0).toLocaleString("en-US");

  /* -- banner, toasts, "updated" ----------------------------------------------------------------- */
  const banner = document.getElementById("banner");

  function showProblem(err) {
    let text;
    if (err.status === 503) text = `Redis is unreachable: ${err.message}. The page shows the last data it read and retries every ${refreshMs / 1000} s.`;
    else if (err.status === 0) text = `The dashboard server does not answer. Retrying every ${refreshMs / 1000} s.`;
    else if (err.status === 401) text = "Your login is no longer valid: reload the page to sign in again.";
    else text = `The data could not be read: ${err.message}`;
    banner.textContent = text;
    banner.hidden = false;
  }

  function clearProblem() {
    banner.hidden = true;
    banner.textContent = "";
  }

  function notify(text, kind) {
    const box = document.getElementById("toasts");
    const t = el("div", { class: "toast" + (kind ? " toast-" + kind : ""), role: "status", text });
    box.append(t);
    setTimeout(() => t.remove(), kind ? 9000 : 5000);
  }

  /* What a failed action tells the user; 409 means the entry moved before the click. */
  function actionFailed(err, what) {
    if (err.status === 409) {
      notify(`Nothing was changed: ${what} is no longer there (it ran, was retried or deleted meanwhile).`, "warn");
    } else if (err.status === 403) {
      notify("Nothing was changed: this dashboard is read-only.", "warn");
    } else if (err.status === 503 || err.status === 0) {
      showProblem(err);
      notify("Nothing was changed: Redis is unreachable.", "bad");
    } else {
      notify(`Nothing was changed: ${err.message}`, "bad");
    }
  }

  /* -- confirmation dialog ----------------------------------------------------------------------- */
  function confirmAction({ title, message, ok = "OK", danger = false, input = null }) {
    const dialog = document.getElementById("confirm-dialog");
    document.getElementById("confirm-title").textContent = title;
    document.getElementById("confirm-message").textContent = message;
    const okButton = document.getElementById("confirm-ok");
    okButton.textContent = ok;
    okButton.className = "btn " + (danger ? "btn-danger" : "btn-primary");
    const field = document.getElementById("confirm-field");
    const box = document.getElementById("confirm-input");
    field.hidden = !input;
    if (input) {
      document.getElementById("confirm-label").textContent = input.label;
      box.value = input.value;
    }
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => {
        const yes = dialog.returnValue === "ok";
        resolve(input ? (yes ? box.value : null) : yes);
      }, { once: true });
      dialog.returnValue = "";
      dialog.showModal();
      (input ? box : okButton).focus();
    });
  }

  /* -- pager ------------------------------------------------------------------------------------- */
  const PAGE_SIZE = 20;

  function pageHref(n) {
    const q = new URLSearchParams(location.search);
    q.set("page", String(n));
    return "?" + q.toString();
  }

  function pager(container, page, total) {
    const last = Math.max(1, Math.ceil(total / PAGE_SIZE));
    container.replaceChildren();
    if (last <= 1) return;
    const add = (n, label) => {
      if (n === page) container.append(el("span", { class: "current", "aria-current": "page", text: label || n }));
      else container.append(el("a", { href: pageHref(n), text: label || n, "data-page": n }));
    };
    if (page > 1) add(Math.min(page - 1, last), "‹ Prev");
    const shown = new Set([1, last, page - 1, page, page + 1].filter((n) => n >= 1 && n <= last));
    let prev = 0;
    for (const n of [...shown].sort((a, b) => a - b)) {
      if (n - prev > 1) container.append(el("span", { class: "gap", text: "…" }));
      add(n);
      prev = n;
    }
    if (page < last) add(page + 1, "Next ›");
  }

  /* "Showing 21–40 of 57", or a note when the page is past the end. Returns false past the end. */
  function countLine(node, page, shownCount, total, noun, one) {
    node.replaceChildren();
    const last = Math.max(1, Math.ceil(total / PAGE_SIZE));
    if (total > 0 && page > last) {
      node.append(el("span", { class: "past-end" },
        `Page ${page} is past the end: there ${last === 1 ? "is 1 page" : `are ${last} pages`} of ${noun}. `,
        el("a", { href: pageHref(last), text: "Go to the last page" })));
      return false;
    }
    if (total === 0) {
      node.append(`No ${noun}`);
      return true;
    }
    if (total <= PAGE_SIZE) {
      node.append(el("b", { text: fmt(total) }), ` ${total === 1 && one ? one : noun}`);
      return true;
    }
    const first = (page - 1) * PAGE_SIZE + 1;
    node.append(el("b", { text: `${fmt(first)}–${fmt(first + shownCount - 1)}` }), ` of ${fmt(total)} ${noun}`);
    return true;
  }

  /* -- live refresh ------------------------------------------------------------------------------ */
  const refreshers = [];
  let running = false;
  let timer = null;
  const liveToggle = document.getElementById("live-toggle");
  const updated = document.getElementById("updated");

  async function refreshNavCounts() {
    const d = await api("/api/dashboard");
    for (const name of ["scheduled", "retry", "dead"]) {
      const node = document.querySelector(`[data-nav-count="${name}"]`);
      if (!node) continue;
      const n = d[name].count;
      node.textContent = n ? fmt(n) : "";
      node.classList.toggle("has-bad", name === "dead" && n > 0);
    }
    return d;
  }

  async function refresh() {
    if (running) return;
    running = true;
    try {
      const results = await Promise.allSettled([refreshNavCounts(), ...refreshers.map((fn) => fn())]);
      const failed = results.find((r) => r.status === "rejected");
      if (failed) {
        if (!(failed.reason instanceof ApiError)) console.error(failed.reason); // a bug in a page script
        showProblem(failed.reason instanceof ApiError ? failed.reason : new ApiError(-1, String(failed.reason)));
      } else {
        clearProblem();
        retime();
        updated.textContent = new Date().toLocaleTimeString();
        updated.title = "Last read from Redis";
      }
    } finally {
      running = false;
    }
  }

  function schedule() {
    clearInterval(timer);
    timer = null;
    if (liveToggle.checked && !document.hidden) timer = setInterval(refresh, refreshMs);
  }

  function onRefresh(fn) {
    refreshers.push(fn);
  }

  function start() {
    liveToggle.addEventListener("change", () => {
      schedule();
      if (liveToggle.checked) refresh();
    });
    document.addEventListener("visibilitychange", () => {
      schedule();
      if (!document.hidden && liveToggle.checked) refresh();
    });
    refresh();
    schedule();
  }

  /* Fill a <datalist> with the known job names (for name inputs). */
  async function fillJobNames(listId) {
    const list = document.getElementById(listId);
    if (!list) return;
    try {
      const queues = (await api("/api/queues")) || [];
      list.replaceChildren(...queues.map((q) => el("option", { value: q.job_name })));
    } catch (err) {
      /* the refresh loop reports Redis problems */
    }
  }

  function setUrl(params) {
    const q = new URLSearchParams(location.search);
    for (const [k, v] of Object.entries(params)) {
      if (v === null || v === undefined || v === "") q.delete(k);
      else q.set(k, v);
    }
    const s = q.toString();
    history.pushState(null, "", location.pathname + (s ? "?" + s : ""));
  }

  /* On a narrow screen the nav scrolls sideways: bring the current page's entry into view. */
  function showActiveNav() {
    const nav = document.querySelector(".nav");
    const active = nav && nav.querySelector("a.active");
    if (!active || nav.scrollWidth <= nav.clientWidth) return;
    nav.scrollLeft = active.offsetLeft - nav.offsetLeft - (nav.clientWidth - active.offsetWidth) / 2;
  }

  document.addEventListener("DOMContentLoaded", () => {
    showActiveNav();
    setTimeout(start, 0);
  });
  window.addEventListener("resize", showActiveNav);

  return {
    ApiError, api, seg, el, badge, stateBadge, num, jsonBlock, idCell, syncRows, now, span, runtime, relative, absolute, relSpan, timeCell, fmt,
    notify, actionFailed, confirmAction, pager, countLine, onRefresh, refresh, fillJobNames, setUrl,
    showProblem, clearProblem, prefix, readOnly, refreshMs, pageName, PAGE_SIZE,
    pageNumber: Number(body.dataset.pageNumber) || 1,
  };
})();
