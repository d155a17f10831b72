// A plain user's pages: request a license, their requests, their licenses.
import { claims, get, write } from "./api.js";
import { nameOf, resolve } from "./names.js";
import { picker } from "./picker.js";
import { originText } from "./licenses.js";
import { announce, busy, el, field, fmtDate, notice, slot, statusPill, table } from "./ui.js";

function me() {
  return String(claims().sub || "");
}

export async function askView(root) {
  const cat = await get("/v1/catalog");
  root.append(el("div", { class: "view-head" }, el("h1", {}, "Request a license")));
  const rp = cat.request_process || {};
  if (rp.mode === "own") {
    root.append(el("section", { class: "card own-process", "aria-label": "Your organisation's request process", data: { mode: "own" } },
      el("h2", {}, "Your organisation handles license requests in its own process"),
      el("p", { class: "own-message", data: { field: "message" } }, rp.message || "Ask your admin how to get a license."),
      rp.link ? el("p", {}, el("a", { href: rp.link, rel: "noopener noreferrer", target: "_blank", data: { field: "link" } }, rp.link)) : null));
    return;
  }
  const requestable = cat.products.filter((p) => p.self_service === "blocked");
  if (!requestable.length) {
    root.append(notice("empty", "There is nothing to request: you can buy every product yourself, or there are no products yet."));
    return;
  }
  const product = el("select", {}, requestable.map((p) => el("option", { value: p.product_id }, p.name)));
  const who = picker({ label: "Colleagues who also need it (optional)", hint: "You are included. Find colleagues by name or email.", exclude: [me()], max: 50 });
  const why = el("textarea", { rows: "4", maxlength: "2000" });
  const submit = el("button", { type: "submit" }, "Submit");
  const out = slot();
  const form = el("form", { class: "card narrow-form", "aria-label": "Request a license" },
    el("p", { class: "lead" }, "Ask your admins for a license of a product you can't buy yourself. You'll get an email when they decide."),
    field("Select a product", product),
    el("p", { class: "hint" }, "Requested for: you (" + me() + ") and the colleagues you add."),
    who,
    field("Justification", why, "Tell your admins why the license is needed."),
    el("div", { class: "buttons" }, submit), out);
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    out.clear();
    if (!who.ready()) return;
    busy(submit, async () => {
      try {
        const r = await write("POST", "/v1/requests", {
          product_id: product.value, users: who.people().map((u) => u.user_id), justification: why.value,
        });
        out.show(el("div", { class: "notice ok", role: "status", data: { requestId: r.request_id } },
          el("strong", {}, "Request sent. "), "Your admins will review your request for " + (r.product_name || r.product_id || product.value) + ". ",
          el("a", { href: "#/my-requests" }, "See my requests")));
        announce("Request sent");
        why.value = "";
      } catch (e) {
        out.error(e);
      }
    });
  });
  root.append(form);
}

export async function myRequestsView(root) {
  root.append(el("div", { class: "view-head" }, el("h1", {}, "My requests")));
  const list = await get("/v1/requests");
  const details = await Promise.all(list.map((r) => get("/v1/requests/" + encodeURIComponent(r.request_id))));
  await resolve(details.flatMap((d) => d.users));
  const rows = details.map((d) => el("tr", { data: { requestId: d.request_id } },
    el("td", {}, d.product_name || d.product_id),
    el("td", { class: "time" }, fmtDate(d.requested_at)),
    el("td", {}, d.users.map(nameOf).join(", ")),
    el("td", { data: { field: "status" } }, statusPill(d.status)),
    el("td", { data: { field: "message" } }, d.decision && d.decision.message ? d.decision.message : el("span", { class: "muted" }, "—"))));
  root.append(table("My requests", ["Product", "Requested", "For", "Status", "Message from your admin"], rows,
    "You have not requested any licenses."));
}

export async function myLicensesView(root) {
  root.append(el("div", { class: "view-head" }, el("h1", {}, "My licenses")));
  const [lic, cat] = await Promise.all([get("/v1/users/" + encodeURIComponent(me()) + "/licenses"), get("/v1/catalog")]);
  const names = new Map(cat.products.map((p) => [p.product_id, p.name]));
  const rows = lic.map((l) => el("tr", { data: { productId: l.product_id } },
    el("td", {}, names.get(l.product_id) || l.product_id),
    el("td", {}, l.disabled_services.length ? l.disabled_services.join(", ") : "None"),
    el("td", { data: { field: "origin" } }, originText(l.source)),
    el("td", { class: "time" }, fmtDate(l.assigned_at))));
  root.append(table("My licenses", ["Product", "Apps and services off", "How you got it", "Since"], rows, "You have no licenses yet."));
}
