// Small SVG bar charts for the console and the partner portal, our own code: each chart has
// axis labels (zero and the highest value, the first and last period) and its summary as its
// accessible name; pages show a table of the same figures beside it.
"use strict";

const OpCharts = (() => {
  const NS = "http://www.w3.org/2000/svg";

  function node(tag, attrs, text) {
    const n = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) n.setAttribute(k, v);
    if (text !== undefined) n.textContent = text;
    return n;
  }

  function day(iso) {
    const d = new Date(iso);
    return isNaN(d) ? String(iso) : d.toISOString().slice(0, 10);
  }

  function num(v) {
    return Number.isInteger(v) ? String(v) : v.toFixed(2);
  }

  /** A `<figure>` with a bar chart of `value(bucket)` per bucket (`{start, ...}`). */
  function bars(title, period, buckets, value) {
    const W = 320, H = 160, L = 40, B = 24, T = 8, R = 8;
    const values = buckets.map(value);
    const max = Math.max(0, ...values);
    const total = values.reduce((a, b) => a + b, 0);
    const summary = `${title} over the last ${period}: total ${num(total)}, highest ${num(max)}.`;
    const s = node("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": summary });
    s.append(node("title", {}, summary));
    const plotW = W - L - R, plotH = H - T - B;
    s.append(node("line", { x1: L, y1: T + plotH, x2: W - R, y2: T + plotH, class: "axis" }));
    s.append(node("line", { x1: L, y1: T, x2: L, y2: T + plotH, class: "axis" }));
    s.append(node("text", { x: L - 4, y: T + 8, "text-anchor": "end" }, num(max)));
    s.append(node("text", { x: L - 4, y: T + plotH, "text-anchor": "end" }, "0"));
    const bw = plotW / Math.max(1, values.length);
    values.forEach((v, i) => {
      const h = max > 0 ? (v / max) * plotH : 0;
      if (h > 0) {
        s.append(node("rect", {
          x: (L + i * bw + bw * 0.1).toFixed(2), y: (T + plotH - h).toFixed(2),
          width: Math.max(1, bw * 0.8).toFixed(2), height: h.toFixed(2), class: "bar",
        }));
      }
    });
    if (buckets.length) {
      s.append(node("text", { x: L, y: H - 6, "text-anchor": "start" }, day(buckets[0].start)));
      s.append(node("text", { x: W - R, y: H - 6, "text-anchor": "end" }, day(buckets[buckets.length - 1].start)));
    }
    const fig = document.createElement("figure");
    const cap = document.createElement("figcaption");
    cap.textContent = title;
    fig.append(cap, s);
    return fig;
  }

  /** Clicks, conversions and commission charts of a time series, and its table. */
  function series(chartsEl, tableEl, buckets, period) {
    // One commission chart per currency (never summed across), the busiest first, at most 3.
    const totals = {};
    for (const b of buckets) for (const [c, v] of Object.entries(b.commission)) totals[c] = (totals[c] || 0) + Number(v);
    let currencies = Object.keys(totals).sort((a, b) => totals[b] - totals[a]).slice(0, 3);
    if (!currencies.length) currencies = ["USD"];
    chartsEl.replaceChildren(
      bars("Clicks", period, buckets, (b) => b.clicks),
      bars("Conversions", period, buckets, (b) => b.conversions),
      ...currencies.map((c) => bars(`Commission (${c})`, period, buckets, (b) => Number(b.commission[c] || 0))));
    const cell = (tag, text) => { const c = document.createElement(tag); c.textContent = text; if (tag === "th") c.scope = "col"; return c; };
    const row = (tag, cells) => { const r = document.createElement("tr"); r.append(...cells.map((t) => cell(tag, t))); return r; };
    const money = (m) => Object.entries(m).map(([c, v]) => v + " " + c).join(", ") || "0";
    const head = document.createElement("thead");
    head.append(row("th", ["Period start", "Clicks", "Conversions", "Revenue", "Commission"]));
    const body = document.createElement("tbody");
    body.append(...buckets.map((b) => row("td", [day(b.start), String(b.clicks), String(b.conversions), money(b.revenue), money(b.commission)])));
    tableEl.replaceChildren(head, body);
  }

  return { bars, series, day };
})();
