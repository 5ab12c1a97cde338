// The console's Payouts page: balances and a payout run previewed before it is confirmed, the
// payout list with mark paid (manual rail), cancel and retry, and the CSV export for a PayPal
// or Wise batch. Uses app.js's helpers ($, api, run, say, el, when, partnerCell).
"use strict";

const SKIP_REASONS = {
  below_minimum: "below the minimum payout",
  negative_balance: "clawbacks exceed what is due",
  partner_revoked: "partner revoked",
  no_commissions: "nothing approved to pay",
};

let previewed = null; // { request, answer }: the run the admin saw
let payoutCursor = null;
let payoutLoads = 0;
let dialogAction = null;

function runRequest() {
  const currency = $("run-currency").value.trim().toUpperCase();
  const body = { includeRevoked: $("run-revoked").checked };
  if (currency) body.currency = currency;
  return body;
}

function money(amount, currency) {
  return amount + " " + currency;
}

async function payoutsPage() {
  $("run-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const request = runRequest();
    const r = await run($("run-preview"), $("run-status"), "Working out balances…", () => api("POST", "/payouts/run", { ...request, dryRun: true }));
    if (r) showPreview(request, r);
  });
  const discard = () => {
    previewed = null;
    $("preview").classList.add("hidden");
  };
  $("run-discard").addEventListener("click", () => {
    discard();
    say($("run-status"), "");
  });
  // A preview is only good for the settings it was made with.
  for (const id of ["run-currency", "run-revoked"]) {
    $(id).addEventListener("input", discard);
    $(id).addEventListener("change", discard);
  }
  $("balance-form").addEventListener("submit", showBalance);
  $("payout-dialog-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const action = dialogAction;
    dialogAction = null;
    $("payout-dialog").close();
    if (action) await action();
  });
  $("payout-dialog-cancel").addEventListener("click", () => {
    dialogAction = null;
    $("payout-dialog").close();
  });
  $("run-confirm").addEventListener("click", confirmRun);
  $("payout-filter").addEventListener("change", () => loadPayouts(false));
  $("payouts-refresh").addEventListener("click", () => loadPayouts(false));
  $("payouts-more").addEventListener("click", () => loadPayouts(true));
  loadPayouts(false);
}

async function showBalance(ev) {
  ev.preventDefault();
  const line = $("balance-status");
  const r = await run($("balance-show"), line, "Loading…", async () => {
    const raw = $("balance-partner").value.trim();
    let id = raw;
    if (raw.includes("@")) {
      const found = await api("GET", "/partners?" + new URLSearchParams({ email: raw, limit: "1" }));
      if (!found.partners.length) throw new Error("no partner has the email " + raw);
      id = found.partners[0].id;
    }
    const b = await api("GET", "/partners/" + encodeURIComponent(id) + "/balance");
    return { id, b };
  });
  if (!r) return;
  const body = $("balance-body");
  body.replaceChildren(...r.b.balances.map((x) => el("tr", {}, el("td", { text: x.currency }), el("td", { text: x.accrued }),
    el("td", { text: x.approved }), el("td", { text: x.inPayout }), el("td", { text: x.clawback }))));
  if (!r.b.balances.length) body.append(el("tr", {}, el("td", { colspan: "5", class: "muted", text: "Nothing earned yet." })));
  $("balance-table").classList.remove("hidden");
  say(line, "");
  partnerLabel(r.id).then((label) => say(line, "Balance of " + label + ".", "ok"));
}

