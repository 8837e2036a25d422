// Every chart of the dashboard, drawn by Apache ECharts (vendored, see
// ui/README.md): this file only turns the API's JSON into ECharts options.
// Each chart instance is kept on window.__charts[id] so that a test (or a
// curious user in the console) reads its data: __charts[id].getOption().

import { STATUS_COLOR, fmtNum, fmtDuration, now } from "./util.js";

window.__charts = window.__charts || {};
const lastJson = {};

// Draws option into el under id: one instance per id and element, re-used
// across polls; an option equal to the last one drawn is not drawn again.
export function draw(id, el, option) {
  let c = window.__charts[id];
  if (c && c.getDom() !== el) { c.dispose(); c = null; }
  if (!c) {
    c = echarts.init(el, null, { renderer: "canvas" });
    window.__charts[id] = c;
    delete lastJson[id];
    // Follow the element's size (a grid that gains a column, a window resize).
    if (window.ResizeObserver) new ResizeObserver(() => c.isDisposed() || c.resize()).observe(el);
  }
  const js = JSON.stringify(option);
  if (lastJson[id] !== js) {
    c.setOption(option, { notMerge: true });
    lastJson[id] = js;
  }
  return c;
}

// Drops the charts whose element left the page (called on navigation).
export function prune() {
  for (const [id, c] of Object.entries(window.__charts)) {
    if (!document.body.contains(c.getDom())) { c.dispose(); delete window.__charts[id]; delete lastJson[id]; }
  }
}

// A grey line of text across an empty chart, saying why it is empty.
function emptyNote(empty, text) {
  return empty ? { graphic: [{ type: "text", left: "center", top: "middle", silent: true, style: { text, fill: "#6b7385", fontSize: 13 } }] } : {};
}

const FINAL_WITH_VALUE = new Set(["Completed", "Stopped"]);
const base = {
  animation: false,
  textStyle: { fontFamily: "system-ui, sans-serif" },
  grid: { left: 60, right: 24, top: 36, bottom: 42, containLabel: false },
};
const axisName = (name) => ({ name, nameLocation: "middle", nameGap: 28, nameTextStyle: { color: "#6b7385" } });

