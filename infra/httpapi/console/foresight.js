// Foresight: each product's run-out forecast, a policy's claim caps and
// reclaim settings, and the simulation of sign-ins under a policy (where
// they would land, with the current or a proposed product order).
import { get, write } from "./api.js";
import { announce, busy, el, field, fmtDate, slot, table, uid } from "./ui.js";

// forecasts reads the forecast of each product; a product whose forecast
// cannot be read maps to null.
export async function forecasts(products) {
  const all = await Promise.all(products.map((p) =>
    get("/v1/products/" + encodeURIComponent(p.product_id) + "/forecast").catch(() => null)));
  return new Map(products.map((p, i) => [p.product_id, all[i]]));
}

const plural = (n, one, many) => n + " " + (n === 1 ? one : many);

// forecastCell is a product row's Forecast cell: when its licenses run out
// at the pace of recent claims, how many days that is, and how many to buy
// to cover 30 days.
export function forecastCell(f) {
  const td = el("td", { class: "forecast", data: { field: "forecast" } });
  if (!f) {
    td.append(el("span", { class: "muted" }, "—"));
    return td;
  }
  const buy = f.buy_to_cover_30_days > 0
    ? el("span", { class: "buy", data: { field: "buy" } }, "Buy " + f.buy_to_cover_30_days + " to cover 30 days") : null;
  if (f.days_left === null || f.days_left === undefined) {
    td.append(el("span", { class: "muted", data: { field: "run_out" } },
      f.claims_per_day_7 || f.claims_per_day_30 ? "Lasts over a year" : "No recent claims"));
  } else if (f.days_left === 0) {
    td.classList.add("out");
    td.append(el("strong", { data: { field: "run_out" } }, "Run out"),
      el("span", { class: "block-line" }, f.queued ? plural(f.queued, "person", "people") + " waiting" : "No licenses left"), buy || "");
  } else {
    if (f.buy_to_cover_30_days > 0) td.classList.add("soon");
    td.append(el("span", { data: { field: "run_out" } }, "Runs out " + fmtDate(f.run_out_at)),
      el("span", { class: "block-line", data: { field: "days_left" } }, f.days_left + (f.days_left === 1 ? " day left" : " days left")), buy || "");
  }
  td.title = "At " + f.claims_per_day_7 + " claims a day over the last 7 days and " + f.claims_per_day_30 + " over the last 30";
  return td;
}

// forecastFacts are a product's forecast for its details pane.
export function forecastFacts(f) {
  if (!f) return null;
  const runOut = f.days_left === null || f.days_left === undefined
    ? (f.claims_per_day_7 || f.claims_per_day_30 ? "Not within a year" : "No recent claims")
    : f.days_left === 0 ? "Run out" : fmtDate(f.run_out_at) + " (" + f.days_left + " days left)";
  return el("section", { class: "block", "aria-label": "Forecast" }, el("h3", {}, "Forecast"),
    el("dl", { class: "facts" },
      el("dt", {}, "Runs out"), el("dd", { data: { field: "run_out" } }, runOut),
      el("dt", {}, "Claims a day"), el("dd", {}, f.claims_per_day_7 + " (last 7 days) · " + f.claims_per_day_30 + " (last 30 days)"),
      el("dt", {}, "Waiting"), el("dd", {}, plural(f.queued, "person", "people")),
      el("dt", {}, "To cover 30 days"), el("dd", { data: { field: "buy" } }, f.buy_to_cover_30_days ? "Buy " + f.buy_to_cover_30_days : "Nothing to buy")));
}

const LIMITS = [
  { key: "daily_cap", label: "Daily cap", min: 1, hint: "Claims a day (UTC), at most; later sign-ins wait for the next day. Empty: no cap." },
  { key: "total_cap", label: "Total cap", min: 1, hint: "Claims in all, at most, counting those made already. Empty: no cap." },
  { key: "reclaim_after_days", label: "Reclaim unused licenses after (days)", min: 2, max: 3650,
    hint: "Days without a sign-in to the app before a claimed license goes back to the pool. Empty: never." },
  { key: "reclaim_warn_days", label: "Warn before reclaiming (days)", min: 1,
    hint: "Users are emailed this long before; signing in keeps the license. Empty: 7." },
];

// limitsForm edits a policy's caps and reclaim settings; save(body) sends
// the PATCH and redraws.
export function limitsForm(p, save) {
  const inputs = LIMITS.map((l) => {
    const v = p[l.key];
    const input = el("input", { type: "number", min: String(l.min), max: l.max ? String(l.max) : null, step: "1", inputmode: "numeric",
      value: v === null || v === undefined ? "" : String(v), placeholder: "Off", data: { limit: l.key } });
    return { l, input };
  });
  const go = el("button", { type: "submit", class: "secondary" }, "Save limits");
  const out = slot();
  const f = el("form", { class: "block limits", "aria-label": "Claim limits and reclaiming" },
    el("h3", {}, "Claim limits and reclaiming"),
    el("div", { class: "limits-grid" }, inputs.map(({ l, input }) => field(l.label, input, l.hint))),
    el("div", { class: "buttons" }, go), out);
  f.addEventListener("submit", (ev) => {
    ev.preventDefault();
    out.clear();
    const body = {};
    for (const { l, input } of inputs) {
      const raw = input.value.trim();
      const v = raw === "" ? null : Number(raw);
      if (v !== null && (!Number.isInteger(v) || v < l.min || (l.max && v > l.max))) {
        out.error({ problem: { detail: l.label + ": enter a whole number from " + l.min + (l.max ? " to " + l.max : " up") + ", or leave it empty." } });
        input.focus();
        return;
      }
      const was = p[l.key] === undefined ? null : p[l.key];
      if (v !== was) body[l.key] = v;
    }
    if (!Object.keys(body).length) {
      out.ok("Nothing changed.");
      return;
    }
    busy(go, () => save(body, out));
  });
  return f;
}

