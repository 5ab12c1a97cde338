// Helpers shared by the admin console (app.js and each page's script) and the partner portal
// (portal.js): the API call with the session cookie and the CSRF token, status messages, busy
// buttons, and elements whose text from the server is always set as text, never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
let csrf = null;

/** The API answered 401: the session is gone. */
class SignedOut extends Error {}

/** What the page does when its session is gone: the console goes to its sign-in page, the
 *  portal shows its own. Each page's script sets it. */
let onSignedOut = () => {};

/** What `when` shows for no time at all. */
let whenEmpty = "never";

/** Calls the API with the session cookie (and the CSRF token on changes). */
async function api(method, path, body, opts = {}) {
  const headers = {};
  let payload;
  if (opts.raw) {
    payload = opts.raw;
    headers["Content-Type"] = opts.contentType;
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    headers["Content-Type"] = "application/json";
  }
  if (method !== "GET" && csrf) headers["X-CSRF-Token"] = csrf;
  let res;
  try {
    res = await fetch(path, { method, headers, body: payload, credentials: "same-origin" });
  } catch (e) {
    throw new Error("the server could not be reached (" + e.message + ")");
  }
  let data = null;
  try { data = await res.json(); } catch (_) { /* not JSON */ }
  if (res.status === 401 && !opts.allow401) {
    onSignedOut();
    throw new SignedOut("signed out");
  }
  if (!res.ok) {
    const detail = data && data.detail !== undefined
      ? (typeof data.detail === "string" ? data.detail : Object.entries(data.detail).map(([k, v]) => k + ": " + v).join("; "))
      : res.statusText;
    const err = new Error(detail || ("HTTP " + res.status));
    err.code = data && data.error;
    err.status = res.status;
    throw err;
  }
  return data;
}

function say(el, text, kind) {
  el.textContent = text;
  el.dataset.kind = kind || "";
}

/** Runs `fn` with `button` disabled and progress shown in `statusEl`; failures are shown. */
async function run(button, statusEl, busyText, fn) {
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  say(statusEl, busyText, "busy");
  try {
    return await fn();
  } catch (e) {
    if (e instanceof SignedOut) return undefined;
    say(statusEl, "Failed: " + e.message, "error");
    return undefined;
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== null && v !== undefined && v !== false) node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

function when(iso) {
  if (!iso) return whenEmpty;
  const d = new Date(iso);
  return isNaN(d) ? iso : d.toLocaleString();
}

function setDl(dl, pairs) {
  dl.replaceChildren(...pairs.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: v === null || v === undefined ? "—" : String(v) })]));
}
