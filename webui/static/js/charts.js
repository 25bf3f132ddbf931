/* Small SVG charts drawn by hand: time-bucketed bars (stacked), a line over time, horizontal bars.
   Labels are SVG text nodes (textContent), so a job name is never read as markup. */
"use strict";

WebUI.charts = (() => {
  const NS = "http://www.w3.org/2000/svg";
  const M = { top: 10, right: 10, bottom: 22, left: 40 };

  function svgEl(tag, attrs, text) {
    const node = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  /* A round upper bound and its tick step for values up to max. */
  function niceScale(max, ticks = 4) {
    if (!(max > 0)) return { top: ticks, step: 1 };
    const raw = max / ticks;
    const mag = 10 ** Math.floor(Math.log10(raw));
    const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw && (s >= 1 || mag < 1)) || 10 * mag;
    const whole = Math.max(1, step);
    return { top: Math.ceil(max / whole) * whole, step: whole };
  }

  const hhmm = (ts) => new Date(ts * 1000).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
  const hhmmss = (ts) => new Date(ts * 1000).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  const short = (n) => (n >= 10000 ? (n / 1000).toFixed(0) + "k" : n >= 1000 ? (n / 1000).toFixed(1) + "k" : String(n));

  /* Remember what was drawn so a resize redraws it. */
  function mount(container, draw) {
    container._draw = draw;
    if (!container._observer && window.ResizeObserver) {
      let width = container.clientWidth;
      container._observer = new ResizeObserver(() => {
        if (container.clientWidth !== width) {
          width = container.clientWidth;
          container._draw();
        }
      });
      container._observer.observe(container);
    }
    draw();
  }

  function frame(container) {
    const w = Math.max(container.clientWidth, 200);
    const h = Math.max(container.clientHeight, 120);
    const svg = svgEl("svg", { viewBox: `0 0 ${w} ${h}`, role: "img" });
    return { svg, w, h, iw: w - M.left - M.right, ih: h - M.top - M.bottom };
  }

  function yAxis(g, f, top, step) {
    const grid = svgEl("g", { class: "grid" });
    const axis = svgEl("g", { class: "axis" });
    for (let v = 0; v <= top + 1e-9; v += step) {
      const y = M.top + f.ih - (v / top) * f.ih;
      grid.append(svgEl("line", { x1: M.left, x2: M.left + f.iw, y1: y, y2: y }));
      axis.append(svgEl("text", { x: M.left - 6, y: y + 4, "text-anchor": "end" }, short(v)));
    }
    g.append(grid, axis);
  }

  function empty(container, text) {
    container.replaceChildren();
    const div = document.createElement("div");
    div.className = "chart-empty";
    div.textContent = text;
    container.append(div);
  }

  /* Stacked bars per time bucket. series: [{name, cls, values}], all of one length. */
  function bars(container, { start, step, series, label, emptyText }) {
    mount(container, () => {
      const n = series[0].values.length;
      const totals = Array.from({ length: n }, (_, i) => series.reduce((s, x) => s + x.values[i], 0));
      if (!totals.some((t) => t > 0)) return empty(container, emptyText || "Nothing in this period.");
      const f = frame(container);
      const { top, step: tick } = niceScale(Math.max(...totals));
      yAxis(f.svg, f, top, tick);
      const bw = f.iw / n;
      const g = svgEl("g", { class: "bars" });
      for (let i = 0; i < n; i++) {
        let y = M.top + f.ih;
        const col = svgEl("g", {});
        const parts = [];
        for (const s of series) {
          const v = s.values[i];
          if (!v) continue;
          const hgt = (v / top) * f.ih;
          y -= hgt;
          col.append(svgEl("rect", {
            class: s.cls, x: M.left + i * bw + bw * 0.12, y, width: Math.max(bw * 0.76, 1), height: Math.max(hgt, 0.5),
          }));
          parts.push(`${v} ${s.name}`);
        }
        if (parts.length) {
          col.append(svgEl("title", {}, `${hhmm(start + i * step)}: ${parts.join(", ")}${label ? " " + label : ""}`));
          g.append(col);
        }
      }
      f.svg.append(g);
      timeAxis(f, start, step, n);
      container.replaceChildren(f.svg);
    });
  }

  function timeAxis(f, start, step, n) {
    const axis = svgEl("g", { class: "axis" });
    const bw = f.iw / n;
    const every = n > 40 ? 10 : n > 15 ? 5 : 1;
    for (let i = 0; i < n; i++) {
      const t = start + i * step;
      if (Math.round(t / step) % every !== 0) continue;
      axis.append(svgEl("text", { x: M.left + i * bw + bw / 2, y: f.h - 6, "text-anchor": "middle" }, hhmm(t)));
    }
    axis.append(svgEl("line", { class: "baseline", x1: M.left, x2: M.left + f.iw, y1: M.top + f.ih, y2: M.top + f.ih }));
    f.svg.append(axis);
  }

  /* A line (with a soft area under it) through points [[t, v], ...], t in epoch seconds. One point
     is drawn as a level line, so the chart shows the current value from the first paint. */
  function line(container, { points: given, cls = "", emptyText, label = "" }) {
    mount(container, () => {
      if (!given.length) return empty(container, emptyText || "Collecting samples…");
      const points = given.length > 1 ? given : [[given[0][0] - 1, given[0][1]], given[0]];
      const f = frame(container);
      const t0 = points[0][0];
      const t1 = Math.max(points[points.length - 1][0], t0 + 1);
      const { top, step: tick } = niceScale(Math.max(...points.map((p) => p[1]), 1));
      yAxis(f.svg, f, top, tick);
      const x = (t) => M.left + ((t - t0) / (t1 - t0)) * f.iw;
      const y = (v) => M.top + f.ih - (v / top) * f.ih;
      const d = points.map((p, i) => `${i ? "L" : "M"}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join("");
      const base = M.top + f.ih;
      f.svg.append(svgEl("path", { class: "area " + (cls ? "area-" + cls : ""), d: `${d}L${x(t1)},${base}L${x(t0)},${base}Z` }));
      f.svg.append(svgEl("path", { class: "line " + (cls ? "line-" + cls : ""), d }));
      const lastPoint = points[points.length - 1];
      const dot = svgEl("circle", { class: "dot", cx: x(lastPoint[0]), cy: y(lastPoint[1]), r: 3 });
      dot.append(svgEl("title", {}, `${hhmm(lastPoint[0])}: ${lastPoint[1]} ${label}`));
      f.svg.append(dot);
      const axis = svgEl("g", { class: "axis" });
      const timeText = t1 - t0 < 600 ? hhmmss : hhmm;
      axis.append(svgEl("text", { x: M.left, y: f.h - 6 }, timeText(t0)));
      axis.append(svgEl("text", { x: M.left + f.iw, y: f.h - 6, "text-anchor": "end" }, timeText(t1)));
      axis.append(svgEl("line", { class: "baseline", x1: M.left, x2: M.left + f.iw, y1: base, y2: base }));
      f.svg.append(axis);
      container.replaceChildren(f.svg);
    });
  }

  /* Horizontal bars, largest first: items [{label, value, cls, title}]. Shows up to max rows. */
  function hbars(container, { items, max = 8, emptyText }) {
    mount(container, () => {
      if (!items.length) return empty(container, emptyText || "Nothing to show.");
      const rows = [...items].sort((a, b) => b.value - a.value || a.label.localeCompare(b.label)).slice(0, max);
      const w = Math.max(container.clientWidth, 200);
      const rowH = Math.min(26, Math.max(16, (container.clientHeight - 4) / rows.length));
      const h = rows.length * rowH + 4;
      const svg = svgEl("svg", { viewBox: `0 0 ${w} ${h}`, role: "img" });
      svg.style.height = `${h}px`; // through the DOM: the CSP refuses style attributes
      const labelW = Math.min(170, w * 0.36);
      const valueW = 56;
      const top = Math.max(...rows.map((r) => r.value), 1);
      rows.forEach((r, i) => {
        const y = 2 + i * rowH;
        const g = svgEl("g", {});
        const name = r.label.length > 24 ? r.label.slice(0, 23) + "…" : r.label;
        g.append(svgEl("text", { class: "hbar-label", x: 0, y: y + rowH * 0.68 }, name));
        const bw = ((w - labelW - valueW) * r.value) / top;
        g.append(svgEl("rect", { class: "bar-queue " + (r.cls || ""), x: labelW, y: y + rowH * 0.18, width: Math.max(bw, r.value ? 2 : 0), height: rowH * 0.64, rx: 2 }));
        g.append(svgEl("text", { class: "hbar-value", x: labelW + bw + 6, y: y + rowH * 0.68 }, WebUI.fmt(r.value)));
        g.append(svgEl("title", {}, r.title || `${r.label}: ${r.value}`));
        svg.append(g);
      });
      container.replaceChildren(svg);
      if (items.length > max) {
        const more = document.createElement("div");
        more.className = "chart-more muted";
        more.textContent = `and ${items.length - max} more`;
        container.append(more);
      }
    });
  }

  return { bars, line, hbars, niceScale };
})();
