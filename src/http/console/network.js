// The console's Network page: connect (one click or self-host), the listing, auto-enroll, the
// logo, creator requests, the outbox and backfill. Uses the helpers in common.js and app.js.
"use strict";

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
  // Followed for 15 minutes at most, polling less often as it runs (a run left "running" by
  // a stopped server is taken over by the next one; the page need not watch it forever).
  const deadline = Date.now() + 15 * 60 * 1000;
  let pause = 500;
  try {
    for (;;) {
      const r = await api("GET", "/config/network/backfill");
      showBackfill(r);
      if (r.status !== "running") break;
      if (Date.now() > deadline) {
        say($("backfill-status"), "Still running: reload the page to follow it.", "busy");
        break;
      }
      await new Promise((ok) => setTimeout(ok, pause));
      pause = Math.min(pause * 2, 2000);
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
