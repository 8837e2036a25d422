// Drives the hpod dashboard in Debian's chromium through playwright-core
// (tests/browser/package-lock.json; never a downloaded browser) and prints
// what it saw as one JSON object on stdout, for tests/e2e/test_dashboard.py
// to check against hpod's API. Chart data are read from the ECharts
// instances (window.__charts[id].getOption()), not from pixels. Screenshots
// (full page) go to <outdir>.
//
//   node dashboard.mjs <base-url> <outdir> pages <finished> <running> <training-job>...
//   node dashboard.mjs <base-url> <outdir> stop <tuning-job>
//   node dashboard.mjs <base-url> <outdir> auth <key> <secret> <own-tuning> <other-tuning>
//   node dashboard.mjs <base-url> <outdir> list
// With HPO_ACCESS_KEY and HPO_SECRET set, pages and stop sign in through
// the form when the dashboard asks.
import { chromium } from "playwright-core";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [base, outdir, scenario, ...args] = process.argv.slice(2);
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const WAIT_MS = 20000;
const result = { scenario, pages: {}, console_errors: [], screenshots: [], bad_text: [] };

const profile = mkdtempSync(join(tmpdir(), "hpo-chromium-"));
// A fresh profile each run (playwright's persistent context is how it takes
// --user-data-dir).
const context = await chromium.launchPersistentContext(profile, {
  executablePath: CHROMIUM,
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  viewport: { width: 1400, height: 900 },
  acceptDownloads: true,
});
const page = context.pages()[0] || await context.newPage();
page.on("console", (m) => { if (m.type() === "error") result.console_errors.push(m.text()); });
page.on("pageerror", (e) => result.console_errors.push(String(e)));
page.setDefaultTimeout(WAIT_MS);

// Words that only show when a value was missed ("null", "undefined", "NaN",
// "[object ...]") in the page's visible text.
const badText = () => page.evaluate(() => (document.body.innerText.match(/\b(null|undefined|NaN)\b|\[object \w+\]/g) || []));

async function shot(name) {
  const bad = await badText();
  if (bad.length) result.bad_text.push({ page: name, words: bad });
  const path = join(outdir, name + ".png");
  await page.screenshot({ path, fullPage: true });
  result.screenshots.push(path);
  return path;
}

// Opens a page of the dashboard afresh and waits until it drew once (or
// showed the sign-in form, or an error).
// This page's own first drawing: only the hash changes between pages, so
// page.goto is a same-document navigation and the document stays.
const drawn = () => page.waitForFunction(() => (document.body.dataset.loaded && document.body.dataset.page === (location.hash || "#/")) ||
  document.body.dataset.login || document.body.dataset.error);

async function open(hash, allowError) {
  await page.goto(base + "/ui/" + hash, { waitUntil: "load" });
  await drawn();
  if (process.env.HPO_ACCESS_KEY && await page.evaluate(() => !!document.body.dataset.login)) {
    await page.fill("#access-key", process.env.HPO_ACCESS_KEY);
    await page.fill("#secret", process.env.HPO_SECRET);
    await page.click("#login-submit");
    await page.waitForFunction(() => !document.body.dataset.login);
    await drawn();
  }
  const error = await page.evaluate(() => document.body.dataset.error || null);
  if (error && !allowError) throw new Error(`${hash}: the page shows the error "${error}"`);
}

// Each chart's series, as data lengths (and markLine lengths) by series id.
const charts = () => page.evaluate(() => {
  const out = {};
  for (const [id, c] of Object.entries(window.__charts || {})) {
    const o = c.getOption();
    out[id] = {
      series: Object.fromEntries((o.series || []).map((s, k) => [s.id || s.name || String(k), {
        points: (s.data || []).filter((d) => d !== null && d !== undefined && !(typeof d === "object" && !Array.isArray(d) && d.value === 0 && d.itemStyle && d.itemStyle.color === "transparent")).length,
        data: s.data,
        marks: s.markLine ? (s.markLine.data || []).length : 0,
      }])),
      axes: (o.parallelAxis || []).map((a) => ({ name: a.name, dim: a.dim, type: a.type })),
      xType: o.xAxis && o.xAxis[0] ? o.xAxis[0].type : null,
    };
  }
  return out;
});

const text = (sel) => page.locator(sel).first().innerText();
const count = (sel) => page.locator(sel).count();

