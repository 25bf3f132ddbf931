/* Schedules: runtime cron schedules with their next run times; add (spec checked), enable, disable, delete. */
"use strict";

(() => {
  const W = WebUI;
  const { api, seg, el, badge, jsonBlock, absolute, relSpan, syncRows, onRefresh, refresh, notify, actionFailed, confirmAction } = W;
  let known = new Set();

  function runs(s) {
    if (s.problem) return el("span", { class: "err", text: s.problem });
    if (!s.enabled) return el("span", { class: "muted", text: "disabled" });
    if (!s.next_runs.length) return el("span", { class: "muted", text: "none" });
    return el("ul", { class: "runs plain" }, s.next_runs.map((t) =>
      el("li", { title: new Date(t * 1000).toISOString() }, (s.approximate ? "≈ " : "") + absolute(t), " ",
        el("span", { class: "time-sub" }, relSpan(t)))));
  }

  async function toggle(s) {
    const action = s.enabled ? "disable" : "enable";
    try {
      await api(`/api/periodic_schedules/${seg(s.name)}/${action}`, { method: "POST" });
      notify(s.enabled ? `Schedule ${s.name} disabled; its instances already scheduled were removed.` : `Schedule ${s.name} enabled.`);
    } catch (err) {
      if (err.status === 404) notify(`Nothing was changed: schedule ${s.name} no longer exists.`, "warn");
      else actionFailed(err, `schedule ${s.name}`);
    }
    refresh();
  }

  async function remove(s) {
    const ok = await confirmAction({
      title: `Delete schedule ${s.name}?`,
      message: `Pools stop enqueuing ${s.job_name} for it, and its instances already scheduled are removed.`,
      ok: "Delete",
      danger: true,
    });
    if (!ok) return;
    try {
      await api(`/api/periodic_schedules/${seg(s.name)}`, { method: "DELETE" });
      notify(`Deleted schedule ${s.name}.`);
    } catch (err) {
      actionFailed(err, `schedule ${s.name}`);
    }
    refresh();
  }

  function row(s) {
    const cells = [
      el("td", { class: "strong", text: s.name }),
      el("td", { text: s.job_name }),
      el("td", {}, el("code", { text: s.spec })),
      el("td", { class: "args" }, s.args ? jsonBlock(s.args) : el("span", { class: "muted", text: "none" })),
      el("td", {}, s.enabled ? badge("enabled", "ok") : badge("disabled", "muted")),
      el("td", {}, runs(s)),
      W.timeCell(s.updated_at),
    ];
    if (!W.readOnly) {
      cells.push(el("td", { class: "actions" },
        el("button", { class: "btn btn-sm", type: "button", text: s.enabled ? "Disable" : "Enable", onclick: () => toggle(s) }),
        el("button", { class: "btn btn-sm btn-danger-outline", type: "button", text: "Delete", onclick: () => remove(s) })));
    }
    return el("tr", { dataset: { name: s.name } }, cells);
  }

  onRefresh(async () => {
    const data = await api("/api/ui/periodic_schedules");
    known = new Set(data.schedules.map((s) => s.name));
    document.getElementById("schedules-empty").hidden = data.schedules.length > 0;
    syncRows(document.querySelector("#schedules-table tbody"), data.schedules, (s) => s.name, row);
  });

  if (W.readOnly) return;

  /* -- the add form: the spec is checked as it is typed, and again by the server on submit ------- */
  const form = document.getElementById("schedule-form");
  const specInput = document.getElementById("s-spec");
  const preview = document.getElementById("spec-preview");
  const errorBox = document.getElementById("schedule-error");
  let previewTimer = null;
  let previewSeq = 0;

  async function previewSpec() {
    const spec = specInput.value.trim();
    const seq = ++previewSeq;
    if (!spec) {
      preview.className = "hint";
      preview.textContent = "Six fields, seconds first: second minute hour day-of-month month day-of-week.";
      return;
    }
    try {
      const r = await api(`/api/ui/cron_preview?spec=${encodeURIComponent(spec)}`);
      if (seq !== previewSeq) return;
      preview.className = "hint ok";
      preview.textContent = (r.approximate ? "Counts from each enqueue run; about: " : "Next runs: ") +
        r.next_runs.slice(0, 3).map((t) => absolute(t)).join(" · ");
    } catch (err) {
      if (seq !== previewSeq) return;
      preview.className = "hint bad";
      preview.textContent = err.status === 400 ? err.message : "The spec cannot be checked now.";
    }
  }

  specInput.addEventListener("input", () => {
    clearTimeout(previewTimer);
    previewTimer = setTimeout(previewSpec, 250);
  });

  function fail(message) {
    errorBox.textContent = message;
    errorBox.hidden = false;
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    errorBox.hidden = true;
    const name = document.getElementById("s-name").value.trim();
    const argsText = document.getElementById("s-args").value.trim();
    let args = null;
    if (argsText) {
      try {
        args = JSON.parse(argsText);
      } catch (err) {
        return fail(`Args are not valid JSON: ${err.message}`);
      }
      if (args === null || typeof args !== "object" || Array.isArray(args)) return fail("Args must be a JSON object, such as {\"kind\": \"daily\"}.");
    }
    if (known.has(name)) {
      const ok = await confirmAction({ title: `Replace schedule ${name}?`, message: "A schedule of that name exists; adding this one replaces it.", ok: "Replace" });
      if (!ok) return;
    }
    const body = {
      name,
      job_name: document.getElementById("s-job").value.trim(),
      spec: specInput.value.trim(),
      enabled: document.getElementById("s-enabled").checked,
    };
    if (args && Object.keys(args).length) body.args = args;
    try {
      await api("/api/periodic_schedules", { method: "POST", body });
    } catch (err) {
      if (err.status === 400) return fail(`Refused: ${err.message}`);
      if (err.status === 403) return fail("Refused: this dashboard is read-only.");
      return fail(`Not added: ${err.message}`);
    }
    notify(`Schedule ${name} saved.`);
    form.reset();
    previewSpec();
    refresh();
  });

  W.fillJobNames("job-names");
})();
