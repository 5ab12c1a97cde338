// The OpenPartner partner portal: one HTML shell for every page; this script shows the page
// the address names and fills it from the JSON API with the partner's session cookie. Every
// change carries the session's CSRF token. Text from the server is always set as text, never
// as HTML. Charts come from chart.js (the console's), each with a table of the same figures.
"use strict";

let me = null;
let programs = [];

onSignedOut = showSignin;
whenEmpty = "—";

const day = OpCharts.day;

function programName(id) {
  const p = programs.find((x) => x.id === id);
  return p ? p.name : id;
}

// ---- pages ----

const PAGES = ["home", "links", "programs", "commissions", "payouts", "network", "profile"];

function currentPage() {
  const name = location.pathname.replace(/^\/portal\/?/, "").replace(/\/$/, "") || "home";
  return PAGES.includes(name) ? name : "home";
}

function showOnly(id) {
  for (const node of document.querySelectorAll("main > section, main > div")) node.classList.add("hidden");
  if (id) $(id).classList.remove("hidden");
  say($("page-status"), "");
}

function showSignin() {
  $("nav").classList.add("hidden");
  $("who").textContent = "";
  showOnly("page-signin");
  document.title = "Sign in · Partner portal";
}

async function start() {
  let who;
  try {
    who = await api("GET", "/auth/whoami");
  } catch (e) {
    // Signed out: api() has shown the sign-in page.
    if (!(e instanceof SignedOut)) say($("page-status"), "Could not load the portal: " + e.message, "error");
    return;
  }
  if (who.role !== "partner") {
    say($("page-status"), "This portal is for partners. Admins use the console at /admin.", "error");
    return;
  }
  me = who.partner;
  // A revoked partner sees why, and nothing else.
  if (me.status === "revoked") {
    $("revoked-reason").textContent = me.revokeReason || "No reason was given.";
    showOnly("page-revoked");
    return;
  }
  // These three may fail without ending the page (a 401 here can be the Network's, passed
  // on): they never send the partner to sign in.
  try {
    csrf = (await api("GET", "/auth/session", undefined, { allow401: true })).csrfToken;
  } catch (_) { csrf = null; }
  $("who").textContent = me.name;
  $("nav").classList.remove("hidden");
  const page = currentPage();
  for (const a of document.querySelectorAll("#nav a")) {
    const target = a.getAttribute("href").replace(/^\/portal\/?/, "") || "home";
    if (target === page) a.setAttribute("aria-current", "page");
  }
  try { programs = (await api("GET", "/me/programs", undefined, { allow401: true })).programs; } catch (_) { programs = []; }
  // The Network tab shows only while the brand is connected.
  let networkOn = false;
  try { await api("GET", "/network/me/profile", undefined, { allow401: true }); networkOn = true; } catch (e) { networkOn = e.code !== "network_not_configured"; }
  $("nav-network").classList.toggle("hidden", !networkOn);
  showOnly("page-" + page);
  document.title = page[0].toUpperCase() + page.slice(1) + " · Partner portal";
  try {
    await LOADERS[page]({ networkOn });
  } catch (e) {
    if (!(e instanceof SignedOut)) say($("page-status"), "Failed: " + e.message, "error");
  }
}

// ---- home ----