function showPreview(request, r) {
  previewed = { request, answer: r };
  const body = $("preview-body");
  body.replaceChildren();
  if (!r.payouts.length) {
    body.append(el("tr", {}, el("td", { colspan: "5", class: "muted", text: "Nobody is due a payout." })));
  }
  for (const p of r.payouts) {
    body.append(el("tr", {}, partnerCell(p.partnerId), el("td", { text: money(p.amount, p.currency) }),
      el("td", { text: String(p.commissionIds.length) }), el("td", { text: p.clawback === "0" || /^0(\.0+)?$/.test(p.clawback) ? "—" : money(p.clawback, p.currency) }),
      el("td", { text: p.method === "stripe" ? "Stripe transfer" : "manual" })));
  }
  const skipped = $("skipped-body");
  skipped.replaceChildren();
  if (!r.skipped.length) {
    skipped.append(el("tr", {}, el("td", { colspan: "3", class: "muted", text: "Nobody." })));
  }
  for (const s of r.skipped) {
    skipped.append(el("tr", {}, partnerCell(s.partnerId), el("td", { text: s.currency ? money(s.balance, s.currency) : s.balance }),
      el("td", { text: SKIP_REASONS[s.reason] || s.reason })));
  }
  const n = r.payouts.length;
  $("run-confirm").disabled = n === 0;
  $("run-confirm").textContent = n === 1 ? "Pay 1 payout" : "Pay " + n + " payouts";
  $("preview").classList.remove("hidden");
  say($("run-status"), n ? "Preview: " + n + (n === 1 ? " payout" : " payouts") + " would be made. Nothing is paid until you confirm." : "Preview: nobody is due a payout.", n ? "" : "ok");
}

async function confirmRun() {
  if (!previewed) return;
  const { request, answer } = previewed;
  // Pay the partners the admin saw (in batches the API accepts), with the settings of the
  // preview; partners that became due since wait for the next run.
  const ids = [...new Set(answer.payouts.map((p) => p.partnerId))];
  const batches = [];
  for (let i = 0; i < ids.length; i += 1000) batches.push(ids.slice(i, i + 1000));
  const r = await run($("run-confirm"), $("run-status"), "Paying…", async () => {
    const made = { payouts: [], skipped: [] };
    for (const partnerIds of batches) {
      const part = await api("POST", "/payouts/run", { ...request, partnerIds });
      made.payouts.push(...part.payouts);
      made.skipped.push(...part.skipped);
    }
    return made;
  });
  if (!r) return;
  previewed = null;
  $("preview").classList.add("hidden");
  const stripe = r.payouts.filter((p) => p.method === "stripe").length;
  const manual = r.payouts.length - stripe;
  const parts = [r.payouts.length + (r.payouts.length === 1 ? " payout" : " payouts") + " created"];
  if (stripe) parts.push(stripe + " being sent by Stripe");
  if (manual) parts.push(manual + " to pay manually");
  // What changed since the preview: amounts that moved, partners not paid after all.
  const before = new Map(answer.payouts.map((p) => [p.partnerId + " " + p.currency, p.amount]));
  const moved = r.payouts.filter((p) => before.has(p.partnerId + " " + p.currency) && before.get(p.partnerId + " " + p.currency) !== p.amount).length;
  if (moved) parts.push(moved + " with a different amount than previewed (commissions approved or reversed meanwhile)");
  if (r.skipped.length) parts.push(r.skipped.length + " not paid after all (" + [...new Set(r.skipped.map((s) => SKIP_REASONS[s.reason] || s.reason))].join(", ") + ")");
  await loadPayouts(false);
  say($("run-status"), parts.join("; ") + ".", moved || r.skipped.length ? "" : "ok");
}

/** Asks in a dialog (a double click cannot confirm it), then runs `action`. */
function ask(title, what, confirmLabel, withReference, action) {
  $("payout-dialog-h").textContent = title;
  $("payout-dialog-what").textContent = what;
  $("payout-dialog-confirm").textContent = confirmLabel;
  $("payout-reference-label").classList.toggle("hidden", !withReference);
  $("payout-reference").value = "";
  dialogAction = action;
  $("payout-dialog").showModal();
  (withReference ? $("payout-reference") : $("payout-dialog-confirm")).focus();
}

