// The console's Webhooks page: add endpoints (the secret shown once), choose their events,
// send a test, read the delivery log and retry. Uses app.js's helpers ($, api, run, say, el).
"use strict";

const EVENT_TYPES = [
  "partner.created", "partner.activated", "partner.revoked", "partner.reinstated",
  "link.created", "conversion.created",
  "commission.created", "commission.approved", "commission.reversed", "commission.paid",
  "payout.created", "payout.paid", "payout.failed",
  "network.partner_federated",
];

let shownEndpoint = null;
let deliveryCursor = null;

function eventChecks() {
  return Array.from(document.querySelectorAll("#event-list input[type=checkbox]"));
}

function showSecret(secret, note) {
  $("secret-value").textContent = secret;
  $("secret-note").textContent = note;
  say($("secret-status"), "");
  $("secret-box").classList.remove("hidden");
  $("secret-copy").focus();
}

async function copySecret() {
  const text = $("secret-value").textContent;
  try {
    await navigator.clipboard.writeText(text);
    say($("secret-status"), "Copied.", "ok");
    return;
  } catch (_) { /* no clipboard permission: select it instead */ }
  const range = document.createRange();
  range.selectNodeContents($("secret-value"));
  const sel = window.getSelection();
  sel.removeAllRanges();
  sel.addRange(range);
  const copied = document.execCommand && document.execCommand("copy");
  say($("secret-status"), copied ? "Copied." : "Selected: press Ctrl+C (⌘C) to copy it.", copied ? "ok" : "");
}

/** A delivery in a sentence, for the status line after a test or a retry. */
function outcome(d) {
  const answer = d.lastStatusCode ? "HTTP " + d.lastStatusCode + " in " + d.lastLatencyMs + " ms" : (d.lastResponse || "no answer");
  if (d.status === "delivered") return ["Delivered (" + answer + ").", "ok"];
  if (d.status === "failed") return ["Failed: " + answer + ".", "error"];
  if (!d.attempts) return ["Queued behind earlier deliveries of this endpoint; it goes out in its turn.", ""];
  return ["Not delivered: " + answer + ". Next attempt " + when(d.nextAttemptAt) + ".", "error"];
}

async function webhooksPage() {
  $("event-list").replaceChildren(...EVENT_TYPES.map((t) => el("label", { class: "inline", for: "event-" + t },
    el("input", { type: "checkbox", id: "event-" + t, value: t, disabled: true }), t)));
  $("event-all").addEventListener("change", () => {
    for (const c of eventChecks()) c.disabled = $("event-all").checked;
  });
  $("secret-copy").addEventListener("click", copySecret);
  $("webhook-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const events = $("event-all").checked ? ["*"] : eventChecks().filter((c) => c.checked).map((c) => c.value);
    if (!events.length) {
      say($("webhook-status"), "Choose at least one event.", "error");
      return;
    }
    const r = await run($("webhook-add"), $("webhook-status"), "Adding…", () => api("POST", "/webhooks", {
      url: $("webhook-url").value.trim(),
      description: $("webhook-description").value.trim() || undefined,
      events,
    }));
    if (r) {
      say($("webhook-status"), "Added " + r.url + ".", "ok");
      showSecret(r.secret, "Copy it now: it is not shown again. Verify each request's webhook-signature with it.");
      $("webhook-form").reset();
      for (const c of eventChecks()) c.disabled = true;
      loadEndpoints();
    }
  });
  $("delivery-filter").addEventListener("change", () => loadDeliveries(false));
  $("deliveries-refresh").addEventListener("click", () => loadDeliveries(false));
  $("deliveries-more").addEventListener("click", () => loadDeliveries(true));
  loadEndpoints();
}

async function loadEndpoints() {
  const body = $("webhooks-body");
  try {
    const r = await api("GET", "/webhooks");
    body.replaceChildren();
    if (!r.webhooks.length) {
      body.append(el("tr", {}, el("td", { colspan: "4", class: "muted", text: "No endpoints yet." })));
      return;
    }
    for (const w of r.webhooks) body.append(endpointRow(w));
  } catch (e) {
    say($("webhooks-status"), "Failed to load endpoints: " + e.message, "error");
  }
}

