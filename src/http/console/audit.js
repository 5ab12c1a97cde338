// The audit log page (uses app.js's helpers): filters, newest first, "Older entries" pages on.
"use strict";

async function auditPage() {
  let cursor = null;
  const query = () => {
    const q = new URLSearchParams({ limit: "50" });
    for (const [field, id] of [["actor", "audit-actor"], ["action", "audit-action"], ["targetId", "audit-target"]]) {
      const v = $(id).value.trim();
      if (v) q.set(field, v);
    }
    if (cursor) q.set("cursor", cursor);
    return q.toString();
  };
  const changes = (c) => Object.entries(c || {}).map(([field, v]) =>
    field + ": " + JSON.stringify(v && v.before !== undefined ? v.before : null) + " → " + JSON.stringify(v ? v.after : null)).join("; ");
  const load = async (append) => {
    say($("audit-status"), "Loading…", "busy");
    try {
      const r = await api("GET", "/audit-log?" + query());
      const rows = r.entries.map((e) => el("tr", {},
        el("td", { text: when(e.at) }),
        el("td", { text: e.actor + (e.actorLabel ? " (" + e.actorLabel + ")" : "") }),
        el("td", { text: e.action }),
        el("td", { text: e.targetType + " " + e.targetId }),
        el("td", { text: changes(e.changes) })));
      if (append) $("audit-body").append(...rows); else $("audit-body").replaceChildren(...rows);
      cursor = r.nextCursor;
      $("audit-more").classList.toggle("hidden", !cursor);
      say($("audit-status"), $("audit-body").children.length ? "" : "No entries.", "ok");
    } catch (e) {
      say($("audit-status"), "Failed to load the audit log: " + e.message, "error");
    }
  };
  $("audit-filter").addEventListener("submit", (ev) => {
    ev.preventDefault();
    cursor = null;
    load(false);
  });
  $("audit-more").addEventListener("click", () => load(true));
  load(false);
}