async function listPage(key) {
  await open("#/");
  const r = { rows: await page.locator("#tuning-jobs tbody tr[data-name]").evaluateAll((rs) => rs.map((x) => x.dataset.name).filter(Boolean)) };
  r.progress = Object.fromEntries(await page.locator("#tuning-jobs tbody tr[data-name]").evaluateAll((rs) =>
    rs.map((x) => [x.dataset.name, x.querySelector(".progress").title])));
  r.screenshot = await shot(key);
  // Sorting by a click on a column's header, twice for descending.
  await page.locator('#tuning-jobs th[data-key="name"]').click();
  r.by_name = await page.locator("#tuning-jobs tbody tr[data-name]").evaluateAll((rs) => rs.map((x) => x.dataset.name));
  await page.locator('#tuning-jobs th[data-key="name"]').click();
  r.by_name_desc = await page.locator("#tuning-jobs tbody tr[data-name]").evaluateAll((rs) => rs.map((x) => x.dataset.name));
  result.pages[key] = r;
  return r;
}

async function tuningPage(name, key) {
  await open("#/tuning/" + encodeURIComponent(name));
  const r = { error: await page.evaluate(() => document.body.dataset.error || null) };
  r.status = await text("#summary .badge");
  r.live = await page.evaluate(() => document.body.dataset.live === "1");
  r.live_badge = await page.locator("#live").isVisible();
  r.charts = await charts();
  r.table_rows = await count("#training-jobs tbody tr[data-name]");
  r.csv_href = await page.locator("#csv").getAttribute("href");
  r.reasons = await page.locator("#training-jobs tbody .reason").allInnerTexts();
  // The CSV export downloads with the session's cookie.
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#csv")]);
  r.csv_name = download.suggestedFilename();
  const csvPath = join(outdir, key + ".csv");
  await download.saveAs(csvPath);
  r.csv = readFileSync(csvPath, "utf8");
  r.stop_enabled = await page.locator("#stop").isEnabled();
  r.screenshot = await shot(key);
  // Hide the first hyperparameter axis, move the (new) first one right.
  const chips = await page.locator("#axes .axis-chip").evaluateAll((cs) => cs.map((c) => c.dataset.axis));
  r.axis_chips = chips;
  if (chips.length >= 2) {
    await page.locator(`.axis-toggle[data-axis="${chips[0]}"]`).uncheck();
    await page.locator(`.axis-chip[data-axis="${chips[1]}"] .axis-right`).click();
    r.axes_after = (await charts()).parallel.axes.map((a) => a.name);
    await shot(key + "-axes");
    await page.locator(`.axis-toggle[data-axis="${chips[0]}"]`).check();
    // Drag the last chip onto the first: its axis goes first.
    const now = await page.locator("#axes .axis-chip").evaluateAll((cs) => cs.map((c) => c.dataset.axis));
    await page.locator(`.axis-chip[data-axis="${now[now.length - 1]}"]`).dragTo(page.locator(`.axis-chip[data-axis="${now[0]}"]`));
    r.axes_after_drag = (await charts()).parallel.axes.map((a) => a.name);
  }
  // The table's filter by status and a sort by objective.
  await page.selectOption("#filter-job-status", "Completed");
  r.completed_rows = await count("#training-jobs tbody tr[data-name]");
  await page.selectOption("#filter-job-status", "");
  await page.locator('#training-jobs th[data-key="objective"]').click();
  r.sorted_objectives = await page.locator("#training-jobs tbody tr[data-name] td:nth-child(4)").allInnerTexts();
  if (r.live) {
    // Live: the page polls again within a few seconds.
    const n0 = await page.evaluate(() => Number(document.body.dataset.loaded));
    await page.waitForFunction((n) => Number(document.body.dataset.loaded) > n, n0, { timeout: 8000 });
    r.polled = true;
  }
  result.pages[key] = r;
  return r;
}

async function trainingPage(name, key) {
  await open("#/training/" + encodeURIComponent(name));
  const r = { error: await page.evaluate(() => document.body.dataset.error || null) };
  r.status = await text("#summary .badge");
  r.charts = await charts();
  r.hyperparameters = await count("#hyperparameters tr");
  r.transitions = await page.locator("#transitions-table tbody tr td:first-child").allInnerTexts();
  // Wait until the log shows something (or says there is nothing).
  await page.waitForFunction(() => document.getElementById("log-state").textContent !== "");
  r.log = await page.locator("#log").innerText();
  r.log_complete = await page.evaluate(() => document.getElementById("log-state").dataset.complete === "1");
  r.failure_reason = await page.locator("#failure-reason").count() ? await text("#failure-reason") : null;
  if (r.status === "InProgress") {
    // The live tail: the log grows while the job runs.
    const n0 = r.log.length;
    await page.waitForFunction((n) => document.getElementById("log").textContent.length > n, n0, { timeout: 10000 });
    r.log_grew = true;
    r.live_badge = await page.locator("#live").isVisible();
  }
  r.screenshot = await shot(key);
  result.pages[key] = r;
}

