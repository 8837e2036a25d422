// The dashboard's entry: the session (sign-in when hpod runs with
// --credentials), the hash router (#/, #/tuning/<name>, #/training/<name>,
// #/compare?jobs=a,b) and the 2 s poll that keeps a page live while its job
// is InProgress or Stopping.

import * as api from "./api.js";
import { h } from "./util.js";
import { prune } from "./charts.js";
import { listPage, comparePage } from "./list.js";
import { tuningPage } from "./tuning.js";
import { trainingPage } from "./training.js";

const POLL_MS = 2000;
const app = document.getElementById("app");
let current = null; // the page shown: {timer, gen}; replaced on every navigation
let gen = 0;
let sess = null;

export function setCrumbs(...parts) {
  const el = document.getElementById("crumbs");
  el.replaceChildren(...parts.flatMap((p, k) => [k ? h("span", null, "›") : null, p]).filter(Boolean));
}

function setLive(on) { document.getElementById("live").hidden = !on; }

function renderWho() {
  const who = document.getElementById("who");
  who.replaceChildren();
  if (sess && sess.auth_required && sess.signed_in) {
    who.append(h("span", { id: "account" }, "account " + sess.account),
      h("button", { id: "logout", onclick: async () => { await api.logout().catch(() => {}); await start(); } }, "Sign out"));
  }
}

function loginForm(message) {
  setCrumbs();
  setLive(false);
  const err = h("p", { class: "error", id: "login-error" }, message || "");
  const key = h("input", { id: "access-key", name: "access_key", autocomplete: "username", required: true });
  const secret = h("input", { id: "secret", name: "secret", type: "password", autocomplete: "current-password", required: true });
  const form = h("form", {
    class: "card login", id: "login",
    onsubmit: async (e) => {
      e.preventDefault();
      err.textContent = "";
      try {
        await api.login(key.value.trim(), secret.value);
        await start();
      } catch (x) {
        err.textContent = x.message || "sign-in failed";
      }
    },
  }, h("h2", null, "Sign in to openhpo"),
  h("p", { class: "muted small" }, "Use the access key and secret of your account (hpod's --credentials file)."),
  h("label", { for: "access-key" }, "Access key"), key,
  h("label", { for: "secret" }, "Secret"), secret,
  err, h("button", { class: "primary", type: "submit", id: "login-submit" }, "Sign in"));
  app.replaceChildren(form);
  document.body.dataset.login = "1";
  key.focus();
}

function parseRoute() {
  const hash = location.hash.replace(/^#/, "") || "/";
  const [path, query] = hash.split("?");
  const params = new URLSearchParams(query || "");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  return { parts, params };
}

// Runs the page for the current hash; the page's refresh() is called again
// every POLL_MS while it answers true (its job is live).
async function route() {
  if (current && current.timer) clearTimeout(current.timer);
  delete document.body.dataset.login;
  setCrumbs();
  // A new page: what the tests wait on starts again (a hash change keeps
  // the document, so these would otherwise tell of the page before).
  delete document.body.dataset.error;
  delete document.body.dataset.loaded;
  delete document.body.dataset.page;
  const my = ++gen;
  current = { timer: 0 };
  const { parts, params } = parseRoute();
  let page;
  if (parts.length === 0) page = listPage;
  else if (parts[0] === "tuning" && parts[1]) page = tuningPage.bind(null, parts[1]);
  else if (parts[0] === "training" && parts[1]) page = trainingPage.bind(null, parts[1]);
  else if (parts[0] === "compare") page = comparePage.bind(null, (params.get("jobs") || "").split(",").filter(Boolean));
  else { app.replaceChildren(h("div", { class: "banner" }, "No such page: " + location.hash)); return; }
  app.replaceChildren();
  window.scrollTo(0, 0);
  const root = h("div", { id: "page" });
  app.append(root);
  const ctx = { crumbs: setCrumbs, session: sess };
  let refresh;
  try {
    refresh = await page(root, ctx, params);
  } catch (e) { return fail(e, my); }
  prune();
  const tick = async () => {
    if (my !== gen) return;
    let live = false;
    try { live = await refresh(); } catch (e) { return fail(e, my); }
    if (my !== gen) return;
    setLive(live);
    document.body.dataset.live = live ? "1" : "0";
    document.body.dataset.page = location.hash || "#/";
    document.body.dataset.loaded = String(Number(document.body.dataset.loaded || 0) + 1);
    current.timer = setTimeout(tick, live ? POLL_MS : POLL_MS * 5);
  };
  await tick();
}

function fail(e, my) {
  if (my !== gen) return;
  if (e instanceof api.AuthError) { loginForm("Your session ended: sign in again."); return; }
  setLive(false);
  document.body.dataset.error = e.message || String(e);
  app.replaceChildren(h("div", { class: "banner", id: "error" }, e.message || String(e)),
    h("p", null, h("a", { href: "#/" }, "Back to the tuning jobs")));
}

async function start() {
  try {
    sess = await api.session();
  } catch (e) {
    app.replaceChildren(h("div", { class: "banner" }, "hpod does not answer: " + e.message));
    return;
  }
  renderWho();
  if (sess.auth_required && !sess.signed_in) { loginForm(); return; }
  await route();
}

// A page whose write met a 401 (its session ended) sends the user to sign in.
window.addEventListener("hpo-signed-out", () => { gen++; loginForm("Your session ended: sign in again."); });
window.addEventListener("hashchange", () => { if (!sess || !sess.auth_required || sess.signed_in) route(); });
start();
