// Licenses: products with purchased, assigned and available licenses;
// buying and removing licenses, the self-service purchase setting, and
// assigning or unassigning users.
import { get, roles, write } from "./api.js";
import { nameOf, person, resolve } from "./names.js";
import { picker } from "./picker.js";
import { announce, busy, el, field, fmtDate, notice, panel, servicesFieldset, slot, table } from "./ui.js";
import { asOf, asOfBar, productAsOfPanel, withAsOf } from "./asof.js";
import { forecastCell, forecastFacts, forecasts } from "./foresight.js";
import { historyButton, historyPanel, userLicensesCard } from "./history.js";

export function originText(src) {
  const ref = src && src.ref ? " " + src.ref : "";
  switch (src && src.kind) {
    case "manual": return "Assigned by an admin";
    case "request": return "Approved request" + ref;
    case "policy": return "Auto-claim policy" + ref;
    case "group": return "Security group" + ref;
    default: return (src && src.kind) || "Unknown";
  }
}

export async function licensesView(root, ctx) {
  const canBuy = roles().some((r) => r === "global-admin" || r === "license-admin");
  const listSlot = el("div", { class: "list" });
  const paneSlot = el("div", { class: "pane-slot" });
  let openID = null;
  let products = [];
  const productName = (id) => (products.find((p) => p.product_id === id) || {}).name || id;
  const userCard = userLicensesCard(productName, openHistory);

  root.append(
    el("div", { class: "view-head" }, el("h1", {}, "Licenses")),
    el("p", { class: "lead" }, "The products your organisation has, how many licenses are assigned and how many are left."),
    asOfBar("Products and a user's licenses show as they stood then.", () => ctx.show()),
    el("div", { class: "split" }, listSlot, paneSlot),
    userCard);

  // openHistory shows a license's history in the pane; closing it goes
  // back to the product it was opened from.
  async function openHistory(user, productID) {
    const back = openID;
    const pane = await historyPanel(user, productID, productName(productID), () => (back ? openProduct(back) : closePane()));
    paneSlot.replaceChildren(pane);
    pane.focusHeading();
  }

  async function loadList() {
    const list = await get(withAsOf("/v1/products"));
    products = list;
    const ahead = asOf() ? null : await forecasts(list);
    let purchased = 0, assigned = 0, available = 0;
    const rows = list.map((p) => {
      purchased += p.purchased; assigned += p.assigned; available += p.available;
      return el("tr", { data: { productId: p.product_id }, class: p.product_id === openID ? "selected" : null },
        el("td", { data: { field: "name" } }, el("button", { type: "button", class: "link", onclick: () => openProduct(p.product_id) }, p.name)),
        el("td", { class: "num", data: { field: "purchased" } }, p.purchased),
        el("td", { class: "num", data: { field: "assigned" } }, p.assigned),
        el("td", { class: "num" + (p.available === 0 ? " out" : ""), data: { field: "available" } }, p.available),
        el("td", { data: { field: "self_service" } }, p.self_service === "allowed" ? "Allowed" : "Blocked"),
        ahead ? forecastCell(ahead.get(p.product_id)) : null);
    });
    listSlot.replaceChildren(
      list.length ? el("div", { class: "stats" }, stat("Purchased", purchased), stat("Assigned", assigned), stat("Available", available)) : "",
      table("Products", ["Product", { label: "Purchased", num: true }, { label: "Assigned", num: true },
        { label: "Available", num: true }, "Self-service purchase"].concat(ahead ? ["Forecast"] : []), rows, "No products yet."));
    return list;
  }

  function stat(label, value) {
    return el("div", { class: "stat" }, el("span", { class: "value" }, value), el("span", { class: "label" }, label));
  }

  function closePane() {
    openID = null;
    paneSlot.replaceChildren();
    root.querySelectorAll("tr.selected").forEach((tr) => tr.classList.remove("selected"));
  }

  async function refresh(id) {
    await loadList();
    await openProduct(id);
  }

  async function openProduct(id) {
    openID = id;
    root.querySelectorAll("tr[data-product-id]").forEach((tr) => tr.classList.toggle("selected", tr.dataset.productId === id));
    if (asOf()) {
      const pane = productAsOfPanel(products.find((x) => x.product_id === id), closePane);
      pane.dataset.productId = id;
      paneSlot.replaceChildren(pane);
      pane.focusHeading();
      return;
    }
    const path = "/v1/products/" + encodeURIComponent(id);
    const [p, holders, ahead] = await Promise.all([get(path), get(path + "/assignments"), forecasts([{ product_id: id }])]);
    await resolve(holders.map((h) => h.user_id));
    const parts = [el("dl", { class: "facts" },
      el("dt", {}, "Purchased"), el("dd", { data: { field: "purchased" } }, p.purchased),
      el("dt", {}, "Assigned"), el("dd", { data: { field: "assigned" } }, p.assigned),
      el("dt", {}, "Available"), el("dd", { data: { field: "available" } }, p.available),
      el("dt", {}, "Apps and services"), el("dd", {}, p.services.length ? p.services.join(", ") : "None"))];
    parts.push(forecastFacts(ahead.get(id)));
    if (canBuy) parts.push(buyForm(p), selfServiceForm(p));
    parts.push(assignForm(p), holdersSection(p, holders));
    const pane = panel(p.name, closePane, ...parts);
    pane.dataset.productId = id;
    paneSlot.replaceChildren(pane);
    pane.focusHeading();
  }

  function countForm(p, label, button, body, done) {
    const n = el("input", { type: "number", min: "1", step: "1", value: "1", inputmode: "numeric" });
    const go = el("button", { type: "submit", class: button === "Buy licenses" ? null : "secondary" }, button);
    const out = slot();
    const f = el("form", { class: "inline-form" }, field(label, n), go, out);
    f.addEventListener("submit", (ev) => {
      ev.preventDefault();
      out.clear();
      const count = Number(n.value);
      if (!Number.isInteger(count) || count < 1) {
        out.error({ problem: { detail: "Enter a whole number of licenses, 1 or more." } });
        return;
      }
      busy(go, async () => {
        try {
          await write("POST", "/v1/products/" + encodeURIComponent(p.product_id) + "/licenses", body(count));
          announce(done(count));
          await refresh(p.product_id);
        } catch (e) {
          out.error(e);
        }
      });
    });
    return f;
  }

  function buyForm(p) {
    return el("section", { class: "block", "aria-label": "Purchased licenses" }, el("h3", {}, "Purchased licenses"),
      countForm(p, "Licenses to buy", "Buy licenses", (n) => ({ add: n }), (n) => n + " licenses bought"),
      countForm(p, "Licenses to remove", "Remove licenses", (n) => ({ remove: n }), (n) => n + " licenses removed"));
  }

  function selfServiceForm(p) {
    const sel = el("select", {},
      el("option", { value: "allowed", selected: p.self_service === "allowed" }, "Allowed: users can buy it themselves"),
      el("option", { value: "blocked", selected: p.self_service === "blocked" }, "Blocked: users request it from an admin"));
    sel.value = p.self_service;
    const save = el("button", { type: "submit", class: "secondary" }, "Save setting");
    const out = slot();
    const f = el("form", { class: "block" }, el("h3", {}, "Self-service purchase"), field("Self-service purchase", sel), save, out);
    f.addEventListener("submit", (ev) => {
      ev.preventDefault();
      out.clear();
      busy(save, async () => {
        try {
          await write("PUT", "/v1/products/" + encodeURIComponent(p.product_id) + "/self-service", { self_service: sel.value });
          announce("Self-service purchase saved");
          await refresh(p.product_id);
        } catch (e) {
          out.error(e);
        }
      });
    });
    return f;
  }

  function assignForm(p) {
    const who = picker({ label: "Users", hint: "Find people by name or email." });
    const services = servicesFieldset("Turn apps and services on or off", p.services, []);
    const go = el("button", { type: "submit" }, "Assign");
    const out = slot();
    const f = el("form", { class: "block", "aria-label": "Assign licenses" }, el("h3", {}, "Assign licenses"), who, services,
      el("div", { class: "buttons" }, go), out);
    f.addEventListener("submit", (ev) => {
      ev.preventDefault();
      out.clear();
      const people = who.ready("Choose at least one user.");
      if (!people) return;
      busy(go, async () => {
        for (const u of people) {
          try {
            await write("POST", "/v1/products/" + encodeURIComponent(p.product_id) + "/assignments",
              { user_id: u.user_id, disabled_services: services.disabledServices() });
          } catch (e) {
            out.error(e);
            return;
          }
        }
        announce("Licenses assigned");
        await refresh(p.product_id);
      });
    });
    return f;
  }

  function holdersSection(p, holders) {
    const out = slot();
    const rows = holders.map((h) => {
      const un = el("button", { type: "button", class: "secondary small", "aria-label": "Unassign " + nameOf(h.user_id) }, "Unassign");
      un.addEventListener("click", () => busy(un, async () => {
        out.clear();
        try {
          await write("DELETE", "/v1/products/" + encodeURIComponent(p.product_id) + "/assignments/" + encodeURIComponent(h.user_id));
          announce("License of " + nameOf(h.user_id) + " unassigned");
          await refresh(p.product_id);
        } catch (e) {
          out.error(e);
        }
      }));
      return el("tr", { data: { userId: h.user_id } },
        el("td", {}, person(h.user_id)),
        el("td", { data: { field: "off" } }, h.disabled_services.length ? h.disabled_services.join(", ") : "None"),
        el("td", { data: { field: "origin" } }, originText(h.source), el("span", { class: "muted block-line" }, "since " + fmtDate(h.assigned_at))),
        el("td", {}, el("div", { class: "buttons tight" }, historyButton(h.user_id, p.product_id, openHistory), un)));
    });
    return el("section", { class: "block", "aria-label": "Licensed users" }, el("h3", {}, "Licensed users"), out,
      table("Licensed users", ["User", "Apps off", "Origin", { label: "Actions", hidden: true }], rows, "No one holds a license of this product."));
  }

  try {
    await loadList();
    await userCard.restore();
  } catch (e) {
    listSlot.replaceChildren(notice("error", "Could not load the products: " + e.message));
  }
}
