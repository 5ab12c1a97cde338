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

let previewed = null;
let payoutCursor = null;

function runBody(dryRun) {
  const currency = $("run-currency").value.trim().toUpperCase();
  const body = { dryRun, includeRevoked: $("run-revoked").checked };
  if (currency) body.currency = currency;
  return body;
}

function money(amount, currency) {
  return amount + " " + currency;
}

async function payoutsPage() {
  $("run-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const r = await run($("run-preview"), $("run-status"), "Working out balances…", () => api("POST", "/payouts/run", runBody(true)));
    if (r) showPreview(r);
  });
  $("run-discard").addEventListener("click", () => {
    previewed = null;
    $("preview").classList.add("hidden");
    say($("run-status"), "");
  });
  $("run-confirm").addEventListener("click", confirmRun);
  $("payout-filter").addEventListener("change", () => loadPayouts(false));
  $("payouts-refresh").addEventListener("click", () => loadPayouts(false));
  $("payouts-more").addEventListener("click", () => loadPayouts(true));
  loadPayouts(false);
}

function showPreview(r) {
  previewed = r;
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
  const body = runBody(false);
  // Pay the partners the admin saw; others that became due since wait for the next run.
  const ids = [...new Set(previewed.payouts.map((p) => p.partnerId))];
  if (ids.length && ids.length <= 1000) body.partnerIds = ids;
  const r = await run($("run-confirm"), $("run-status"), "Paying…", () => api("POST", "/payouts/run", body));
  if (!r) return;
  previewed = null;
  $("preview").classList.add("hidden");
  const paid = r.payouts.filter((p) => p.status === "paid").length;
  const pending = r.payouts.filter((p) => p.status === "pending").length;
  const other = r.payouts.length - paid - pending;
  const parts = [r.payouts.length + (r.payouts.length === 1 ? " payout" : " payouts") + " created"];
  if (paid) parts.push(paid + " paid by Stripe");
  if (pending) parts.push(pending + " to pay manually");
  if (other) parts.push(other + " processing or failed: see the list");
  await loadPayouts(false);
  say($("run-status"), parts.join("; ") + ".", "ok");
}

async function loadPayouts(more) {
  const body = $("payouts-body");
  const status = $("payout-filter").value;
  const params = new URLSearchParams({ limit: "50" });
  if (status) params.set("status", status);
  if (more && payoutCursor) params.set("cursor", payoutCursor);
  try {
    const r = await api("GET", "/payouts?" + params);
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
  const act = (label, cls, busy, fn) => el("button", { type: "button", class: cls, "data-action": label.toLowerCase().replace(/ /g, "-"), onclick: async (ev) => {
    const done = await run(ev.target, status, busy, fn);
    if (done) {
      await loadPayouts(false);
      say(status, done, "ok");
    }
  } }, label);
  const actions = [];
  if (p.method === "manual" && (p.status === "pending" || p.status === "failed")) {
    // Asks for the payment's reference in the row itself, then marks it paid.
    const reference = el("input", { type: "text", maxlength: "200", class: "hidden", "aria-label": "Payment reference (optional)", placeholder: "Reference (optional)" });
    const mark = act("Mark paid", "", "Marking paid…", async () => {
      if (reference.classList.contains("hidden")) {
        reference.classList.remove("hidden");
        mark.textContent = "Confirm paid";
        reference.focus();
        say(status, "Enter the payment's reference (e.g. the PayPal batch id), then confirm.");
        return undefined;
      }
      const ref = reference.value.trim();
      await api("POST", path + "/mark-paid", ref ? { reference: ref } : {});
      return "Marked " + money(p.amount, p.currency) + " paid.";
    });
    actions.push(reference, mark);
  }
  if (p.status === "failed" && p.method === "stripe") {
    actions.push(act("Retry", "secondary", "Retrying the transfer…", async () => {
      const r = await api("POST", path + "/retry");
      return r.status === "paid" ? "Paid " + money(r.amount, r.currency) + " by Stripe." : "Retry: " + r.status + (r.failureReason ? " (" + r.failureReason + ")" : "") + ".";
    }));
  }
  if (p.status === "pending" || p.status === "failed") {
    // Two clicks: the first asks, the second cancels.
    const cancel = act("Cancel", "danger", "Canceling…", async () => {
      if (cancel.dataset.armed !== "yes") {
        cancel.dataset.armed = "yes";
        cancel.textContent = "Confirm cancel";
        say(status, "Cancel this payout of " + money(p.amount, p.currency) + "? Its commissions go back to the next run. Click again to confirm.");
        return undefined;
      }
      await api("POST", path + "/cancel");
      return "Canceled; its commissions are free for the next run.";
    });
    actions.push(cancel);
  }
  const outcome = p.status === "paid"
    ? when(p.paidAt) + (p.reference ? " · " + p.reference : "") + (p.stripeTransferId ? " · " + p.stripeTransferId : "")
    : (p.failureReason || "");
  return el("tr", { "data-payout": p.id }, partnerCell(p.partnerId), el("td", { text: money(p.amount, p.currency) }),
    el("td", { text: p.method }), el("td", { text: p.status }), el("td", { text: when(p.createdAt) }),
    el("td", { class: "answer", text: outcome }), el("td", {}, el("div", { class: "row" }, ...actions)));
}
