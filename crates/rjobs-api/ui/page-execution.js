// /ui/.../executions/{executionId}: one execution, live. The event stream drives the progress
// bar (role=progressbar with aria-valuenow), the counts, rate and ETA and the chart; the
// iterations table re-reads its page at most every 1.5 s while the run moves. The controls
// (cancel with a confirmation, pause, resume, re-run what failed) call the API and the stream
// then shows the new status; the report link appears once the run is final.

import { api, paths } from "./api.js";
import { h, notice } from "./dom.js";
import { chart } from "./chart.js";
import { controls, duration, finished, isFinal, num, percent, rate, runSeconds, statusLabel, total, when } from "./format.js";
import { follow } from "./stream.js";
import { iterationsTable, samplesFromIterations } from "./iterations.js";

const COUNTS = [
  ["succeeded", "Succeeded"],
  ["failed", "Failed"],
  ["timedOut", "Timed out"],
  ["inProgress", "In progress"],
  ["remaining", "Remaining"],
];

function throttle(ms, f) {
  let timer = null;
  let last = 0;
  const run = () => { timer = null; last = Date.now(); f(); };
  const call = () => {
    if (timer) return;
    timer = setTimeout(run, Math.max(0, last + ms - Date.now()));
  };
  call.cancel = () => { if (timer) clearTimeout(timer); timer = null; };
  return call;
}

