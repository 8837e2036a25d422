// Builds ui/dist/ from ui/src/ and the vendored ECharts (node_modules, as
// installed by `npm ci` from package-lock.json): plain copies, no bundler, so
// the same lock file and sources give the same bytes. dist/MANIFEST lists
// every file with its SHA-256 and the ECharts version.
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const ui = dirname(fileURLToPath(import.meta.url));
const src = join(ui, "src"), dist = join(ui, "dist"), assets = join(dist, "assets");
const echartsDir = join(ui, "node_modules", "echarts");
const echartsVersion = JSON.parse(readFileSync(join(echartsDir, "package.json"), "utf8")).version;
const pinned = JSON.parse(readFileSync(join(ui, "package.json"), "utf8")).dependencies.echarts;
if (echartsVersion !== pinned) throw new Error(`node_modules has echarts ${echartsVersion}, package.json pins ${pinned}: run npm ci`);

rmSync(dist, { recursive: true, force: true });
mkdirSync(assets, { recursive: true });
copyFileSync(join(src, "index.html"), join(dist, "index.html"));
for (const f of readdirSync(src).sort()) {
  if (/\.(js|css|svg)$/.test(f)) copyFileSync(join(src, f), join(assets, f));
}
copyFileSync(join(echartsDir, "dist", "echarts.min.js"), join(assets, "echarts.min.js"));
copyFileSync(join(echartsDir, "LICENSE"), join(assets, "echarts-LICENSE.txt"));

const files = [];
const walk = (d, rel) => {
  for (const f of readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (f.isDirectory()) walk(join(d, f.name), rel + f.name + "/");
    else files.push(rel + f.name);
  }
};
walk(dist, "");
const lines = files.map((f) => createHash("sha256").update(readFileSync(join(dist, f))).digest("hex") + "  " + f);
writeFileSync(join(dist, "MANIFEST"), `# ui/dist, built by scripts/build-ui; echarts ${echartsVersion}\n` + lines.join("\n") + "\n");
console.log(`ui/dist: ${files.length} files, echarts ${echartsVersion}`);
