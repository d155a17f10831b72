// The people picker: a combobox that resolves what is typed to directory
// users (GET /v1/directory?q=) as the person types, and refuses anything
// that is not one.
import { get } from "./api.js";
import { el, uid } from "./ui.js";

// picker returns a field whose .people() lists the chosen users
// ({user_id, email, display_name}). opts: label, hint, exclude (user ids
// that cannot be chosen), max.
export function picker(opts) {
  const id = uid("picker");
  const listId = id + "-list";
  const chosen = [];
  let options = [];
  let active = -1;
  let seq = 0;
  let timer = null;

  const input = el("input", {
    id, type: "text", role: "combobox", autocomplete: "off", "aria-autocomplete": "list",
    "aria-expanded": "false", "aria-controls": listId, spellcheck: "false",
    placeholder: opts.placeholder || "Start typing a name or email",
  });
  const list = el("ul", { id: listId, role: "listbox", class: "options", "aria-label": opts.label + " suggestions", hidden: true });
  const chips = el("ul", { class: "chips", "aria-label": opts.label + " chosen" });
  const msg = el("p", { class: "field-error", role: "alert", hidden: true });
  const hint = opts.hint ? el("p", { class: "hint", id: id + "-hint" }, opts.hint) : null;
  if (hint) input.setAttribute("aria-describedby", id + "-hint");

  function label(u) {
    return (u.display_name || u.user_id) + (u.email ? " <" + u.email + ">" : "");
  }

  function error(text) {
    msg.textContent = text;
    msg.hidden = !text;
    input.setAttribute("aria-invalid", text ? "true" : "false");
  }

  function close() {
    list.hidden = true;
    list.replaceChildren();
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    options = [];
    active = -1;
  }

  function renderChips() {
    chips.replaceChildren(...chosen.map((u) => el("li", { class: "chip", data: { userId: u.user_id } },
      el("span", {}, label(u)),
      el("button", { type: "button", class: "icon", "aria-label": "Remove " + (u.display_name || u.user_id),
        onclick: () => { chosen.splice(chosen.indexOf(u), 1); renderChips(); input.focus(); } }, "✕"))));
  }

  function choose(u) {
    error("");
    if ((opts.exclude || []).includes(u.user_id)) {
      error(label(u) + " is already included.");
    } else if (chosen.some((c) => c.user_id === u.user_id)) {
      error(label(u) + " is already chosen.");
    } else if (opts.max && chosen.length >= opts.max) {
      error("You can choose at most " + opts.max + ".");
    } else {
      chosen.push(u);
      renderChips();
      input.value = "";
    }
    close();
    input.focus();
  }

  function highlight(i) {
    active = i;
    [...list.children].forEach((li, j) => li.setAttribute("aria-selected", j === i ? "true" : "false"));
    if (i >= 0) input.setAttribute("aria-activedescendant", list.children[i].id);
  }

  async function search() {
    const q = input.value.trim();
    const mine = ++seq;
    if (!q) return close();
    let found;
    try {
      found = await get("/v1/directory?q=" + encodeURIComponent(q));
    } catch (e) {
      if (mine === seq) error("Could not search the directory: " + e.message);
      return;
    }
    if (mine !== seq) return;
    options = found;
    list.replaceChildren(...found.map((u, i) => el("li", {
      id: listId + "-" + i, role: "option", "aria-selected": "false", data: { userId: u.user_id },
      onmousedown: (ev) => { ev.preventDefault(); choose(u); },
    }, el("span", { class: "name" }, u.display_name || u.user_id), " ", el("span", { class: "muted" }, u.email))));
    if (!found.length) {
      list.replaceChildren(el("li", { class: "none", role: "option", "aria-disabled": "true" }, "No one in the directory matches “" + q + "”."));
    }
    list.hidden = false;
    input.setAttribute("aria-expanded", "true");
    active = -1;
  }

  // commit resolves what was typed when Enter is pressed without a
  // highlighted suggestion: an exact email or id of a directory user is
  // accepted, anything else is refused.
  async function commit() {
    const q = input.value.trim();
    if (!q) return;
    let found;
    try {
      found = await get("/v1/directory?q=" + encodeURIComponent(q));
    } catch (e) {
      error("Could not search the directory: " + e.message);
      return;
    }
    const exact = found.find((u) => u.email.toLowerCase() === q.toLowerCase() || u.user_id === q);
    if (exact) choose(exact);
    else {
      close();
      error("“" + q + "” is not a user in your organisation's directory.");
    }
  }

  input.addEventListener("input", () => {
    error("");
    clearTimeout(timer);
    timer = setTimeout(search, 150);
  });
  input.addEventListener("keydown", (ev) => {
    if (ev.key === "ArrowDown" && options.length) {
      ev.preventDefault();
      highlight(Math.min(options.length - 1, active + 1));
    } else if (ev.key === "ArrowUp" && options.length) {
      ev.preventDefault();
      highlight(Math.max(0, active - 1));
    } else if (ev.key === "Enter") {
      ev.preventDefault();
      clearTimeout(timer);
      if (active >= 0 && options[active]) choose(options[active]);
      else commit();
    } else if (ev.key === "Escape" && !list.hidden) {
      ev.stopPropagation();
      close();
    }
  });
  // Enter picks a person; it never submits the surrounding form (a
  // keypress Enter would, even after keydown's preventDefault, when the
  // key events come one by one, as from assistive or automation tools).
  input.addEventListener("keypress", (ev) => {
    if (ev.key === "Enter") ev.preventDefault();
  });
  input.addEventListener("blur", () => setTimeout(close, 150));

  const wrap = el("div", { class: "field picker" },
    el("label", { for: id }, opts.label), hint, chips,
    el("div", { class: "combo" }, input, list), msg);
  wrap.people = () => chosen.slice();
  wrap.input = input;
  wrap.error = error;
  wrap.pending = () => input.value.trim();
  // ready reports, on the field, a name typed but not chosen, and with
  // none (when a message is given) that nobody is chosen; it returns the
  // chosen people, or null after reporting.
  wrap.ready = (none) => {
    if (wrap.pending()) {
      error("“" + wrap.pending() + "” is not added yet: choose a person from the suggestions or press Enter.");
      return null;
    }
    if (none && !chosen.length) {
      error(none);
      return null;
    }
    return chosen.slice();
  };
  return wrap;
}
