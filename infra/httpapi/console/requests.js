// Requests: the admins' list of license requests, the details pane to
// approve or reject each person, share a request and connect the
// organisation's own request process.
import { get, write } from "./api.js";
import { nameOf, person, resolve } from "./names.js";
import { picker } from "./picker.js";
import {
  announce, busy, el, field, fmtDate, fmtTime, notice, panel, servicesFieldset, slot, statusPill, table, uid,
} from "./ui.js";

export async function requestsView(root) {
  let status = "pending";
  let openID = null;
  let products = [];

  const banner = el("div", { class: "banner-slot" });
  const listSlot = el("div", { class: "list" });
  const paneSlot = el("div", { class: "pane-slot" });
  const filterButtons = ["pending", "completed"].map((s) => el("button", {
    type: "button", class: "tab", "aria-pressed": s === status ? "true" : "false",
    onclick: () => { status = s; filterButtons.forEach((b) => b.setAttribute("aria-pressed", b.dataset.status === s ? "true" : "false")); loadList(); },
    data: { status: s },
  }, s === "pending" ? "Pending requests" : "Completed requests"));

  root.append(
    el("div", { class: "view-head" }, el("h1", {}, "Requests"),
      el("div", { class: "actions" },
        el("button", { type: "button", class: "secondary", onclick: openProcess }, "Connect your request process"))),
    el("p", { class: "lead" }, "Users ask for licenses of products they cannot buy themselves. Review each request, approve or reject each person, and tell them why."),
    banner,
    el("div", { class: "split" },
      el("div", {},
        el("div", { class: "tabs", role: "group", "aria-label": "Show" }, filterButtons),
        listSlot),
      paneSlot));

  async function loadProcess() {
    const p = await get("/v1/settings/request-process");
    banner.replaceChildren(p.mode === "own"
      ? el("div", { class: "banner", role: "status", data: { mode: "own" } },
        el("strong", {}, "You're using your own license request process"),
        el("span", {}, " Users who ask for a license see your message and link instead of the request form. Existing requests stay here until they are decided."))
      : "");
    return p;
  }

  async function loadList() {
    listSlot.setAttribute("aria-busy", "true");
    try {
      const list = await get("/v1/requests?status=" + status);
      await resolve(list.map((r) => r.requester));
      const rows = list.map((r) => el("tr", { data: { requestId: r.request_id }, class: r.request_id === openID ? "selected" : null },
        el("td", {}, el("button", { type: "button", class: "link", onclick: () => openRequest(r.request_id),
          "aria-label": "Open the request for " + (r.product_name || r.product_id) + " from " + nameOf(r.requester) + " (" + r.request_id + ")" },
        r.product_name || r.product_id)),
        el("td", { data: { field: "requester" } }, nameOf(r.requester)),
        el("td", { data: { field: "users" } }, String(r.users.length)),
        el("td", { class: "time" }, fmtDate(r.requested_at)),
        el("td", { data: { field: "status" } }, statusPill(r.status))));
      listSlot.replaceChildren(table("License requests", ["Product", "Requested by", { label: "Users", num: false }, "Date", "Status"], rows,
        status === "pending" ? "No pending requests." : "No completed requests."));
    } catch (e) {
      listSlot.replaceChildren(notice("error", "Could not load the requests: " + e.message));
    } finally {
      listSlot.removeAttribute("aria-busy");
    }
  }

  function closePane() {
    openID = null;
    paneSlot.replaceChildren();
    root.querySelectorAll("tr.selected").forEach((tr) => tr.classList.remove("selected"));
  }

  async function openRequest(id) {
    openID = id;
    root.querySelectorAll("tr[data-request-id]").forEach((tr) => tr.classList.toggle("selected", tr.dataset.requestId === id));
    const [d, groups] = await Promise.all([get("/v1/requests/" + encodeURIComponent(id)), get("/v1/groups")]);
    products = await get("/v1/products");
    await resolve([d.requester, ...d.users, ...(d.shares || []).map((sh) => sh.shared_by), d.decision ? d.decision.decided_by : ""]);
    const p = panel((d.product_name || d.product_id) + " request", closePane,
      el("dl", { class: "facts" },
        el("dt", {}, "Requested by"), el("dd", { data: { field: "requester" } }, person(d.requester)),
        el("dt", {}, "Date"), el("dd", {}, fmtTime(d.requested_at)),
        el("dt", {}, "Status"), el("dd", {}, statusPill(d.status)),
        el("dt", {}, "Justification"), el("dd", { data: { field: "justification" } }, d.justification || "None given"),
        d.status === "pending" ? [el("dt", {}, "Expires"), el("dd", {}, fmtDate(d.expires_at))] : null),
      d.status === "pending" ? decisionForm(d, groups) : decisionSummary(d),
      sharesSection(d));
    p.dataset.requestId = id;
    paneSlot.replaceChildren(p);
    p.focusHeading();
  }

  function decisionSummary(d) {
    const dec = d.decision;
    const outcomes = el("ul", { class: "people" }, (d.outcomes || []).map((o) =>
      el("li", { data: { userId: o.user_id, outcome: o.outcome } }, person(o.user_id), " ", el("span", { class: "pill outcome-" + o.outcome }, o.outcome.replace(/_/g, " ")))));
    return el("section", { class: "block", "aria-label": "Decision" },
      el("h3", {}, "Decision"),
      outcomes,
      dec ? el("dl", { class: "facts" },
        el("dt", {}, "Decided by"), el("dd", {}, nameOf(dec.decided_by) + ", " + fmtTime(dec.decided_at)),
        dec.product_id ? [el("dt", {}, "Product"), el("dd", {}, productName(dec.product_id))] : null,
        dec.group_id ? [el("dt", {}, "Security group"), el("dd", {}, dec.group_id)] : null,
        dec.disabled_services && dec.disabled_services.length ? [el("dt", {}, "Apps and services off"), el("dd", {}, dec.disabled_services.join(", "))] : null,
        el("dt", {}, "Message"), el("dd", { data: { field: "message" } }, dec.message || "None")) : null);
  }

  function productName(id) {
    const p = products.find((x) => x.product_id === id);
    return p ? p.name : id;
  }

  function decisionForm(d, groups) {
    const approve = d.users.slice();
    const reject = [];
    const approveList = el("ul", { class: "people", "aria-label": "Approve for the following people" });
    const rejectList = el("ul", { class: "people", "aria-label": "Reject for the following people" });
    const out = slot();

    function renderPeople() {
      approveList.replaceChildren(...approve.map((u) => el("li", { data: { userId: u } }, person(u),
        el("button", { type: "button", class: "icon", "aria-label": "Reject " + nameOf(u), title: "Reject " + nameOf(u),
          onclick: () => { approve.splice(approve.indexOf(u), 1); reject.push(u); renderPeople(); announce(nameOf(u) + " moved to rejected"); } }, "✕"))));
      if (!approve.length) approveList.replaceChildren(el("li", { class: "muted" }, "No one. Submitting rejects the whole request."));
      rejectList.replaceChildren(...reject.map((u) => el("li", { data: { userId: u } }, person(u),
        el("button", { type: "button", class: "secondary small", "aria-label": "Approve " + nameOf(u),
          onclick: () => { reject.splice(reject.indexOf(u), 1); approve.push(u); renderPeople(); announce(nameOf(u) + " moved to approved"); } }, "Approve instead"))));
      if (!reject.length) rejectList.replaceChildren(el("li", { class: "muted" }, "No one."));
    }
    renderPeople();

    const productSelect = el("select", {}, products.map((p) => el("option", { value: p.product_id, selected: p.product_id === d.product_id },
      p.name + " (" + p.available + " available)")));
    productSelect.value = d.product_id;
    let services = servicesFieldset("Turn apps and services on or off", serviceList(d.product_id), []);
    const servicesSlot = el("div", {}, services);
    productSelect.addEventListener("change", () => {
      services = servicesFieldset("Turn apps and services on or off", serviceList(productSelect.value), []);
      servicesSlot.replaceChildren(services);
    });

    const licensed = groups.filter((g) => g.products && g.products.length);
    const groupBox = el("input", { type: "checkbox", id: uid("group"), disabled: !licensed.length });
    const groupSelect = el("select", { disabled: true }, licensed.map((g) =>
      el("option", { value: g.group_id }, g.name + " (" + g.products.map((gp) => productName(gp.product_id)).join(", ") + ")")));
    const groupReason = licensed.length ? null
      : el("p", { class: "hint", id: groupBox.id + "-why" }, "No security group has licenses assigned to it, so you can't fulfil requests through a group. Assign a product to a group first.");
    if (groupReason) groupBox.setAttribute("aria-describedby", groupBox.id + "-why");
    groupBox.addEventListener("change", () => {
      groupSelect.disabled = !groupBox.checked;
      productSelect.disabled = groupBox.checked;
      services.setDisabled(groupBox.checked);
    });

    const message = el("textarea", { rows: "3", maxlength: "2000" });
    const submit = el("button", { type: "submit" }, "Submit");
    const form = el("form", { class: "block", "aria-label": "Decide" },
      el("h3", {}, "Approve for the following people"), approveList,
      el("h3", {}, "Reject for the following people"), rejectList,
      field("Select a product", productSelect),
      servicesSlot,
      el("div", { class: "group-option" + (licensed.length ? "" : " unavailable") },
        el("div", { class: "check" }, groupBox, el("label", { for: groupBox.id }, "Assign license by adding the approved individuals to the following security group")),
        licensed.length ? field("Security group", groupSelect) : null, groupReason),
      field("Message (optional)", message, "Sent to each person with the decision."),
      el("div", { class: "buttons" }, submit), out);
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      out.clear();
      busy(submit, async () => {
        const body = { approve: approve.slice(), reject: reject.slice(), message: message.value };
        if (approve.length) {
          if (groupBox.checked) body.group_id = groupSelect.value;
          else {
            body.product_id = productSelect.value;
            body.disabled_services = services.disabledServices();
          }
        }
        try {
          const r = await write("POST", "/v1/requests/" + encodeURIComponent(d.request_id) + "/decision", body);
          announce(r.status ? "Decision saved: " + r.status.replace(/_/g, " ") : "Decision saved");
          await Promise.all([loadList(), openRequest(d.request_id)]);
        } catch (e) {
          out.error(e);
        }
      });
    });
    return form;
  }

  function serviceList(productID) {
    const p = products.find((x) => x.product_id === productID);
    return p ? p.services : [];
  }

  function sharesSection(d) {
    const shares = d.shares || [];
    const list = el("ul", { class: "shares" }, shares.map((s) => el("li", { data: { email: s.email, answered: s.answered } },
      el("span", { class: "name" }, s.email),
      s.answered
        ? [" ", el("span", { class: "pill " + (s.recommendation === "approve" ? "status-approved" : "status-denied") },
          s.recommendation === "approve" ? "Recommends approval" : "Recommends denial"),
        s.comment ? el("q", {}, s.comment) : null,
        el("span", { class: "muted" }, " " + fmtTime(s.answered_at) + ", shared by " + nameOf(s.shared_by))]
        : el("span", { class: "muted" }, " No answer yet (link valid until " + fmtDate(s.expires_at) + ")"))));
    const formSlot = el("div");
    const toggle = el("button", { type: "button", class: "secondary", "aria-expanded": "false",
      onclick: () => {
        const open = toggle.getAttribute("aria-expanded") === "true";
        toggle.setAttribute("aria-expanded", open ? "false" : "true");
        formSlot.replaceChildren(open ? "" : shareForm(d));
        if (!open) formSlot.querySelector("input").focus();
      } }, "Share request");
    return el("section", { class: "block", "aria-label": "Shared with" },
      el("h3", {}, "Shared with"),
      shares.length ? list : el("p", { class: "muted" }, "Not shared yet. Share the request with a decision maker to ask for their recommendation."),
      d.status === "pending" ? [toggle, formSlot] : null);
  }

  function shareForm(d) {
    const who = picker({ label: "Recipients", hint: "People in your organisation's directory. Each gets an email with a link to answer.", max: 20 });
    const subject = el("input", { type: "text", maxlength: "200" });
    const message = el("textarea", { rows: "3", maxlength: "2000" });
    const send = el("button", { type: "submit" }, "Share");
    const out = slot();
    const form = el("form", { class: "subform", "aria-label": "Share request" },
      who, field("Subject (optional)", subject), field("Message (optional)", message),
      el("div", { class: "buttons" }, send), out);
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      out.clear();
      const people = who.ready("Add at least one recipient.");
      if (!people) return;
      busy(send, async () => {
        try {
          await write("POST", "/v1/requests/" + encodeURIComponent(d.request_id) + "/share",
            { recipients: people.map((u) => u.email), subject: subject.value, message: message.value });
          announce("Request shared");
          await openRequest(d.request_id);
        } catch (e) {
          out.error(e);
        }
      });
    });
    return form;
  }

  async function openProcess() {
    const p = await get("/v1/settings/request-process");
    const own = el("input", { type: "checkbox", id: uid("own"), checked: p.mode === "own" });
    const message = el("textarea", { rows: "3", maxlength: "2000", value: p.message || "" });
    const link = el("input", { type: "url", value: p.link || "", placeholder: "https://" });
    const save = el("button", { type: "submit" }, "Save");
    const out = slot();
    const form = el("form", { class: "block" },
      el("p", {}, "If your organisation already has a way to handle license requests, send users there instead. Requests that were already made stay in the list until you decide them."),
      el("div", { class: "check" }, own, el("label", { for: own.id }, "Use my own license request process")),
      field("Message to users", message, "Shown to users who try to request a license."),
      field("Link to your request process documentation", link),
      el("div", { class: "buttons" }, save), out);
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      out.clear();
      busy(save, async () => {
        try {
          const r = await write("PUT", "/v1/settings/request-process",
            { mode: own.checked ? "own" : "builtin", message: message.value, link: link.value });
          out.ok(r.mode === "own" ? "Saved. Users now see your message and link." : "Saved. Users can request licenses here again.");
          await loadProcess();
        } catch (e) {
          out.error(e);
        }
      });
    });
    openID = null;
    const pane = panel("Connect your request process", closePane, form);
    paneSlot.replaceChildren(pane);
    pane.focusHeading();
  }

  await Promise.all([loadProcess(), loadList()]);
}
