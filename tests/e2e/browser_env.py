"""The dashboard's browser tests: playwright-core (the version pinned in
tests/browser/package-lock.json) driving Debian's chromium.

playwright-core is installed (once) into tests/browser/node_modules/
(git-ignored) with `npm ci --prefix tests/browser`; it downloads no browser
(playwright-core has no install step, and PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD
is set besides). run() starts tests/browser/dashboard.mjs, which launches
/usr/bin/chromium headless with a fresh profile, and returns the JSON it
printed. When node, npm or chromium is missing, or the install fails, the
tests that need it skip with the reason."""
import json
import os
import shutil
import subprocess

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
BROWSER_DIR = os.path.normpath(os.path.join(HERE, "..", "browser"))
SCRIPT = os.path.join(BROWSER_DIR, "dashboard.mjs")
PLAYWRIGHT = os.path.join(BROWSER_DIR, "node_modules", "playwright-core", "package.json")
CHROMIUM = "/usr/bin/chromium"
RUN_TIMEOUT = 240  # seconds one scenario may take, browser start included


def artifacts_dir(name):
    """Where a test's screenshots go: $HPO_TEST_ARTIFACTS/<name>, else
    tests/e2e/artifacts/<name> (git-ignored)."""
    root = os.environ.get("HPO_TEST_ARTIFACTS") or os.path.join(HERE, "artifacts")
    path = os.path.join(root, name)
    os.makedirs(path, exist_ok=True)
    return path


def ensure_playwright():
    """Installs playwright-core if it is not there; the reason it cannot be,
    or None."""
    if not os.path.exists(CHROMIUM):
        return "%s is not installed (scripts/deps installs Debian's chromium)" % CHROMIUM
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        return "node or npm is not installed (apt-get install nodejs npm)"
    if os.path.exists(PLAYWRIGHT):
        return None
    env = dict(os.environ, PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD="1")
    try:
        r = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--prefix", BROWSER_DIR],
                           capture_output=True, timeout=600, env=env)
    except subprocess.TimeoutExpired:
        return "npm ci in tests/browser took over 600 s"
    if r.returncode != 0 or not os.path.exists(PLAYWRIGHT):
        return "npm ci in tests/browser failed: %s" % r.stderr.decode()[-500:]
    return None


@pytest.fixture(scope="session")
def playwright():
    why = ensure_playwright()
    if why:
        pytest.skip("the browser tests cannot run: " + why)
    return True


def run(url, outdir, scenario, *args, env=None):
    """Runs one scenario of dashboard.mjs; its JSON result (asserting that
    it finished: a failure's message and screenshot are in the result)."""
    e = dict(os.environ, CHROMIUM=CHROMIUM)
    e.update(env or {})
    r = subprocess.run([shutil.which("node"), SCRIPT, url, outdir, scenario] + list(args),
                       capture_output=True, timeout=RUN_TIMEOUT, env=e, cwd=BROWSER_DIR)
    out = r.stdout.decode(errors="replace").strip().splitlines()
    assert r.returncode == 0 and out, "dashboard.mjs %s exited %s: %s" % (
        scenario, r.returncode, r.stderr.decode(errors="replace")[-3000:])
    res = json.loads(out[-1])
    assert res["ok"], "dashboard.mjs %s failed: %s (screenshots in %s)" % (
        scenario, res.get("failure"), outdir)
    # No page showed a value it missed ("null", "undefined", "NaN").
    assert res["bad_text"] == [], res["bad_text"]
    return res
