// The OpenPartner admin console: each page is an HTML shell; this script fills it from the
// JSON API. Every action shows progress while it runs and says clearly when it fails.
"use strict";

/** Signed out: to the sign-in page, and back here after it. */
onSignedOut = () => {
  location.href = "/admin/login?next=" + encodeURIComponent(location.pathname + location.search);
};

const partnerNames = new Map();

/** A partner's name and email for tables ("Ada <ada@example.com>"), fetched once per page;
 *  the id itself when the partner cannot be read. */
function partnerLabel(id) {
  if (!partnerNames.has(id)) {
    partnerNames.set(id, api("GET", "/partners/" + encodeURIComponent(id))
      .then((p) => (p.name ? p.name + " <" + p.email + ">" : p.email))
      .catch(() => id));
  }
  return partnerNames.get(id);
}

let programNameCache = null;

/** Program id → name (fetched once per page). */
function programNameMap() {
  if (!programNameCache) {
    programNameCache = api("GET", "/programs")
      .then((r) => new Map(r.programs.map((p) => [p.id, p.name])))
      .catch(() => new Map());
  }
  return programNameCache;
}

function programList(names, ids) {
  return ids.length ? ids.map((id) => names.get(id) || id).join(", ") : "none";
}

/** A table cell that links to the partner's page and shows their name once it is known. */
function partnerCell(id) {
  const a = el("a", { href: "/admin/partners/" + encodeURIComponent(id), text: id });
  partnerLabel(id).then((label) => { a.textContent = label; });
  return el("td", {}, a);
}

// ---- sign-in ----

/** `next` if it is a console page of this very site (path, query and fragment kept); never
 *  another origin, so a crafted sign-in link cannot send the admin off-site. */
function safeNext(raw) {
  if (!raw) return null;
  let url;
  try { url = new URL(raw, location.origin); } catch (_) { return null; }
  if (url.origin !== location.origin) return null;
  if (url.pathname !== "/admin" && !url.pathname.startsWith("/admin/")) return null;
  return url.pathname + url.search + url.hash;
}

async function loginPage() {
  const form = $("signin-form");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const ok = await run($("signin-button"), $("signin-status"), "Signing in…", async () => {
      const r = await api("POST", "/admin/session", { key: $("key").value.trim() }, { allow401: true });
      return r;
    });
    if (ok) {
      say($("signin-status"), "Signed in.", "ok");
      location.href = safeNext(new URLSearchParams(location.search).get("next")) || "/admin/overview";
    }
  });
  $("key").focus();
}

async function startSession() {
  const s = await api("GET", "/admin/session");
  csrf = s.csrfToken;
  const here = location.pathname;
  for (const a of document.querySelectorAll("nav a")) {
    if (here === a.getAttribute("href") || here.startsWith(a.getAttribute("href") + "/")) a.setAttribute("aria-current", "page");
  }
  $("signout").addEventListener("click", async () => {
    await api("POST", "/admin/session/signout").catch(() => {});
    location.href = "/admin/login";
  });
}

// ---- partners ----

async function partnersPage() {
  const cursors = [null];
  let page = 0;
  let email = "";
  const names = await programNameMap();
  $("filter-program").append(...[...names].map(([id, name]) => el("option", { value: id, text: name })));
  const load = async () => {
    const q = new URLSearchParams({ limit: "25" });
    if (email) q.set("email", email);
    if ($("filter-status").value) q.set("status", $("filter-status").value);
    if ($("filter-program").value) q.set("programId", $("filter-program").value);
    if (cursors[page]) q.set("cursor", cursors[page]);
    // The list reports only its own failures, so an action's message stays readable.
    const table = $("partners-body");
    table.setAttribute("aria-busy", "true");
    try {
      const r = await api("GET", "/partners?" + q);
      renderPartners(r.partners, load, names);
      cursors[page + 1] = r.nextCursor;
      $("next-page").disabled = !r.nextCursor;
      $("prev-page").disabled = page === 0;
      // In the table, so an action's message in the status line stays readable.
      if (!r.partners.length) $("partners-body").replaceChildren(el("tr", {}, el("td", { colspan: "6", class: "muted", text: "No partners match." })));
    } catch (e) {
      say($("partners-status"), "Failed to load partners: " + e.message, "error");
    } finally {
      table.removeAttribute("aria-busy");
    }
  };
  $("search-form").addEventListener("submit", (ev) => { ev.preventDefault(); email = $("search-email").value.trim(); page = 0; cursors.length = 1; load(); });
  for (const id of ["filter-status", "filter-program"]) {
    $(id).addEventListener("change", () => { page = 0; cursors.length = 1; load(); });
  }
  $("next-page").addEventListener("click", () => { page += 1; load(); });
  $("prev-page").addEventListener("click", () => { page = Math.max(0, page - 1); load(); });
  $("invite-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const r = await run($("invite-button"), $("invite-status"), "Inviting…", () =>
      api("POST", "/partners", { email: $("invite-email").value.trim(), name: $("invite-name").value.trim() }));
    if (r) {
      say($("invite-status"), "Invited " + r.email + ": a magic link is on its way.", "ok");
      $("invite-form").reset();
      page = 0; cursors.length = 1; load();
    }
  });
  load();
}

