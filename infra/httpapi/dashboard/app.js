// Seatflow admin dashboard. Plain JavaScript, no build step and no external
// resources. Every value from the API is put in the page as text
// (textContent / text nodes), never parsed as HTML.
"use strict";

(function () {
  const TOKEN_KEY = "seatflow.dashboard.token";
  const DAYS_KEY = "seatflow.dashboard.days";
  const DAYS = ["1", "7", "30", "90"];

  const $ = (id) => document.getElementById(id);
  let token = null;
  let productNames = new Map();
  let rejected = false;

  // el builds an element; children are nodes or strings (added as text).
  function el(tag, props, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") e.className = v;
      else if (k === "data") for (const [dk, dv] of Object.entries(v)) e.dataset[dk] = String(dv);
      else if (k === "title") e.title = String(v);
      else e.setAttribute(k, String(v));
    }
    for (const c of children.flat()) {
      if (c === undefined || c === null || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  function fmtTime(s) {
    const d = new Date(s);
    if (Number.isNaN(d.getTime())) return String(s);
    return d.toISOString().slice(0, 16).replace("T", " ") + " UTC";
  }

  function productLabel(id) {
    const name = productNames.get(id);
    return name ? name + " (" + id + ")" : id;
  }

  // claimsOf reads the token's payload for display only; the server is what
  // verifies it.
  function claimsOf(tok) {
    try {
      const part = tok.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      const json = atob(part.padEnd(Math.ceil(part.length / 4) * 4, "="));
      const c = JSON.parse(json);
      return c && typeof c === "object" ? c : null;
    } catch (_) {
      return null;
    }
  }

  function rolesOf(tok) {
    const c = claimsOf(tok);
    return c && Array.isArray(c.roles) ? c.roles.map(String) : [];
  }

  // tokenFromFragment takes #token=... out of the address (the fragment is
  // never sent to the server) and out of the history.
  function tokenFromFragment() {
    const h = location.hash.replace(/^#/, "");
    if (!h) return null;
    const params = new URLSearchParams(h);
    const t = params.get("token");
    if (t === null) return null;
    params.delete("token");
    const rest = params.toString();
    history.replaceState(null, "", location.pathname + location.search + (rest ? "#" + rest : ""));
    return t.trim() || null;
  }

  class APIError extends Error {
    constructor(status, problem) {
      super((problem && (problem.detail || problem.title)) || "HTTP " + status);
      this.status = status;
      this.problem = problem || {};
    }
  }

  async function api(path) {
    let res;
    try {
      res = await fetch(path, {
        headers: { Authorization: "Bearer " + token, Accept: "application/json" },
        cache: "no-store",
        credentials: "omit",
      });
    } catch (e) {
      throw new APIError(0, { title: "Network error", detail: "the server did not answer: " + e.message });
    }
    if (res.ok) return res.json();
    let problem = null;
    try {
      problem = await res.json();
    } catch (_) {
      problem = null;
    }
    throw new APIError(res.status, problem);
  }

  function notice(kind, ...text) {
    return el("p", { class: "notice " + kind, role: "status" }, ...text);
  }

  function errorNotice(e) {
    if (e.status === 403) {
      const roles = rolesOf(token);
      return el("div", { class: "notice forbidden", role: "status", data: { status: "403" } },
        el("strong", {}, "No permission."),
        " Your token (roles: " + (roles.length ? roles.join(", ") : "none") +
          ") is not allowed to see this section.",
        e.problem.detail ? el("span", { class: "detail" }, " Server: " + e.problem.detail + ".") : null);
    }
    const what = e.status ? "HTTP " + e.status + (e.problem.title ? " " + e.problem.title : "") : "Network error";
    return el("div", { class: "notice error", role: "status", data: { status: String(e.status) } },
      el("strong", {}, "Could not load this section: " + what + "."),
      e.problem.detail ? " " + e.problem.detail : null,
      e.problem.code ? el("span", { class: "detail" }, " (code " + e.problem.code + ")") : null);
  }

  // load fills a section's body with what build returns, or with an error
  // notice; a 401 anywhere asks for a new token.
  async function load(body, build) {
    body.setAttribute("aria-busy", "true");
    try {
      body.replaceChildren(await build());
    } catch (e) {
      if (e instanceof APIError && e.status === 401) {
        askForToken("The server rejected this token (expired, malformed, or signed with another secret). Paste a new one.");
        throw e;
      }
      body.replaceChildren(e instanceof APIError ? errorNotice(e) : notice("error", "Could not show this section: " + e.message));
    } finally {
      body.removeAttribute("aria-busy");
    }
  }

  function table(headers, rows, empty) {
    if (!rows.length) return notice("empty", empty);
    return el("div", { class: "table-wrap" },
      el("table", {},
        el("thead", {}, el("tr", {}, headers.map((h) =>
          el("th", { class: h.num ? "num" : null, scope: "col" }, h.label || h)))),
        el("tbody", {}, rows)));
  }

  function meter(used, total) {
    const pct = total > 0 ? Math.min(100, Math.round((used / total) * 100)) : 0;
    const bar = el("span", { class: "bar" });
    bar.style.width = pct + "%";
    return el("span", { class: "meter" + (pct >= 90 ? " high" : ""), title: pct + "% assigned" },
      el("span", { class: "track" }, bar), el("span", { class: "pct" }, pct + "%"));
  }

  async function buildProducts() {
    const list = await api("/v1/products");
    productNames = new Map(list.map((p) => [p.product_id, p.name]));
    let purchased = 0, assigned = 0, available = 0;
    const rows = list.map((p) => {
      purchased += p.purchased; assigned += p.assigned; available += p.available;
      const low = p.available === 0 ? "out" : p.purchased > 0 && p.available / p.purchased < 0.1 ? "low" : null;
      return el("tr", { data: { productId: p.product_id } },
        el("td", { data: { field: "name" } }, el("span", { class: "name" }, p.name), el("span", { class: "id" }, p.product_id)),
        el("td", { class: "services", data: { field: "services" } }, (p.services || []).join(", ")),
        el("td", { class: "num", data: { field: "purchased" } }, p.purchased),
        el("td", { class: "num", data: { field: "assigned" } }, p.assigned),
        el("td", { class: "num" + (low ? " " + low : ""), data: { field: "available" } }, p.available),
        el("td", {}, meter(p.assigned, p.purchased)),
        el("td", { data: { field: "self_service" } },
          el("span", { class: "pill " + (p.self_service === "allowed" ? "on" : "off") }, p.self_service)));
    });
    const frag = document.createDocumentFragment();
    if (list.length) {
      frag.append(el("div", { class: "stats" },
        stat("Products", list.length), stat("Purchased", purchased), stat("Assigned", assigned), stat("Available", available)));
    }
    frag.append(table(["Product", "Services", { label: "Purchased", num: true }, { label: "Assigned", num: true },
      { label: "Available", num: true }, "Usage", "Self-service"], rows, "No products yet."));
    return frag;
  }

  function stat(label, value) {
    return el("div", { class: "stat" }, el("span", { class: "value" }, value), el("span", { class: "label" }, label));
  }

  async function buildRequests(status, countEl) {
    const list = await api("/v1/requests?status=" + encodeURIComponent(status));
    countEl.textContent = String(list.length);
    const rows = list.map((r) => el("tr", { data: { requestId: r.request_id } },
      el("td", { class: "id" }, r.request_id),
      el("td", { data: { field: "product" } }, r.product_name || r.product_id),
      el("td", { data: { field: "requester" } }, r.requester),
      el("td", { data: { field: "users" } }, (r.users || []).join(", ")),
      el("td", { class: "time" }, fmtTime(r.requested_at)),
      el("td", { data: { field: "status" } }, el("span", { class: "pill status-" + r.status }, r.status.replace(/_/g, " ")))));
    return table(["Request", "Product", "Requester", "Users", "Requested", "Status"], rows,
      status === "pending" ? "No pending requests." : "No completed requests.");
  }

  async function buildPolicies() {
    const list = await api("/v1/policies");
    const rows = list.map((p) => el("tr", { data: { policyId: p.policy_id } },
      el("td", { data: { field: "name" } }, el("span", { class: "name" }, p.name), el("span", { class: "id" }, p.policy_id)),
      el("td", { data: { field: "app" } }, p.app),
      el("td", { data: { field: "enabled" } }, el("span", { class: "pill " + (p.enabled ? "on" : "off") }, p.enabled ? "enabled" : "disabled")),
      el("td", {}, el("ol", { class: "products" }, (p.products || []).map((pp, i) =>
        el("li", { data: { productId: pp.product_id } },
          el("span", { class: "name" }, pp.name || pp.product_id),
          i === 0 ? el("span", { class: "pill primary" }, "primary") : null,
          el("span", { class: "muted" }, " " + pp.available + " available"),
          pp.disabled_services && pp.disabled_services.length
            ? el("span", { class: "muted" }, " · without " + pp.disabled_services.join(", ")) : null)))),
      el("td", { class: "num" + (p.available === 0 ? " out" : ""), data: { field: "available" } }, p.available)));
    return table(["Policy", "App", "Status", "Products (in claim order)", { label: "Available seats", num: true }], rows,
      "No auto-claim policies.");
  }

  async function buildReport(days) {
    const rep = await api("/v1/reports/claims?days=" + encodeURIComponent(days));
    const frag = document.createDocumentFragment();
    frag.append(el("p", { class: "muted period", data: { days: rep.days } },
      "Claims from " + fmtTime(rep.from) + " to " + fmtTime(rep.to) + " (" + rep.days + (rep.days === 1 ? " day)" : " days)")));
    const policies = rep.policies || [];
    if (!policies.length) {
      frag.append(notice("empty", "No auto-claim policies, so nothing to report."));
      return frag;
    }
    for (const p of policies) {
      const byDay = p.by_day || [];
      const max = Math.max(1, ...byDay.map((d) => d.count));
      frag.append(el("article", { class: "report-policy", data: { policyId: p.policy_id } },
        el("h3", {}, p.name, " ", el("span", { class: "muted" }, "app " + p.app),
          el("span", { class: "total", data: { field: "total" } }, p.total + (p.total === 1 ? " claim" : " claims"))),
        p.total === 0 ? notice("empty", "No claims in this period.") : el("div", { class: "report-grid" },
          table(["Product", { label: "Claims", num: true }], (p.by_product || []).map((b) =>
            el("tr", { data: { productId: b.product_id } },
              el("td", {}, productLabel(b.product_id)), el("td", { class: "num" }, b.count))), "No claims."),
          el("div", { class: "days-chart", role: "list", "aria-label": "claims per day" }, byDay.map((d) => {
            const bar = el("span", { class: "bar" });
            bar.style.width = Math.max(2, Math.round((d.count / max) * 100)) + "%";
            return el("div", { class: "day", role: "listitem", data: { date: d.date } },
              el("span", { class: "date" }, d.date), el("span", { class: "track" }, bar), el("span", { class: "num" }, d.count));
          })))));
    }
    return frag;
  }

  function sectionBody(id) {
    return document.querySelector("#" + id + " > .body");
  }

  function reportDays() {
    return $("report-days").value;
  }

  async function loadAll() {
    document.body.dataset.state = "loading";
    rejected = false;
    const products = load(sectionBody("products"), buildProducts);
    const jobs = [
      products,
      load($("requests-pending"), () => buildRequests("pending", $("pending-count"))),
      load($("requests-completed"), () => buildRequests("completed", $("completed-count"))),
      load(sectionBody("policies"), buildPolicies),
      // The report names products, so it waits for the product list.
      products.catch(() => {}).then(() => load(sectionBody("report"), () => buildReport(reportDays()))),
    ];
    await Promise.allSettled(jobs);
    if (!rejected) document.body.dataset.state = "ready";
  }

  function showWho() {
    const c = claimsOf(token) || {};
    const parts = [];
    if (c.tenant) parts.push("tenant " + c.tenant);
    if (c.sub) parts.push("user " + c.sub);
    const roles = rolesOf(token);
    parts.push("roles " + (roles.length ? roles.join(", ") : "none"));
    if (typeof c.exp === "number") parts.push("token expires " + fmtTime(c.exp * 1000));
    $("who-text").textContent = parts.join(" · ");
    $("who").hidden = false;
  }

  function askForToken(message) {
    rejected = true;
    token = null;
    sessionStorage.removeItem(TOKEN_KEY);
    $("content").hidden = true;
    $("who").hidden = true;
    $("login").hidden = false;
    const m = $("login-message");
    m.textContent = message || "";
    m.hidden = !message;
    document.body.dataset.state = "login";
    $("token-input").focus();
  }

  function start(tok) {
    token = tok;
    sessionStorage.setItem(TOKEN_KEY, tok);
    $("login").hidden = true;
    $("content").hidden = false;
    showWho();
    loadAll();
  }

  function init() {
    const saved = sessionStorage.getItem(DAYS_KEY);
    if (DAYS.includes(saved)) $("report-days").value = saved;

    $("login-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const t = $("token-input").value.trim().replace(/^Bearer\s+/i, "");
      if (!t) return;
      $("token-input").value = "";
      start(t);
    });
    $("forget").addEventListener("click", () => askForToken(""));
    $("refresh").addEventListener("click", () => { if (token) loadAll(); });
    $("report-days").addEventListener("change", () => {
      sessionStorage.setItem(DAYS_KEY, reportDays());
      if (token) load(sectionBody("report"), () => buildReport(reportDays())).catch(() => {});
    });
    window.addEventListener("hashchange", () => {
      const t = tokenFromFragment();
      if (t) start(t);
    });

    const t = tokenFromFragment() || sessionStorage.getItem(TOKEN_KEY);
    if (t) start(t);
    else askForToken("");
  }

  init();
})();
