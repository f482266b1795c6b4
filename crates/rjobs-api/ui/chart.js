// The throughput chart: an SVG of stacked bars, one per time bucket, of the iterations that
// finished in it (succeeded, failed, timed out), so throughput and outcomes read together. Each
// outcome has a fill pattern as well as a colour, the legend names them, and the figure has a
// text description, so nothing depends on telling colours apart.

import { h, s } from "./dom.js";
import { num } from "./format.js";

const W = 640;
const H = 200;
const PAD = { l: 44, r: 8, t: 8, b: 28 };
const OUTCOMES = [
  { key: "succeeded", label: "Succeeded", cls: "ok" },
  { key: "failed", label: "Failed", cls: "bad" },
  { key: "timedOut", label: "Timed out", cls: "late" },
];

/**
 * Buckets samples into at most `n` bars. `samples` are cumulative counts in time order:
 * [{t: ms, succeeded, failed, timedOut}]. Returns {bars: [{t0, t1, succeeded, failed, timedOut}],
 * seconds} — pure, so it is easy to check.
 */
export function bucket(samples, n = 30) {
  if (samples.length < 2) return { bars: [], seconds: 0 };
  const t0 = samples[0].t;
  const t1 = samples[samples.length - 1].t;
  const span = Math.max(1, t1 - t0);
  // Bars of whole quarter seconds under a second, of whole seconds above.
  const raw = span / n;
  const width = raw <= 1000 ? Math.max(250, Math.ceil(raw / 250) * 250) : Math.ceil(raw / 1000) * 1000;
  const count = Math.max(1, Math.ceil(span / width));
  const bars = Array.from({ length: count }, (_, i) => ({
    t0: t0 + i * width, t1: t0 + (i + 1) * width, succeeded: 0, failed: 0, timedOut: 0,
  }));
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1];
    const b = samples[i];
    const idx = Math.min(count - 1, Math.floor((b.t - t0) / width));
    for (const o of OUTCOMES) bars[idx][o.key] += Math.max(0, (b[o.key] || 0) - (a[o.key] || 0));
  }
  return { bars, seconds: width / 1000 };
}

function defs() {
  const pat = (id, ...kids) => s("pattern", { id, width: 6, height: 6, patternUnits: "userSpaceOnUse" }, ...kids);
  return s("defs", {},
    pat("pat-ok", s("rect", { width: 6, height: 6, class: "fill-ok" })),
    pat("pat-bad", s("rect", { width: 6, height: 6, class: "fill-bad" }),
      s("path", { d: "M0,6 L6,0", class: "hatch" })),
    pat("pat-late", s("rect", { width: 6, height: 6, class: "fill-late" }),
      s("circle", { cx: 3, cy: 3, r: 1.2, class: "dot" })));
}

/** Renders the chart figure for `samples` (see bucket). */
export function chart(samples, note) {
  const { bars, seconds } = bucket(samples);
  const fig = h("figure", { class: "chart" });
  const totals = { succeeded: 0, failed: 0, timedOut: 0 };
  for (const b of bars) for (const o of OUTCOMES) totals[o.key] += b[o.key];
  const peak = Math.max(0, ...bars.map((b) => (b.succeeded + b.failed + b.timedOut) / seconds));
  const desc = bars.length === 0
    ? (note || "No iterations have finished while this page was open.")
    : `${bars.length} bar${bars.length === 1 ? "" : "s"} of ${seconds} s: ${num(totals.succeeded)} succeeded, ` +
      `${num(totals.failed)} failed, ${num(totals.timedOut)} timed out; peak ${peak.toFixed(1)} per second.`;
  const svg = s("svg", {
    viewBox: `0 0 ${W} ${H}`, role: "img", "aria-labelledby": "chart-title chart-desc",
    class: "chart-svg", preserveAspectRatio: "none",
  },
  s("title", { id: "chart-title" }, "Iterations finished per second, by outcome"),
  s("desc", { id: "chart-desc" }, desc),
  defs());
  const iw = W - PAD.l - PAD.r;
  const ih = H - PAD.t - PAD.b;
  const max = Math.max(1, ...bars.map((b) => b.succeeded + b.failed + b.timedOut));
  // Axes and the y scale in iterations per second.
  svg.append(s("line", { x1: PAD.l, y1: PAD.t + ih, x2: W - PAD.r, y2: PAD.t + ih, class: "axis" }));
  svg.append(s("line", { x1: PAD.l, y1: PAD.t, x2: PAD.l, y2: PAD.t + ih, class: "axis" }));
  // The y scale in iterations per second (a bar's count over its width).
  const top = bars.length ? max / seconds : 0;
  for (const f of bars.length ? [0, 0.5, 1] : [0]) {
    const y = PAD.t + ih - f * ih;
    svg.append(s("text", { x: PAD.l - 4, y: y + 4, class: "tick", "text-anchor": "end" },
      (top * f).toFixed(top < 10 ? 1 : 0)));
  }
  const bw = bars.length ? iw / bars.length : 0;
  bars.forEach((b, i) => {
    let y = PAD.t + ih;
    const x = PAD.l + i * bw + 1;
    for (const o of OUTCOMES) {
      const v = b[o.key];
      if (!v) continue;
      const hgt = (v / max) * ih;
      y -= hgt;
      svg.append(s("rect", {
        x, y, width: Math.max(1, bw - 2), height: hgt, fill: `url(#pat-${o.cls})`, class: `bar ${o.cls}`,
      }, s("title", {}, `${o.label}: ${num(v)} in ${seconds} s`)));
    }
  });
  if (bars.length) {
    const span = (bars[bars.length - 1].t1 - bars[0].t0) / 1000;
    svg.append(s("text", { x: PAD.l, y: H - 8, class: "tick" }, "0 s"));
    svg.append(s("text", { x: W - PAD.r, y: H - 8, class: "tick", "text-anchor": "end" }, `${Math.round(span)} s`));
  }
  const legend = h("ul", { class: "legend" }, OUTCOMES.map((o) =>
    h("li", {}, h("span", { class: `swatch ${o.cls}`, "aria-hidden": "true" }), `${o.label}: ${num(totals[o.key])}`)));
  fig.append(svg, legend, h("figcaption", {}, desc));
  return fig;
}