async function loadPayouts(more) {
  const body = $("payouts-body");
  const status = $("payout-filter").value;
  const load = ++payoutLoads;
  const params = new URLSearchParams({ limit: "50" });
  if (status) params.set("status", status);
  if (more && payoutCursor) params.set("cursor", payoutCursor);
  try {
    const r = await api("GET", "/payouts?" + params);
    if (load !== payoutLoads) return; // a newer load draws the list
    if (!more) body.replaceChildren();
    if (!more && !r.payouts.length) {
      body.append(el("tr", {}, el("td", { colspan: "7", class: "muted", text: "No payouts" + (status ? " with status " + status : "") + " yet." })));
    }
    for (const p of r.payouts) body.append(payoutRow(p));
    payoutCursor = r.nextCursor;
    $("payouts-more").disabled = !payoutCursor;
    say($("payouts-status"), "");
  } catch (e) {
    say($("payouts-status"), "Failed to load payouts: " + e.message, "error");
  }
}

function payoutRow(p) {
  const status = $("payouts-status");
  const path = "/payouts/" + encodeURIComponent(p.id);
  const who = money(p.amount, p.currency);
  const act = (label, cls, busy, fn) => el("button", { type: "button", class: cls, "data-action": label.toLowerCase().replace(/ /g, "-"), "aria-label": label + " the payout of " + who, onclick: async (ev) => {
    const done = await run(ev.target, status, busy, fn);
    if (done) {
      await loadPayouts(false);
      say(status, done, "ok");
    }
  } }, label);
  // Asks first, in a dialog; the action runs with the row's button showing progress.
  const confirmed = (label, cls, title, what, confirmLabel, withReference, busy, fn) => {
    const button = el("button", { type: "button", class: cls, "data-action": label.toLowerCase().replace(/ /g, "-"), "aria-label": label + " the payout of " + who, onclick: () => {
      ask(title, what, confirmLabel, withReference, async () => {
        const done = await run(button, status, busy, fn);
        if (done) {
          await loadPayouts(false);
          say(status, done, "ok");
        }
      });
    } }, label);
    return button;
  };
  const actions = [];
  if (p.method === "manual" && p.status === "pending") {
    actions.push(confirmed("Mark paid", "", "Mark payout paid", who + ", paid outside OpenPartner (PayPal, Wise, a bank transfer). The partner is told they have been paid.", "Mark paid", true, "Marking paid…", async () => {
      const ref = $("payout-reference").value.trim();
      await api("POST", path + "/mark-paid", ref ? { reference: ref } : {});
      return "Marked " + who + " paid.";
    }));
  }
  if (p.status === "failed" && p.method === "stripe") {
    actions.push(act("Retry", "secondary", "Retrying the transfer…", async () => {
      const r = await api("POST", path + "/retry");
      return r.status === "paid" ? "Paid " + money(r.amount, r.currency) + " by Stripe." : "Retry: " + r.status + (r.failureReason ? " (" + r.failureReason + ")" : "") + ".";
    }));
  }
  if (p.status === "pending" || p.status === "failed") {
    actions.push(confirmed("Cancel", "danger", "Cancel payout", "Cancel the payout of " + who + "? Its commissions go back to the next run.", "Cancel payout", false, "Canceling…", async () => {
      await api("POST", path + "/cancel");
      return "Canceled; its commissions are free for the next run.";
    }));
  }
  const outcome = p.status === "paid"
    ? when(p.paidAt) + (p.reference ? " · " + p.reference : "") + (p.stripeTransferId ? " · " + p.stripeTransferId : "")
    : (p.failureReason || "");
  return el("tr", { "data-payout": p.id }, partnerCell(p.partnerId), el("td", { text: money(p.amount, p.currency) }),
    el("td", { text: p.method }), el("td", { text: p.status }), el("td", { text: when(p.createdAt) }),
    el("td", { class: "answer", text: outcome }), el("td", {}, el("div", { class: "row" }, ...actions)));
}