async function homePage() {
  const [balance, dash, setup] = await Promise.all([
    api("GET", `/partners/${me.id}/balance`),
    api("GET", `/partners/${me.id}/dashboard?since=1970-01-01T00:00:00Z`),
    api("GET", "/me/payout-setup"),
  ]);
  const currencies = new Set(balance.balances.map((b) => b.currency));
  for (const c of Object.keys(dash.byCurrency || {})) currencies.add(c);
  const rows = [...currencies].sort().map((c) => {
    const b = balance.balances.find((x) => x.currency === c) || {};
    const paid = dash.byCurrency && dash.byCurrency[c] ? String(dash.byCurrency[c].commissionByStatus.paid) : "0";
    return el("tr", {}, el("th", { scope: "row", text: c }), el("td", { text: b.accrued || "0" }),
      el("td", { text: b.approved || "0" }), el("td", { text: b.inPayout || "0" }), el("td", { text: paid }));
  });
  $("earnings-body").replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: "5", text: "No earnings yet." }))]));
  const method = setup.stripeEnabled
    ? (setup.stripePayoutsEnabled ? "Stripe: ready" : "Not set up: connect Stripe on the Payouts page")
    : "Manual payouts to " + setup.payoutEmail;
  setDl($("payout-info"), [
    ["Schedule", setup.schedule],
    ["Next scheduled payout", setup.nextRunAt ? when(setup.nextRunAt)
      : setup.schedule === "manual" ? "Payouts are run by hand" : "None in the next two months"],
    ["Minimums", Object.entries(setup.minimumAmounts || {}).map(([c, v]) => v + " " + c).join(", ") || "None"],
    ["Payout method", method],
  ]);
  for (const b of document.querySelectorAll("[data-range]")) {
    b.addEventListener("click", () => loadChart(Number(b.dataset.range)));
  }
  await loadChart(30);
}

async function loadChart(days) {
  for (const b of document.querySelectorAll("[data-range]")) b.setAttribute("aria-pressed", String(Number(b.dataset.range) === days));
  const until = new Date();
  const since = new Date(until.getTime() - days * 86400000);
  const interval = days > 100 ? "month" : "day";
  say($("chart-status"), "Loading…", "busy");
  let series;
  try {
    series = await api("GET", `/partners/${me.id}/timeseries?since=${since.toISOString()}&until=${until.toISOString()}&interval=${interval}`);
  } catch (e) {
    say($("chart-status"), "Failed: " + e.message, "error");
    return;
  }
  say($("chart-status"), "");
  OpCharts.series($("charts"), $("chart-table"), series.buckets, days > 100 ? "12 months, per month" : `${days} days, per day`);
}

// ---- links ----

async function linksPage() {
  const select = $("link-program");
  select.replaceChildren(...programs.map((p) => el("option", { value: p.id, text: p.name })));
  $("link-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const program = programs.find((p) => p.id === select.value);
    const body = { linkKey: $("link-key").value.trim(), programId: select.value };
    const path = $("link-path").value.trim();
    if (path && program) {
      try {
        body.destinationUrl = new URL(path.startsWith("/") ? path : "/" + path, program.destinationUrl).href;
      } catch (_) {
        say($("link-status"), "That path is not valid.", "error");
        return;
      }
    }
    const made = await run($("link-button"), $("link-status"), "Creating…", async () => {
      try {
        return await api("POST", `/partners/${me.id}/links`, body);
      } catch (e) {
        if (e.code === "linkKey_taken") e.message = "That key is already taken: choose another one.";
        if (e.code === "destination_override_not_allowed") e.message = "The deep link must stay on the program's own site (" + (program ? program.destinationUrl : "") + ").";
        if (e.code === "campaign_not_granted") e.message = "You are not in that program.";
        throw e;
      }
    });
    if (made) {
      say($("link-status"), "Created " + made.shareUrl, "ok");
      $("link-key").value = "";
      $("link-path").value = "";
      await loadLinks();
    }
  });
  await loadLinks();
}

/** "120.00 USD · 15.50 EUR": each currency on its own, never added together. */
function perCurrency(amounts) {
  const parts = Object.entries(amounts || {}).map(([c, v]) => v + " " + c);
  return parts.length ? parts.join(" · ") : "0";
}

function plural(n, one, many) {
  return n + " " + (n === 1 ? one : many);
}

