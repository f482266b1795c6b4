// /ui/applications/{applicationId}/resource-jobs: the application's jobs with the status of each
// one's last run, and the form that creates a job (query editor checked as you type; after
// creating, the job's page opens with a dry-run preview of what it would hit).

import { api, paths } from "./api.js";
import { field, h, link, notice } from "./dom.js";
import { queryProblem, statusLabel, summaryText, when } from "./format.js";

const TYPES = [
  ["device", "Devices"],
  ["dataTableRow", "Data table rows"],
  ["experienceGroup", "Experience groups"],
  ["experienceUser", "Experience users"],
];

export function badge(status) {
  return h("span", { class: `badge st-${status}` }, statusLabel(status));
}

async function lastRun(app, jobId) {
  const logs = await api(`${paths.job(app, jobId)}/logs`, { query: { limit: 1 } });
  return logs[0] || null;
}

export async function render(ctx) {
  const { app } = ctx.params;
  const base = `/ui/applications/${encodeURIComponent(app)}/resource-jobs`;
  ctx.setCrumbs([["Applications", "/ui/applications"], ["Resource jobs", base]]);
  const m = ctx.main;
  const title = h("h1", { tabindex: "-1" }, "Resource jobs");
  m.append(title);
  ctx.setTitle("Resource jobs");
  ctx.focusHeading();
  let application;
  try {
    application = await api(paths.app(app));
  } catch (e) {
    m.append(notice("error", e.message));
    return;
  }
  title.textContent = `Resource jobs of ${application.name}`;
  ctx.setTitle(`${application.name} jobs`);
  ctx.setCrumbs([["Applications", "/ui/applications"], [application.name, base]]);
  const listSection = h("section", { "aria-labelledby": "jobs-title" },
    h("h2", { id: "jobs-title" }, "Jobs"), h("p", {}, "Loading…"));
  m.append(listSection, createForm(ctx, app, base));
  let page;
  try {
    page = await api(paths.jobs(app), { query: { perPage: 100, sortField: "name", sortDirection: "asc" } });
  } catch (e) {
    listSection.lastChild.replaceWith(notice("error", e.message));
    return;
  }
  if (page.items.length === 0) {
    listSection.lastChild.replaceWith(notice("info", "No resource jobs yet: create one below."));
    return;
  }
  const runs = await Promise.all(page.items.map((j) => lastRun(app, j.id).catch(() => null)));
  const rows = page.items.map((j, i) => {
    const r = runs[i];
    const href = `${base}/${encodeURIComponent(j.id)}`;
    return h("tr", {},
      h("th", { scope: "row" }, link(href, j.name)),
      h("td", {}, j.resourceType),
      h("td", {}, r ? [badge(r.status), " ",
        link(`${href}/executions/${encodeURIComponent(r.id)}`, when(r.runStartedAt))] : "Never run"),
      h("td", {}, r ? summaryText(r.executionSummary) : "—"));
  });
  listSection.lastChild.replaceWith(h("table", { class: "jobs" },
    h("caption", {}, `${page.totalCount} job${page.totalCount === 1 ? "" : "s"}`),
    h("thead", {}, h("tr", {}, ["Name", "Resource type", "Last run", "Last run's outcome"]
      .map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, rows)));
}

function createForm(ctx, app, base) {
  const [nameF, name] = field("Name", h("input", { type: "text", name: "name", required: true, maxlength: 255 }));
  const [typeF, type] = field("Resource type", h("select", { name: "resourceType" },
    TYPES.map(([v, l]) => h("option", { value: v }, l))));
  const [tableF, table] = field("Data table id", h("input", { type: "text", name: "dataTableId", spellcheck: "false" }),
    "Required for data table rows: the table to iterate (may be a template)");
  tableF.hidden = true;
  const [queryF, query] = field("Query (JSON)", h("textarea", {
    name: "queryJson", rows: 6, spellcheck: "false", class: "mono",
    placeholder: '{"name": {"$startsWith": "pump"}}',
  }), "The advanced query choosing the resources; empty matches all. Handlebars templates are rendered at execute time.");
  const queryErr = h("p", { class: "field-error", id: "query-error", role: "status" });
  queryF.append(queryErr);
  const [concF, conc] = field("Most iterations at once", h("input", { type: "number", name: "maxIterationConcurrency", min: 1, max: 100, value: "10" }));
  const [toF, timeout] = field("Iteration timeout (ms)", h("input", { type: "number", name: "iterationTimeout", min: 60000, max: 900000, value: "60000" }));
  const [retryF, retry] = field("Retry on failure", h("input", { type: "checkbox", name: "retryOnFailure" }));
  retryF.classList.add("check");
  const out = h("div", {});
  const submit = h("button", { type: "submit", class: "primary" }, "Create job");
  const form = h("form", { class: "card", "aria-labelledby": "create-title", novalidate: true },
    h("h2", { id: "create-title" }, "Create a resource job"),
    nameF, typeF, tableF, queryF, concF, toF, retryF, submit, out);
  type.addEventListener("change", () => { tableF.hidden = type.value !== "dataTableRow"; });
  const check = () => {
    const p = queryProblem(query.value);
    queryErr.textContent = p || "";
    query.setAttribute("aria-invalid", p ? "true" : "false");
    return p;
  };
  query.addEventListener("input", check);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    out.replaceChildren();
    if (!name.value.trim()) {
      out.append(notice("error", "name: is required"));
      name.focus();
      return;
    }
    if (check()) {
      query.focus();
      return;
    }
    const body = {
      name: name.value.trim(),
      resourceType: type.value,
      maxIterationConcurrency: Number(conc.value),
      iterationTimeout: Number(timeout.value),
      retryOnFailure: retry.checked,
    };
    if (query.value.trim()) body.queryJson = query.value.trim();
    if (type.value === "dataTableRow") body.dataTableId = table.value.trim();
    submit.disabled = true;
    try {
      const j = await api(paths.jobs(app), { method: "POST", body });
      ctx.announce(`Created job ${j.name}`);
      ctx.navigate(`${base}/${encodeURIComponent(j.id)}?preview=1`);
    } catch (e) {
      out.append(notice("error", e.message));
      submit.disabled = false;
    }
  });
  return form;
}
