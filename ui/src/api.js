// The dashboard's client of hpod's /ui/api/ (docs/DASHBOARD.md): JSON in and
// out, same-origin cookies, the session's CSRF token on every POST. A 401
// from any call raises AuthError, which sends the user to the sign-in form.

const BASE = "/ui/api/";
let csrf = "";

export class AuthError extends Error {}
export class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function call(method, path, body) {
  const headers = {};
  if (method !== "GET") {
    headers["Content-Type"] = "application/json";
    if (csrf) headers["X-CSRF-Token"] = csrf;
  }
  const r = await fetch(BASE + path, {
    method, headers, credentials: "same-origin", cache: "no-store",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let js = null;
  try { js = await r.json(); } catch (e) { js = null; }
  if (r.status === 401 && path !== "login") throw new AuthError((js && js.error) || "sign-in required");
  if (!r.ok) throw new ApiError(r.status, (js && js.error) || `HTTP ${r.status}`);
  return js;
}

const enc = encodeURIComponent;

export async function session() {
  const s = await call("GET", "session");
  csrf = s.csrf || "";
  return s;
}
export const login = (access_key, secret) => call("POST", "login", { access_key, secret });
export const logout = () => call("POST", "logout", {});
export const tuningJobs = () => call("GET", "tuning-jobs");
export const tuningJob = (name) => call("GET", "tuning-jobs/" + enc(name));
export const stopTuningJob = (name) => call("POST", "tuning-jobs/" + enc(name) + "/stop", {});
export const csvUrl = (name) => BASE + "tuning-jobs/" + enc(name) + "/csv";
export const trainingJob = (name) => call("GET", "training-jobs/" + enc(name));
export const trainingLog = (name, offset) =>
  call("GET", "training-jobs/" + enc(name) + "/log?offset=" + offset);