async function loadLinks() {
  const list = await api("GET", `/partners/${me.id}/links`);
  const cards = list.links.map((l) => {
    const copy = el("button", { type: "button", class: "secondary", text: "Copy link" });
    copy.addEventListener("click", () => copyText(l.shareUrl));
    return el("div", { class: "card link-card", "data-key": l.linkKey },
      el("div", {},
        el("h3", { text: l.linkKey }),
        el("p", { class: "share", text: l.shareUrl }),
        el("p", { class: "muted", text: programName(l.programId) + " → " + l.destinationUrl }),
        el("p", { class: "figures-line" },
          el("span", { "data-figure": "clicks", text: plural(l.clicks, "click", "clicks") }),
          el("span", { "data-figure": "conversions", text: plural(l.conversions, "conversion", "conversions") }),
          el("span", { "data-figure": "revenue", text: "Revenue " + perCurrency(l.revenue) })),
        el("div", { class: "row" }, copy)),
      el("img", { src: "/portal/qr/" + encodeURIComponent(l.linkKey), alt: "QR code for " + l.shareUrl, width: "120", height: "120" }));
  });
  $("links-list").replaceChildren(...(cards.length ? cards : [el("p", { text: "No links yet: create one above." })]));
}

async function copyText(text) {
  let ok = false;
  try {
    await navigator.clipboard.writeText(text);
    ok = true;
  } catch (_) {
    // Older browsers, or no clipboard permission: copy through a selected field.
    const field = el("textarea", { readonly: true, "aria-hidden": "true" });
    field.value = text;
    document.body.append(field);
    field.select();
    try { ok = document.execCommand("copy"); } catch (_) { ok = false; }
    field.remove();
  }
  say($("copy-status"), ok ? "Copied " + text : "Could not copy: select the link and copy it by hand.", ok ? "ok" : "error");
}

// ---- programs ----

async function programsPage() {
  const cards = programs.map((p) => el("section", { class: "card" },
    el("h2", { text: p.name }),
    el("p", { class: "terms", text: p.terms.charAt(0).toUpperCase() + p.terms.slice(1) + "." }),
    el("p", { class: "muted", text: `Links go to ${p.destinationUrl}; sales count for ${p.attributionWindowDays} days after a click.` })));
  $("programs-list").replaceChildren(...(cards.length ? cards : [el("p", { text: "You are not in any program yet." })]));
}

// ---- commissions ----

let commissionCursor = null;

async function commissionsPage() {
  $("commission-status").addEventListener("change", () => loadCommissions(false));
  $("commissions-more").addEventListener("click", () => loadCommissions(true));
  await loadCommissions(false);
}

async function loadCommissions(more) {
  const status = $("commission-status").value;
  const q = new URLSearchParams({ limit: "50" });
  if (status) q.set("status", status);
  if (more && commissionCursor) q.set("cursor", commissionCursor);
  say($("commissions-status"), "Loading…", "busy");
  let page;
  try {
    page = await api("GET", `/partners/${me.id}/commissions?${q}`);
  } catch (e) {
    say($("commissions-status"), "Failed: " + e.message, "error");
    return;
  }
  const rows = page.commissions.map((c) => el("tr", {},
    el("td", { "data-label": "Program", text: programName(c.programId) }),
    el("td", { "data-label": "Amount", text: c.amount + " " + c.currency }),
    el("td", { "data-label": "Status", text: c.status }), el("td", { "data-label": "Matures", text: day(c.matureAt) }),
    saleCell(c.sale)));
  if (more) $("commissions-body").append(...rows);
  else $("commissions-body").replaceChildren(...rows);
  commissionCursor = page.nextCursor || null;
  $("commissions-more").classList.toggle("hidden", !commissionCursor);
  say($("commissions-status"), $("commissions-body").children.length ? "" : "No commissions" + (status ? " with status " + status : "") + ".");
}

