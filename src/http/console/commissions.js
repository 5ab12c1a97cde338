// The console's Commissions page: filter by status, program and partner; approve one or many
// (refused before the holdback ends unless forced); reverse with a reason. Uses app.js's
// helpers ($, api, run, say, el, when, partnerCell).
"use strict";

let commissionCursor = null;
let programNames = new Map();
let reversing = null;
let shownFilter = null; // the filter of the list shown: "More" pages through it, not the fields
let commissionLoads = 0;

async function commissionsPage() {
  try {
    const r = await api("GET", "/programs");
    programNames = new Map(r.programs.map((p) => [p.id, p.name]));
    $("filter-program").append(...r.programs.map((p) => el("option", { value: p.id, text: p.name })));
  } catch (e) {
    say($("filter-status-line"), "Failed to load programs: " + e.message, "error");
  }
  const params = new URLSearchParams(location.search);
  if (params.get("status")) $("filter-status").value = params.get("status");
  if (params.get("programId")) $("filter-program").value = params.get("programId");
  if (params.get("partnerId")) $("filter-partner").value = params.get("partnerId");
  $("filter-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    loadCommissions(false);
  });
  $("commissions-more").addEventListener("click", () => loadCommissions(true));
  $("select-all").addEventListener("change", () => {
    for (const c of selectable()) c.checked = $("select-all").checked;
    updateSelection();
  });
  $("approve-selected").addEventListener("click", approveSelected);
  $("reverse-form").addEventListener("submit", reverseConfirmed);
  $("reverse-cancel").addEventListener("click", () => $("reverse-dialog").close());
  loadCommissions(false);
}

function selectable() {
  return Array.from(document.querySelectorAll("#commissions-body input[type=checkbox]"));
}

function updateSelection() {
  const n = selectable().filter((c) => c.checked).length;
  $("approve-selected").disabled = n === 0;
  $("approve-selected").textContent = n ? "Approve " + n + " selected" : "Approve selected";
}

/** The partner filter as an id: an email is looked up. */
async function partnerFilter() {
  const raw = $("filter-partner").value.trim();
  if (!raw) return null;
  if (!raw.includes("@")) return raw;
  const r = await api("GET", "/partners?" + new URLSearchParams({ email: raw, limit: "1" }));
  if (!r.partners.length) throw new Error("no partner has the email " + raw);
  return r.partners[0].id;
}

async function loadCommissions(more) {
  const body = $("commissions-body");
  const load = ++commissionLoads;
  try {
    if (!more || !shownFilter) {
      const filter = new URLSearchParams({ limit: "50" });
      const status = $("filter-status").value;
      const program = $("filter-program").value;
      const partner = await partnerFilter();
      if (status) filter.set("status", status);
      if (program) filter.set("programId", program);
      if (partner) filter.set("partnerId", partner);
      shownFilter = filter;
    }
    const params = new URLSearchParams(shownFilter);
    if (more && commissionCursor) params.set("cursor", commissionCursor);
    const r = await api("GET", "/commissions?" + params);
    if (load !== commissionLoads) return; // a newer load draws the list
    if (!more) body.replaceChildren();
    if (!more && !r.commissions.length) {
      body.append(el("tr", {}, el("td", { colspan: "8", class: "muted", text: "No commissions match." })));
    }
    for (const c of r.commissions) body.append(commissionRow(c));
    commissionCursor = r.nextCursor;
    $("commissions-more").disabled = !commissionCursor;
    $("select-all").checked = false;
    updateSelection();
    say($("filter-status-line"), "");
  } catch (e) {
    say($("filter-status-line"), "Failed to load commissions: " + e.message, "error");
  }
}

function mature(c) {
  return new Date(c.matureAt) <= new Date();
}

