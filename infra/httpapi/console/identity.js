// Identity apps (Global admin): which application of Okta or Microsoft
// Entra ID counts as which Seatflow app when the provider reports a sign-in
// to it. The mapping is one list, replaced whole on every change; each
// change starts from the list as the server holds it then, so another
// admin's change made meanwhile is kept.
import { get, write } from "./api.js";
import { announce, busy, el, field, slot, table } from "./ui.js";

const PROVIDERS = [
  { id: "okta", label: "Okta", hint: "The app's id in Okta (Applications → the app; the id in its address, like 0oa1a35nndfI7w1yp1d8)." },
  { id: "entra", label: "Microsoft Entra ID", hint: "The application (client) id of the enterprise application, a GUID like de8bc8b5-d9f9-48b1-a8ad-b748da725064." },
];

function providerLabel(id) {
  const p = PROVIDERS.find((x) => x.id === id);
  return p ? p.label : id;
}

export async function identityView(root) {
  const listSlot = el("div", { class: "list" });
  const out = slot();
  root.append(
    el("div", { class: "view-head" }, el("h1", {}, "Identity apps")),
    el("p", { class: "lead" }, "When Okta or Microsoft Entra ID reports that someone signed in to an application listed here, it counts as a sign-in to the Seatflow app next to it, and the app's auto-claim policy gives them a license. Sign-ins to applications not listed are ignored."),
    listSlot, out, addForm(), hookAddresses());

  async function load() {
    const s = await get("/v1/settings/identity-apps");
    render(s.mappings);
    return s.mappings;
  }

  function render(mappings) {
    const rows = mappings.map((m) => {
      const what = providerLabel(m.provider) + " application " + m.provider_app_id;
      return el("tr", { data: { provider: m.provider, providerAppId: m.provider_app_id } },
        el("td", { data: { field: "provider" } }, providerLabel(m.provider)),
        el("td", { data: { field: "provider_app_id" } }, el("code", {}, m.provider_app_id)),
        el("td", { data: { field: "app" } }, m.app),
        el("td", { class: "num" }, el("button", { type: "button", class: "secondary small", "aria-label": "Remove " + what,
          onclick: (ev) => busy(ev.currentTarget, () => change("Removed " + what, (list) =>
            list.filter((x) => !(x.provider === m.provider && x.provider_app_id === m.provider_app_id)))) }, "Remove")));
    });
    listSlot.replaceChildren(table("Identity apps", ["Identity provider", "Application id", "Seatflow app", { label: "Actions", hidden: true }], rows,
      "No applications are mapped yet: sign-ins reported by Okta or Microsoft Entra ID are ignored until you add one."));
  }

  // change applies edit to the list as the server holds it now and stores
  // the result.
  async function change(done, edit) {
    out.clear();
    try {
      const current = await get("/v1/settings/identity-apps");
      const next = edit(current.mappings.map((m) => ({ provider: m.provider, provider_app_id: m.provider_app_id, app: m.app })));
      const s = await write("PUT", "/v1/settings/identity-apps", { mappings: next });
      render(s.mappings);
      out.ok(done + ".");
      announce(done);
      return true;
    } catch (e) {
      out.error(e);
      return false;
    }
  }

  function addForm() {
    const provider = el("select", {}, PROVIDERS.map((p) => el("option", { value: p.id }, p.label)));
    const appID = el("input", { type: "text", autocomplete: "off", spellcheck: "false", required: true });
    const app = el("input", { type: "text", autocomplete: "off", list: "identity-app-names", required: true });
    const apps = el("datalist", { id: "identity-app-names" });
    const idField = field("Application id", appID, PROVIDERS[0].hint);
    provider.addEventListener("change", () => {
      const p = PROVIDERS.find((x) => x.id === provider.value);
      idField.querySelector(".hint").textContent = p.hint;
    });
    const submit = el("button", { type: "submit" }, "Add mapping");
    const form = el("form", { class: "card narrow-form", "aria-label": "Add a mapping" },
      el("h2", {}, "Add a mapping"),
      field("Identity provider", provider),
      idField,
      field("Seatflow app", app, "The app as your auto-claim policies name it, for example teams."),
      apps,
      el("div", { class: "buttons" }, submit));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const m = { provider: provider.value, provider_app_id: appID.value.trim(), app: app.value.trim() };
      busy(submit, async () => {
        const ok = await change("Mapped " + providerLabel(m.provider) + " application " + m.provider_app_id + " to " + m.app,
          (list) => list.filter((x) => !(x.provider === m.provider && x.provider_app_id.toLowerCase() === m.provider_app_id.toLowerCase())).concat([m]));
        if (ok) {
          appID.value = "";
          app.value = "";
          appID.focus();
        }
      });
    });
    // The apps of the organisation's policies, as suggestions.
    get("/v1/policies").then((ps) => {
      const names = [...new Set(ps.map((p) => p.app))].sort();
      apps.replaceChildren(...names.map((n) => el("option", { value: n })));
    }).catch(() => {});
    return form;
  }

  function hookAddresses() {
    const base = location.origin;
    return el("section", { class: "card", "aria-label": "Where identity providers send sign-ins" },
      el("h2", {}, "Where identity providers send sign-ins"),
      el("p", { class: "muted" }, "Both authenticate with a bearer token with the role ingest (", el("code", {}, "seatflow token --role ingest"), ")."),
      el("dl", { class: "facts" },
        el("dt", {}, "Okta event hook"), el("dd", {}, el("code", {}, base + "/v1/hooks/okta"), " (event type user.authentication.sso)"),
        el("dt", {}, "Microsoft Entra ID"), el("dd", {}, el("code", {}, base + "/v1/hooks/entra"), " (sign-in logs, posted by a forwarder)")));
  }

  await load();
}