/** The sale a commission came from: its amount, date and the brand's order reference. */
function saleCell(sale) {
  if (!sale) return el("td", { "data-label": "Sale", text: "—" });
  const what = sale.type === "sale" ? "" : sale.type + ": ";
  return el("td", { "data-label": "Sale" }, el("div", {},
    el("div", { text: what + sale.amount + " " + sale.currency + " on " + day(sale.at) }),
    el("div", { class: "muted", text: "Order " + sale.reference })));
}

// ---- payouts ----

async function payoutsPage() {
  const params = new URLSearchParams(location.search);
  const setup = await api("GET", "/me/payout-setup");
  const btn = $("connect-button");
  if (setup.stripeEnabled) {
    let status = { payoutsEnabled: setup.stripePayoutsEnabled, detailsSubmitted: setup.stripeDetailsSubmitted, accountId: setup.stripeAccountId };
    if (params.get("stripe") === "return" || setup.stripeAccountId) {
      try { status = await api("GET", `/partners/${me.id}/connect/status`); } catch (_) { /* keep what we had */ }
    }
    if (params.get("stripe") === "refresh") {
      await connect();
      return;
    }
    $("method-text").textContent = status.payoutsEnabled
      ? "Stripe is connected: payouts go to your Stripe account."
      : status.detailsSubmitted
        ? "Stripe is reviewing your details; payouts start once Stripe enables them."
        : status.accountId ? "Stripe onboarding is not finished yet." : "Connect a Stripe account to receive payouts.";
    if (params.get("stripe") === "return") say($("method-status"), "Back from Stripe. " + (status.payoutsEnabled ? "All set." : "Stripe has not enabled payouts yet."), status.payoutsEnabled ? "ok" : "");
    btn.textContent = status.accountId ? "Continue Stripe onboarding" : "Connect with Stripe";
    btn.classList.toggle("hidden", status.payoutsEnabled);
    btn.addEventListener("click", connect);
  } else {
    $("method-text").textContent = "Payouts are made by hand to your payout email: " + setup.payoutEmail + ".";
  }
  const list = await api("GET", `/partners/${me.id}/payouts`);
  const rows = (list.payouts || []).map((p) => el("tr", {},
    el("td", { text: day(p.createdAt) }), el("td", { text: p.amount + " " + p.currency }),
    el("td", { text: p.status }), el("td", { text: p.paidAt ? day(p.paidAt) : "—" })));
  $("payouts-body").replaceChildren(...rows);
  say($("payouts-status"), rows.length ? "" : "No payouts yet.");
}

async function connect() {
  const base = location.origin + "/portal/payouts";
  const link = await run($("connect-button"), $("method-status"), "Opening Stripe…", () =>
    api("POST", `/partners/${me.id}/connect/start`, { returnUrl: base + "?stripe=return", refreshUrl: base + "?stripe=refresh" }));
  if (link) location.href = link.url;
}

// ---- network ----

async function networkPage({ networkOn }) {
  if (!networkOn) {
    say($("network-status"), "This program is not connected to the OpenPartner Network.");
    return;
  }
  $("network-body").classList.remove("hidden");
  $("discover-form").addEventListener("submit", (ev) => { ev.preventDefault(); discover(); });
  $("cprofile-form").addEventListener("submit", saveProfile);
  await Promise.all([discover(), loadAffiliations(), loadRequests(), loadProfile()]);
}