// simulateForm runs POST /v1/policies/{id}/simulate: N first sign-ins, with
// the policy's order or a proposed one; it saves nothing.
export function simulateForm(p, products) {
  const name = (id) => (products.find((x) => x.product_id === id) || {}).name || id;
  const n = el("input", { type: "number", min: "1", max: "10000", step: "1", value: "10", inputmode: "numeric" });
  let order = p.products.map((pp) => ({ product_id: pp.product_id, disabled_services: pp.disabled_services || [] }));
  const propose = el("input", { type: "checkbox", id: uid("propose") });
  const orderList = el("ol", { class: "sim-order", "aria-label": "Proposed order" });
  const addSel = el("select", {});
  const add = el("button", { type: "button", class: "secondary small" }, "Add to the proposed order");
  const addRow = el("div", { class: "inline-form" }, field("Product", addSel), add);
  const orderBox = el("div", { class: "subform", hidden: true },
    el("p", { class: "hint" }, "Try the sign-ins with another order or other products (up to five). The policy itself stays as it is."),
    orderList, addRow);

  function drawOrder() {
    orderList.replaceChildren(...order.map((pp, i) => el("li", { data: { productId: pp.product_id } },
      el("span", { class: "name" }, name(pp.product_id)), " ",
      el("span", { class: "pill " + (i === 0 ? "primary" : "") }, i === 0 ? "Primary" : "Backup " + i),
      el("span", { class: "buttons" },
        el("button", { type: "button", class: "secondary small", disabled: i === 0, "aria-label": "Move " + name(pp.product_id) + " up in the proposed order",
          onclick: () => { [order[i - 1], order[i]] = [order[i], order[i - 1]]; drawOrder(); } }, "Move up"),
        el("button", { type: "button", class: "secondary small", disabled: i === order.length - 1, "aria-label": "Move " + name(pp.product_id) + " down in the proposed order",
          onclick: () => { [order[i], order[i + 1]] = [order[i + 1], order[i]]; drawOrder(); } }, "Move down"),
        el("button", { type: "button", class: "secondary small", disabled: order.length === 1, "aria-label": "Remove " + name(pp.product_id) + " from the proposed order",
          onclick: () => { order.splice(i, 1); drawOrder(); } }, "Remove")))));
    const others = products.filter((x) => !order.some((o) => o.product_id === x.product_id));
    addSel.replaceChildren(...others.map((x) => el("option", { value: x.product_id }, x.name + " (" + x.available + " available)")));
    addRow.hidden = !others.length || order.length >= 5;
  }
  add.addEventListener("click", () => {
    if (!addSel.value) return;
    order.push({ product_id: addSel.value, disabled_services: [] });
    drawOrder();
  });
  propose.addEventListener("change", () => { orderBox.hidden = !propose.checked; });
  drawOrder();

  const go = el("button", { type: "submit" }, "Simulate");
  const out = slot();
  const result = el("div", { class: "sim-result", "aria-live": "polite" });
  const f = el("form", { class: "block simulate", "aria-label": "Simulate sign-ins" },
    el("h3", {}, "Simulate sign-ins"),
    el("p", { class: "hint" }, "See where the next people signing in to " + p.app + " for the first time would get a license, and how many would wait. Nothing is saved and no one gets a license."),
    field("Number of sign-ins", n),
    el("div", { class: "check" }, propose, el("label", { for: propose.id }, "Try a proposed product order")),
    orderBox,
    el("div", { class: "buttons" }, go), out, result);
  f.addEventListener("submit", (ev) => {
    ev.preventDefault();
    out.clear();
    const count = Number(n.value);
    if (!Number.isInteger(count) || count < 1 || count > 10000) {
      out.error({ problem: { detail: "Enter a whole number of sign-ins from 1 to 10000." } });
      return;
    }
    const body = { signins: count };
    if (propose.checked) body.products = order;
    busy(go, async () => {
      try {
        const r = await write("POST", "/v1/policies/" + encodeURIComponent(p.policy_id) + "/simulate", body);
        const rows = r.served.map((s, i) => el("tr", { data: { productId: s.product_id } },
          el("td", {}, name(s.product_id), " ", el("span", { class: "muted" }, i === 0 ? "(primary)" : "(backup " + i + ")")),
          el("td", { class: "num", data: { field: "count" } }, s.count)));
        result.dataset.signins = String(count);
        result.replaceChildren(
          el("h4", {}, "If " + plural(count, "person signs", "people sign") + " in now" + (propose.checked ? ", with the proposed order" : "")),
          table("Where the sign-ins would land", ["Product", { label: "Licenses claimed", num: true }], rows, "No product."),
          el("p", { class: r.queued ? "queued warn-text" : "queued", data: { field: "queued" } },
            r.queued ? plural(r.queued, "person", "people") + " would wait for a license." : "No one would wait."));
        announce("Simulation done");
      } catch (e) {
        out.error(e);
      }
    });
  });
  return f;
}
