// Seatflow admin center: plain ES modules, no build step, nothing loaded
// from elsewhere. The views are chosen by the roles of the token or of the
// organisation sign-in's session; the server decides what each call may do.
import { claims, inSession, roles, savedToken, sessionInfo, setSession, setToken, signOut, whenUnauthorized } from "./api.js";
import { el, notice } from "./ui.js";
import { requestsView } from "./requests.js";
import { licensesView } from "./licenses.js";
import { autoClaimView } from "./autoclaim.js";
import { askView, myRequestsView, myLicensesView } from "./user.js";
import { identityView } from "./identity.js";

const ADMIN = ["global-admin", "user-admin", "license-admin"];
const $ = (id) => document.getElementById(id);

const VIEWS = {
  requests: { label: "Requests", who: ADMIN, render: requestsView,
    why: "Requests are handled by a User administrator, License administrator or Global admin." },
  licenses: { label: "Licenses", who: ADMIN, render: licensesView,
    why: "Licenses are managed by a User administrator, License administrator or Global admin." },
  autoclaim: { label: "Auto-claim policy", who: ["global-admin"], render: autoClaimView,
    why: "Auto-claim policies can be managed by a Global admin only." },
  identity: { label: "Identity apps", who: ["global-admin"], render: identityView,
    why: "Identity apps can be managed by a Global admin only." },
  request: { label: "Request a license", who: ["user"], render: askView, why: "" },
  "my-requests": { label: "My requests", who: ["user"], render: myRequestsView, why: "" },
  "my-licenses": { label: "My licenses", who: ["user"], render: myLicensesView, why: "" },
};

function allowed(name) {
  const r = roles();
  const who = VIEWS[name].who;
  // A token with no admin role is a plain user, whatever else it says.
  if (who.includes("user")) return r.includes("user") || !r.some((x) => ADMIN.includes(x));
  return r.some((x) => who.includes(x));
}

function current() {
  const name = location.hash.replace(/^#\/?/, "").split("/")[0];
  if (VIEWS[name]) return name;
  return Object.keys(VIEWS).find(allowed) || "request";
}

function renderNav(active) {
  $("nav-list").replaceChildren(...Object.keys(VIEWS).filter(allowed).map((name) =>
    el("li", {}, el("a", { href: "#/" + name, "aria-current": name === active ? "page" : null }, VIEWS[name].label))));
  $("nav").hidden = false;
}

let renderSeq = 0;

async function show() {
  const name = current();
  renderNav(name);
  const view = $("view");
  const mine = ++renderSeq;
  view.hidden = false;
  document.body.dataset.state = "loading";
  document.title = VIEWS[name].label + " - Seatflow admin center";
  if (!allowed(name)) {
    const r = roles();
    view.replaceChildren(el("h1", {}, VIEWS[name].label),
      el("div", { class: "notice forbidden", role: "alert" }, el("strong", {}, "You don't have permission to see this page. "),
        VIEWS[name].why, " You are signed in with the roles: " + (r.length ? r.join(", ") : "none") + "."));
    document.body.dataset.state = "ready";
    document.body.dataset.view = name;
    return;
  }
  const root = el("div", { class: "view", data: { view: name } });
  view.replaceChildren(root);
  try {
    await VIEWS[name].render(root, { show });
  } catch (e) {
    if (mine === renderSeq && e.status !== 401) root.append(notice("error", "Could not show this page: " + e.message));
  }
  if (mine === renderSeq) {
    document.body.dataset.state = "ready";
    document.body.dataset.view = name;
  }
}

function showWho() {
  const c = claims();
  const parts = [];
  if (c.sub) parts.push(c.sub);
  if (c.tenant) parts.push("organisation " + c.tenant);
  const r = roles();
  parts.push(r.length ? r.join(", ") : "no role");
  $("who-text").textContent = parts.join(" · ");
  $("who").hidden = false;
}

// Why a sign-in with the organisation came back without a session
// (/console?signin_error=<reason>, set by the server).
const SIGNIN_ERRORS = {
  denied: "Your organisation did not sign you in: the sign-in was cancelled, or your account may not use Seatflow. Ask your administrator if this keeps happening.",
  expired: "The sign-in took too long, or was started in another browser. Sign in again.",
  provider: "The sign-in with your organisation could not be completed. Try again; if it keeps failing, ask your administrator.",
  not_mapped: "Your organisation signed you in, but your account is not set up for Seatflow. Ask your administrator.",
  unavailable: "Your organisation's sign-in cannot be reached right now. Try again in a moment.",
};

// oidc is whether the server offers "Sign in with your organisation".
let oidc = false;

function askForToken(message, kind) {
  // A view still loading must not take the page back from the sign-in.
  renderSeq++;
  setToken(null);
  setSession(null);
  $("view").hidden = true;
  $("view").replaceChildren();
  $("nav").hidden = true;
  $("who").hidden = true;
  $("login").hidden = false;
  $("org-login").hidden = !oidc;
  $("token-login").hidden = oidc;
  $("use-token").hidden = false;
  const m = $("login-message");
  m.textContent = message || "";
  m.className = "notice " + (kind || "error");
  m.setAttribute("role", kind === "ok" ? "status" : "alert");
  m.hidden = !message;
  document.body.dataset.state = "login";
  if (oidc) $("org-login-link").focus();
  else $("token-input").focus();
}

function enter() {
  $("login").hidden = true;
  showWho();
  show();
}

function start(tok) {
  setToken(tok);
  enter();
}

// tokenFromFragment takes #token=... out of the address (a fragment is never
// sent to the server) and out of the history.
function tokenFromFragment() {
  const h = location.hash.replace(/^#/, "");
  if (!h.startsWith("token=")) return null;
  const t = decodeURIComponent(h.slice("token=".length)).trim();
  history.replaceState(null, "", location.pathname + location.search);
  return t || null;
}

// signInError takes ?signin_error=... out of the address and explains it.
function signInError() {
  const reason = new URLSearchParams(location.search).get("signin_error");
  if (reason === null) return "";
  history.replaceState(null, "", location.pathname + location.hash);
  return SIGNIN_ERRORS[reason] || "The sign-in with your organisation failed. Sign in again.";
}

async function leave() {
  if (!inSession()) {
    askForToken("");
    return;
  }
  try {
    await signOut();
    askForToken("You have signed out.", "ok");
  } catch (e) {
    $("view").prepend(notice("error", "Could not sign out: " + e.message));
  }
}

async function init() {
  whenUnauthorized(() => askForToken(inSession()
    ? "Your session has ended (it expired, or you signed out elsewhere). Sign in again."
    : "The server did not accept this token (expired, malformed, or signed with another secret). Paste a new one."));
  $("login-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const t = $("token-input").value.trim().replace(/^Bearer\s+/i, "");
    if (!t) return;
    $("token-input").value = "";
    start(t);
  });
  $("use-token").addEventListener("click", () => {
    $("token-login").hidden = false;
    $("use-token").hidden = true;
    $("token-input").focus();
  });
  $("sign-out").addEventListener("click", leave);
  window.addEventListener("hashchange", () => {
    const t = tokenFromFragment();
    if (t) start(t);
    else if (savedToken() || inSession()) show();
  });
  const failed = signInError();
  let info = null;
  try {
    info = await sessionInfo();
  } catch (e) {
    info = null;
  }
  oidc = info !== null;
  const t = tokenFromFragment() || savedToken();
  if (t) {
    start(t);
  } else if (info && info.signed_in) {
    setSession(info);
    enter();
  } else {
    askForToken(failed || (info && info.refused ? "Your session has ended. Sign in again." : ""));
  }
}

init();
