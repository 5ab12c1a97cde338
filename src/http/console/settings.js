// The console's API keys page (list, create an admin or scoped key shown once with a copy
// button, revoke) and Settings page (partner sign-up, the programs open to it, payout schedule
// and minimums, brand name and logo). Uses app.js's helpers ($, api, run, say, el, when).
"use strict";

const SCOPES = ["partners:read", "partners:write", "links:read", "links:write", "commissions:read", "clicks:write", "events:write"];

async function apiKeysPage() {
  $("key-scopes").replaceChildren(...SCOPES.map((s) => el("label", { class: "inline" },
    el("input", { type: "checkbox", value: s, name: "scope" }), " " + s)));
  $("key-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const label = $("key-label").value.trim();
    const scoped = $("kind-scoped").checked;
    const scopes = [...document.querySelectorAll("#key-scopes input:checked")].map((i) => i.value);
    if (scoped && !scopes.length) { say($("key-status"), "Pick at least one scope for a scoped key.", "error"); return; }
    const body = label ? { label } : {};
    const made = await run($("key-button"), $("key-status"), "Creating…", () =>
      scoped ? api("POST", "/api-keys/scoped", { ...body, scopes }) : api("POST", "/api-keys", body));
    if (!made) return;
    say($("key-status"), "Created " + (made.label || made.prefix) + ".", "ok");
    $("new-key-value").textContent = made.plaintext;
    $("new-key").classList.remove("hidden");
    $("key-label").value = "";
    await loadKeys();
  });
  $("copy-key").addEventListener("click", async () => {
    const text = $("new-key-value").textContent;
    let ok = false;
    try { await navigator.clipboard.writeText(text); ok = true; } catch (_) {
      const range = document.createRange();
      range.selectNodeContents($("new-key-value"));
      const sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      try { ok = document.execCommand("copy"); } catch (_) { ok = false; }
      sel.removeAllRanges();
    }
    say($("copy-status"), ok ? "Copied." : "Could not copy: select the key and copy it by hand.", ok ? "ok" : "error");
  });
  await loadKeys();
}

async function loadKeys() {
  let list;
  try { list = await api("GET", "/api-keys"); } catch (e) { say($("keys-status"), "Failed to load: " + e.message, "error"); return; }
  const rows = list.apiKeys.map((k) => {
    const actions = el("td", {});
    if (!k.revokedAt) {
      const b = el("button", { type: "button", class: "danger", text: "Revoke" });
      b.addEventListener("click", async () => {
        if (!confirm("Revoke " + (k.label || k.prefix) + "? Whatever uses it stops working.")) return;
        const done = await run(b, $("keys-status"), "Revoking…", () => api("DELETE", "/api-keys/" + encodeURIComponent(k.id)));
        if (done !== undefined) { say($("keys-status"), "Revoked " + (k.label || k.prefix) + ".", "ok"); await loadKeys(); }
      });
      actions.append(b);
    }
    return el("tr", { "data-key": k.id },
      el("td", { text: k.label || "—" }), el("td", {}, el("code", { text: k.prefix })), el("td", { text: k.kind }),
      el("td", { text: (k.scopes || []).join(", ") || "—" }), el("td", { text: when(k.lastUsedAt) }),
      el("td", { text: k.revokedAt ? "revoked " + when(k.revokedAt) : "active" }), actions);
  });
  $("keys-body").replaceChildren(...rows);
}

async function settingsPage() {
  const [policy, programs, payouts, brand] = await Promise.all([
    api("GET", "/config/partner-signup"), api("GET", "/programs"), api("GET", "/config/payouts"), api("GET", "/config/brand"),
  ]);
  $("signup-enabled").checked = !policy.disabled;
  $("signup-policy").value = policy.policy;
  $("signup-programs").replaceChildren(...programs.programs.map((p) => el("label", { class: "inline" },
    el("input", { type: "checkbox", value: p.id, checked: p.openToSignup, "data-was": String(p.openToSignup) }), " " + p.name)));
  $("signup-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const done = await run($("signup-button"), $("signup-status"), "Saving…", async () => {
      await api("POST", "/config/partner-signup", { policy: $("signup-policy").value, disabled: !$("signup-enabled").checked });
      for (const box of document.querySelectorAll("#signup-programs input")) {
        if (String(box.checked) !== box.dataset.was) {
          await api("PATCH", "/programs/" + encodeURIComponent(box.value), { openToSignup: box.checked });
          box.dataset.was = String(box.checked);
        }
      }
      return true;
    });
    if (done) say($("signup-status"), "Saved.", "ok");
  });

  const showPayouts = (s) => {
    $("payout-schedule").value = s.schedule;
    $("payout-minimums").value = Object.entries(s.minimumAmounts || {}).map(([c, v]) => c + " " + v).join("\n");
    $("payout-next").textContent = s.nextRunAt ? "Next run: " + when(s.nextRunAt)
      : s.schedule === "manual" ? "Payouts run when you start them."
      : "No scheduled run in the next two months: OPENPARTNER_PAYOUT_SCHEDULE_CRON never fires on a payout day.";
  };
  showPayouts(payouts);
  $("payout-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const minimumAmounts = {};
    for (const line of $("payout-minimums").value.split("\n").map((l) => l.trim()).filter(Boolean)) {
      const [currency, amount] = line.split(/\s+/);
      if (!currency || !amount) { say($("payout-status"), `"${line}" is not "CUR amount".`, "error"); return; }
      minimumAmounts[currency.toUpperCase()] = amount;
    }
    const saved = await run($("payout-button"), $("payout-status"), "Saving…", () =>
      api("PUT", "/config/payouts", { schedule: $("payout-schedule").value, minimumAmounts }));
    if (saved) { showPayouts(saved); say($("payout-status"), "Saved.", "ok"); }
  });

  $("brand-name").value = brand.brandName;
  $("brand-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const saved = await run($("brand-button"), $("brand-status"), "Saving…", () =>
      api("PUT", "/config/brand", { brandName: $("brand-name").value }));
    if (saved) {
      $("brand-name").value = saved.brandName;
      $("brand").textContent = saved.brandName;
      say($("brand-status"), "Saved: partners now see " + saved.brandName + ".", "ok");
    }
  });
  const preview = $("logo-preview");
  const show = (url) => { preview.src = url; preview.classList.remove("hidden"); };
  fetch("/uploads/logo", { method: "HEAD" }).then((r) => { if (r.ok) show("/uploads/logo?t=" + Date.now()); });
  $("logo-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const file = $("logo-file").files[0];
    if (!file) return;
    const r = await run($("logo-button"), $("logo-status"), "Uploading…", () =>
      api("POST", "/uploads/logo", undefined, { raw: file, contentType: file.type || "application/octet-stream" }));
    if (r) { show(r.logoUrl); say($("logo-status"), "Uploaded.", "ok"); }
  });
}
