/* Redis: the server's INFO summary, refreshed live. */
"use strict";

(() => {
  const { api, el, fmt, span, onRefresh } = WebUI;
  const LABELS = [
    ["version", "Version"],
    ["uptime_seconds", "Uptime"],
    ["connected_clients", "Connected clients"],
    ["used_memory", "Memory used (bytes)"],
    ["used_memory_human", "Memory used"],
    ["used_memory_peak_human", "Peak memory"],
    ["total_commands_processed", "Commands processed"],
    ["instantaneous_ops_per_sec", "Operations per second"],
    ["keyspace_hits", "Keyspace hits"],
    ["keyspace_misses", "Keyspace misses"],
    ["db_keys", "Keys (all databases)"],
  ];

  const set = (name, text) => {
    const node = document.querySelector(`[data-info="${name}"]`);
    if (node) node.textContent = text;
  };

  onRefresh(async () => {
    const info = await api("/api/redis_info");
    const lookups = info.keyspace_hits + info.keyspace_misses;
    set("version", info.version || "–");
    set("uptime", `up ${span(info.uptime_seconds)}`);
    set("used_memory_human", info.used_memory_human || "–");
    set("peak", info.used_memory_peak_human ? `peak ${info.used_memory_peak_human}` : "");
    set("connected_clients", fmt(info.connected_clients));
    set("instantaneous_ops_per_sec", fmt(info.instantaneous_ops_per_sec));
    set("db_keys", fmt(info.db_keys));
    set("hit_ratio", lookups ? `${((100 * info.keyspace_hits) / lookups).toFixed(1)} %` : "–");
    set("hits", `${fmt(info.keyspace_hits)} hits, ${fmt(info.keyspace_misses)} misses`);
    const rows = LABELS.map(([key, label]) => {
      const v = info[key];
      const text = key === "uptime_seconds" ? `${span(v)} (${fmt(v)} s)` : typeof v === "number" ? fmt(v) : String(v);
      return el("tr", {}, el("th", { scope: "row", text: label }), el("td", { class: key === "version" ? "mono" : "", text }));
    });
    document.querySelector("#redis-table tbody").replaceChildren(...rows);
  });
})();
