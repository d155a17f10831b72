// Names for user ids: the API speaks in ids, people read names. Looked up
// with GET /v1/directory?id=..., cached for the tab's life.
import { get } from "./api.js";
import { el } from "./ui.js";

const known = new Map();

// resolve looks up the ids not known yet; failures leave ids as they are.
export async function resolve(ids) {
  const missing = [...new Set(ids.filter((id) => id && !known.has(id)))];
  for (let i = 0; i < missing.length; i += 100) {
    const chunk = missing.slice(i, i + 100);
    try {
      const found = await get("/v1/directory?" + chunk.map((id) => "id=" + encodeURIComponent(id)).join("&"));
      for (const u of found) known.set(u.user_id, u);
    } catch (_) {
      // Names are a courtesy; the ids still say who.
    }
    for (const id of chunk) if (!known.has(id)) known.set(id, null);
  }
}

// nameOf is the user's display name, or the id when unknown.
export function nameOf(id) {
  const u = known.get(id);
  return (u && u.display_name) || id;
}

// person shows a user's name with their email (or id) beside it.
export function person(id) {
  const u = known.get(id);
  const extra = (u && u.email) || (u && u.display_name ? id : "");
  return el("span", { class: "person", title: id }, nameOf(id), extra ? el("span", { class: "muted" }, " " + extra) : null);
}
