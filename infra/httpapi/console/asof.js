// "As of": the instant the Licenses and Auto-claim policy pages show the
// past at (products, a user's licenses, a policy as a fold of the stream up
// to it: ?as_of=). While one is chosen the pages are read-only and say so.
// The choice lasts for the tab's life, across pages, until "Back to now".
import { get } from "./api.js";
import { el, field, fmtDate, notice, panel, slot, uid } from "./ui.js";

let instant = null; // RFC 3339 (UTC) or null: now
// refocus names the control the next bar focuses once drawn: the page
// redraws after a change, and keyboard users keep their place.
let refocus = null;

export function asOf() {
  return instant;
}

// withAsOf adds ?as_of=<instant> to a query path while one is chosen.
export function withAsOf(path) {
  if (!instant) return path;
  return path + (path.includes("?") ? "&" : "?") + "as_of=" + encodeURIComponent(instant);
}

// fmtInstant writes an instant to the second: "30 Nov 2026 17:00:05 UTC".
export function fmtInstant(s) {
  const d = new Date(s);
  if (Number.isNaN(d.getTime())) return String(s);
  return fmtDate(s) + " " + d.toISOString().slice(11, 19) + " UTC";
}

// localValue is a datetime-local input's value for an instant, in the
// browser's time zone, to the second.
function localValue(iso) {
  const d = new Date(iso);
  const p = (n) => String(n).padStart(2, "0");
  return d.getFullYear() + "-" + p(d.getMonth() + 1) + "-" + p(d.getDate()) + "T" + p(d.getHours()) + ":" + p(d.getMinutes()) + ":" + p(d.getSeconds());
}

function zoneName() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "your time zone";
  } catch (_) {
    return "your time zone";
  }
}

// asOfBar is the date picker and, while an instant is chosen, the banner
// that says the page shows the past and is read-only; shown says what the
// page shows as of then. onChange runs after the instant changes (the page
// redraws itself).
export function asOfBar(shown, onChange) {
  const input = el("input", { type: "datetime-local", step: "1", value: instant ? localValue(instant) : "", max: localValue(new Date().toISOString()) });
  const show = el("button", { type: "submit", class: "secondary" }, "Show as of");
  const out = slot();
  const hint = el("p", { class: "hint" }, "A date and time in " + zoneName() + ". " + shown);
  const form = el("form", { class: "inline-form asof-form", "aria-label": "View as of" }, field("View as of", input), show, out);
  input.setAttribute("aria-describedby", uid("asof-hint"));
  hint.id = input.getAttribute("aria-describedby");
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    out.clear();
    const d = new Date(input.value);
    if (!input.value || Number.isNaN(d.getTime())) {
      out.error({ problem: { detail: "Choose a date and time." } });
      return;
    }
    if (d.getTime() > Date.now()) {
      out.error({ problem: { detail: "Choose a date and time in the past; the page already shows now." } });
      return;
    }
    instant = d.toISOString();
    refocus = "back";
    onChange();
  });
  const parts = [form, hint];
  if (instant) {
    const back = el("button", { type: "button", onclick: () => { instant = null; refocus = "input"; onChange(); } }, "Back to now");
    if (refocus === "back") setTimeout(() => back.focus(), 0);
    parts.unshift(el("div", { class: "banner asof-banner", role: "status", data: { asOf: instant } },
      el("div", {}, el("strong", {}, "Read-only: as of " + fmtInstant(instant) + ". "),
        shown + " Nothing can be changed until you go back to now."),
      back));
  }
  if (refocus === "input") setTimeout(() => input.focus(), 0);
  refocus = null;
  return el("section", { class: "asof", "aria-label": "As of" }, ...parts);
}

// policyAsOfPanel shows a policy as it stood at the chosen instant,
// read-only: its status, product order, caps and reclaim settings.
export async function policyAsOfPanel(id, onClose) {
  const [products, p] = await Promise.all([get(withAsOf("/v1/products")), get(withAsOf("/v1/policies/" + encodeURIComponent(id))).catch((e) => {
    if (e.status === 404) return null;
    throw e;
  })]);
  const title = el("span", {}, p ? p.name : "Policy", " ", el("span", { class: "pill asof-pill" }, "As of " + fmtInstant(instant)));
  if (!p) {
    return panel(title, onClose, notice("empty", "This policy did not exist on " + fmtInstant(instant) + "."));
  }
  const names = new Map(products.map((x) => [x.product_id, x.name]));
  const limit = (v, unit) => (v === null || v === undefined ? "Off" : v + " " + unit);
  const order = p.products.map((pp, i) => el("li", { data: { productId: pp.product_id } },
    el("span", { class: "name" }, pp.name || names.get(pp.product_id) || pp.product_id), " ",
    el("span", { class: "pill " + (i === 0 ? "primary" : "") }, i === 0 ? "Primary" : "Backup " + i),
    el("span", { class: "muted" }, " " + pp.available + " available"),
    pp.disabled_services && pp.disabled_services.length ? el("span", { class: "muted" }, " · off: " + pp.disabled_services.join(", ")) : null));
  const hid = uid("asof");
  return panel(title, onClose,
    el("p", { class: "hint" }, "Read-only: the policy as it stood then."),
    el("dl", { class: "facts", "aria-labelledby": hid },
      el("dt", { id: hid }, "Status"), el("dd", { data: { field: "status" } }, p.enabled ? "On" : "Off"),
      el("dt", {}, "App"), el("dd", { data: { field: "app" } }, p.app),
      el("dt", {}, "Available licenses"), el("dd", { data: { field: "available" } }, p.available),
      el("dt", {}, "Daily cap"), el("dd", { data: { field: "daily_cap" } }, limit(p.daily_cap, "claims a day")),
      el("dt", {}, "Total cap"), el("dd", { data: { field: "total_cap" } }, limit(p.total_cap, "claims")),
      el("dt", {}, "Reclaim unused licenses"), el("dd", { data: { field: "reclaim_after_days" } }, limit(p.reclaim_after_days, "days without a sign-in")),
      el("dt", {}, "Warn before reclaiming"), el("dd", { data: { field: "reclaim_warn_days" } },
        p.reclaim_warn_days == null && p.reclaim_after_days != null ? Math.min(7, p.reclaim_after_days - 1) + " days (the default)" : limit(p.reclaim_warn_days, "days"))),
    el("section", { class: "block", "aria-label": "Products" }, el("h3", {}, "Products, in claim order"),
      el("ol", { class: "asof-products" }, order)),
    p.queued ? el("p", { class: "muted" }, p.queued + " people were waiting for a license.") : null);
}

// productAsOfPanel shows a product's counts as they stood at the chosen
// instant, read-only.
export function productAsOfPanel(p, onClose) {
  return panel(el("span", {}, p.name, " ", el("span", { class: "pill asof-pill" }, "As of " + fmtInstant(instant))), onClose,
    el("p", { class: "hint" }, "Read-only: the product as it stood then. To see who held it, find a user under A user's licenses."),
    el("dl", { class: "facts" },
      el("dt", {}, "Purchased"), el("dd", { data: { field: "purchased" } }, p.purchased),
      el("dt", {}, "Assigned"), el("dd", { data: { field: "assigned" } }, p.assigned),
      el("dt", {}, "Available"), el("dd", { data: { field: "available" } }, p.available),
      el("dt", {}, "Self-service purchase"), el("dd", {}, p.self_service === "allowed" ? "Allowed" : "Blocked"),
      el("dt", {}, "Apps and services"), el("dd", {}, p.services.length ? p.services.join(", ") : "None")));
}
