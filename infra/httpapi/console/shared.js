// The page an emailed share link opens: no account, the link is the
// credential. It shows the request and records the recommendation with
// POST /v1/shared/{token}.
import { shared } from "./api.js";
import { busy, el, field, fmtDate, fmtTime, statusLabels, uid } from "./ui.js";

const box = document.getElementById("shared");
const tok = decodeURIComponent(location.pathname.replace(/^\/shared\//, ""));

function done(state) {
  document.body.dataset.state = state;
}

function plain(title, text, state) {
  box.replaceChildren(el("h1", { tabindex: "-1" }, title), el("p", {}, text));
  box.dataset.result = state;
  box.querySelector("h1").focus();
  done("ready");
}

// explain turns the link's problems into plain words.
function explain(e) {
  switch (e.code) {
    case "share_link_expired":
      return plain("This link has expired", "The time to answer this shared request is over. If your opinion is still needed, ask the admin who shared it to share it again.", "expired");
    case "invalid_share_link":
      return plain("This link is not valid", "The link may be incomplete or altered. Open it again from the email, or ask the admin who shared the request to share it again.", "invalid");
    case "not_found":
      return plain("This request is no longer available", "The request this link points to cannot be found any more.", "gone");
    default:
      return plain("Something went wrong", e.message + " Try again later.", "error");
  }
}

function answered(r) {
  return el("div", { class: "notice ok", role: "status", data: { field: "answer" } },
    el("strong", {}, "You already answered this request. "),
    "You recommended ", el("strong", {}, r.recommendation === "approve" ? "approving" : "denying"), " it",
    r.answered_at ? " on " + fmtTime(r.answered_at) : "", ".",
    r.comment ? [" Your comment: ", el("q", {}, r.comment)] : null);
}

function render(r) {
  const facts = el("dl", { class: "facts" },
    el("dt", {}, "Product"), el("dd", { data: { field: "product" } }, r.product_name),
    el("dt", {}, "Requested by"), el("dd", { data: { field: "requester" } }, r.requester.display_name),
    el("dt", {}, "For"), el("dd", { data: { field: "users" } }, r.users.map((u) => u.display_name).join(", ")),
    el("dt", {}, "Requested on"), el("dd", {}, fmtDate(r.requested_at)),
    el("dt", {}, "Justification"), el("dd", { data: { field: "justification" } }, r.justification || "None given"),
    el("dt", {}, "Status"), el("dd", { data: { field: "status" } }, statusLabels[r.status] || r.status),
    el("dt", {}, "Shared by"), el("dd", { data: { field: "shared-by" } }, r.shared_by.display_name),
    r.message ? [el("dt", {}, "Their message"), el("dd", { data: { field: "message" } }, r.message)] : null);
  const parts = [el("h1", { tabindex: "-1" }, r.subject || "Your opinion on a license request"),
    el("p", { class: "lead" }, r.shared_by.display_name + " would like your recommendation on this license request. Admins make the final decision."),
    facts];
  if (r.answered) {
    parts.push(answered(r));
    box.dataset.result = "answered";
  } else {
    parts.push(answerForm(r));
    box.dataset.result = "open";
  }
  box.replaceChildren(...parts);
  box.querySelector("h1").focus();
  done("ready");
}

function answerForm(r) {
  const name = uid("rec");
  const radio = (value, label) => {
    const id = uid("rec");
    return el("span", { class: "radio" }, el("input", { type: "radio", name, id, value, required: true }), el("label", { for: id }, label));
  };
  const comment = el("textarea", { rows: "4", maxlength: "2000" });
  const submit = el("button", { type: "submit" }, "Submit");
  const out = el("div", { class: "slot", "aria-live": "polite" });
  const form = el("form", { "aria-label": "Your recommendation" },
    el("fieldset", { class: "choice" }, el("legend", {}, "Your recommendation"), radio("approve", "Approve"), radio("deny", "Deny")),
    field("Comment (optional)", comment, "The admins see your comment with your recommendation."),
    el("div", { class: "buttons" }, submit), out);
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const chosen = form.querySelector("input[type=radio]:checked");
    if (!chosen) {
      out.replaceChildren(el("p", { class: "notice error", role: "alert" }, "Choose Approve or Deny."));
      return;
    }
    busy(submit, async () => {
      try {
        const a = await shared("POST", tok, { recommendation: chosen.value, comment: comment.value });
        form.replaceWith(el("div", { class: "notice ok", role: "status", data: { field: "answer" } },
          el("strong", {}, "Thank you. "), "Your recommendation to ", el("strong", {}, (a.recommendation || chosen.value) === "approve" ? "approve" : "deny"),
          " this request was recorded and the admins can see it."));
        box.dataset.result = "recorded";
      } catch (e) {
        if (e.code === "share_already_answered") {
          form.replaceWith(el("p", { class: "notice ok", role: "status" }, "You already answered this request."));
          box.dataset.result = "answered";
        } else if (e.code === "share_link_expired" || e.code === "invalid_share_link") {
          explain(e);
        } else {
          out.replaceChildren(el("p", { class: "notice error", role: "alert" }, e.message));
        }
      }
    });
  });
  return form;
}

async function init() {
  try {
    render(await shared("GET", tok));
  } catch (e) {
    explain(e);
  }
}

init();
