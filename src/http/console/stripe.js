// The console's Stripe page: the webhook URL to paste into Stripe's dashboard, and the events
// received with what processing made of them; a dead one can be retried. Uses app.js's
// helpers ($, api, run, say, el, when).
"use strict";

let stripeCursor = null;

async function copyStripeUrl() {
  const text = $("stripe-webhook-url").textContent;
  try {
    await navigator.clipboard.writeText(text);
    say($("stripe-url-status"), "Copied.", "ok");
    return;
  } catch (_) { /* no clipboard permission: select it instead */ }
  const range = document.createRange();
  range.selectNodeContents($("stripe-webhook-url"));
  const sel = window.getSelection();
  sel.removeAllRanges();
  sel.addRange(range);
  say($("stripe-url-status"), "Selected: press Ctrl+C (⌘C) to copy it.", "");
}

async function stripePage() {
  $("stripe-url-copy").addEventListener("click", copyStripeUrl);
  $("stripe-filter").addEventListener("change", () => loadStripeEvents(false));
  $("stripe-refresh").addEventListener("click", () => loadStripeEvents(false));
  $("stripe-more").addEventListener("click", () => loadStripeEvents(true));
  await loadStripeEvents(false);
}

async function loadStripeEvents(more) {
  const body = $("stripe-events-body");
  const q = new URLSearchParams({ limit: "50" });
  if ($("stripe-filter").value) q.set("status", $("stripe-filter").value);
  if (more && stripeCursor) q.set("cursor", stripeCursor);
  body.setAttribute("aria-busy", "true");
  try {
    const r = await api("GET", "/admin/stripe/events?" + q);
    $("stripe-webhook-url").textContent = r.webhookUrl;
    if (!more) body.replaceChildren();
    stripeCursor = r.nextCursor;
    $("stripe-more").disabled = !r.nextCursor;
    for (const e of r.events) body.append(stripeEventRow(e));
    if (!body.children.length) body.append(el("tr", {}, el("td", { colspan: "7", class: "muted", text: "No events received yet." })));
    say($("stripe-status"), "");
  } catch (e) {
    say($("stripe-status"), "Failed to load events: " + e.message, "error");
  } finally {
    body.removeAttribute("aria-busy");
  }
}

const OUTCOMES = {
  recorded: "recorded",
  duplicate: "duplicate (nothing new)",
  ignored: "ignored",
  ignored_no_attribution: "no attribution",
  dead: "dead",
};

function stripeEventRow(e) {
  const retry = e.status !== "dead" ? null : el("button", { type: "button", class: "secondary", "data-action": "retry", onclick: async (ev) => {
    const r = await run(ev.target, $("stripe-status"), "Retrying…", () =>
      api("POST", "/admin/stripe/events/" + encodeURIComponent(e.id) + "/retry"));
    if (r) {
      await loadStripeEvents(false);
      say($("stripe-status"), "Retrying " + r.id + ": queued again, attempted now.", "ok");
    }
  } }, "Retry");
  const outcome = e.outcome ? (OUTCOMES[e.outcome] || e.outcome) : (e.status === "pending" ? "waiting" : "—");
  return el("tr", { "data-id": e.id, "data-status": e.status, "data-outcome": e.outcome || "" },
    el("td", {}, el("div", { text: e.type }), el("div", { class: "muted", text: e.id + (e.objectId ? " · " + e.objectId : "") })),
    el("td", { text: when(e.receivedAt) }),
    el("td", { text: e.status + (e.status === "pending" && e.nextAttemptAt ? " (next " + when(e.nextAttemptAt) + ")" : "") }),
    el("td", { text: outcome }),
    el("td", { text: String(e.attempts) }),
    el("td", { class: "answer", title: e.lastError || "", text: e.lastError ? e.lastError.slice(0, 160) : "—" }),
    el("td", {}, retry));
}
