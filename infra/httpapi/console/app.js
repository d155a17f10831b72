// Seatflow admin center: plain ES modules, no build step, nothing loaded
// from elsewhere. The views are chosen by the token's roles; the server
// decides what each call may do.
import { claims, roles, savedToken, setToken, whenUnauthorized } from "./api.js";
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

function askForToken(message) {
  // A view still loading must not take the page back from the sign-in.
  renderSeq++;
  setToken(null);
  $("view").hidden = true;
  $("view").replaceChildren();
  $("nav").hidden = true;
  $("who").hidden = true;
  $("login").hidden = false;
  const m = $("login-message");
  m.textContent = message || "";
  m.hidden = !message;
  document.body.dataset.state = "login";
  $("token-input").focus();
}

function start(tok) {
  setToken(tok);
  $("login").hidden = true;
  showWho();
  show();
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

function init() {
  whenUnauthorized(() => askForToken("The server did not accept this token (expired, malformed, or signed with another secret). Paste a new one."));
  $("login-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const t = $("token-input").value.trim().replace(/^Bearer\s+/i, "");
    if (!t) return;
    $("token-input").value = "";
    start(t);
  });
  $("sign-out").addEventListener("click", () => askForToken(""));
  window.addEventListener("hashchange", () => {
    const t = tokenFromFragment();
    if (t) start(t);
    else if (savedToken()) show();
  });
  const t = tokenFromFragment() || savedToken();
  if (t) start(t);
  else askForToken("");
}

init();
