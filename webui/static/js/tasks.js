/* Tasks: Flower's tasks table from /api/tasks, filtered by state, name and search text, 20 a page.
   The filters live in the URL (?state=&name=&search=&sort=&page=), so a filtered view can be shared. */
"use strict";

(() => {
  const W = WebUI;
  const { api, seg, el, stateBadge, num, jsonBlock, timeCell, span, fmt, syncRows, onRefresh, setUrl, PAGE_SIZE } = W;
  const form = document.getElementById("tasks-form");
  const fields = { state: "f-state", name: "f-name", search: "f-search", sort: "f-sort" };
  let page = W.pageNumber;

  function current() {
    const q = new URLSearchParams(location.search);
    return Object.fromEntries(Object.keys(fields).map((k) => [k, q.get(k) || ""]));
  }

  function showFilters() {
    const f = current();
    for (const [k, id] of Object.entries(fields)) document.getElementById(id).value = f[k];
    document.getElementById("tasks-clear").hidden = !Object.values(f).some(Boolean);
  }

  const taskHref = (id) => `${W.prefix}/task/${seg(id)}`;
  const workerHref = (name) => `${W.prefix}/worker/${seg(name)}`;

  const textBlock = (text) => (text === null || text === undefined
    ? el("span", { class: "muted", text: "–" })
    : jsonBlock(text, { raw: true }));

  function row(item) {
    const t = { ...item, received: num(item.received), started: num(item.started), runtime: num(item.runtime) };
    return el("tr", { dataset: { jobId: t.uuid, state: t.state } },
      el("td", { class: "job-name" }, W.clamp(t.name || "(unnamed)", { limit: 60 })),
      el("td", {}, el("a", { class: "id", href: taskHref(t.uuid), text: t.uuid })),
      el("td", {}, stateBadge(t.state)),
      el("td", { class: "args" }, textBlock(t.args)),
      el("td", { class: "args" }, textBlock(t.kwargs)),
      el("td", { class: "args" }, t.exception ? W.clamp(t.exception, { limit: 200, cls: "err" }) : textBlock(t.result)),
      t.received ? timeCell(Math.floor(t.received)) : el("td", { class: "muted", text: "–" }),
      t.started ? timeCell(Math.floor(t.started)) : el("td", { class: "muted", text: "–" }),
      el("td", { class: "num", text: t.runtime === null || t.runtime === undefined ? "–" : W.runtime(t.runtime) }),
      el("td", {}, t.worker ? el("a", { class: "id", href: workerHref(t.worker), text: t.worker }) : el("span", { class: "muted", text: "–" })));
  }

  /* Prev / Next: /api/tasks gives no total, so one task more than a page says whether there is a next. */
  function pager(container, more) {
    container.replaceChildren();
    const href = (n) => {
      const q = new URLSearchParams(location.search);
      q.set("page", String(n));
      return "?" + q.toString();
    };
    if (page > 1) container.append(el("a", { href: href(page - 1), text: "‹ Prev" }));
    if (page > 1 || more) container.append(el("span", { class: "current", "aria-current": "page", text: page }));
    if (more) container.append(el("a", { href: href(page + 1), text: "Next ›" }));
  }

  async function load() {
    const f = current();
    page = Math.max(1, Math.floor(Number(new URLSearchParams(location.search).get("page"))) || 1);
    const q = new URLSearchParams({ limit: String(PAGE_SIZE + 1), offset: String((page - 1) * PAGE_SIZE) });
    if (f.state) q.set("state", f.state);
    if (f.name) q.set("taskname", f.name);
    if (f.search) q.set("search", f.search);
    if (f.sort) q.set("sort_by", f.sort);
    const data = await api(`/api/tasks?${q}`);
    const all = Object.values(data || {});
    const more = all.length > PAGE_SIZE;
    const tasks = all.slice(0, PAGE_SIZE);
    const line = document.getElementById("count-line");
    const first = (page - 1) * PAGE_SIZE + 1;
    line.replaceChildren();
    if (tasks.length) {
      const shown = page === 1 && !more ? fmt(tasks.length) : `${fmt(first)}–${fmt(first + tasks.length - 1)}`;
      line.append(el("b", { text: shown }), tasks.length === 1 && page === 1 && !more ? " task" : " tasks");
    } else {
      line.append(page > 1 ? `No tasks on page ${page}` : "No tasks");
    }
    pager(document.getElementById("pager-top"), more);
    pager(document.getElementById("pager-bottom"), more);
    const empty = document.getElementById("tasks-empty");
    empty.hidden = tasks.length > 0;
    empty.textContent = Object.values(f).some(Boolean) ? "No task matches these filters." : "No tasks in this namespace.";
    syncRows(document.querySelector("#tasks-table tbody"), tasks, (t) => t.uuid, row);
  }

  async function fillNames() {
    try {
      const types = (await api("/api/task/types"))["task-types"] || [];
      document.getElementById("task-names").replaceChildren(...types.map((n) => el("option", { value: n })));
    } catch (err) {
      /* the refresh loop reports Redis problems */
    }
  }

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const values = Object.fromEntries(Object.entries(fields).map(([k, id]) => [k, document.getElementById(id).value.trim()]));
    setUrl({ ...values, page: null });
    showFilters();
    W.refresh();
  });
  document.getElementById("f-state").addEventListener("change", () => form.requestSubmit());
  document.getElementById("f-sort").addEventListener("change", () => form.requestSubmit());
  document.getElementById("tasks-clear").addEventListener("click", () => {
    setUrl({ state: null, name: null, search: null, sort: null, page: null });
    showFilters();
    W.refresh();
  });
  window.addEventListener("popstate", () => {
    showFilters();
    W.refresh();
  });

  // the sortable columns set the same "sort" as the Order menu (Flower's sort_by)
  const markSort = W.sortable(document.getElementById("tasks-table"), (key, descending) => {
    document.getElementById("f-sort").value = (descending ? "-" : "") + key;
    form.requestSubmit();
  });
  const showSort = () => {
    const sort = current().sort;
    markSort(sort.replace(/^-/, ""), sort.startsWith("-"));
  };
  window.addEventListener("popstate", showSort);
  form.addEventListener("submit", () => setTimeout(showSort, 0));

  showFilters();
  showSort();
  fillNames();
  onRefresh(load);
})();
