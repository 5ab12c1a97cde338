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

// ---- the Network page ----

async function networkPage() {
  const pageStatus = $("page-status");
  let me;
  try {
    me = await api("GET", "/admin/network/me"); // also fires the background heartbeat
  } catch (e) {
    say(pageStatus, "Failed to load: " + e.message, "error");
    return;
  }
  say(pageStatus, "");
  if (!me.connected) {
    $("not-connected").classList.remove("hidden");
    if (me.pendingVendorId) {
      $("self-host").classList.remove("hidden");
      say($("start-connect-status"), "Waiting for the verification email to be opened.", "");
    }
    $("one-click").addEventListener("click", async () => {
      const r = await run($("one-click"), $("one-click-status"), "Listing your brand…", async () => {
        try {
          // The contact defaults to OPENPARTNER_ADMIN_EMAIL; the form below can name another.
          return await api("POST", "/config/network/auto-enroll", {
            contactEmail: $("contact-email").value.trim() || undefined,
            displayName: $("display-name").value.trim() || undefined,
            contactName: $("contact-name").value.trim() || undefined,
          });
        } catch (e) {
          if (e.code === "admin_email_unresolvable") {
            $("self-host").classList.remove("hidden");
            say($("one-click-status"), "Enter the brand's contact email below, then press the button again.", "error");
            $("contact-email").focus();
            return undefined;
          }
          if (e.code === "admin_token_not_configured") {
            $("self-host").classList.remove("hidden");
            say($("one-click-status"), "One-click listing is for the hosted tier. Use the email-verify flow below.", "");
            $("contact-email").focus();
            return undefined;
          }
          throw e;
        }
      });
      if (r) location.reload();
    });
    $("start-connect-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const r = await run($("send-verification"), $("start-connect-status"), "Sending…", () =>
        api("POST", "/config/network/start-connect", {
          contactEmail: $("contact-email").value.trim(),
          displayName: $("display-name").value.trim() || undefined,
          contactName: $("contact-name").value.trim() || undefined,
        }));
      if (r) say($("start-connect-status"), r.emailSent ? "Verification email sent to " + $("contact-email").value.trim() + ". Open the link in it to finish." : "The Network did not send an email; try again.", r.emailSent ? "ok" : "error");
    });
    return;
  }
  for (const id of ["connected", "backfill", "logo", "requests", "outbox"]) $(id).classList.remove("hidden");
  renderListing(me);
  $("push-now").addEventListener("click", async () => {
    const r = await run($("push-now"), $("push-status"), "Sending…", () => api("POST", "/admin/network/heartbeat"));
    if (r) say($("push-status"), r.sent ? "Sent" : "Failed: " + r.reason, r.sent ? "ok" : "error");
    refreshListing();
  });
  const toggle = $("auto-enroll");
  toggle.addEventListener("change", async () => {
    const want = toggle.checked;
    toggle.disabled = true;
    say($("auto-enroll-status"), "Saving…", "busy");
    try {
      const c = await api("POST", "/config/network", { autoEnroll: want });
      toggle.checked = c.autoEnroll;
      say($("auto-enroll-status"), c.autoEnroll ? "Auto-enroll is on." : "Auto-enroll is off.", "ok");
    } catch (e) {
      toggle.checked = !want;
      say($("auto-enroll-status"), "Failed: " + e.message, "error");
    } finally {
      toggle.disabled = false;
    }
  });
  $("backfill-now").addEventListener("click", async () => {
    const r = await run($("backfill-now"), $("backfill-status"), "Starting…", () => api("POST", "/config/network/backfill"));
    if (r) watchBackfill();
  });
  if (me.backfill && me.backfill.status === "running") watchBackfill();
  else showBackfill(me.backfill);
  setupLogo();
  loadRequests();
  loadOutbox();
}

function renderListing(me) {
  $("network-host").textContent = me.networkHost;
  $("display").textContent = me.displayName || "—";
  $("vendor-status").textContent = me.status || "—";
  $("partner-count").textContent = String(me.activePartnerCount);
  const hb = me.lastHeartbeat || {};
  $("last-heartbeat").textContent = hb.at ? when(hb.at) + " — " + (hb.sent ? "sent" : "failed: " + hb.reason) : "not sent yet";
  $("auto-enroll").checked = !!me.autoEnroll;
  if (me.networkError) say($("page-status"), "The Network could not be asked for your listing: " + me.networkError, "error");
}

async function refreshListing() {
  try {
    renderListing(await api("GET", "/admin/network/me"));
  } catch (_) { /* the action's own status says what failed */ }
}

function showBackfill(run) {
  const bar = $("backfill-progress");
  if (!run || run.status === "none") {
    say($("backfill-status"), "No backfill has run yet.");
    return;
  }
  bar.classList.remove("hidden");
  bar.max = Math.max(run.total, 1);
  bar.value = run.pushed + run.queued + run.failed;
  const text = (run.status === "done" ? "Done: " : "Running: ") + run.pushed + " of " + run.total + " pushed, " +
    run.preExisting + " already on the Network, " + run.queued + " queued for retry, " + run.failed + " failed.";
  say($("backfill-status"), text, run.status === "done" ? "ok" : "busy");
}