function endpointRow(w) {
  const status = $("webhooks-status");
  const path = "/webhooks/" + encodeURIComponent(w.id);
  const act = (label, cls, busy, fn) => el("button", { type: "button", class: cls, "data-action": label.toLowerCase().replace(/ /g, "-"), onclick: async (ev) => {
    await run(ev.target, status, busy, fn);
  } }, label);
  const state = w.enabled ? "enabled" : "disabled" + (w.disabledReason ? " (" + ({ gone: "the receiver answered 410", failing: "failing for 5 days", admin: "by an admin" }[w.disabledReason] || w.disabledReason) + ")" : "");
  let deleting = false;
  const actions = [
    act("Send test", "secondary", "Sending a test event…", async () => {
      const d = await api("POST", path + "/test");
      const [text, kind] = outcome(d);
      say(status, "Test event: " + text, kind);
      if (shownEndpoint === w.id) loadDeliveries(false);
    }),
    act("Deliveries", "secondary", "Loading…", async () => {
      shownEndpoint = w.id;
      $("deliveries-h").textContent = "Deliveries to " + w.url;
      $("deliveries").classList.remove("hidden");
      say(status, "");
      await loadDeliveries(false);
      $("deliveries-h").scrollIntoView();
    }),
    act(w.enabled ? "Disable" : "Enable", "secondary", "Saving…", async () => {
      const r = await api("PATCH", path, { enabled: !w.enabled });
      say(status, r.url + (r.enabled ? " enabled." : " disabled."), "ok");
      loadEndpoints();
    }),
    act("Rotate secret", "secondary", "Rotating…", async () => {
      const r = await api("POST", path + "/rotate-secret");
      showSecret(r.secret, "The new secret for " + r.url + ". The old one keeps signing beside it until " + when(r.previousSecretExpiresAt) + ". Copy it now: it is not shown again.");
      say(status, "Secret rotated.", "ok");
    }),
    el("button", { type: "button", class: "danger", "data-action": "delete", onclick: async (ev) => {
      if (!deleting) {
        deleting = true;
        ev.target.textContent = "Confirm delete";
        say(status, "Press “Confirm delete” to delete " + w.url + " and its delivery log.", "");
        return;
      }
      const ok = await run(ev.target, status, "Deleting…", () => api("DELETE", path));
      if (ok) {
        say(status, w.url + " deleted.", "ok");
        if (shownEndpoint === w.id) $("deliveries").classList.add("hidden");
        loadEndpoints();
      }
    } }, "Delete"),
  ];
  return el("tr", { "data-id": w.id },
    el("td", {}, el("div", { text: w.url }), w.description ? el("div", { class: "muted", text: w.description }) : null),
    el("td", { text: w.events.join(", ") === "*" ? "all events" : w.events.join(", ") }),
    el("td", { text: state }),
    el("td", {}, el("div", { class: "row" }, ...actions)));
}

async function loadDeliveries(more) {
  if (!shownEndpoint) return;
  const body = $("deliveries-body");
  const q = new URLSearchParams({ limit: "25" });
  if ($("delivery-filter").value) q.set("status", $("delivery-filter").value);
  if (more && deliveryCursor) q.set("cursor", deliveryCursor);
  body.setAttribute("aria-busy", "true");
  try {
    const r = await api("GET", "/webhooks/" + encodeURIComponent(shownEndpoint) + "/deliveries?" + q);
    if (!more) body.replaceChildren();
    deliveryCursor = r.nextCursor;
    $("deliveries-more").disabled = !r.nextCursor;
    for (const d of r.deliveries) body.append(deliveryRow(d));
    if (!body.children.length) body.append(el("tr", {}, el("td", { colspan: "6", class: "muted", text: "No deliveries." })));
    say($("deliveries-status"), "");
  } catch (e) {
    say($("deliveries-status"), "Failed to load deliveries: " + e.message, "error");
  } finally {
    body.removeAttribute("aria-busy");
  }
}

function deliveryRow(d) {
  const answer = [d.lastStatusCode ? "HTTP " + d.lastStatusCode : null, d.lastLatencyMs !== null && d.lastLatencyMs !== undefined ? d.lastLatencyMs + " ms" : null,
    d.lastResponse ? d.lastResponse.slice(0, 160) : null].filter(Boolean).join(" · ");
  const retry = d.status === "delivered" ? null : el("button", { type: "button", class: "secondary", "data-action": "retry", onclick: async (ev) => {
    const r = await run(ev.target, $("deliveries-status"), "Retrying…", () =>
      api("POST", "/webhooks/" + encodeURIComponent(shownEndpoint) + "/deliveries/" + encodeURIComponent(d.id) + "/retry"));
    if (r) {
      await loadDeliveries(false);
      const [text, kind] = outcome(r);
      say($("deliveries-status"), "Retry: " + text, kind);
    }
  } }, "Retry");
  return el("tr", { "data-id": d.id, "data-status": d.status },
    el("td", {}, el("div", { text: d.type }), el("div", { class: "muted", text: d.eventId })),
    el("td", { text: d.status }),
    el("td", { text: String(d.attempts) }),
    el("td", { class: "answer", title: d.lastResponse || "", text: answer || "—" }),
    el("td", { text: d.status === "pending" ? when(d.nextAttemptAt) : "—" }),
    el("td", {}, retry));
}
