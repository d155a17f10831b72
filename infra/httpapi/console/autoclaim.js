// Auto-claim policy (Global admin): the organisation switch, the policies,
// the "Add a policy" wizard, a policy's details pane and the report.
import { download, get, write } from "./api.js";
import { nameOf, resolve } from "./names.js";
import { announce, busy, el, field, fmtDate, fmtTime, notice, panel, servicesFieldset, slot, table, uid } from "./ui.js";
import { asOf, asOfBar, policyAsOfPanel } from "./asof.js";
import { limitsForm, simulateForm } from "./foresight.js";

const MAX_PRODUCTS = 5;
const PERIODS = [1, 7, 30, 90];

export async function autoClaimView(root, ctx) {
  let products = [];
  let openID = null;
  const settingSlot = el("section", { class: "card setting", "aria-label": "Auto-claim policy setting" });
  const listSlot = el("div", { class: "list" });
  const paneSlot = el("div", { class: "pane-slot" });
  const reportSlot = el("div", { class: "report-slot" });
  const addButton = el("button", { type: "button", onclick: () => openWizard() }, "Add a policy");
  const reportButton = el("button", { type: "button", class: "secondary", onclick: () => { closePane(); loadList(); openReport(90); } }, "View report");

  root.append(
    el("div", { class: "view-head" }, el("h1", {}, "Auto-claim policy"),
      el("div", { class: "actions" }, addButton, reportButton)),
    el("p", { class: "lead" }, "When someone signs in to an app for the first time, they get a license from the policy's first product with one available, then from its backups in order."),
    asOfBar("A policy you open shows as it stood then: its status, products, caps and reclaim settings; the list shows today's policies.", () => ctx.show()),
    settingSlot,
    el("div", { class: "split" }, listSlot, paneSlot),
    reportSlot);

  function name(id) {
    const p = products.find((x) => x.product_id === id);
    return p ? p.name : id;
  }

  function productOf(id) {
    return products.find((x) => x.product_id === id) || { product_id: id, name: id, services: [], available: 0 };
  }

  async function loadSetting() {
    const s = await get("/v1/settings/auto-claim");
    const out = slot();
    const toggle = el("button", { type: "button", class: s.enabled ? "secondary" : null }, s.enabled ? "Turn off setting" : "Turn on setting");
    toggle.addEventListener("click", () => busy(toggle, async () => {
      out.clear();
      try {
        const r = await write("PUT", "/v1/settings/auto-claim", { enabled: !s.enabled });
        announce(r.enabled ? "Auto-claim is on" : "Auto-claim is off");
        await loadSetting();
        settingSlot.querySelector("button").focus();
      } catch (e) {
        out.error(e);
      }
    }));
    settingSlot.dataset.enabled = String(s.enabled);
    settingSlot.replaceChildren(
      el("div", { class: "setting-row" },
        el("div", {},
          el("h2", {}, "Auto-claim policy setting ", el("span", { class: "pill " + (s.enabled ? "on" : "off"), data: { field: "setting" } }, s.enabled ? "On" : "Off")),
          el("p", { class: "muted" }, s.enabled
            ? "Users get a license when they first sign in to an app that has a policy that is on."
            : "Turn on the setting so that policies that are on give licenses at first sign-in. While it is off, no one claims a license.")),
        toggle),
      out);
  }

  async function loadList() {
    const list = await get("/v1/policies");
    const rows = list.map((p) => el("tr", { data: { policyId: p.policy_id }, class: p.policy_id === openID ? "selected" : null },
      el("td", { data: { field: "name" } }, el("button", { type: "button", class: "link", onclick: () => openPolicy(p.policy_id) }, p.name)),
      el("td", { data: { field: "app" } }, p.app),
      el("td", { data: { field: "products" } }, p.products.length ? p.products[0].name || p.products[0].product_id : "",
        p.products.length > 1 ? el("span", { class: "muted" }, " + " + (p.products.length - 1) + (p.products.length === 2 ? " backup" : " backups")) : null),
      el("td", { class: "num", data: { field: "available" } }, p.available),
      el("td", { data: { field: "status" } }, el("span", { class: "pill " + (p.enabled ? "on" : "off") }, p.enabled ? "On" : "Off"))));
    listSlot.replaceChildren(table("Policies", ["Name", "App", "Product", { label: "Available licenses", num: true }, "Status"], rows,
      "No policies yet. Add a policy to give licenses automatically at first sign-in."));
    return list;
  }

  function closePane() {
    openID = null;
    paneSlot.replaceChildren();
    root.querySelectorAll("tr.selected").forEach((tr) => tr.classList.remove("selected"));
  }

  function productSelect(value, exclude) {
    const s = el("select", {}, products.filter((p) => p.product_id === value || !(exclude || []).includes(p.product_id)).map((p) =>
      el("option", { value: p.product_id, selected: p.product_id === value }, p.name + " (" + p.available + " available)")));
    if (value) s.value = value;
    return s;
  }

  // The "Add a policy" wizard: name, app and products, apps per product,
  // review.
  function openWizard() {
    openID = null;
    const steps = ["Name", "App and products", "Apps and services", "Review"];
    const state = { name: "", app: "", products: [{ product_id: products.length ? products[0].product_id : "", disabled_services: [] }] };
    let step = 0;
    const stepList = el("ol", { class: "steps", "aria-label": "Steps" });
    const body = el("div", { class: "step-body" });
    const out = slot();
    const pane = panel("Add a policy", closePane, stepList, body, out);
    paneSlot.replaceChildren(pane);

    function go(n) {
      step = n;
      out.clear();
      stepList.replaceChildren(...steps.map((s, i) => el("li", { "aria-current": i === step ? "step" : null, class: i < step ? "done" : null }, s)));
      body.replaceChildren(render());
      const first = body.querySelector("input, select, button");
      if (first) first.focus();
    }

    function nav(next, nextLabel) {
      return el("div", { class: "buttons" },
        step > 0 ? el("button", { type: "button", class: "secondary", onclick: () => go(step - 1) }, "Back") : null,
        el("button", { type: "submit" }, nextLabel || "Next"), next);
    }

    function render() {
      if (step === 0) {
        const n = el("input", { type: "text", value: state.name, maxlength: "200", required: true });
        const f = el("form", {}, el("h3", {}, "Name your policy"), field("Policy name", n), nav());
        f.addEventListener("submit", (ev) => {
          ev.preventDefault();
          if (!n.value.trim()) return out.error({ problem: { detail: "Give the policy a name." } });
          state.name = n.value.trim();
          go(1);
        });
        return f;
      }
      if (step === 1) {
        const app = el("input", { type: "text", value: state.app, maxlength: "128", required: true });
        const rows = el("div", { class: "product-rows" });
        const selects = [];
        const addBackup = el("button", { type: "button", class: "secondary" }, "Add a backup product to this policy");
        function draw() {
          selects.length = 0;
          rows.replaceChildren(...state.products.map((pp, i) => {
            const s = productSelect(pp.product_id);
            s.addEventListener("change", () => { state.products[i] = { product_id: s.value, disabled_services: [] }; });
            selects.push(s);
            const label = i === 0 ? "Product" : "Backup product " + i;
            return el("div", { class: "product-row" }, field(label, s),
              i > 0 ? el("button", { type: "button", class: "secondary small", onclick: () => { state.products.splice(i, 1); draw(); } }, "Remove a product") : null);
          }));
          addBackup.disabled = state.products.length >= MAX_PRODUCTS;
        }
        addBackup.addEventListener("click", () => {
          const used = state.products.map((p) => p.product_id);
          const next = products.find((p) => !used.includes(p.product_id));
          state.products.push({ product_id: next ? next.product_id : products[0].product_id, disabled_services: [] });
          draw();
          selects[selects.length - 1].focus();
        });
        draw();
        const f = el("form", {}, el("h3", {}, "Choose the app and products"),
          field("App", app, "Signing in to this app for the first time claims a license, e.g. teams."),
          rows, addBackup,
          el("p", { class: "hint" }, "Licenses come from the first product with one available, then from the backups in this order. Up to four backups."),
          nav());
        f.addEventListener("submit", (ev) => {
          ev.preventDefault();
          const ids = state.products.map((p) => p.product_id);
          if (!app.value.trim()) return out.error({ problem: { detail: "Name the app the policy is for." } });
          if (new Set(ids).size !== ids.length) return out.error({ problem: { detail: "Each product can be in the policy only once." } });
          state.app = app.value.trim();
          go(2);
        });
        return f;
      }
      if (step === 2) {
        const boxes = state.products.map((pp) => servicesFieldset(name(pp.product_id), productOf(pp.product_id).services, pp.disabled_services));
        const f = el("form", {}, el("h3", {}, "Turn apps and services on or off"),
          el("p", { class: "hint" }, "Choose what each product turns on for the people who claim it."), boxes, nav());
        f.addEventListener("submit", (ev) => {
          ev.preventDefault();
          boxes.forEach((b, i) => { state.products[i].disabled_services = b.disabledServices(); });
          go(3);
        });
        return f;
      }
      const create = el("button", { type: "submit" }, "Create policy");
      const f = el("form", {}, el("h3", {}, "Review and create"),
        el("dl", { class: "facts" },
          el("dt", {}, "Policy name"), el("dd", {}, state.name),
          el("dt", {}, "App"), el("dd", {}, state.app),
          el("dt", {}, "Products"), el("dd", {}, el("ol", { class: "products" }, state.products.map((pp, i) =>
            el("li", {}, name(pp.product_id), i === 0 ? " (primary)" : " (backup)",
              pp.disabled_services.length ? el("span", { class: "muted" }, " · off: " + pp.disabled_services.join(", ")) : null))))),
        el("div", { class: "buttons" }, el("button", { type: "button", class: "secondary", onclick: () => go(2) }, "Back"), create));
      f.addEventListener("submit", (ev) => {
        ev.preventDefault();
        out.clear();
        busy(create, async () => {
          try {
            const r = await write("POST", "/v1/policies", { name: state.name, app: state.app, products: state.products });
            announce("Policy " + r.name + " created");
            await loadList();
            await openPolicy(r.policy_id);
          } catch (e) {
            out.error(e);
          }
        });
      });
      return f;
    }
    go(0);
    pane.focusHeading();
  }

  async function openPolicy(id, focusSelector) {
    openID = id;
    root.querySelectorAll("tr[data-policy-id]").forEach((tr) => tr.classList.toggle("selected", tr.dataset.policyId === id));
    if (asOf()) {
      const pane = await policyAsOfPanel(id, closePane);
      pane.dataset.policyId = id;
      paneSlot.replaceChildren(pane);
      pane.focusHeading();
      return;
    }
    products = await get("/v1/products");
    const p = await get("/v1/policies/" + encodeURIComponent(id));
    const path = "/v1/policies/" + encodeURIComponent(id);
    const out = slot();

    async function after(fn, text, focus) {
      out.clear();
      try {
        await fn();
        announce(text);
        await loadList();
        await openPolicy(id, focus);
      } catch (e) {
        out.error(e);
      }
    }

    const current = p.products.map((pp) => ({ product_id: pp.product_id, disabled_services: pp.disabled_services || [] }));
    const putProducts = (list, text, focus) => after(() => write("PUT", path + "/products", { products: list }), text, focus);

    const toggle = el("button", { type: "button", class: "secondary" }, p.enabled ? "Turn off policy" : "Turn on policy");
    toggle.addEventListener("click", () => busy(toggle, () => after(() => write("PATCH", path, { enabled: !p.enabled }),
      p.enabled ? "Policy turned off" : "Policy turned on", ".status-block button")));

    const nameInput = el("input", { type: "text", value: p.name, maxlength: "200" });
    const rename = el("button", { type: "submit", class: "secondary" }, "Rename");
    const renameForm = el("form", { class: "inline-form" }, field("Policy name", nameInput), rename);
    renameForm.addEventListener("submit", (ev) => {
      ev.preventDefault();
      busy(rename, () => after(() => write("PATCH", path, { name: nameInput.value.trim() }), "Policy renamed"));
    });

    const items = p.products.map((pp, i) => {
      const nid = uid("pp");
      const move = (d) => {
        const list = current.slice();
        [list[i], list[i + d]] = [list[i + d], list[i]];
        return putProducts(list, name(pp.product_id) + " moved " + (d < 0 ? "up" : "down"));
      };
      const up = el("button", { type: "button", class: "secondary small", disabled: i === 0, "aria-describedby": nid, onclick: () => move(-1) }, "Move up");
      const down = el("button", { type: "button", class: "secondary small", disabled: i === p.products.length - 1, "aria-describedby": nid, onclick: () => move(1) }, "Move down");
      const remove = el("button", { type: "button", class: "secondary small", disabled: p.products.length === 1, "aria-describedby": nid,
        onclick: () => putProducts(current.filter((_, j) => j !== i), name(pp.product_id) + " removed") }, "Remove a product");
      return el("li", { data: { productId: pp.product_id } },
        el("div", { class: "pp-head" },
          el("span", { class: "name", id: nid }, pp.name || pp.product_id),
          el("span", { class: "pill " + (i === 0 ? "primary" : "") }, i === 0 ? "Primary" : "Backup " + i),
          el("span", { class: "muted" }, " " + pp.available + " available"),
          pp.disabled_services && pp.disabled_services.length ? el("span", { class: "muted" }, " · off: " + pp.disabled_services.join(", ")) : null),
        el("div", { class: "buttons" }, up, down, remove));
    });

    const others = products.filter((x) => !current.some((c) => c.product_id === x.product_id));
    const addSel = el("select", {}, others.map((x) => el("option", { value: x.product_id }, x.name + " (" + x.available + " available)")));
    const add = el("button", { type: "button", class: "secondary", disabled: current.length >= MAX_PRODUCTS || !others.length },
      "Add a backup product to this policy");
    add.addEventListener("click", () => putProducts(current.concat([{ product_id: addSel.value, disabled_services: [] }]), name(addSel.value) + " added"));

    const pane = panel(p.name, closePane,
      el("section", { class: "block status-block", "aria-label": "Status" },
        el("p", {}, "Status: ", el("span", { class: "pill " + (p.enabled ? "on" : "off"), data: { field: "status" } }, p.enabled ? "On" : "Off"),
          " · App: ", el("strong", {}, p.app)),
        el("p", { class: "hint" }, p.enabled ? "Turning the policy off stops new claims; licenses already claimed stay." : "No one claims a license under this policy while it is off."),
        toggle),
      renameForm,
      el("section", { class: "block", "aria-label": "Products" }, el("h3", {}, "Products, in claim order"),
        el("ol", { class: "policy-products" }, items),
        p.products.length === 1 ? el("p", { class: "hint" }, "A policy needs at least one product, so its last product cannot be removed.") : null,
        current.length < MAX_PRODUCTS && others.length ? el("div", { class: "inline-form" }, field("Product to add", addSel), add)
          : el("p", { class: "hint" }, current.length >= MAX_PRODUCTS ? "A policy has at most one primary and four backup products." : "Every product is already in this policy.")),
      servicesEditor(current, putProducts),
      limitsForm(p, async (body, formOut) => {
        try {
          await write("PATCH", path, body);
          announce("Limits saved");
          await loadList();
          await openPolicy(id, "form.limits button[type=submit]");
          const s = paneSlot.querySelector("form.limits .slot");
          if (s) s.replaceChildren(notice("ok", "Limits saved."));
        } catch (e) {
          formOut.error(e);
        }
      }),
      simulateForm(p, products),
      p.queued ? el("p", { class: "muted" }, p.queued + " people are waiting for a license.") : null,
      out);
    pane.dataset.policyId = id;
    paneSlot.replaceChildren(pane);
    if (focusSelector && pane.querySelector(focusSelector)) pane.querySelector(focusSelector).focus();
    else pane.focusHeading();
  }

  // servicesEditor edits apps and services for one product or for all the
  // policy's products at once.
  function servicesEditor(current, putProducts) {
    const scope = el("select", {}, el("option", { value: "" }, "All products"),
      current.map((c) => el("option", { value: c.product_id }, name(c.product_id))));
    const slotEl = el("div");
    let box;
    function draw() {
      const chosen = scope.value ? current.filter((c) => c.product_id === scope.value) : current;
      const all = [...new Set(chosen.flatMap((c) => productOf(c.product_id).services))];
      const off = all.filter((s) => chosen.every((c) => !productOf(c.product_id).services.includes(s) || c.disabled_services.includes(s)));
      box = servicesFieldset("Turn apps and services on or off", all, off);
      slotEl.replaceChildren(box);
    }
    scope.addEventListener("change", draw);
    draw();
    const save = el("button", { type: "submit", class: "secondary" }, "Save apps and services");
    const f = el("form", { class: "block", "aria-label": "Apps and services" }, el("h3", {}, "Apps and services"),
      field("Apply to", scope, "With All products, what you turn on or off here applies to every product of the policy that has the app or service."), slotEl,
      el("div", { class: "buttons" }, save));
    f.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const off = box.disabledServices();
      const list = current.map((c) => {
        if (scope.value && c.product_id !== scope.value) return c;
        const svcs = productOf(c.product_id).services;
        return { product_id: c.product_id, disabled_services: svcs.filter((s) => off.includes(s)) };
      });
      busy(save, () => putProducts(list, "Apps and services saved"));
    });
    return f;
  }

  // openReport shows the report for days; fromRadio keeps the focus on the
  // period just chosen, else it moves to the report's heading.
  async function openReport(days, fromRadio) {
    const periodName = uid("period");
    const radios = el("div", { class: "periods", role: "radiogroup", "aria-label": "Period" }, PERIODS.map((d) => {
      const id = uid("days");
      const r = el("input", { type: "radio", name: periodName, id, value: String(d), checked: d === days });
      r.addEventListener("change", () => { if (r.checked) openReport(d, true); });
      return el("span", { class: "radio" }, r, el("label", { for: id }, d === 1 ? "Past 1 day" : "Past " + d + " days"));
    }));
    const out = slot();
    const csv = el("button", { type: "button", class: "secondary" }, "Download CSV");
    csv.addEventListener("click", () => busy(csv, async () => {
      out.clear();
      try {
        const file = await download("/v1/reports/claims?days=" + days, "text/csv", "claims-" + days + "d.csv");
        out.ok("Downloaded " + file + ".");
      } catch (e) {
        out.error(e);
      }
    }));
    const rep = await get("/v1/reports/claims?days=" + days);
    const claims = await Promise.all(rep.policies.map((p) => get("/v1/policies/" + encodeURIComponent(p.policy_id) + "/claims?days=" + days)));
    await resolve(claims.flat().map((c) => c.user_id));
    const section = el("section", { class: "card report", "aria-labelledby": "report-title", data: { days: rep.days } },
      el("div", { class: "view-head" }, el("h2", { id: "report-title", tabindex: "-1" }, "Auto-claim report"),
        el("div", { class: "actions" }, csv,
          el("button", { type: "button", class: "icon", "aria-label": "Close report", onclick: () => reportSlot.replaceChildren() }, "✕"))),
      radios,
      el("p", { class: "muted period" }, "Licenses claimed from " + fmtTime(rep.from) + " to " + fmtTime(rep.to) + "."),
      out,
      rep.policies.length ? rep.policies.map((p, i) => policyReport(p, claims[i])) : notice("empty", "No policies, so nothing to report."));
    reportSlot.replaceChildren(section);
    if (fromRadio) radios.querySelector("input:checked").focus();
    else section.querySelector("h2").focus();
  }

  function policyReport(p, claimed) {
    const byDay = p.by_day || [];
    const max = Math.max(1, ...byDay.map((d) => d.count));
    return el("article", { class: "report-policy", data: { policyId: p.policy_id } },
      el("h3", {}, p.name, " ", el("span", { class: "muted" }, "app " + p.app),
        el("span", { class: "total", data: { field: "total" } }, p.total + (p.total === 1 ? " license claimed" : " licenses claimed"))),
      el("div", { class: "report-grid" },
        el("div", {}, el("h4", {}, "By product"),
          table("Claims by product", ["Product", { label: "Claimed", num: true }], (p.by_product || []).map((b) =>
            el("tr", { data: { productId: b.product_id } }, el("td", {}, name(b.product_id)), el("td", { class: "num" }, b.count))), "No claims in this period.")),
        el("div", {}, el("h4", {}, "By day"),
          byDay.length ? el("ul", { class: "chart", "aria-label": "Licenses claimed per day" }, byDay.map((d) => {
            const bar = el("span", { class: "bar" });
            bar.style.width = Math.max(2, Math.round((d.count / max) * 100)) + "%";
            return el("li", { class: "day", data: { date: d.date } },
              el("span", { class: "date" }, fmtDate(d.date)), el("span", { class: "track", "aria-hidden": "true" }, bar),
              el("span", { class: "num" }, d.count));
          })) : notice("empty", "No claims in this period."))),
      el("h4", {}, "Users who claimed a license"),
      table("Users who claimed a license", ["User", "Email", "Product", "Claimed"], claimed.map((c) =>
        el("tr", { data: { userId: c.user_id } }, el("td", { title: c.user_id }, nameOf(c.user_id)), el("td", {}, c.email || ""), el("td", {}, name(c.product_id)),
          el("td", { class: "time" }, fmtTime(c.claimed_at)))), "No one claimed a license in this period."));
  }

  products = await get("/v1/products");
  if (asOf()) {
    // The setting and the list are today's; only a policy's pane shows the
    // past, and nothing can be changed.
    settingSlot.hidden = true;
    addButton.hidden = true;
    await loadList();
    return;
  }
  await Promise.all([loadSetting(), loadList()]);
}

