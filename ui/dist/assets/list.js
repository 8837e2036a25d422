// The tuning jobs page (filter, sort, pick several to compare) and the
// compare page (their histories on one plot).

import * as api from "./api.js";
import { h, badge, fmtTime, fmtNum, sortableTable, LIVE_STATUSES, TUNING_STATUSES } from "./util.js";
import { draw, compareOption } from "./charts.js";

const listState = { sort: "created", desc: true, text: "", status: "", picked: new Set() };

function finishedCount(c) {
  // retryable_error and non_retryable_error split the failed ones: not added.
  return (c.completed || 0) + (c.stopped || 0) + (c.failed || 0);
}

function progress(t) {
  const c = t.counts || {};
  const done = finishedCount(c);
  const pct = t.max_jobs ? Math.min(100, (100 * done) / t.max_jobs) : 0;
  return h("span", { class: "row", style: { gap: "8px", flexWrap: "nowrap" } },
    h("span", { class: "progress", title: `${done} of ${t.max_jobs ?? "?"} training jobs finished` }, h("div", { style: { width: pct + "%" } })),
    h("span", { class: "small" }, `${done}/${t.max_jobs ?? "?"}`),
    c.in_progress ? h("span", { class: "small muted" }, `${c.in_progress} running`) : null);
}

export async function listPage(root, ctx) {
  ctx.crumbs(h("span", null, "Tuning jobs"));
  const text = h("input", { id: "filter-text", placeholder: "Filter by name", value: listState.text, oninput: () => { listState.text = text.value; paint(); } });
  const status = h("select", { id: "filter-status", onchange: () => { listState.status = status.value; paint(); } },
    h("option", { value: "" }, "All statuses"), TUNING_STATUSES.map((s) => h("option", { value: s }, s)));
  status.value = listState.status;
  const compare = h("button", {
    id: "compare", class: "primary",
    onclick: () => { location.hash = "#/compare?jobs=" + [...listState.picked].map(encodeURIComponent).join(","); },
  }, "Compare selected");
  const count = h("span", { class: "muted small", id: "count" });
  const tableBox = h("div");
  root.append(h("div", { class: "head" }, h("div", null, h("h1", null, "Tuning jobs"), count),
    h("div", { class: "row" }, text, status, compare)), h("div", { class: "card" }, tableBox));
  let jobs = [];

  const cols = [
    { key: "pick", label: "", value: (t) => (listState.picked.has(t.name) ? 0 : 1), cell: (t) => h("input", {
      type: "checkbox", class: "pick", "data-name": t.name, checked: listState.picked.has(t.name),
      onchange: (e) => { if (e.target.checked) listState.picked.add(t.name); else listState.picked.delete(t.name); paintButton(); },
    }) },
    { key: "name", label: "Name", cell: (t) => h("a", { href: "#/tuning/" + encodeURIComponent(t.name), class: "job-link" }, t.name) },
    { key: "status", label: "Status", cell: (t) => badge(t.status) },
    { key: "progress", label: "Progress", value: (t) => (t.max_jobs ? finishedCount(t.counts || {}) / t.max_jobs : 0), cell: progress },
    { key: "best", label: "Best objective", num: true, value: (t) => (t.best ? t.best.value : null), cell: (t) => (t.best ? h("span", { title: t.best.training_job }, fmtNum(t.best.value)) : "—") },
    { key: "objective", label: "Objective", value: (t) => (t.objective ? t.objective.metric : ""), cell: (t) => (t.objective ? `${t.objective.type === "Maximize" ? "max" : "min"} ${t.objective.metric}` : "—") },
    { key: "strategy", label: "Strategy" },
    { key: "failed", label: "Failed", num: true, value: (t) => (t.counts ? t.counts.failed : 0), cell: (t) => String((t.counts || {}).failed || 0) },
    { key: "created", label: "Created", cell: (t) => fmtTime(t.created) },
    { key: "ended", label: "Ended", cell: (t) => fmtTime(t.ended) },
  ];
  cols.find((c) => c.key === "strategy").cell = (t) => t.strategy || "—";

  function paintButton() {
    compare.disabled = listState.picked.size < 1;
    compare.textContent = listState.picked.size ? `Compare selected (${listState.picked.size})` : "Compare selected";
  }
  function paint() {
    const needle = listState.text.toLowerCase();
    const rows = jobs.filter((t) => (!needle || t.name.toLowerCase().includes(needle)) && (!listState.status || t.status === listState.status));
    count.textContent = `${rows.length} of ${jobs.length} shown`;
    tableBox.replaceChildren(sortableTable(cols, rows, listState, paint, { id: "tuning-jobs" }));
    paintButton();
  }
  return async () => {
    const js = await api.tuningJobs();
    jobs = js.tuning_jobs || [];
    const names = new Set(jobs.map((t) => t.name));
    for (const n of [...listState.picked]) if (!names.has(n)) listState.picked.delete(n);
    // Keep the filter box's focus and caret: only the table is redrawn.
    paint();
    return jobs.some((t) => LIVE_STATUSES.has(t.status));
  };
}

export async function comparePage(names, root, ctx) {
  ctx.crumbs(h("a", { href: "#/" }, "Tuning jobs"), h("span", null, "Compare"));
  const chartEl = h("div", { class: "chart tall", id: "chart-compare" });
  const tableBox = h("div");
  root.append(h("div", { class: "head" }, h("div", null, h("h1", null, "Compare tuning jobs"),
    h("div", { class: "muted small" }, "Each tuning job's objective values by order, and its best-so-far line."))),
  h("div", { class: "card" }, chartEl), h("div", { class: "card" }, tableBox));
  const state = { sort: "", desc: false };
  if (!names.length) { tableBox.append(h("p", { class: "empty" }, "No tuning jobs picked: tick some on the tuning jobs page.")); return async () => false; }
  let tjs = [];
  const paint = () => {
    const metrics = new Set(tjs.map((t) => t.objective && t.objective.metric + "/" + t.objective.type));
    const cols = [
      { key: "name", label: "Tuning job", cell: (t) => h("a", { href: "#/tuning/" + encodeURIComponent(t.name) }, t.name) },
      { key: "status", label: "Status", cell: (t) => badge(t.status) },
      { key: "strategy", label: "Strategy", cell: (t) => t.strategy || "—" },
      { key: "objective", label: "Objective", cell: (t) => (t.objective ? `${t.objective.type} ${t.objective.metric}` : "—") },
      { key: "best", label: "Best", num: true, value: (t) => (t.best ? t.best.value : null), cell: (t) => (t.best ? fmtNum(t.best.value) : "—") },
      { key: "jobs", label: "Training jobs", num: true, value: (t) => (t.training_jobs || []).length, cell: (t) => String((t.training_jobs || []).length) },
    ];
    tableBox.replaceChildren(sortableTable(cols, tjs, state, paint, { id: "compare-table" }));
    if (metrics.size > 1) tableBox.append(h("p", { class: "note" }, "These tuning jobs have different objectives: their values share one axis."));
  };
  return async () => {
    tjs = await Promise.all(names.map((n) => api.tuningJob(n)));
    draw("compare", chartEl, compareOption(tjs));
    paint();
    return tjs.some((t) => LIVE_STATUSES.has(t.status));
  };
}