async function watchBackfill() {
  $("backfill-now").disabled = true;
  try {
    for (;;) {
      const r = await api("GET", "/config/network/backfill");
      showBackfill(r);
      if (r.status !== "running") break;
      await new Promise((ok) => setTimeout(ok, 500));
    }
  } catch (e) {
    say($("backfill-status"), "Failed to follow the backfill: " + e.message, "error");
  } finally {
    $("backfill-now").disabled = false;
  }
  refreshListing();
}

function setupLogo() {
  const preview = $("logo-preview");
  const show = (src) => { preview.src = src; preview.classList.remove("hidden"); };
  fetch("/uploads/logo", { method: "HEAD" }).then((r) => { if (r.ok) show("/uploads/logo?t=" + Date.now()); });
  $("logo-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const file = $("logo-file").files[0];
    if (!file) return;
    const r = await run($("logo-upload"), $("logo-status"), "Uploading…", () =>
      api("POST", "/uploads/logo", undefined, { raw: file, contentType: file.type || "application/octet-stream" }));
    if (r) {
      show(r.logoUrl);
      say($("logo-status"), "Uploaded; the marketplace is being told.", "ok");
    }
  });
}

async function loadRequests() {
  const body = $("requests-body");
  try {
    const r = await api("GET", "/admin/network/requests?status=pending");
    body.replaceChildren();
    if (!r.requests.length) {
      body.append(el("tr", {}, el("td", { colspan: "4", class: "muted", text: "No pending applications." })));
      return;
    }
    for (const q of r.requests) {
      const note = el("input", { type: "text", "aria-label": "Note for " + q.creator.name, placeholder: "Note (optional)" });
      const decide = (verb) => async (ev) => {
        const ok = await run(ev.target, $("requests-status"), (verb === "approve" ? "Approving " : "Rejecting ") + q.creator.name + "…", () =>
          api("POST", "/admin/network/requests/" + encodeURIComponent(q.id) + "/" + verb, { decisionNote: note.value.trim() || undefined }));
        if (ok) {
          say($("requests-status"), q.creator.name + (verb === "approve" ? " approved and added as a partner." : " rejected."), "ok");
          loadRequests();
        }
      };
      body.append(el("tr", {},
        el("td", { text: q.creator.name + " " + (q.creator.handle || "") }),
        el("td", { text: q.creator.email }),
        el("td", { text: when(q.createdAt) }),
        el("td", {}, el("div", { class: "row" }, note,
          el("button", { type: "button", onclick: decide("approve") }, "Approve"),
          el("button", { type: "button", class: "danger", onclick: decide("reject") }, "Reject")))));
    }
  } catch (e) {
    say($("requests-status"), "Failed to load applications: " + e.message, "error");
  }
}

async function loadOutbox() {
  const body = $("outbox-body");
  try {
    const [pending, dead] = await Promise.all([api("GET", "/admin/network/outbox?status=pending"), api("GET", "/admin/network/outbox?status=dead")]);
    $("outbox-summary").textContent = pending.rows.length + " waiting for retry, " + dead.rows.length + " dead.";
    body.replaceChildren();
    for (const row of [...dead.rows, ...pending.rows]) {
      const retry = row.status === "dead"
        ? el("button", { type: "button", class: "secondary", onclick: async (ev) => {
            const ok = await run(ev.target, $("outbox-status"), "Retrying…", () => api("POST", "/admin/network/outbox/" + encodeURIComponent(row.id) + "/retry"));
            if (ok) { say($("outbox-status"), ok.status === "done" ? "Delivered." : "Still failing: " + (ok.lastError || ""), ok.status === "done" ? "ok" : "error"); loadOutbox(); }
          } }, "Retry")
        : null;
      body.append(el("tr", {},
        el("td", {}, el("a", { href: "/admin/partners/" + encodeURIComponent(row.partnerId), text: row.payload && row.payload.email ? row.payload.email : row.partnerId })),
        el("td", { text: row.status === "dead" ? "dead" : "retry at " + when(row.nextAttemptAt) }),
        el("td", { text: String(row.attempts) }),
        el("td", { text: row.lastError || "" }),
        el("td", {}, retry)));
    }
  } catch (e) {
    say($("outbox-status"), "Failed to load the outbox: " + e.message, "error");
  }
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
  // webhooksPage, payoutsPage, commissionsPage, stripePage, mailPage, auditPage, overviewPage,
  // apiKeysPage and settingsPage live in their own scripts, loaded by their page only.
  ({
    network: networkPage, partners: partnersPage, partner: partnerPage, programs: programsPage,
    webhooks: () => webhooksPage(), payouts: () => payoutsPage(), commissions: () => commissionsPage(),
    stripe: () => stripePage(),
    mail: () => mailPage(),
    audit: () => auditPage(),
    overview: () => overviewPage(), "api-keys": () => apiKeysPage(), settings: () => settingsPage(),
  })[page]();
});