function partnerActions(p, statusEl, reload) {
  const out = [];
  if (p.status === "pending_review") {
    out.push(el("button", { type: "button", onclick: async (ev) => {
      const ok = await run(ev.target, statusEl, "Approving…", () => api("POST", "/partners/" + p.id + "/approve"));
      if (ok) { say(statusEl, p.email + " approved.", "ok"); reload(); }
    } }, "Approve"));
  }
  if (p.status === "invited") {
    out.push(el("button", { type: "button", class: "secondary", onclick: async (ev) => {
      const ok = await run(ev.target, statusEl, "Sending…", () => api("POST", "/partners/" + p.id + "/invite"));
      if (ok) say(statusEl, "A new invite was sent to " + p.email + ".", "ok");
    } }, "Resend invite"));
  }
  if (p.revokedAt) {
    out.push(el("button", { type: "button", class: "secondary", onclick: async (ev) => {
      const ok = await run(ev.target, statusEl, "Reinstating…", () => api("POST", "/partners/" + p.id + "/reinstate"));
      if (ok) { say(statusEl, p.email + " reinstated.", "ok"); reload(); }
    } }, "Reinstate"));
  } else {
    const reason = el("input", { type: "text", "aria-label": "Reason for revoking " + p.email, placeholder: "Reason (optional)", maxlength: "500" });
    out.push(reason, el("button", { type: "button", class: "danger", onclick: async (ev) => {
      const ok = await run(ev.target, statusEl, "Revoking…", () => api("POST", "/partners/" + p.id + "/revoke", { reason: reason.value.trim() || undefined }));
      if (ok) { say(statusEl, p.email + " revoked" + (ok.notified ? " and notified." : "."), "ok"); reload(); }
    } }, "Revoke"));
  }
  return out;
}

function renderPartners(partners, reload, names) {
  const body = $("partners-body");
  body.replaceChildren();
  for (const p of partners) {
    body.append(el("tr", {},
      el("td", {}, el("a", { href: "/admin/partners/" + encodeURIComponent(p.id), text: p.name })),
      el("td", { text: p.email }),
      el("td", { text: p.status + (p.revokeReason ? " (" + p.revokeReason + ")" : "") }),
      el("td", { text: programList(names, p.programIds) }),
      el("td", { text: when(p.createdAt) }),
      el("td", {}, el("div", { class: "row" }, ...partnerActions(p, $("partners-status"), reload)))));
  }
}

async function partnerPage() {
  const id = decodeURIComponent(location.pathname.split("/").pop());
  const load = async () => {
    try {
      const base = "/partners/" + encodeURIComponent(id);
      const [p, links, snap, dash, names, series, balance, payouts] = await Promise.all([
        api("GET", base), api("GET", base + "/links"), api("GET", base + "/commission-snapshot"),
        api("GET", base + "/dashboard"), programNameMap(), api("GET", base + "/timeseries"),
        api("GET", base + "/balance"), api("GET", base + "/payouts"),
      ]);
      OpCharts.series($("charts"), $("chart-table"), series.buckets, "30 days, per day");
      $("balance-body").replaceChildren(...(balance.balances.length ? balance.balances.map((b) => el("tr", {},
        el("td", { text: b.currency }), el("td", { text: b.accrued }), el("td", { text: b.approved }),
        el("td", { text: b.inPayout }), el("td", { text: b.clawback })))
        : [el("tr", {}, el("td", { colspan: "5", class: "muted", text: "Nothing earned yet." }))]));
      $("payouts-body").replaceChildren(...((payouts.payouts || []).length ? payouts.payouts.map((x) => el("tr", {},
        el("td", { text: when(x.createdAt) }), el("td", { text: x.amount + " " + x.currency }), el("td", { text: x.method }),
        el("td", { text: x.status }), el("td", { text: when(x.paidAt) })))
        : [el("tr", {}, el("td", { colspan: "5", class: "muted", text: "No payouts yet." }))]));
      say($("page-status"), "");
      $("partner-title").textContent = p.name;
      setDl($("partner-details"), [["Email", p.email], ["Status", p.status], ["Programs", programList(names, p.programIds)],
        ["Created", when(p.createdAt)], ["Activated", when(p.activatedAt)], ["Revoked", p.revokedAt ? when(p.revokedAt) + (p.revokeReason ? " — " + p.revokeReason : "") : "no"],
        ["On the Network", p.metadata && p.metadata.network ? p.metadata.network.networkCreatorId + (p.metadata.network.preExisting ? " (pre-existing creator)" : "") : "no"]]);
      $("partner-actions").replaceChildren(...partnerActions(p, $("action-status"), load));
      const c = dash.commissionByStatus;
      setDl($("dashboard"), [["Clicks", dash.clicks], ["Attributed sales", dash.attributedEvents], ["Attributed revenue", dash.attributedRevenue + " " + dash.currency],
        ["Accrued", c.accrued], ["Approved", c.approved], ["Paid", c.paid], ["Reversed", c.reversed]]);
      const s = snap.snapshot;
      $("snapshot").textContent = s ? s.commissionValue + (s.commissionType === "percent" ? " %" : " fixed") + (s.recurring ? ", recurring" : "") + " (" + s.source + ", " + when(s.snapshottedAt) + ")" : "None: the program's live rule applies.";
      const clicks = Object.fromEntries((dash.links || []).map((l) => [l.id, l.clicks]));
      $("links-body").replaceChildren(...(links.links.length ? links.links.map((l) => el("tr", {},
        el("td", { text: l.linkKey }), el("td", { text: names.get(l.programId) || l.programId }), el("td", {}, el("a", { href: l.shareUrl, text: l.shareUrl })), el("td", { text: String(clicks[l.id] || 0) })))
        : [el("tr", {}, el("td", { colspan: "4", class: "muted", text: "No links yet." }))]));
    } catch (e) {
      say($("page-status"), "Failed to load: " + e.message, "error");
    }
  };
  load();
}

