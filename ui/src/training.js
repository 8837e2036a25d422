// A training job's page: its facts, every metric over time, the objective's
// curve by step (the values early stopping and Hyperband decided on), its
// hyperparameters, its status transitions and the live tail of its log.

import * as api from "./api.js";
import { h, badge, fact, fmtTime, fmtNum, fmtDuration, LIVE_STATUSES } from "./util.js";
import * as C from "./charts.js";

const LOG_CAP = 1 << 20; // characters of log kept on the page (the oldest dropped)

export async function trainingPage(name, root, ctx) {
  const title = h("div", { id: "summary" });
  const metricsBox = h("div", { class: "metrics", id: "metrics" });
  const curve = h("div", { id: "chart-curve", class: "chart small" });
  const hpBox = h("div", { id: "hyperparameters" }), transBox = h("div", { id: "transitions" });
  const log = h("pre", { class: "log", id: "log" });
  const logState = h("span", { class: "small muted", id: "log-state" });
  root.append(title,
    h("div", { class: "card" }, h("h2", null, "Metrics"), metricsBox),
    h("div", { class: "card" }, h("h2", null, "Objective by step"), curve,
      h("p", { class: "note" }, "One value per time the objective metric was printed: the intermediate values the early-stopping rule and Hyperband compared.")),
    h("div", { class: "grid2" }, h("div", { class: "card" }, h("h2", null, "Hyperparameters"), hpBox),
      h("div", { class: "card" }, h("h2", null, "Status transitions"), transBox)),
    h("div", { class: "card", style: { marginTop: "16px" } }, h("div", { class: "row", style: { justifyContent: "space-between", marginBottom: "8px" } },
      h("h2", { style: { margin: 0 } }, "Log"), logState), log));

  let offset = 0, complete = false, text = "", crumbsSet = false;

  async function pollLog() {
    // Read what is there (a few pages at most per poll), then show it.
    for (let k = 0; k < 8 && !complete; k++) {
      const r = await api.trainingLog(name, offset);
      if (r.text) text += r.text;
      const moved = r.next_offset !== offset;
      offset = r.next_offset;
      complete = !!r.complete;
      if (!moved || !r.text) break;
    }
    if (text.length > LOG_CAP) text = text.slice(text.length - LOG_CAP);
    const atEnd = log.scrollHeight - log.scrollTop - log.clientHeight < 30;
    if (log.textContent !== text) {
      log.textContent = text || "(no output yet)";
      if (atEnd) log.scrollTop = log.scrollHeight;
    }
    logState.textContent = complete ? `complete, ${offset} bytes` : `following, ${offset} bytes`;
    logState.dataset.complete = complete ? "1" : "0";
  }

  return async () => {
    const j = await api.trainingJob(name);
    if (!crumbsSet) {
      ctx.crumbs(h("a", { href: "#/" }, "Tuning jobs"),
        j.tuning_job ? h("a", { href: "#/tuning/" + encodeURIComponent(j.tuning_job) }, j.tuning_job) : null, h("span", null, name));
      crumbsSet = true;
    }
    title.replaceChildren(h("div", { class: "head" }, h("div", null, h("h1", { id: "job-name" }, name), badge(j.status))),
      h("div", { class: "card" }, h("div", { class: "facts" },
        fact("Tuning job", j.tuning_job ? h("a", { href: "#/tuning/" + encodeURIComponent(j.tuning_job) }, j.tuning_job) : "—"),
        fact("Objective", j.objective ? `${j.objective.type} ${j.objective.metric}` : "—"),
        fact(LIVE_STATUSES.has(j.status) ? "Objective (latest)" : "Final objective",
          fmtNum(j.final_objective ?? (LIVE_STATUSES.has(j.status) && (j.objective_curve || []).length ? j.objective_curve[j.objective_curve.length - 1][1] : null))),
        fact("Created", fmtTime(j.created)), fact("Started", fmtTime(j.started)), fact("Ended", fmtTime(j.ended)),
        fact("Ran", j.started ? fmtDuration((j.ended ?? Date.now() / 1000) - j.started) : "—")),
      j.failure_reason ? h("p", { class: "reason", id: "failure-reason" }, "Failure reason: " + j.failure_reason) : null));

    const metrics = j.metrics || {};
    const names = Object.keys(metrics);
    for (const c of [...metricsBox.children]) if (!names.includes(c.dataset.metric)) c.remove();
    if (!names.length && !metricsBox.querySelector(".empty")) metricsBox.append(h("p", { class: "empty" }, "No metric definitions."));
    names.forEach((m) => {
      let box = [...metricsBox.children].find((c) => c.dataset.metric === m);
      if (!box) { box = h("div", { class: "chart small", "data-metric": m, id: "metric-" + m }); metricsBox.append(box); }
      C.draw("metric:" + m, box, C.metricOption(m, metrics[m] || [], j.started));
    });
    C.draw("curve", curve, C.curveOption(j.objective ? j.objective.metric : "objective", j.objective_curve || []));

    const hp = Object.entries(j.hyperparameters || {}).sort(([a], [b]) => (a < b ? -1 : 1));
    hpBox.replaceChildren(h("table", { class: "kv" }, h("tbody", null, hp.length ? hp.map(([k, val]) => h("tr", null, h("td", null, k), h("td", null, String(val))))
      : h("tr", null, h("td", { class: "empty" }, "None")))));
    const tr = j.transitions || [];
    transBox.replaceChildren(h("table", { id: "transitions-table" }, h("thead", null, h("tr", null, h("th", null, "Status"), h("th", null, "At"), h("th", null, "After"))),
      h("tbody", null, tr.map((x, k) => h("tr", null, h("td", null, badge(x.status)), h("td", null, fmtTime(x.time)),
        h("td", null, k ? "+" + fmtDuration(x.time - tr[k - 1].time) : ""))))));
    await pollLog();
    return LIVE_STATUSES.has(j.status) || !complete;
  };
}
