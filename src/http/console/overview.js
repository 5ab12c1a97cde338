// The console's Overview (its home): the period's totals, the program's chart, the top
// partners and links by revenue, and the Network status line. Uses app.js's helpers
// ($, api, say, el, partnerCell) and chart.js.
"use strict";

function moneyText(map) {
  const parts = Object.entries(map || {}).map(([c, v]) => v + " " + c);
  return parts.length ? parts.join(", ") : "0";
}

function figure(label, value) {
  return el("div", { class: "figure" }, el("span", { class: "muted", text: label }), el("span", { class: "value", text: value }));
}

async function overviewPage() {
  for (const b of document.querySelectorAll("[data-days]")) {
    b.addEventListener("click", () => loadOverview(Number(b.dataset.days)));
  }
  api("GET", "/config/network").then((n) => {
    $("network-line").textContent = n.enabled
      ? `Network: connected to ${n.networkHost} as vendor ${n.vendorId}${n.autoEnroll ? ", new partners enrolled automatically" : ""}.`
      : n.pendingVendorId ? "Network: waiting for the emailed verification." : "Network: not connected.";
  }).catch((e) => { $("network-line").textContent = "Network: status unknown (" + e.message + ")."; });
  await loadOverview(30);
}

async function loadOverview(days) {
  for (const b of document.querySelectorAll("[data-days]")) b.setAttribute("aria-pressed", String(Number(b.dataset.days) === days));
  const until = new Date();
  const since = new Date(until.getTime() - days * 86400000);
  const range = `since=${since.toISOString()}&until=${until.toISOString()}`;
  say($("page-status"), "Loading…", "busy");
  let o, series;
  try {
    [o, series] = await Promise.all([api("GET", "/stats/overview?" + range), api("GET", "/stats/timeseries?" + range + "&interval=day")]);
  } catch (e) {
    say($("page-status"), "Failed to load: " + e.message, "error");
    return;
  }
  say($("page-status"), "");
  const c = o.commissions || {};
  $("totals").replaceChildren(
    figure("Clicks", String(o.clicks)),
    figure("Conversions", String(o.conversions)),
    figure("Revenue", moneyText(o.revenue)),
    figure("Commissions accrued", moneyText(c.accrued)),
    figure("Commissions approved", moneyText(c.approved)),
    figure("Commissions paid", moneyText(c.paid)),
    figure("Commissions reversed", moneyText(c.reversed)),
    figure("Payouts due", moneyText(o.payoutsDue)));
  OpCharts.series($("charts"), $("chart-table"), series.buckets, `${days} days, per day`);
  const none = (cols) => el("tr", {}, el("td", { colspan: String(cols), text: "No revenue in this period." }));
  const partners = o.topPartners.map((p) => el("tr", {},
    el("td", {}, el("a", { href: "/admin/partners/" + encodeURIComponent(p.id), text: p.name })),
    el("td", { text: String(p.conversions) }), el("td", { text: p.revenue + " " + p.currency })));
  $("top-partners").replaceChildren(...(partners.length ? partners : [none(3)]));
  const links = o.topLinks.map((l) => el("tr", {},
    el("td", { text: l.linkKey }),
    el("td", {}, el("a", { href: "/admin/partners/" + encodeURIComponent(l.partnerId), text: l.name })),
    el("td", { text: String(l.conversions) }), el("td", { text: l.revenue + " " + l.currency })));
  $("top-links").replaceChildren(...(links.length ? links : [none(4)]));
}
