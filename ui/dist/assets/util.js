// Small DOM and formatting helpers shared by the pages: element building,
// time and number formats, a sortable table, the status vocabulary.

export const LIVE_STATUSES = new Set(["InProgress", "Stopping"]);
export const TRAINING_STATUSES = ["InProgress", "Completed", "Failed", "Stopping", "Stopped"];
export const TUNING_STATUSES = ["InProgress", "Completed", "Failed", "Stopping", "Stopped"];
export const STATUS_COLOR = {
  InProgress: "#2f6fde", Completed: "#1f9d55", Failed: "#d0393e",
  Stopping: "#c77c02", Stopped: "#7c5cc4",
};

// h("div", {class: "x", onclick: f}, child, "text", [more, children])
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "style" && typeof v === "object") Object.assign(el.style, v);
    else if (k in el && typeof v !== "string") el[k] = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function badge(status) {
  return h("span", { class: "badge " + (status || ""), "data-status": status || "" }, status || "—");
}

const pad = (n) => String(n).padStart(2, "0");

// Epoch seconds → "2026-12-02 04:31:45" in the browser's time zone; "—" for null.
export function fmtTime(t) {
  if (t === null || t === undefined) return "—";
  const d = new Date(t * 1000);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function fmtDuration(s) {
  if (s === null || s === undefined || !isFinite(s)) return "—";
  s = Math.max(0, Math.round(s));
  if (s < 60) return s + " s";
  if (s < 3600) return Math.floor(s / 60) + " min " + pad(s % 60) + " s";
  return Math.floor(s / 3600) + " h " + pad(Math.floor((s % 3600) / 60)) + " min";
}

export function fmtNum(v) {
  if (v === null || v === undefined || v === "") return "—";
  const x = Number(v);
  if (!isFinite(x)) return String(v);
  if (x !== 0 && (Math.abs(x) >= 1e6 || Math.abs(x) < 1e-3)) return x.toExponential(4);
  return String(Number(x.toPrecision(6)));
}

export const now = () => Date.now() / 1000;

// A table whose columns sort on a click of their header. cols: [{key, label,
// num, value(row) → sortable value, cell(row) → node or text}]. state keeps
// {sort, desc} across re-renders (the pages redraw on every poll).
export function sortableTable(cols, rows, state, onChange, attrs) {
  const col = cols.find((c) => c.key === state.sort);
  let sorted = rows;
  if (col) {
    const val = col.value || ((r) => r[col.key]);
    sorted = rows.slice().sort((a, b) => {
      const x = val(a), y = val(b);
      const xn = x === null || x === undefined, yn = y === null || y === undefined;
      if (xn || yn) return xn && yn ? 0 : xn ? 1 : -1; // missing values last, either way
      const c = x < y ? -1 : x > y ? 1 : 0;
      return state.desc ? -c : c;
    });
  }
  const head = h("tr", null, cols.map((c) => h("th", {
    class: ["sortable", c.num ? "num" : "", c.key === state.sort ? (state.desc ? "sorted-desc" : "sorted-asc") : ""].join(" "),
    "data-key": c.key,
    onclick: () => {
      if (state.sort === c.key) state.desc = !state.desc;
      else { state.sort = c.key; state.desc = false; }
      onChange();
    },
  }, c.label)));
  const body = sorted.map((r) => h("tr", { "data-name": r.name || "" }, cols.map((c) =>
    h("td", { class: c.num ? "num" : "" }, c.cell ? c.cell(r) : fmtNum(r[c.key])))));
  return h("div", { class: "tablewrap" }, h("table", attrs || null, h("thead", null, head),
    h("tbody", null, body.length ? body : h("tr", null, h("td", { colspan: cols.length, class: "empty" }, "Nothing to show")))));
}

export function fact(label, value) {
  return h("div", { class: "fact" }, h("b", null, label), h("span", null, value));
}

// Asks a yes/no question in a modal dialog; resolves true on yes.
export function confirmDialog(title, text, yes) {
  return new Promise((resolve) => {
    const dlg = h("dialog", { id: "confirm" },
      h("h2", null, title), h("p", null, text),
      h("div", { class: "row" },
        h("button", { id: "confirm-no", onclick: () => { dlg.close(); resolve(false); } }, "Cancel"),
        h("button", { id: "confirm-yes", class: "danger", onclick: () => { dlg.close(); resolve(true); } }, yes)));
    dlg.addEventListener("close", () => { dlg.remove(); resolve(false); });
    document.body.append(dlg);
    dlg.showModal();
  });
}