// ---- programs ----

async function programsPage() {
  const form = $("program-form");
  const reset = () => {
    form.reset();
    $("program-id").value = "";
    $("program-save").textContent = "Create program";
    $("form-h").textContent = "Create a program";
    $("program-cancel").classList.add("hidden");
  };
  const load = async () => {
    try {
      const r = await api("GET", "/programs");
      $("programs-body").replaceChildren(...r.programs.map((p) => el("tr", {},
        el("td", { text: p.name }),
        el("td", { text: p.commission.type === "percent" ? p.commission.value + " %" : p.commission.value + " " + p.commission.currency }),
        el("td", {}, el("a", { href: p.destinationUrl, text: p.destinationUrl })),
        el("td", { text: p.shareOnNetwork ? "shared" : "not shared" }),
        el("td", {}, el("button", { type: "button", class: "secondary", onclick: () => edit(p) }, "Edit")))));
    } catch (e) {
      say($("programs-status"), "Failed to load programs: " + e.message, "error");
    }
  };
  const edit = (p) => {
    $("program-id").value = p.id;
    $("program-name").value = p.name;
    $("program-destination").value = p.destinationUrl;
    $("program-type").value = p.commission.type;
    $("program-value").value = p.commission.value;
    $("program-currency").value = p.commission.currency;
    $("program-holdback").value = p.holdbackDays;
    $("program-window").value = p.attributionWindowDays;
    $("program-share").checked = p.shareOnNetwork;
    $("program-description").value = p.marketplaceDescription || "";
    $("program-save").textContent = "Save changes";
    $("form-h").textContent = "Edit " + p.name;
    $("program-cancel").classList.remove("hidden");
    $("program-name").focus();
  };
  $("program-cancel").addEventListener("click", reset);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const id = $("program-id").value;
    const body = {
      name: $("program-name").value.trim(),
      destinationUrl: $("program-destination").value.trim(),
      commission: { type: $("program-type").value, value: $("program-value").value.trim(), currency: $("program-currency").value.trim() || "USD" },
      holdbackDays: Number($("program-holdback").value || 0),
      attributionWindowDays: Number($("program-window").value || 60),
      shareOnNetwork: $("program-share").checked,
      marketplaceDescription: $("program-description").value.trim() || undefined,
    };
    const r = await run($("program-save"), $("program-status"), "Saving…", () =>
      id ? api("PATCH", "/programs/" + encodeURIComponent(id), body) : api("POST", "/programs", body));
    if (r) {
      say($("program-status"), (id ? "Saved " : "Created ") + r.name + (r.shareOnNetwork ? "; it is being published on the Network." : "."), "ok");
      reset();
      load();
    }
  });
  load();
}

document.addEventListener("DOMContentLoaded", async () => {
  const page = document.body.dataset.page;
  if (page === "login") return loginPage();
  try {
    await startSession();
  } catch (_) {
    return; // redirected to sign-in
  }
  // networkPage, webhooksPage, payoutsPage, commissionsPage, stripePage, mailPage, auditPage,
  // overviewPage, apiKeysPage and settingsPage live in their own scripts, loaded by their page
  // only.
  ({
    network: () => networkPage(), partners: partnersPage, partner: partnerPage, programs: programsPage,
    webhooks: () => webhooksPage(), payouts: () => payoutsPage(), commissions: () => commissionsPage(),
    stripe: () => stripePage(),
    mail: () => mailPage(),
    audit: () => auditPage(),
    overview: () => overviewPage(), "api-keys": () => apiKeysPage(), settings: () => settingsPage(),
  })[page]();
});