async function comparePage(names, key) {
  await open("#/compare?jobs=" + names.map(encodeURIComponent).join(","));
  const r = { charts: await charts(), rows: await count("#compare-table tbody tr") };
  r.screenshot = await shot(key);
  result.pages[key] = r;
}

try {
  if (scenario === "pages") {
    const [finished, running, ...training] = args;
    await listPage("list");
    // The list's filter and the compare button.
    await page.fill("#filter-text", finished);
    result.pages.list.filtered = await page.locator("#tuning-jobs tbody tr[data-name]").evaluateAll((rs) => rs.map((x) => x.dataset.name));
    await page.fill("#filter-text", "");
    await page.locator(`input.pick[data-name="${finished}"]`).check();
    await page.locator(`input.pick[data-name="${running}"]`).check();
    await page.click("#compare");
    await page.waitForFunction(() => location.hash.startsWith("#/compare") && document.body.dataset.page && document.body.dataset.page.startsWith("#/compare"));
    result.pages.list.compare_hash = await page.evaluate(() => decodeURIComponent(location.hash));
    await tuningPage(finished, "tuning-finished");
    await tuningPage(running, "tuning-running");
    for (const [k, t] of training.entries()) await trainingPage(t, "training-" + k);
    await comparePage([finished, running], "compare");
  } else if (scenario === "stop") {
    const [name] = args;
    await open("#/tuning/" + encodeURIComponent(name));
    result.before = await text("#summary .badge");
    // Cancel first: nothing happens.
    await page.click("#stop");
    await page.locator("#confirm").waitFor();
    await shot("stop-confirm");
    await page.click("#confirm-no");
    result.after_cancel = await text("#summary .badge");
    await page.click("#stop");
    await page.click("#confirm-yes");
    await page.waitForFunction(() => /Stopp/.test(document.querySelector("#summary .badge").textContent));
    result.after_stop = await text("#summary .badge");
    await page.waitForFunction(() => document.querySelector("#summary .badge").textContent === "Stopped", null, { timeout: 60000 });
    result.final = await text("#summary .badge");
    result.stop_enabled_after = await page.locator("#stop").isEnabled();
    result.charts = await charts();
    await shot("stopped");
  } else if (scenario === "auth") {
    const [key, secret, own, other] = args;
    await open("#/");
    result.login_shown = await page.locator("#login").isVisible();
    await shot("login");
    await page.fill("#access-key", key);
    await page.fill("#secret", secret + "-wrong");
    await page.click("#login-submit");
    await page.waitForFunction(() => document.getElementById("login-error").textContent !== "");
    result.wrong_secret_error = await text("#login-error");
    await page.fill("#secret", secret);
    await page.click("#login-submit");
    await page.waitForFunction(() => !document.body.dataset.login);
    await drawn();
    result.account = await text("#account");
    result.rows = await page.locator("#tuning-jobs tbody tr[data-name]").evaluateAll((rs) => rs.map((x) => x.dataset.name));
    await shot("signed-in");
    await open("#/tuning/" + encodeURIComponent(own));
    result.own_status = await text("#summary .badge");
    result.own_stop_enabled = await page.locator("#stop").isEnabled();
    await open("#/tuning/" + encodeURIComponent(other), true);
    result.other_error = await page.evaluate(() => document.body.dataset.error || null);
    await shot("other-account");
    // The session's stop without the CSRF token is refused (from the page, with its cookie).
    result.stop_without_csrf = await page.evaluate(async (n) => {
      const r = await fetch("/ui/api/tuning-jobs/" + encodeURIComponent(n) + "/stop", { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" });
      return r.status;
    }, own);
    await page.click("#logout");
    await page.locator("#login").waitFor();
    result.after_logout_login_shown = true;
  } else if (scenario === "list") {
    await listPage("list");
    result.login_shown = await page.locator("#login").count() > 0;
  } else {
    throw new Error("unknown scenario " + scenario);
  }
  result.ok = true;
} catch (e) {
  result.ok = false;
  result.failure = String(e && e.stack || e);
  try { await shot("failure"); } catch (x) { /* the page is gone */ }
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
process.stdout.write(JSON.stringify(result) + "\n");
