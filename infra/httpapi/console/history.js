// Why a user holds a license: a license's history (every event that
// touched it, with its origin, who acted and when), and a user's licenses
// now or as of an instant, each with its History.
import { get } from "./api.js";
import { asOf, fmtInstant, withAsOf } from "./asof.js";
import { originText } from "./licenses.js";
import { nameOf, person, resolve } from "./names.js";
import { picker } from "./picker.js";
import { busy, el, fmtDate, notice, panel, slot, table } from "./ui.js";

const WHAT = {
  LicenseAssigned: "Assigned",
  LicensesAssigned: "Assigned",
  LicenseClaimed: "Claimed at first sign-in",
  LicensesClaimed: "Claimed at first sign-in",
  QueuedUserGranted: "Granted from the queue",
  RequestApproved: "Request approved",
  LicenseUnassigned: "Unassigned",
  LicenseReclaimed: "Reclaimed: not used",
};

const KIND = {
  request: "License request",
  policy: "Auto-claim policy",
  group: "Security group",
  manual: "Assigned by an admin",
};

// historyPanel is the pane with the history of user's license of product.
export async function historyPanel(user, productID, productName, onClose) {
  let entries;
  try {
    entries = await get("/v1/users/" + encodeURIComponent(user) + "/licenses/" + encodeURIComponent(productID) + "/history");
  } catch (e) {
    if (e.status !== 404) throw e;
    entries = [];
  }
  await resolve([user, ...entries.flatMap((e) => [e.actor, e.origin.requester, e.origin.decided_by])]);
  const items = entries.map((e) => {
    const o = e.origin || {};
    return el("li", { data: { position: e.position, type: e.type } },
      el("div", { class: "when" },
        el("span", { class: "what", data: { field: "what" } }, WHAT[e.type] || e.type),
        el("span", { class: "time", data: { field: "at" } }, fmtInstant(e.at))),
      el("dl", { class: "facts" },
        el("dt", {}, "Origin"),
        el("dd", { data: { field: "origin", kind: o.kind || "" } },
          el("strong", {}, KIND[o.kind] || o.kind || ""), o.detail ? el("span", { class: "muted block-line" }, o.detail) : null),
        el("dt", {}, "By"),
        el("dd", { data: { field: "actor" } }, e.actor ? person(e.actor) : el("span", { class: "muted" }, "—")),
        el("dt", {}, "Command id"),
        el("dd", { data: { field: "command" } }, el("code", { class: "command-id" }, e.command_id))));
  });
  const p = panel("License history", onClose,
    el("p", { class: "lead history-of" }, person(user), " · ", el("strong", {}, productName || productID)),
    el("p", { class: "hint" }, "Every change to this license, oldest first: where it came from, who or what made it, and when."),
    items.length ? el("ol", { class: "timeline", "aria-label": "License history" }, items)
      : notice("empty", "Nothing has ever touched this license."));
  p.classList.add("history-panel");
  p.dataset.userId = user;
  p.dataset.productId = productID;
  return p;
}

// historyButton opens the history of user's license of product.
export function historyButton(user, productID, open) {
  return el("button", { type: "button", class: "secondary small", "aria-label": "History of " + nameOf(user) + "'s license",
    onclick: () => open(user, productID) }, "History");
}

let lastUser = null; // the user last looked up, shown again when the page redraws

// userLicensesCard finds a user and lists their licenses (as of the chosen
// instant, if any), each with its History. productName names products;
// openHistory(user, product) shows a history.
export function userLicensesCard(productName, openHistory) {
  const who = picker({ label: "User", hint: "Find a person by name or email to see their licenses and why they hold each.", max: 1 });
  const go = el("button", { type: "submit", class: "secondary" }, "Show licenses");
  const out = slot();
  const results = el("div", { class: "user-licenses" });
  const form = el("form", { class: "inline-form", "aria-label": "Find a user's licenses" }, who, go, out);

  async function show(user) {
    lastUser = user;
    const list = await get(withAsOf("/v1/users/" + encodeURIComponent(user) + "/licenses"));
    await resolve([user]);
    const rows = list.map((l) => el("tr", { data: { productId: l.product_id } },
      el("td", { data: { field: "product" } }, productName(l.product_id)),
      el("td", { data: { field: "off" } }, l.disabled_services.length ? l.disabled_services.join(", ") : "None"),
      el("td", { data: { field: "origin" } }, originText(l.source)),
      el("td", { class: "time" }, fmtDate(l.assigned_at)),
      el("td", {}, historyButton(user, l.product_id, openHistory))));
    results.dataset.userId = user;
    results.replaceChildren(
      el("h3", {}, "Licenses of ", person(user), asOf() ? el("span", { class: "muted" }, " as of " + fmtInstant(asOf())) : null),
      table("Licenses of " + nameOf(user), ["Product", "Apps off", "Origin", "Since", { label: "Actions", hidden: true }], rows,
        asOf() ? nameOf(user) + " held no license then." : nameOf(user) + " holds no license."));
  }

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    out.clear();
    const people = who.ready("Choose a user.");
    if (!people) return;
    busy(go, async () => {
      try {
        await show(people[0].user_id);
      } catch (e) {
        out.error(e);
      }
    });
  });
  const card = el("section", { class: "card user-licenses-card", "aria-labelledby": "user-licenses-title" },
    el("h2", { id: "user-licenses-title" }, "A user's licenses"), form, results);
  // restore shows the user looked up last again (once the page knows the
  // products' names).
  card.restore = () => (lastUser ? show(lastUser).catch((e) => out.error(e)) : null);
  return card;
}