function commissionRow(c) {
  const line = $("commissions-status");
  const path = "/commissions/" + encodeURIComponent(c.id);
  const check = c.status === "accrued"
    ? el("input", { type: "checkbox", value: c.id, "aria-label": "Select the commission of " + c.amount + " " + c.currency + " accrued " + when(c.accruedAt), onchange: updateSelection })
    : null;
  const actions = [];
  if (c.status === "accrued") {
    actions.push(el("button", { type: "button", "data-action": "approve", "aria-label": "Approve " + c.amount + " " + c.currency, onclick: async (ev) => {
      const r = await run(ev.target, line, "Approving…", () => api("POST", path + "/approve", { force: $("approve-force").checked }));
      if (r) {
        await loadCommissions(false);
        say(line, "Approved " + r.amount + " " + r.currency + ".", "ok");
      }
    } }, "Approve"));
  }
  if (c.status !== "reversed") {
    actions.push(el("button", { type: "button", class: "danger", "data-action": "reverse", "aria-label": "Reverse " + c.amount + " " + c.currency, onclick: () => {
      if (!reversing || reversing.id !== c.id) $("reverse-reason").value = ""; // kept after a failed try
      reversing = c;
      $("reverse-what").textContent = c.amount + " " + c.currency + " (" + c.status + ")" + (c.status === "paid" ? ": already paid, so the partner's next payout nets it as a clawback." : ".");
      $("reverse-dialog").showModal();
      $("reverse-reason").focus();
    } }, "Reverse"));
  }
  const matures = when(c.matureAt) + (c.status === "accrued" && !mature(c) ? " (holdback)" : "");
  return el("tr", { "data-commission": c.id }, el("td", {}, check), partnerCell(c.partnerId),
    el("td", { text: programNames.get(c.programId) || c.programId }), el("td", { text: c.amount + " " + c.currency }),
    el("td", { text: c.status + (c.approvalForced && c.status !== "reversed" ? " (forced)" : "") }), el("td", { text: when(c.accruedAt) }),
    el("td", { text: matures }), el("td", {}, el("div", { class: "row" }, ...actions)));
}

async function approveSelected() {
  const ids = selectable().filter((c) => c.checked).map((c) => c.value);
  const force = $("approve-force").checked;
  const line = $("commissions-status");
  const outcome = await run($("approve-selected"), line, "Approving " + ids.length + "…", async () => {
    let approved = 0;
    const refused = [];
    for (const id of ids) {
      try {
        await api("POST", "/commissions/" + encodeURIComponent(id) + "/approve", { force });
        approved += 1;
      } catch (e) {
        refused.push(e.code === "not_mature" ? "still in its holdback" : e.message);
      }
    }
    return { approved, refused };
  });
  if (!outcome) return;
  const { approved, refused } = outcome;
  let text = "Approved " + approved + " of " + ids.length + ".";
  if (refused.length) {
    const holdback = refused.filter((r) => r === "still in its holdback").length;
    const others = [...new Set(refused.filter((r) => r !== "still in its holdback"))];
    text += " Not approved: " + refused.length + (holdback ? " (" + holdback + " still in the holdback: tick “force” to approve them anyway)" : "") + ".";
    if (others.length) text += " " + others.join("; ") + ".";
  }
  await loadCommissions(false);
  say(line, text, refused.length ? "error" : "ok");
}

async function reverseConfirmed(ev) {
  ev.preventDefault();
  const c = reversing;
  const reason = $("reverse-reason").value.trim();
  if (!c) return;
  if (!reason) {
    $("reverse-what").textContent = "Say why it is reversed (e.g. refunded, fraud).";
    $("reverse-reason").focus();
    return;
  }
  $("reverse-dialog").close();
  const line = $("commissions-status");
  const r = await run($("reverse-confirm"), line, "Reversing…", () =>
    api("POST", "/commissions/" + encodeURIComponent(c.id) + "/reverse", { reason }));
  if (r) {
    reversing = null;
    await loadCommissions(false);
    say(line, "Reversed " + r.amount + " " + r.currency + (c.status === "paid" ? "; a clawback is recorded against the next payout." : "."), "ok");
  }
}