async function discover() {
  const q = new URLSearchParams();
  if ($("discover-q").value.trim()) q.set("q", $("discover-q").value.trim());
  if ($("discover-sort").value) q.set("sort", $("discover-sort").value);
  const found = await run($("discover-button"), $("network-status"), "Searching…", () => api("GET", "/network/discover?" + q));
  if (!found) return;
  say($("network-status"), "");
  const cards = (found.offerings || []).map((o) => {
    const message = el("input", { maxlength: "2000", "aria-label": "Message to " + (o.vendorName || "the brand") });
    const slug = el("input", { maxlength: "100", "aria-label": "Preferred link key" });
    const status = el("p", { class: "status", role: "status", "aria-live": "polite" });
    const apply = el("button", { type: "button", text: "Apply" });
    apply.addEventListener("click", async () => {
      const body = {};
      if (message.value.trim()) body.message = message.value.trim();
      if (slug.value.trim()) body.preferredSlug = slug.value.trim();
      const r = await run(apply, status, "Applying…", () => api("POST", `/network/offerings/${encodeURIComponent(o.id)}/apply`, body));
      if (r) { say(status, "Applied: the brand will review your application.", "ok"); await loadRequests(); }
    });
    return el("div", { class: "card", "data-offering": String(o.id) },
      el("h3", { text: String(o.title || o.id) }),
      el("p", { class: "muted", text: String(o.vendorName || "") }),
      el("p", { text: String(o.description || "") }),
      el("label", {}, "Message (optional)", message),
      el("label", {}, "Preferred link key (optional)", slug),
      el("div", { class: "row" }, apply), status);
  });
  $("offerings").replaceChildren(...(cards.length ? cards : [el("p", { text: "No offerings found." })]));
}

async function loadAffiliations() {
  const a = await api("GET", "/network/me/affiliations");
  const items = (a.affiliations || []).map((x) => el("li", { text: `${x.displayName || x.vendorId} (${x.status || "active"})` }));
  $("affiliations").replaceChildren(...(items.length ? items : [el("li", { text: "None yet." })]));
}

async function loadRequests() {
  const r = await api("GET", "/network/me/requests");
  const rows = (r.requests || []).map((q) => {
    const cell = el("td", {});
    if (q.status === "pending") {
      const b = el("button", { type: "button", class: "danger", text: "Cancel" });
      const st = el("span", { class: "status", role: "status" });
      b.addEventListener("click", async () => {
        const done = await run(b, st, "Cancelling…", () => api("POST", `/network/me/requests/${encodeURIComponent(q.id)}/cancel`, {}));
        if (done) await loadRequests();
      });
      cell.append(b, st);
    }
    return el("tr", {}, el("td", { text: String(q.offeringId) }), el("td", { text: String(q.status) }), el("td", { text: when(q.createdAt) }), cell);
  });
  $("requests-body").replaceChildren(...rows);
}

async function loadProfile() {
  const p = await api("GET", "/network/me/profile");
  $("cp-name").value = p.name || "";
  $("cp-handle").value = p.handle || "";
  $("cp-avatar").value = p.avatarUrl || "";
  $("cp-bio").value = p.bio || "";
}

async function saveProfile(ev) {
  ev.preventDefault();
  const body = { name: $("cp-name").value, handle: $("cp-handle").value, avatarUrl: $("cp-avatar").value, bio: $("cp-bio").value };
  const done = await run($("cp-button"), $("cp-status"), "Saving…", () => api("PATCH", "/network/me/profile", body));
  if (done) say($("cp-status"), "Saved.", "ok");
}

// ---- profile ----

async function profilePage() {
  setDl($("profile-dl"), [["Name", me.name], ["Email", me.email], ["Partner since", when(me.activatedAt || me.createdAt)]]);
  $("signout").addEventListener("click", async () => {
    const done = await run($("signout"), $("signout-status"), "Signing out…", () => api("POST", "/auth/signout", {}));
    if (done) { csrf = null; showSignin(); say($("signin-status"), "Signed out.", "ok"); }
  });
}

const LOADERS = {
  home: homePage, links: linksPage, programs: programsPage, commissions: commissionsPage,
  payouts: payoutsPage, network: networkPage, profile: profilePage,
};

$("signin-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const done = await run($("signin-button"), $("signin-status"), "Sending…", () =>
    api("POST", "/auth/signin", { email: $("signin-email").value.trim() }));
  if (done) say($("signin-status"), "If that address belongs to a partner, a sign-in link is on its way. Check your email.", "ok");
});

start();
