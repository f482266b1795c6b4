// /ui/applications/{applicationId}/resource-jobs/{resourceJobId}: the job's settings, a run
// panel (an optional query override, a dry-run preview that writes nothing, execute) and the
// execution history with each run's summary and report.

import { api, paths } from "./api.js";
import { field, h, link, notice } from "./dom.js";
import { duration, num, queryProblem, runSeconds, summaryText, when } from "./format.js";
import { badge } from "./page-jobs.js";

function pretty(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

function settings(j) {
  const rows = [
    ["Resource type", j.resourceType],
    ["Query", h("pre", { class: "mono" }, pretty(j.queryJson || "{}"))],
    j.dataTableId ? ["Data table", j.dataTableId] : null,
    ["Most iterations at once", num(j.maxIterationConcurrency)],
    ["Delay between iterations", `${num(j.iterationDelay)} ms`],
    ["Iteration timeout", `${num(j.iterationTimeout)} ms`],
    ["Retries", `on failure: ${j.retryOnFailure ? "yes" : "no"}, on timeout: ${j.retryOnTimeout ? "yes" : "no"}, ` +
      `at most ${j.maxIterationRetries}, ${num(j.retryDelay)} ms apart`],
    j.rolloutConfig ? ["Rollout", h("pre", { class: "mono" }, JSON.stringify(j.rolloutConfig, null, 2))] : null,
    j.abortConfig ? ["Abort when", h("pre", { class: "mono" }, JSON.stringify(j.abortConfig, null, 2))] : null,
    ["Created", when(j.creationDate)],
    ["Last executed", when(j.lastExecutionRequested)],
  ].filter(Boolean);
  return h("section", { "aria-labelledby": "settings-title" },
    h("h2", { id: "settings-title" }, "Settings"),
    h("dl", { class: "settings" }, rows.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])));
}

function runPanel(ctx, app, j, base) {
  const [qF, q] = field("Query for this run (JSON)", h("textarea", {
    name: "queryJson", rows: 4, class: "mono", spellcheck: "false", placeholder: "empty: the job's query",
  }), "Optional: overrides the job's query for this run only.");
  const qErr = h("p", { class: "field-error", role: "status" });
  qF.append(qErr);
  const out = h("div", { id: "preview", "aria-live": "polite" });
  const previewBtn = h("button", { type: "button" }, "Preview (dry run)");
  const runBtn = h("button", { type: "submit", class: "primary" }, "Execute");
  const body = () => {
    const p = queryProblem(q.value);
    qErr.textContent = p || "";
    q.setAttribute("aria-invalid", p ? "true" : "false");
    if (p) {
      q.focus();
      return null;
    }
    return q.value.trim() ? { queryJson: q.value.trim() } : {};
  };
  const preview = async () => {
    const b = body();
    if (!b) return;
    out.replaceChildren(h("p", {}, "Previewing…"));
    try {
      const d = await api(`${paths.job(app, j.id)}/execute`, { method: "POST", body: b, query: { dryRun: true } });
      out.replaceChildren(h("p", { class: "preview-count" },
        h("strong", {}, `${num(d.count)} resource${d.count === 1 ? "" : "s"}`), " would be iterated (nothing was started)."),
      d.sample.length ? h("ul", { class: "sample", "aria-label": "A sample of the matching resources" },
        d.sample.map((r) => h("li", {}, `${r.name} `, h("span", { class: "mono muted" }, r.id)))) : null);
    } catch (e) {
      out.replaceChildren(notice("error", e.message));
    }
  };
  previewBtn.addEventListener("click", preview);
  const form = h("form", { class: "card", "aria-labelledby": "run-title" },
    h("h2", { id: "run-title" }, "Run"), qF, h("div", { class: "buttons" }, previewBtn, runBtn), out);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const b = body();
    if (!b) return;
    runBtn.disabled = true;
    try {
      const r = await api(`${paths.job(app, j.id)}/execute`, { method: "POST", body: b });
      ctx.navigate(`${base}/executions/${encodeURIComponent(r.executionId)}`);
    } catch (e) {
      out.replaceChildren(notice("error", e.message));
      runBtn.disabled = false;
    }
  });
  return { form, preview };
}

async function history(app, j, base) {
  const sec = h("section", { "aria-labelledby": "history-title" }, h("h2", { id: "history-title" }, "Executions"));
  let logs;
  try {
    logs = await api(`${paths.job(app, j.id)}/logs`, { query: { limit: 50 } });
  } catch (e) {
    sec.append(notice("error", e.message));
    return sec;
  }
  if (logs.length === 0) {
    sec.append(notice("info", "This job has not run yet."));
    return sec;
  }
  sec.append(h("table", { class: "history" },
    h("caption", {}, `The last ${logs.length} execution${logs.length === 1 ? "" : "s"}, newest first`),
    h("thead", {}, h("tr", {}, ["Started", "Status", "Summary", "Run time", "Report"].map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, logs.map((x) => h("tr", {},
      h("th", { scope: "row" }, link(`${base}/executions/${encodeURIComponent(x.id)}`, when(x.runStartedAt))),
      h("td", {}, badge(x.status), x.rerunOf ? h("span", { class: "muted" }, " (re-run)") : null),
      h("td", {}, summaryText(x.executionSummary)),
      h("td", {}, duration(runSeconds(x))),
      h("td", {}, x.executionReportUrl ? h("a", { href: x.executionReportUrl, download: "" }, "CSV") : "—"))))));
  return sec;
}

export async function render(ctx) {
  const { app, job } = ctx.params;
  const appBase = `/ui/applications/${encodeURIComponent(app)}/resource-jobs`;
  const base = `${appBase}/${encodeURIComponent(job)}`;
  const m = ctx.main;
  const title = h("h1", { tabindex: "-1" }, "Resource job");
  m.append(title);
  ctx.focusHeading();
  let j;
  let application;
  try {
    [application, j] = await Promise.all([api(paths.app(app)), api(paths.job(app, job))]);
  } catch (e) {
    m.append(notice("error", e.message));
    return;
  }
  title.textContent = j.name;
  ctx.setTitle(j.name);
  ctx.setCrumbs([["Applications", "/ui/applications"], [application.name, appBase], [j.name, base]]);
  if (j.description) m.append(h("p", {}, j.description));
  const run = runPanel(ctx, app, j, base);
  m.append(run.form, await history(app, j, base), settings(j));
  if (ctx.query.get("preview") === "1") await run.preview();
}
