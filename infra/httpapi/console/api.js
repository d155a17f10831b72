// The console's only way to the server: the public JSON API, with the
// bearer token the person pasted in, or with the session cookie of an
// organisation sign-in (then every write carries the session's CSRF token).
// Every write carries an Idempotency-Key; every read after a write passes
// ?after=<position> so the page shows the write's result, never a stale
// read model.

const TOKEN_KEY = "seatflow.console.token";
const CSRF_HEADER = "Seatflow-CSRF-Token";

let token = null;
// session is GET /console/session's answer while signed in with the
// organisation: who, the roles and the CSRF token. The cookie itself is
// HttpOnly: this page never sees it.
let session = null;
let position = 0;
let onUnauthorized = () => {};

export class APIError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || "The server answered HTTP " + status);
    this.status = status;
    this.problem = problem || {};
    this.code = this.problem.code || "";
  }
}

export function setToken(t) {
  token = t;
  if (t) session = null;
  if (t) sessionStorage.setItem(TOKEN_KEY, t);
  else sessionStorage.removeItem(TOKEN_KEY);
}

export function savedToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function whenUnauthorized(fn) {
  onUnauthorized = fn;
}

// setSession switches to the organisation session info describes (null:
// none).
export function setSession(info) {
  session = info && info.signed_in ? info : null;
  if (session) setToken(null);
}

export function inSession() {
  return session !== null;
}

// sessionInfo asks whether organisation sign-in is on and who is signed in:
// null when it is off (the server has no /console/session), otherwise the
// answer, with refused set when the server refused the session cookie
// (expired, signed out, tampered with).
export async function sessionInfo() {
  let res;
  try {
    res = await fetch("/console/session", { headers: { Accept: "application/json" }, cache: "no-store", credentials: "same-origin" });
  } catch (_) {
    return null;
  }
  if (res.status === 404) return null;
  if (res.status === 401) return { signed_in: false, refused: true, login_url: "/console/login" };
  if (!res.ok) throw new APIError(res.status, await problemOf(res));
  return res.json();
}

// signOut ends the organisation session on the server (which revokes it)
// and forgets it here.
export async function signOut() {
  const headers = { Accept: "application/json" };
  if (session) headers[CSRF_HEADER] = session.csrf_token;
  const res = await send("POST", "/console/logout", undefined, headers);
  if (!res.ok) throw new APIError(res.status, await problemOf(res));
  session = null;
}

// claims reads the token's payload (or the session's principal) for display
// and to choose the views; the server is what verifies it and decides what
// is allowed.
export function claims() {
  if (session) return { sub: session.user_id, tenant: session.tenant, roles: session.roles || [] };
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const c = JSON.parse(atob(part.padEnd(Math.ceil(part.length / 4) * 4, "=")));
    return c && typeof c === "object" ? c : {};
  } catch (_) {
    return {};
  }
}

export function roles() {
  const r = claims().roles;
  return Array.isArray(r) ? r.map(String) : [];
}

// newKey makes an Idempotency-Key. crypto.getRandomValues works on plain
// http too, unlike crypto.randomUUID.
export function newKey() {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return "console-" + Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

// withAfter adds ?after=<last write's position> to a query path.
function withAfter(path) {
  if (!position) return path;
  return path + (path.includes("?") ? "&" : "?") + "after=" + position;
}

async function send(method, path, body, headers) {
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      // The session cookie goes only where it is the credential.
      credentials: session ? "same-origin" : "omit",
    });
  } catch (e) {
    throw new APIError(0, { title: "Network error", detail: "The server did not answer (" + e.message + "). Check your connection and try again." });
  }
  return res;
}

async function problemOf(res) {
  try {
    return await res.json();
  } catch (_) {
    return null;
  }
}

function authHeaders(extra, isWrite) {
  const h = Object.assign({ Accept: "application/json" }, extra || {});
  if (token) h.Authorization = "Bearer " + token;
  else if (session && isWrite) h[CSRF_HEADER] = session.csrf_token;
  return h;
}

// get reads path (after the last write) and returns the decoded JSON.
export async function get(path) {
  const res = await send("GET", withAfter(path), undefined, authHeaders());
  if (res.ok) return res.json();
  const p = await problemOf(res);
  if (res.status === 401) onUnauthorized(p);
  throw new APIError(res.status, p);
}

// write sends a command with a fresh Idempotency-Key, retrying once with the
// same key when the server cannot tell whether it landed, and remembers the
// answer's position for the reads that follow.
export async function write(method, path, body) {
  const key = newKey();
  const headers = authHeaders({ "Content-Type": "application/json", "Idempotency-Key": key }, true);
  let res = await send(method, path, body, headers);
  if (res.status === 503) res = await send(method, path, body, headers);
  if (!res.ok) {
    const p = await problemOf(res);
    if (res.status === 401) onUnauthorized(p);
    throw new APIError(res.status, p);
  }
  const data = await res.json();
  const pos = Number(res.headers.get("Seatflow-Position") || (data && data.position) || 0);
  if (pos > position) position = pos;
  return data;
}

// download fetches path as accept and saves it under the server's file name.
export async function download(path, accept, fallbackName) {
  const res = await send("GET", withAfter(path), undefined, authHeaders({ Accept: accept }));
  if (!res.ok) throw new APIError(res.status, await problemOf(res));
  const blob = await res.blob();
  const m = /filename="([^"]+)"/.exec(res.headers.get("Content-Disposition") || "");
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = m ? m[1] : fallbackName;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 60000);
  return a.download;
}

// Share links carry their own token: no bearer, no session.
export async function shared(method, tok, body) {
  const path = "/v1/shared/" + encodeURIComponent(tok);
  const headers = { Accept: "application/json" };
  if (method !== "GET") {
    headers["Content-Type"] = "application/json";
    headers["Idempotency-Key"] = newKey();
  }
  const res = await send(method, path, body, headers);
  if (!res.ok) throw new APIError(res.status, await problemOf(res));
  return res.json();
}
