/* Enqueue: one job through POST /api/enqueue (the fork's EnqueueWithOptions); the answer is the job. */
"use strict";

(() => {
  const W = WebUI;
  const { api, el, jsonBlock, absolute, notify, onRefresh } = W;
  onRefresh(async () => {}); // only the nav counts and the Redis status refresh here
  if (W.readOnly) return;

  const form = document.getElementById("enqueue-form");
  const errorBox = document.getElementById("enqueue-error");
  const result = document.getElementById("enqueue-result");

  function fail(message) {
    errorBox.textContent = message;
    errorBox.hidden = false;
  }

  const whole = (id) => {
    const raw = document.getElementById(id).value.trim();
    return raw === "" ? null : Number(raw);
  };

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    errorBox.hidden = true;
    const jobName = document.getElementById("e-name").value.trim();
    const argsText = document.getElementById("e-args").value.trim();
    const body = { job_name: jobName };
    if (argsText) {
      let args;
      try {
        args = JSON.parse(argsText);
      } catch (err) {
        return fail(`Args are not valid JSON: ${err.message}`);
      }
      if (args === null || typeof args !== "object" || Array.isArray(args)) return fail("Args must be a JSON object, such as {\"address\": \"ada@example.com\"}.");
      body.args = args;
    }
    const delay = whole("e-delay");
    if (delay !== null) {
      if (!Number.isInteger(delay) || delay < 0) return fail("Delay must be a whole number of seconds from 0.");
      if (delay) body.delay = delay;
    }
    const maxRetries = whole("e-max");
    const baseDelay = whole("e-base");
    if (document.querySelector(".retry-options").open || maxRetries !== null || baseDelay !== null) {
      for (const [label, v] of [["Max retries", maxRetries], ["Base delay", baseDelay]]) {
        if (v !== null && (!Number.isInteger(v) || v < 0)) return fail(`${label} must be a whole number from 0.`);
      }
      if (maxRetries !== null || baseDelay !== null) {
        body.retry = { strategy: document.getElementById("e-strategy").value };
        if (maxRetries !== null) body.retry.max_retries = maxRetries;
        if (baseDelay !== null) body.retry.base_delay = baseDelay;
      }
    }
    let job;
    try {
      job = await api("/api/enqueue", { method: "POST", body });
    } catch (err) {
      if (err.status === 403) return fail("Refused: this dashboard is read-only.");
      if (err.status === 503) W.showProblem(err);
      return fail(`Not enqueued: ${err.message}`);
    }
    const where = body.delay ? "scheduled" : "queues";
    notify(`Enqueued ${job.name} ${job.id}.`);
    result.hidden = false;
    result.replaceChildren(
      el("div", { class: "panel-head" },
        el("h2", {}, "Enqueued ", el("span", { class: "id", text: job.id })),
        el("a", { class: "panel-link", href: `${W.prefix}/${where}`, text: body.delay ? "See scheduled jobs" : "See the queues" })),
      el("p", { class: "sub", text: body.delay
        ? `It runs at ${absolute(job.t + body.delay)} on the first pool that takes it.`
        : `Queued at ${absolute(job.t)}; the first free pool that registered ${job.name} takes it.` }),
      jsonBlock(job));
  });

  W.fillJobNames("job-names");
})();