// The training jobs of a tuning job in the order they were created (the
// x of the history): [{job, i}] with i from 1.
export function inOrder(jobs) {
  return jobs.slice().sort((a, b) => (a.created ?? Infinity) - (b.created ?? Infinity) ||
    (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map((job, k) => ({ job, i: k + 1 }));
}

// Best objective so far over the finished jobs that have one, in order.
export function bestSoFar(ordered, maximize) {
  const out = [];
  let best = null;
  for (const { job, i } of ordered) {
    if (FINAL_WITH_VALUE.has(job.status) && job.objective !== null && job.objective !== undefined) {
      if (best === null || (maximize ? job.objective > best : job.objective < best)) best = job.objective;
    }
    if (best !== null) out.push([i, best]);
  }
  return out;
}

const point = (job, i) => ({ value: [i, job.objective], name: job.name });

// Optimization history: each job's objective by order; finished, early
// stopped, stopped and running jobs as their own series; failed jobs (which
// have no objective) as dashed vertical marks at their place, never as a
// value; the best-so-far line over finished jobs.
export function historyOption(t) {
  const maximize = t.objective && t.objective.type === "Maximize";
  const ord = inOrder(t.training_jobs || []);
  const has = (j) => j.objective !== null && j.objective !== undefined;
  const sel = (f) => ord.filter(({ job }) => f(job)).map(({ job, i }) => point(job, i));
  const completed = sel((j) => j.status === "Completed" && has(j));
  const early = sel((j) => j.status === "Stopped" && j.early_stopped && has(j));
  const stopped = sel((j) => (j.status === "Stopped" || j.status === "Stopping") && !j.early_stopped && has(j));
  const running = sel((j) => j.status === "InProgress" && has(j));
  const stoppedMarks = ord.filter(({ job }) => (job.status === "Stopped" || job.status === "Stopping") && !has(job)).map(({ job, i }) => ({ xAxis: i, name: job.name }));
  const runningMarks = ord.filter(({ job }) => job.status === "InProgress" && !has(job)).map(({ job, i }) => ({ xAxis: i, name: job.name }));
  const failed = ord.filter(({ job }) => job.status === "Failed").map(({ job, i }) => ({ xAxis: i, name: job.name }));
  return {
    ...base,
    ...emptyNote(!completed.length && !early.length && !stopped.length && !running.length, failed.length + runningMarks.length + stoppedMarks.length ? "No objective values yet (dotted: running, dashed: failed or stopped)" : "No training jobs yet"),
    legend: { top: 4, left: "center" },
    tooltip: {
      trigger: "item",
      formatter: (p) => p.componentType === "markLine"
        ? `${p.name}<br>#${p.value} Failed (no objective)`
        : `${p.data.name || "best so far"}<br>#${p.value[0]} ${p.seriesName}: ${fmtNum(p.value[1])}`,
    },
    xAxis: { type: "value", minInterval: 1, min: 0, max: Math.max(ord.length + 1, 2), ...axisName("training job (order created)") },
    yAxis: { type: "value", scale: true, ...axisName(t.objective ? t.objective.metric : "objective"), nameGap: 44 },
    dataZoom: [{ type: "inside", xAxisIndex: 0 }],
    series: [
      { id: "completed", name: "Completed", type: "scatter", data: completed, symbolSize: 9, itemStyle: { color: STATUS_COLOR.Completed } },
      { id: "early", name: "Early stopped", type: "scatter", data: early, symbol: "triangle", symbolSize: 10, itemStyle: { color: STATUS_COLOR.Stopped } },
      {
        id: "stopped", name: "Stopped", type: "scatter", data: stopped, symbol: "diamond", symbolSize: 10, itemStyle: { color: "#9a8fb5" },
        markLine: { symbol: "none", label: { show: false }, lineStyle: { color: "#9a8fb5", type: "dashed", width: 1.5 }, data: stoppedMarks },
      },
      {
        id: "running", name: "Running", type: "scatter", data: running, symbolSize: 9, itemStyle: { color: "#fff", borderColor: STATUS_COLOR.InProgress, borderWidth: 2 },
        markLine: { symbol: "none", label: { show: false }, lineStyle: { color: STATUS_COLOR.InProgress, type: "dotted", width: 1.5 }, data: runningMarks },
      },
      {
        id: "failed", name: "Failed", type: "scatter", data: [], itemStyle: { color: STATUS_COLOR.Failed },
        markLine: { symbol: "none", silent: false, label: { show: false }, lineStyle: { color: STATUS_COLOR.Failed, type: "dashed", width: 1.5 }, data: failed },
      },
      { id: "best", name: "Best so far", type: "line", step: "end", data: bestSoFar(ord, maximize), showSymbol: false, lineStyle: { width: 2, color: "#e08a00" }, itemStyle: { color: "#e08a00" }, z: 1 },
    ],
  };
}

// Numbers of a hyperparameter's values, or the value itself for categorical.
function hpValue(range, raw) {
  if (raw === undefined || raw === null) return null;
  if (range.type === "Categorical") return String(raw);
  const x = Number(raw);
  return isFinite(x) ? x : null;
}

// The jobs the parallel and slice plots draw: those with a final objective
// (Completed, or Stopped with the last value it reported). Running and
// failed jobs are left out — never drawn as 0.
export function finishedWithObjective(t) {
  return (t.training_jobs || []).filter((j) => FINAL_WITH_VALUE.has(j.status) && j.objective !== null && j.objective !== undefined);
}

const VIRIDIS = ["#440154", "#3b528b", "#21918c", "#5ec962", "#fde725"];

function objectiveRange(jobs) {
  const v = jobs.map((j) => j.objective);
  let lo = Math.min(...v), hi = Math.max(...v);
  if (!isFinite(lo)) { lo = 0; hi = 1; }
  if (lo === hi) { lo -= 1; hi += 1; }
  return [lo, hi];
}

function axisFor(range) {
  if (range.type === "Categorical") return { type: "category", data: (range.values || []).map(String) };
  if (range.scale === "Logarithmic" && range.min > 0) return { type: "log", min: range.min, max: range.max };
  return { type: "value", min: range.min, max: range.max };
}

// Parallel coordinates: one axis per hyperparameter in `order` (names; the
// hidden ones left out) and the objective last; each finished job a line
// coloured by its objective (bright = better).
export function parallelOption(t, order) {
  const ranges = t.ranges || [];
  const jobs = finishedWithObjective(t);
  const [lo, hi] = objectiveRange(jobs);
  const maximize = t.objective && t.objective.type === "Maximize";
  const objDim = ranges.length;
  const axes = order.map((name) => ranges.findIndex((r) => r.name === name)).filter((k) => k >= 0)
    .map((k, pos) => ({ dim: k, name: ranges[k].name + (ranges[k].scale === "Logarithmic" ? " (log)" : ""), ...axisFor(ranges[k]) }));
  axes.push({ dim: objDim, name: t.objective ? t.objective.metric : "objective", type: "value", scale: true, nameTextStyle: { fontWeight: "bold" } });
  const data = jobs.map((j) => ({ name: j.name, value: [...ranges.map((r) => hpValue(r, (j.hyperparameters || {})[r.name])), j.objective] }));
  return {
    animation: false,
    ...emptyNote(!jobs.length, "No finished training job with an objective yet"),
    textStyle: { fontFamily: "system-ui, sans-serif" },
    tooltip: { trigger: "item", formatter: (p) => `${p.name}<br>objective ${fmtNum(p.value[objDim])}` },
    parallel: { left: 50, right: 130, top: 40, bottom: 30, parallelAxisDefault: { nameLocation: "end", nameGap: 14, nameTextStyle: { color: "#1d2330", fontSize: 12 } } },
    parallelAxis: axes.map((a) => ({ ...a, realtime: true })),
    visualMap: {
      type: "continuous", show: jobs.length > 0, dimension: objDim, min: lo, max: hi, right: 8, top: "middle", itemHeight: 160,
      text: [maximize ? "best" : "worst", maximize ? "worst" : "best"], textGap: 14, calculable: true, precision: 2,
      inRange: { color: maximize ? VIRIDIS : VIRIDIS.slice().reverse() },
    },
    series: [{ id: "jobs", type: "parallel", data, lineStyle: { width: 1.6, opacity: 0.8 }, emphasis: { lineStyle: { width: 3, opacity: 1 } } }],
  };
}

// One slice plot: a hyperparameter's value against the objective over the
// finished jobs (log x axis for a Logarithmic range).
export function sliceOption(t, range) {
  const jobs = finishedWithObjective(t);
  const data = jobs.map((j) => ({ name: j.name, value: [hpValue(range, (j.hyperparameters || {})[range.name]), j.objective] }))
    .filter((d) => d.value[0] !== null);
  const x = axisFor(range);
  return {
    ...base,
    ...emptyNote(!data.length, "No finished training jobs yet"),
    grid: { left: 56, right: 16, top: 30, bottom: 40 },
    title: { text: range.name + (range.scale === "Logarithmic" ? " (log scale)" : ""), left: "center", top: 4, textStyle: { fontSize: 13, fontWeight: 600 } },
    tooltip: { trigger: "item", formatter: (p) => `${p.name}<br>${range.name} = ${p.value[0]}<br>objective ${fmtNum(p.value[1])}` },
    xAxis: { ...x, scale: x.type === "value", boundaryGap: x.type === "category" ? true : undefined, axisLine: { onZero: false } },
    yAxis: { type: "value", scale: true, axisLine: { onZero: false, show: true } },
    series: [{ id: "slice", type: "scatter", data, symbolSize: 8, itemStyle: { color: "#2f6fde", opacity: 0.75 } }],
  };
}

export function importanceOption(t) {
  const imp = (t.importances || []).slice().sort((a, b) => a.importance - b.importance);
  return {
    ...base,
    ...emptyNote(!imp.length, "No importances yet: they need 3 finished training jobs with different objectives"),
    grid: { left: 110, right: 40, top: 14, bottom: 30 },
    tooltip: { trigger: "item", formatter: (p) => `${p.name}: ${fmtNum(p.value)}` },
    xAxis: { type: "value", min: 0, show: imp.length > 0 },
    yAxis: { type: "category", show: imp.length > 0, data: imp.map((x) => x.name), axisLabel: { width: 95, overflow: "truncate" } },
    series: [{ id: "importance", type: "bar", data: imp.map((x) => ({ name: x.name, value: x.importance })), itemStyle: { color: "#2f6fde" }, barMaxWidth: 26, label: { show: true, position: "right", formatter: (p) => fmtNum(p.value) } }],
  };
}

// Timeline: a bar per training job from its start to its end (now, while it
// runs), on seconds since the tuning job was created; colour by status. Jobs
// not started yet have no bar. Drawn as ECharts' stacked bars (an invisible
// bar up to the start, then the run).
export function timelineOption(t) {
  const ord = inOrder(t.training_jobs || []);
  const t0 = t.created ?? Math.min(...ord.map(({ job }) => job.started ?? Infinity));
  const at = now();
  const names = ord.map(({ job }) => job.name);
  const offset = [], run = [];
  for (const { job } of ord) {
    if (job.started === null || job.started === undefined) { offset.push(0); run.push({ name: job.name, value: 0, itemStyle: { color: "transparent" } }); continue; }
    const end = job.ended ?? at;
    const color = job.status === "Stopped" && !job.early_stopped ? "#9a8fb5" : STATUS_COLOR[job.status] || "#888";
    offset.push(job.started - t0);
    run.push({ name: job.name, value: Math.max(end - job.started, 0.05), itemStyle: { color }, status: job.status, early: !!job.early_stopped, running: job.ended === null || job.ended === undefined });
  }
  return {
    ...base,
    grid: { left: 8, right: 24, top: 10, bottom: 42, containLabel: true },
    tooltip: {
      trigger: "item",
      formatter: (p) => {
        const d = p.data;
        return `${d.name}<br>${d.status}${d.early && d.status === "Stopped" ? " (early stop)" : ""}${d.running ? " (running)" : ""}<br>` +
          `start +${fmtDuration(offset[p.dataIndex])}, ran ${fmtDuration(d.value)}`;
      },
    },
    xAxis: { type: "value", min: 0, ...axisName("seconds since the tuning job was created") },
    yAxis: { type: "category", data: names, inverse: true, axisLabel: { fontSize: 10, formatter: (v) => v.replace(/^.*-(\d+-[0-9a-f]+)$/, "$1") } },
    series: [
      { id: "offset", type: "bar", stack: "t", data: offset, itemStyle: { color: "transparent" }, silent: true, tooltip: { show: false }, barMaxWidth: 14 },
      { id: "run", type: "bar", stack: "t", data: run, barMaxWidth: 14 },
    ],
  };
}

// A training job's metric over time (seconds since it started).
export function metricOption(name, points, started) {
  const t0 = started ?? (points.length ? points[0][0] : 0);
  return {
    ...base,
    ...emptyNote(!points.length, "No values yet"),
    grid: { left: 60, right: 18, top: 30, bottom: 40 },
    title: { text: name, left: "center", top: 4, textStyle: { fontSize: 13, fontWeight: 600 } },
    tooltip: { trigger: "axis", valueFormatter: (v) => fmtNum(v) },
    xAxis: { type: "value", min: 0, ...axisName("seconds since start") },
    yAxis: { type: "value", scale: true },
    series: [{ id: "m", name, type: "line", data: points.map((p) => [p[0] - t0, p[2]]), showSymbol: points.length < 60, symbolSize: 5 }],
  };
}

// The objective as the early-stopping rule and Hyperband saw it: one value
// per emission (step = the emission's count).
export function curveOption(name, curve) {
  return {
    ...base,
    ...emptyNote(!curve.length, "No values yet"),
    grid: { left: 60, right: 18, top: 30, bottom: 40 },
    title: { text: name + " by step (seen by early stopping)", left: "center", top: 4, textStyle: { fontSize: 13, fontWeight: 600 } },
    tooltip: { trigger: "axis", valueFormatter: (v) => fmtNum(v) },
    xAxis: { type: "value", minInterval: 1, ...axisName("step") },
    yAxis: { type: "value", scale: true },
    series: [{ id: "curve", name, type: "line", data: curve.map((p) => [p[0], p[1]]), showSymbol: curve.length < 60, symbolSize: 5, itemStyle: { color: "#e08a00" } }],
  };
}

const PALETTE = ["#2f6fde", "#e08a00", "#1f9d55", "#d0393e", "#7c5cc4", "#0fa3b1", "#b5446e", "#6b7385"];

// Compare: each tuning job's objectives by order (finished jobs) and its
// best-so-far line, in one colour per tuning job.
export function compareOption(tjs) {
  const series = [];
  tjs.forEach((t, k) => {
    const color = PALETTE[k % PALETTE.length];
    const ord = inOrder(t.training_jobs || []);
    const pts = ord.filter(({ job }) => FINAL_WITH_VALUE.has(job.status) && job.objective !== null && job.objective !== undefined)
      .map(({ job, i }) => point(job, i));
    series.push({ id: "pts:" + t.name, name: t.name, type: "scatter", data: pts, symbolSize: 7, itemStyle: { color, opacity: 0.6 } });
    series.push({ id: "best:" + t.name, name: t.name, type: "line", step: "end", data: bestSoFar(ord, t.objective && t.objective.type === "Maximize"), showSymbol: false, lineStyle: { width: 2.2, color }, itemStyle: { color } });
  });
  return {
    ...base,
    legend: { top: 4, left: "center", data: tjs.map((t) => t.name) },
    tooltip: { trigger: "item", formatter: (p) => `${p.seriesName}<br>${p.data.name ? p.data.name + "<br>" : "best so far "}#${p.value[0]}: ${fmtNum(p.value[1])}` },
    xAxis: { type: "value", minInterval: 1, min: 0, ...axisName("training job (order created)") },
    yAxis: { type: "value", scale: true, ...axisName(new Set(tjs.map((t) => t.objective && t.objective.metric)).size === 1 && tjs[0].objective ? tjs[0].objective.metric : "objective"), nameGap: 44 },
    series,
  };
}
