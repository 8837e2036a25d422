// A tuning job's page: its facts, the stop button (with confirmation), the
// CSV export, the optimization history, parallel coordinates (axes hidden
// and reordered by the chips above), slice plots, importances, the timeline
// of its training jobs and their table (sortable, filtered by status).

import * as api from "./api.js";
import { h, badge, fact, fmtTime, fmtNum, fmtDuration, sortableTable, confirmDialog, LIVE_STATUSES, TRAINING_STATUSES } from "./util.js";
import * as C from "./charts.js";

// Per tuning job, what the user chose (kept across polls and visits).
const views = {};

function viewOf(name) {
  return views[name] || (views[name] = { axes: null, hidden: new Set(), table: { sort: "order", desc: false }, status: "" });
}

export async function tuningPage(name, root, ctx) {
  ctx.crumbs(h("a", { href: "#/" }, "Tuning jobs"), h("span", null, name));
  const v = viewOf(name);
  const el = (id, cls) => h("div", { id, class: cls || "" });
  const title = el("summary"), history = el("chart-history", "chart tall"), parallel = el("chart-parallel", "chart tall");
  const axes = h("div", { class: "axes", id: "axes" }), slices = el("slices", "slices");
  const importance = el("chart-importance", "chart small"), timeline = el("chart-timeline", "chart tall");
  const tableBox = el("jobs-box"), parallelNote = h("p", { class: "note", id: "parallel-note" });
  const importanceNote = h("p", { class: "note" }), statusSel = h("select", { id: "filter-job-status", onchange: () => { v.status = statusSel.value; paintTable(); } },
    h("option", { value: "" }, "All statuses"), TRAINING_STATUSES.map((s) => h("option", { value: s }, s)));
  statusSel.value = v.status;
  root.append(title,
    h("div", { class: "card" }, h("h2", null, "Optimization history"), history),
    h("div", { class: "card" }, h("h2", null, "Parallel coordinates"), axes, parallel, parallelNote),
    h("div", { class: "card" }, h("h2", null, "Slice plots"), h("p", { class: "note", style: { marginTop: "-6px" } }, "Each hyperparameter's value against the objective, over the finished training jobs."), slices),
    h("div", { class: "card" }, h("h2", null, "Hyperparameter importance"), importance, importanceNote),
    h("div", { class: "card" }, h("h2", null, "Timeline of training jobs"), timeline),
    h("div", { class: "card" }, h("div", { class: "row", style: { justifyContent: "space-between", marginBottom: "8px" } },
      h("h2", { style: { margin: 0 } }, "Training jobs"), statusSel), tableBox));

  let t = null;
  let stopping = false;

  let stopError = "";

  async function stop() {
    const ok = await confirmDialog("Stop this tuning job?",
      `${name}: its running training jobs are stopped and no more are started. This cannot be undone.`, "Stop tuning job");
    if (!ok) return;
    stopping = true;
    stopError = "";
    paintSummary();
    try {
      await api.stopTuningJob(name);
    } catch (e) {
      if (e instanceof api.AuthError) { window.dispatchEvent(new Event("hpo-signed-out")); return; }
      stopError = "Stopping failed: " + e.message;
    } finally {
      stopping = false;
    }
    await refresh();
  }

  function paintSummary() {
    const c = t.counts || {};
    const canStop = t.status === "InProgress";
    const total = (t.training_jobs || []).length;
    title.replaceChildren(h("div", { class: "head" },
      h("div", null, h("h1", { id: "job-name" }, name), h("div", { class: "row" }, badge(t.status),
        t.completion_reason ? h("span", { class: "muted small", id: "completion-reason" }, t.completion_reason) : null)),
      h("div", { class: "row" },
        h("a", { class: "button", id: "csv", href: api.csvUrl(name), download: name + ".csv" }, "Export CSV"),
        h("button", { class: "danger", id: "stop", disabled: !canStop || stopping, onclick: () => stop().catch((e) => { stopError = "Stopping failed: " + e.message; paintSummary(); }), title: canStop ? "" : "Only a tuning job in progress can be stopped" },
          t.status === "Stopping" || stopping ? "Stopping…" : "Stop"))),
    ...(stopError ? [h("div", { class: "banner", id: "stop-error" }, stopError)] : []),
    h("div", { class: "card" }, h("div", { class: "facts" },
      fact("Objective", t.objective ? `${t.objective.type} ${t.objective.metric}` : "—"),
      fact("Best", t.best ? h("span", null, fmtNum(t.best.value), " ", h("a", { class: "small", href: "#/training/" + encodeURIComponent(t.best.training_job) }, t.best.training_job)) : "—"),
      fact("Strategy", t.strategy || "—"),
      fact("Training jobs", `${total} of ${t.max_jobs ?? "?"} (at most ${t.max_parallel ?? "?"} at once)`),
      fact("Completed", String(c.completed || 0)), fact("Running", String(c.in_progress || 0)),
      fact("Stopped", String(c.stopped || 0)), fact("Failed", String(c.failed || 0)),
      fact("Created", fmtTime(t.created)), fact("Ended", fmtTime(t.ended)),
      fact("Duration", fmtDuration((t.ended ?? Date.now() / 1000) - t.created)))));
  }

  function paintAxes() {
    const ranges = t.ranges || [];
    if (!v.axes || v.axes.length !== ranges.length || ranges.some((r) => !v.axes.includes(r.name))) v.axes = ranges.map((r) => r.name);
    const move = (k, d) => { const a = v.axes; [a[k], a[k + d]] = [a[k + d], a[k]]; paintParallel(); };
    // Drag a chip onto another to put its axis there (or use ◀ ▶).
    const drop = (k) => (e) => {
      e.preventDefault();
      const from = Number(e.dataTransfer.getData("text/x-axis-index"));
      if (!Number.isInteger(from) || from === k) return;
      const [n] = v.axes.splice(from, 1);
      v.axes.splice(k, 0, n);
      paintParallel();
    };
    axes.replaceChildren(h("span", { class: "small muted" }, "Axes (drag to reorder):"), ...v.axes.map((n, k) => h("span", {
      class: "axis-chip" + (v.hidden.has(n) ? " off" : ""), "data-axis": n, draggable: "true",
      ondragstart: (e) => { e.dataTransfer.setData("text/x-axis-index", String(k)); e.dataTransfer.effectAllowed = "move"; },
      ondragover: (e) => e.preventDefault(), ondrop: drop(k),
    },
      h("input", { type: "checkbox", class: "axis-toggle", "data-axis": n, checked: !v.hidden.has(n), title: "show or hide this axis",
        onchange: (e) => { if (e.target.checked) v.hidden.delete(n); else v.hidden.add(n); paintParallel(); } }), n,
      h("button", { class: "axis-left", title: "move left", disabled: k === 0, onclick: () => move(k, -1) }, "◀"),
      h("button", { class: "axis-right", title: "move right", disabled: k === v.axes.length - 1, onclick: () => move(k, 1) }, "▶"))));
  }

  function paintParallel() {
    paintAxes();
    C.draw("parallel", parallel, C.parallelOption(t, v.axes.filter((n) => !v.hidden.has(n))));
    const all = (t.training_jobs || []).length, drawn = C.finishedWithObjective(t).length;
    parallelNote.textContent = `${drawn} finished training jobs drawn, coloured by objective` +
      (all > drawn ? `; ${all - drawn} without a final objective (running, failed or not started) are not drawn.` : ".") +
      " Drag along an axis to filter.";
  }

  function paintSlices() {
    const ranges = t.ranges || [];
    const have = new Set(ranges.map((r) => "slice-" + r.name));
    for (const c of [...slices.children]) if (!have.has(c.id)) c.remove();
    ranges.forEach((r) => {
      let box = slices.querySelector(`[id="${CSS.escape("slice-" + r.name)}"]`);
      if (!box) { box = h("div", { id: "slice-" + r.name, class: "chart small" }); slices.append(box); }
      C.draw("slice:" + r.name, box, C.sliceOption(t, r));
    });
  }

  function paintTable() {
    const ord = C.inOrder(t.training_jobs || []);
    const order = new Map(ord.map(({ job, i }) => [job.name, i]));
    const hp = (t.ranges || []).map((r) => r.name);
    const rows = (t.training_jobs || []).filter((j) => !v.status || j.status === v.status).map((j) => ({ ...j, order: order.get(j.name) }));
    const cols = [
      { key: "order", label: "#", num: true, cell: (j) => String(j.order) },
      { key: "name", label: "Training job", cell: (j) => h("a", { href: "#/training/" + encodeURIComponent(j.name), class: "job-link" }, j.name) },
      { key: "status", label: "Status", cell: (j) => h("span", null, badge(j.status), j.early_stopped && j.status === "Stopped" ? h("span", { class: "small muted" }, " early stop") : null) },
      { key: "objective", label: "Objective", num: true },
      ...hp.map((n) => ({ key: "hp:" + n, label: n, value: (j) => { const x = (j.hyperparameters || {})[n]; return x !== undefined && isFinite(Number(x)) ? Number(x) : x; }, cell: (j) => { const x = (j.hyperparameters || {})[n]; return x === undefined ? "—" : isFinite(Number(x)) ? fmtNum(x) : String(x); } })),
      { key: "started", label: "Started", cell: (j) => fmtTime(j.started) },
      { key: "duration", label: "Ran", value: (j) => (j.started ? (j.ended ?? Date.now() / 1000) - j.started : null), cell: (j) => (j.started ? fmtDuration((j.ended ?? Date.now() / 1000) - j.started) : "—") },
      { key: "failure_reason", label: "Failure reason", cell: (j) => (j.failure_reason ? h("span", { class: "reason" }, j.failure_reason) : "") },
    ];
    tableBox.replaceChildren(sortableTable(cols, rows, v.table, paintTable, { id: "training-jobs" }));
  }

  async function refresh() {
    t = await api.tuningJob(name);
    paintSummary();
    C.draw("history", history, C.historyOption(t));
    paintParallel();
    paintSlices();
    importance.style.height = Math.max(120, 50 + 34 * (t.importances || []).length) + "px";
    if ((t.importances || []).length) {
      C.draw("importance", importance, C.importanceOption(t)).resize();
      importanceNote.textContent = "Each hyperparameter's share of the objective's variance (by rank) explained by its values alone, over the finished training jobs (method: docs/DASHBOARD.md).";
    } else {
      C.draw("importance", importance, C.importanceOption(t));
      importanceNote.textContent = "";
    }
    timeline.style.height = Math.max(220, 60 + 16 * (t.training_jobs || []).length) + "px";
    C.draw("timeline", timeline, C.timelineOption(t)).resize();
    paintTable();
    return LIVE_STATUSES.has(t.status);
  }
  return refresh;
}
