// /ui/applications: the applications this token can see, each linking to its resource jobs.
// An application token cannot list applications (403), so the page also opens one by id.

import { api, paths } from "./api.js";
import { field, h, link, notice } from "./dom.js";
import { when } from "./format.js";

export async function render(ctx) {
  ctx.setTitle("Applications");
  ctx.setCrumbs([["Applications", "/ui/applications"]]);
  const m = ctx.main;
  m.append(h("h1", { tabindex: "-1" }, "Applications"));
  ctx.focusHeading();
  const [idField, idInput] = field("Application id", h("input", {
    type: "text", name: "applicationId", pattern: "[0-9a-fA-F]{24}", required: true,
    autocomplete: "off", spellcheck: "false",
  }), "24 hexadecimal characters");
  const open = h("form", { class: "inline", "aria-label": "Open an application by id" }, idField,
    h("button", { type: "submit" }, "Open"));
  open.addEventListener("submit", (ev) => {
    ev.preventDefault();
    ctx.navigate(`/ui/applications/${encodeURIComponent(idInput.value.trim())}/resource-jobs`);
  });
  const list = h("section", { "aria-labelledby": "apps-title" },
    h("h2", { id: "apps-title" }, "All applications"), h("p", {}, "Loading…"));
  m.append(list, h("section", { "aria-labelledby": "open-title" },
    h("h2", { id: "open-title" }, "Open by id"), open));
  let page;
  try {
    page = await api(paths.apps(), { query: { perPage: 100, sortField: "name", sortDirection: "asc" } });
  } catch (e) {
    list.lastChild.replaceWith(e.status === 403
      ? notice("info", "This token cannot list applications (an application token). Open its application by id below.")
      : notice("error", e.message));
    return;
  }
  if (page.items.length === 0) {
    list.lastChild.replaceWith(notice("info", "There are no applications yet. Create one with POST /applications."));
    return;
  }
  const rows = page.items.map((a) => h("tr", {},
    h("th", { scope: "row" }, link(`/ui/applications/${encodeURIComponent(a.id)}/resource-jobs`, a.name)),
    h("td", {}, a.description || ""),
    h("td", { class: "mono" }, a.id),
    h("td", {}, when(a.creationDate))));
  list.lastChild.replaceWith(h("table", {},
    h("caption", {}, `${page.totalCount} application${page.totalCount === 1 ? "" : "s"}` +
      (page.totalCount > page.items.length ? ` (the first ${page.items.length} shown)` : "")),
    h("thead", {}, h("tr", {}, ["Name", "Description", "Id", "Created"].map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, rows)));
}
