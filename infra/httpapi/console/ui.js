// Small DOM helpers. Every value from the API goes into the page as text
// (text nodes, attributes via setAttribute), never parsed as HTML.

// el builds an element; props are attributes (class, data, on* handlers);
// children are nodes or strings.
export function el(tag, props, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "data") for (const [dk, dv] of Object.entries(v)) e.dataset[dk] = String(dv);
    else if (k.startsWith("on") && typeof v === "function") e.addEventListener(k.slice(2), v);
    else if (k === "value") e.value = v;
    else if (k === "checked") e.checked = !!v;
    else if (v === true) e.setAttribute(k, "");
    else e.setAttribute(k, String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

let idSeq = 0;
export function uid(prefix) {
  idSeq++;
  return (prefix || "id") + "-" + idSeq;
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

// fmtDate writes a day as "30 Nov 2026" (UTC, as the reports count days).
export function fmtDate(s) {
  const d = new Date(s);
  if (Number.isNaN(d.getTime())) return String(s);
  return d.getUTCDate() + " " + MONTHS[d.getUTCMonth()] + " " + d.getUTCFullYear();
}

export function fmtTime(s) {
  const d = new Date(s);
  if (Number.isNaN(d.getTime())) return String(s);
  return fmtDate(s) + " " + d.toISOString().slice(11, 16) + " UTC";
}

export const statusLabels = {
  pending: "Pending",
  approved: "Approved",
  partially_approved: "Partially approved",
  denied: "Denied",
  expired: "Expired",
};

export function statusPill(status) {
  return el("span", { class: "pill status-" + status, data: { status } }, statusLabels[status] || status);
}

// problemBox shows an API error where the action was taken: the problem's
// detail in the person's terms, with its code for support.
export function problemBox(e) {
  const p = (e && e.problem) || {};
  const detail = p.detail || (e && e.message) || "Something went wrong.";
  return el("div", { class: "notice error", role: "alert", data: { code: p.code || "" } },
    el("strong", {}, p.title ? p.title + ". " : "Could not complete this. "),
    detail,
    p.link ? [" ", el("a", { href: p.link, rel: "noopener noreferrer", target: "_blank" }, p.link)] : null);
}

export function notice(kind, ...children) {
  return el("p", { class: "notice " + kind, role: kind === "error" ? "alert" : "status" }, ...children);
}

// Slot is a place in the page that shows a message or an error for one
// action.
export function slot() {
  const s = el("div", { class: "slot", "aria-live": "polite" });
  s.show = (node) => s.replaceChildren(node || "");
  s.error = (e) => s.replaceChildren(problemBox(e));
  s.ok = (text) => s.replaceChildren(notice("ok", text));
  s.clear = () => s.replaceChildren();
  return s;
}

// busy runs fn while button is disabled and marked busy.
export async function busy(button, fn) {
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    return await fn();
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}

export function announce(text) {
  const live = document.getElementById("live");
  if (live) {
    live.textContent = "";
    setTimeout(() => { live.textContent = text; }, 20);
  }
}

export function table(caption, headers, rows, empty) {
  if (!rows.length) return notice("empty", empty);
  return el("div", { class: "table-wrap" },
    el("table", {},
      el("caption", { class: "visually-hidden" }, caption),
      el("thead", {}, el("tr", {}, headers.map((h) =>
        el("th", { class: h.num ? "num" : null, scope: "col" }, h.hidden ? el("span", { class: "visually-hidden" }, h.label) : h.label || h)))),
      el("tbody", {}, rows)));
}

// checkboxes is a fieldset of one check box per item, all checked except
// off; it answers the unchecked ones.
export function servicesFieldset(legend, services, off) {
  const boxes = services.map((svc) => {
    const id = uid("svc");
    const box = el("input", { type: "checkbox", id, value: svc, checked: !(off || []).includes(svc) });
    return { box, row: el("div", { class: "check" }, box, el("label", { for: id }, svc)) };
  });
  const fs = el("fieldset", { class: "services" }, el("legend", {}, legend),
    services.length ? boxes.map((b) => b.row) : el("p", { class: "muted" }, "This product has no apps or services to turn off."));
  fs.disabledServices = () => boxes.filter((b) => !b.box.checked).map((b) => b.box.value);
  fs.setDisabled = (d) => boxes.forEach((b) => { b.box.disabled = d; });
  return fs;
}

export function field(label, control, hint) {
  const id = control.id || uid("f");
  control.id = id;
  const hintEl = hint ? el("p", { class: "hint", id: id + "-hint" }, hint) : null;
  if (hintEl) control.setAttribute("aria-describedby", id + "-hint");
  return el("div", { class: "field" }, el("label", { for: id }, label), control, hintEl);
}

// panel is the details pane: a labelled region on the right (full width on
// a phone) with a close button; focus moves to its heading.
export function panel(title, onClose, ...children) {
  const hid = uid("panel-title");
  const h = el("h2", { id: hid, tabindex: "-1" }, title);
  const p = el("aside", { class: "panel", role: "region", "aria-labelledby": hid },
    el("div", { class: "panel-head" }, h,
      el("button", { type: "button", class: "icon", "aria-label": "Close", onclick: onClose }, "✕")),
    el("div", { class: "panel-body" }, ...children));
  p.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape") onClose();
  });
  p.focusHeading = () => h.focus();
  return p;
}