export async function render(ctx) {
  const { app, job, exec } = ctx.params;
  const appBase = `/ui/applications/${encodeURIComponent(app)}/resource-jobs`;
  const jobBase = `${appBase}/${encodeURIComponent(job)}`;
  const m = ctx.main;
  const title = h("h1", { tabindex: "-1" }, "Execution");
  m.append(title);
  ctx.focusHeading();
  let x;
  let application;
  let j;
  try {
    [application, j, x] = await Promise.all([api(paths.app(app)), api(paths.job(app, job)), api(paths.exec(app, job, exec))]);
  } catch (e) {
    m.append(notice("error", e.message));
    return undefined;
  }
  const self = `${jobBase}/executions/${encodeURIComponent(exec)}`;
  title.textContent = `Execution of ${j.name}`;
  ctx.setTitle(`Execution of ${j.name}`);
  ctx.setCrumbs([["Applications", "/ui/applications"], [application.name, appBase], [j.name, jobBase],
    [`Execution ${exec.slice(-6)}`, self]]);

  const state = { status: x.status, summary: x.executionSummary, rate: null, eta: null, samples: [] };
  // The counts when the page loaded: the chart's baseline, so what finished between the load
  // and the first event is charted too (the first sample would otherwise be its zero).
  const baseline = x.executionSummary;

  // Status line and progress bar.
  const badge = h("span", { class: "badge" });
  const conn = h("span", { class: "conn muted" });
  const started = h("span", {});
  const fill = h("div", { class: "fill" });
  const bar = h("div", {
    class: "progress", role: "progressbar", "aria-label": "Execution progress",
    "aria-valuemin": 0, "aria-valuemax": 100, "aria-valuenow": 0,
  }, fill);
  const barText = h("p", { class: "bar-text" });
  const dl = h("dl", { class: "counts" });
  const cells = {};
  for (const [k, label] of [...COUNTS, ["total", "Total"], ["rate", "Rate"], ["eta", "Time left"], ["runTime", "Run time"]]) {
    cells[k] = h("dd", { id: `count-${k}` });
    dl.append(h("div", { class: `count c-${k}` }, h("dt", {}, label), cells[k]));
  }

  // Controls.
  const out = h("div", { class: "control-out", "aria-live": "polite" });
  const btn = (label, cls) => h("button", { type: "button", class: cls }, label);
  const cancelBtn = btn("Cancel execution", "danger");
  const pauseBtn = btn("Pause");
  const resumeBtn = btn("Resume");
  const rerunBtn = btn("Re-run failed and timed out");
  const confirmBox = h("div", { class: "confirm", hidden: true, role: "group", "aria-label": "Confirm cancel" },
    h("span", {}, "Cancel this execution? Nothing new starts; iterations in flight finish or time out."),
    btn("Yes, cancel it", "danger"), btn("Keep running"));
  const [yesBtn, noBtn] = confirmBox.querySelectorAll("button");
  const report = h("p", { class: "report" });
  const controlBar = h("section", { "aria-labelledby": "controls-title", class: "card" },
    h("h2", { id: "controls-title" }, "Controls"),
    h("div", { class: "buttons" }, pauseBtn, resumeBtn, cancelBtn, rerunBtn), confirmBox, out, report);

  const chartBox = h("section", { "aria-labelledby": "chart-h" }, h("h2", { id: "chart-h" }, "Throughput and outcomes"));
  const table = iterationsTable(ctx, app, job, exec);

  m.append(h("p", { class: "status-line" }, "Status: ", badge, " ", conn, " ", started),
    bar, barText, dl, controlBar, chartBox, table.el);

  let finalNote = null;
  const drawChart = () => {
    const fig = chart(state.samples, finalNote);
    const old = chartBox.querySelector("figure");
    if (old) old.replaceWith(fig);
    else chartBox.append(fig);
  };
  const chartLater = throttle(1000, drawChart);
  const tableLater = throttle(1500, () => table.refresh());

  function paint() {
    const s = state.summary;
    badge.className = `badge st-${state.status}`;
    badge.textContent = statusLabel(state.status);
    const p = percent(s, state.status);
    fill.style.width = `${p}%`;
    bar.setAttribute("aria-valuenow", String(p));
    bar.setAttribute("aria-valuetext", `${p}%: ${num(finished(s))} of ${num(total(s))} finished`);
    barText.textContent = `${p}% — ${num(finished(s))} of ${num(total(s))} finished`;
    for (const [k] of COUNTS) cells[k].textContent = num(s[k]);
    cells.total.textContent = num(total(s));
    cells.rate.textContent = isFinal(state.status) ? "—" : rate(state.rate);
    cells.eta.textContent = isFinal(state.status) ? "—"
      : state.status === "paused" ? "— (paused)" : duration(state.eta);
    cells.runTime.textContent = duration(runSeconds(x));
    started.textContent = x.runCompletedAt ? `started ${when(x.runStartedAt)}, finished ${when(x.runCompletedAt)}`
      : `started ${when(x.runStartedAt)}`;
    const c = controls(state.status, s);
    pauseBtn.hidden = !c.pause;
    resumeBtn.hidden = !c.resume;
    cancelBtn.hidden = !c.cancel;
    rerunBtn.hidden = !c.rerun;
    if (!c.cancel) confirmBox.hidden = true;
    if (x.executionReportUrl) {
      report.replaceChildren(h("a", { href: x.executionReportUrl, download: `execution-${exec}.csv` }, "Download the report (CSV)"));
    } else {
      report.replaceChildren(h("span", { class: "muted" }, "The report can be downloaded once the execution has finished."));
    }
    if (x.abortReason?.message) report.append(h("p", {}, `Canceled by its abort threshold: ${x.abortReason.message}`));
  }

  async function reload() {
    try {
      x = await api(paths.exec(app, job, exec));
      state.status = x.status;
      state.summary = x.executionSummary;
    } catch (e) {
      out.replaceChildren(notice("error", e.message));
    }
    paint();
  }

  async function act(name, label) {
    out.replaceChildren();
    try {
      await api(`${paths.job(app, job)}/${name}`, { method: "POST", query: { executionId: exec } });
      ctx.announce(label);
      out.replaceChildren(h("p", { role: "status" }, label));
    } catch (e) {
      out.replaceChildren(notice("error", e.message));
    }
    await reload();
  }
  pauseBtn.addEventListener("click", async () => { await act("pauseExecution", "Pause requested"); resumeBtn.focus(); });
  resumeBtn.addEventListener("click", async () => { await act("resumeExecution", "Resume requested"); pauseBtn.focus(); });
  cancelBtn.addEventListener("click", () => { confirmBox.hidden = false; yesBtn.focus(); });
  noBtn.addEventListener("click", () => { confirmBox.hidden = true; cancelBtn.focus(); });
  yesBtn.addEventListener("click", async () => {
    confirmBox.hidden = true;
    await act("cancelExecution", "Cancel requested");
    title.focus();
  });
  rerunBtn.addEventListener("click", async () => {
    rerunBtn.disabled = true;
    try {
      const r = await api(`${paths.job(app, job)}/execute`, {
        method: "POST", body: { rerunOf: { executionId: exec, statuses: ["failed", "timedOut"] } },
      });
      ctx.announce("Re-run started");
      ctx.navigate(`${jobBase}/executions/${encodeURIComponent(r.executionId)}`);
    } catch (e) {
      out.replaceChildren(notice("error", e.message));
      rerunBtn.disabled = false;
    }
  });

  paint();
  table.refresh();
  if (isFinal(state.status)) {
    conn.textContent = "(finished)";
    const samples = await samplesFromIterations(app, job, exec).catch(() => null);
    if (samples) state.samples = samples;
    else finalNote = "Too many iterations to chart after the fact; the chart is drawn while a run is watched.";
    drawChart();
    return undefined;
  }
  drawChart();
  const tick = setInterval(() => { cells.runTime.textContent = duration(runSeconds(x)); }, 1000);
  const stream = follow(`${paths.exec(app, job, exec)}/events`, {
    onEvent({ event, data }) {
      if (event === "progress" || event === "done") {
        state.summary = data.executionSummary;
        state.status = data.status;
        if (event === "progress") {
          state.rate = data.rate;
          state.eta = data.eta;
        }
        const s = data.executionSummary;
        const t = Date.parse(data.at);
        if (state.samples.length === 0) {
          state.samples.push({ t, succeeded: baseline.succeeded, failed: baseline.failed, timedOut: baseline.timedOut });
        }
        state.samples.push({ t, succeeded: s.succeeded, failed: s.failed, timedOut: s.timedOut });
        paint();
        chartLater();
        tableLater();
      }
      if (event === "status") {
        state.status = data.status;
        ctx.announce(`Status: ${statusLabel(data.status)}`);
        paint();
      }
      if (event === "done") {
        clearInterval(tick);
        conn.textContent = "(finished)";
        ctx.announce(`Execution ${statusLabel(data.status)}`);
        reload().then(() => { drawChart(); table.refresh(); });
      }
    },
    onState(st, detail) {
      if (st === "open") conn.textContent = "(live)";
      if (st === "reconnecting") conn.textContent = `(reconnecting: ${detail})`;
    },
    onFatal(status, message) {
      conn.textContent = "";
      out.replaceChildren(notice("error", `The live stream stopped: ${message}`));
    },
  });
  return () => {
    stream.stop();
    clearInterval(tick);
    chartLater.cancel();
    tableLater.cancel();
  };
}

