// Pure formatting and status decisions shared by the pages: labels (every status is shown as
// text, colour only repeats it), counts, durations, rates and which controls an execution allows.

const EXEC_LABELS = {
  inProgress: "In progress",
  paused: "Paused",
  completed: "Completed",
  canceling: "Canceling",
  canceled: "Canceled",
  erroring: "Erroring",
  errored: "Errored",
};

const ITER_LABELS = {
  pending: "Pending",
  inProgress: "In progress",
  retrying: "Retrying",
  succeeded: "Succeeded",
  failed: "Failed",
  timedOut: "Timed out",
  notStarted: "Not started",
};

/** Every iteration status, in the order of the filter. */
export const ITERATION_STATUSES = Object.keys(ITER_LABELS);

export function statusLabel(status) {
  return EXEC_LABELS[status] || ITER_LABELS[status] || String(status);
}

export const FINAL = new Set(["completed", "canceled", "errored"]);

export function isFinal(status) {
  return FINAL.has(status);
}

/** Which controls an execution in `status` offers (the server decides; this only hides the
 * buttons that would be refused). */
export function controls(status, summary) {
  const failures = (summary?.failed || 0) + (summary?.timedOut || 0);
  return {
    cancel: status === "inProgress" || status === "paused",
    pause: status === "inProgress",
    resume: status === "paused",
    rerun: isFinal(status) && failures > 0,
  };
}

export function total(s) {
  if (!s) return 0;
  return (s.succeeded || 0) + (s.failed || 0) + (s.timedOut || 0) + (s.inProgress || 0) +
    (s.remaining || 0);
}

export function finished(s) {
  if (!s) return 0;
  return (s.succeeded || 0) + (s.failed || 0) + (s.timedOut || 0);
}

/** Whole percent finished (0 for an empty target set that has not completed). */
export function percent(s, status) {
  const t = total(s);
  if (t === 0) return status === "completed" ? 100 : 0;
  return Math.floor((finished(s) * 100) / t);
}

const nf = new Intl.NumberFormat("en-US");
export function num(n) {
  return nf.format(n || 0);
}

/** "2 h 05 m", "3 m 20 s", "12 s"; null/undefined → "—". */
export function duration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "—";
  const t = Math.max(0, Math.round(seconds));
  const hh = Math.floor(t / 3600);
  const mm = Math.floor((t % 3600) / 60);
  const ss = t % 60;
  if (hh > 0) return `${hh} h ${String(mm).padStart(2, "0")} m`;
  if (mm > 0) return `${mm} m ${String(ss).padStart(2, "0")} s`;
  return `${ss} s`;
}

export function rate(r) {
  if (r === null || r === undefined) return "—";
  return `${r.toFixed(r >= 100 ? 0 : 1)} /s`;
}

/** A timestamp (RFC 3339 or epoch ms) in the browser's locale; "—" when absent. */
export function when(t) {
  if (t === null || t === undefined || t === "") return "—";
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? String(t) : d.toLocaleString();
}

/** The run time of an execution log item, in seconds (to now while it runs). */
export function runSeconds(item, now = Date.now()) {
  const start = Date.parse(item.runStartedAt);
  if (Number.isNaN(start)) return null;
  const end = item.runCompletedAt ? Date.parse(item.runCompletedAt) : now;
  return (end - start) / 1000;
}

/** "12 succeeded, 1 failed, 0 timed out" — the summary in words. */
export function summaryText(s) {
  if (!s) return "—";
  const parts = [`${num(s.succeeded)} succeeded`, `${num(s.failed)} failed`,
    `${num(s.timedOut)} timed out`];
  if (s.inProgress) parts.push(`${num(s.inProgress)} in progress`);
  if (s.remaining) parts.push(`${num(s.remaining)} remaining`);
  return parts.join(", ");
}

/** Checks the query editor's text: null when it is empty or a JSON object, else the problem.
 * A query with Handlebars templates (`{{...}}`) is left to the server, which renders it first. */
export function queryProblem(text) {
  if (!text.trim() || text.includes("{{")) return null;
  try {
    const v = JSON.parse(text);
    return v && typeof v === "object" && !Array.isArray(v) ? null : "The query must be a JSON object";
  } catch (e) {
    return `Not valid JSON: ${e.message}`;
  }
}
