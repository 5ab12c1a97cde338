// The console's Mail page: the outbox newest first, filtered by status; a dead or pending
// message can be retried now. Bodies are never shown (a pending one holds a sign-in link).
// Uses app.js's helpers ($, api, run, say, el, when).
"use strict";

let mailCursor = null;

async function mailPage() {
  $("mail-filter").addEventListener("change", () => loadMail(false));
  $("mail-refresh").addEventListener("click", () => loadMail(false));
  $("mail-more").addEventListener("click", () => loadMail(true));
  await loadMail(false);
}

async function loadMail(more) {
  const body = $("mail-body");
  const q = new URLSearchParams({ limit: "50" });
  if ($("mail-filter").value) q.set("status", $("mail-filter").value);
  if (more && mailCursor) q.set("cursor", mailCursor);
  body.setAttribute("aria-busy", "true");
  try {
    const r = await api("GET", "/admin/mail/messages?" + q);
    if (!more) body.replaceChildren();
    mailCursor = r.nextCursor;
    $("mail-more").classList.toggle("hidden", !mailCursor);
    for (const m of r.messages) body.append(mailRow(m));
    if (!body.children.length) body.append(el("tr", {}, el("td", { colspan: "6", class: "muted", text: "No messages." })));
    say($("mail-status"), "");
  } catch (e) {
    say($("mail-status"), "Failed to load the mail: " + e.message, "error");
  } finally {
    body.removeAttribute("aria-busy");
  }
}

function mailRow(m) {
  const retry = m.status === "sent" ? null : el("button", { type: "button", class: "secondary", "data-action": "retry", onclick: async (ev) => {
    const r = await run(ev.target, $("mail-status"), "Retrying…", () =>
      api("POST", "/admin/mail/messages/" + encodeURIComponent(m.id) + "/retry"));
    if (r) {
      await loadMail(false);
      say($("mail-status"), "Retrying the message to " + r.to + ": queued again, sent now.", "ok");
    }
  } }, "Retry");
  const status = m.status === "pending" && m.nextAttemptAt ? "pending (next " + when(m.nextAttemptAt) + ")"
    : m.status === "sent" ? "sent " + when(m.sentAt) : m.status;
  return el("tr", { "data-id": m.id, "data-status": m.status },
    el("td", {}, el("div", { text: m.subject }), el("div", { class: "muted", text: "To " + m.to })),
    el("td", { text: when(m.createdAt) }),
    el("td", { text: status }),
    el("td", { text: String(m.attempts) }),
    el("td", { class: "answer", title: m.lastError || "", text: m.lastError ? m.lastError.slice(0, 160) : "—" }),
    el("td", {}, retry));
}
