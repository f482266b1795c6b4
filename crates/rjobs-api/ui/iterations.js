// The iterations table of an execution, read from the iterations list endpoint with its status
// filter and paging (so "Failed" shows exactly the failed resources, with their messages, however
// many there are). The filter is kept in the URL (?status=failed), so a filtered view is a link.

import { api, paths } from "./api.js";
import { field, h, notice } from "./dom.js";
import { ITERATION_STATUSES, num, statusLabel, when } from "./format.js";

const PER_PAGE = 50;

/** Builds the section; returns {el, refresh()}. */
export function iterationsTable(ctx, app, job, exec) {
  let status = ctx.query.get("status") || "";
  if (status && !ITERATION_STATUSES.includes(status)) status = "";
  let page = 0;
  let busy = false;
  let again = false;
  const [filterF, filter] = field("Show iterations", h("select", { name: "status" },
    h("option", { value: "" }, "All"),
    ITERATION_STATUSES.map((st) => h("option", { value: st }, statusLabel(st)))));
  filter.value = status;
  const caption = h("caption", {}, "Loading…");
  const body = h("tbody", {});
  const prev = h("button", { type: "button" }, "Previous page");
  const next = h("button", { type: "button" }, "Next page");
  const pos = h("span", { class: "muted" });
  const err = h("div", {});
  const table = h("table", { class: "iterations" }, caption,
    h("thead", {}, h("tr", {}, ["Resource", "Status", "Attempts", "Message", "Finished"]
      .map((c) => h("th", { scope: "col" }, c)))), body);
  const el = h("section", { "aria-labelledby": "iter-title" },
    h("h2", { id: "iter-title" }, "Iterations"),
    h("div", { class: "toolbar" }, filterF), err, table,
    h("div", { class: "pager" }, prev, pos, next));

  async function refresh() {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    try {
      const r = await api(`${paths.exec(app, job, exec)}/iterations`, {
        query: { status, page, perPage: PER_PAGE },
      });
      const pages = Math.max(1, Math.ceil(r.totalCount / PER_PAGE));
      if (page >= pages && page > 0) {
        page = pages - 1;
        busy = false;
        return refresh();
      }
      err.replaceChildren();
      caption.textContent = `${num(r.totalCount)} iteration${r.totalCount === 1 ? "" : "s"}` +
        (status ? ` with status ${statusLabel(status)}` : "");
      body.replaceChildren(...r.items.map((it) => h("tr", { dataset: { status: it.status } },
        h("th", { scope: "row" }, it.resourceName, h("span", { class: "mono muted" }, ` ${it.resourceId}`)),
        h("td", {}, h("span", { class: `badge st-${it.status}` }, statusLabel(it.status))),
        h("td", {}, num(it.attempts)),
        h("td", { class: "message" }, it.message || ""),
        h("td", {}, when(it.completedAt)))));
      if (r.items.length === 0) {
        body.append(h("tr", {}, h("td", { colspan: 5 }, "No iterations match.")));
      }
      pos.textContent = `Page ${page + 1} of ${pages}`;
      prev.disabled = page === 0;
      next.disabled = page + 1 >= pages;
    } catch (e) {
      err.replaceChildren(notice("error", e.message));
    } finally {
      busy = false;
    }
    if (again) {
      again = false;
      await refresh();
    }
  }

  filter.addEventListener("change", () => {
    status = filter.value;
    page = 0;
    const u = new URL(location.href);
    if (status) u.searchParams.set("status", status);
    else u.searchParams.delete("status");
    history.replaceState(null, "", u.pathname + u.search);
    refresh();
  });
  prev.addEventListener("click", () => { page = Math.max(0, page - 1); refresh(); });
  next.addEventListener("click", () => { page += 1; refresh(); });
  return { el, refresh };
}

/** Cumulative samples for the chart from finished iterations' completedAt (final runs). */
export async function samplesFromIterations(app, job, exec, max = 5000) {
  const done = [];
  for (const st of ["succeeded", "failed", "timedOut"]) {
    for (let p = 0; ; p++) {
      const r = await api(`${paths.exec(app, job, exec)}/iterations`, { query: { status: st, page: p, perPage: 1000 } });
      if (r.totalCount > max) return null;
      for (const it of r.items) if (it.completedAt) done.push({ t: Date.parse(it.completedAt), st });
      if ((p + 1) * 1000 >= r.totalCount) break;
    }
  }
  if (done.length === 0) return [];
  done.sort((a, b) => a.t - b.t);
  const acc = { succeeded: 0, failed: 0, timedOut: 0 };
  const out = [{ t: done[0].t - 1000, ...acc }];
  for (const d of done) {
    acc[d.st] += 1;
    out.push({ t: d.t, ...acc });
  }
  return out;
}
