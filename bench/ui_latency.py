#!/usr/bin/env python3
"""Latency of the dashboard's JSON endpoints (docs/DASHBOARD.md) at a tuning
job of many training jobs.

Fills a data dir through the store (build/fill_store: one finished tuning job
of N training jobs, each with P values of two metrics and its transitions),
starts a real hpod on it (unsigned, loopback), and times each endpoint over
one keep-alive HTTP connection: median, p90 and max in ms of --reps requests
(after 3 warm-up ones), with the answer's size and hpod's CPU time per
request. A tuning job's JSON and CSV are kept while the store is unchanged
(ui_data.h), so they are timed twice: as a dashboard polling a finished job
sees them, and "cold", with a commit to the store from another connection
before each request (as while jobs run and the engine writes). The goal
(issue 14): every JSON endpoint under 20 ms at 1000 training jobs.

usage: bench/ui_latency.py [--jobs 1000] [--points 50] [--reps 50]
(HPOD_BIN and FILL_STORE_BIN override build/hpod and build/fill_store.)
"""
import argparse
import http.client
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HPOD = os.environ.get("HPOD_BIN", os.path.join(ROOT, "build", "hpod"))
FILL = os.environ.get("FILL_STORE_BIN", os.path.join(ROOT, "build", "fill_store"))
TUNING = "bench-tuning"
GOAL_MS = 20.0


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


def cpu_ms(pid):
    """CPU time (user + system) the process has used, in ms."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000.0 / os.sysconf("SC_CLK_TCK")


def start_hpod(tmp, data):
    port_file = os.path.join(tmp, "port")
    log = open(os.path.join(tmp, "hpod.log"), "wb")
    proc = subprocess.Popen([HPOD, "--listen", "127.0.0.1:0", "--data-dir", data,
                             "--port-file", port_file],
                            stdout=log, stderr=log)
    deadline = time.time() + 30
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit("hpod exited: " + open(os.path.join(tmp, "hpod.log")).read()[-2000:])
        if os.path.exists(port_file) and open(port_file).read().strip():
            return proc, int(open(port_file).read())
        time.sleep(0.05)
    proc.kill()
    sys.exit("hpod did not start")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=1000)
    ap.add_argument("--points", type=int, default=50)
    ap.add_argument("--reps", type=int, default=50)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="ui-bench-")
    data = os.path.join(tmp, "data")
    proc = None
    try:
        t0 = time.time()
        subprocess.run([FILL, "fill", data, str(a.jobs), "0", str(a.points)], check=True,
                       stderr=subprocess.DEVNULL)
        fill_s = time.time() - t0
        proc, port = start_hpod(tmp, data)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

        def get(path):
            conn.request("GET", path)
            r = conn.getresponse()
            raw = r.read()
            if r.status != 200:
                raise RuntimeError("%s: HTTP %d %s" % (path, r.status, raw[:300]))
            return raw

        det = json.loads(get("/ui/api/tuning-jobs/" + TUNING))
        jobs = det["training_jobs"]
        assert len(jobs) == a.jobs, len(jobs)
        assert [r["name"] for r in det["ranges"]] == ["lr", "depth"], det["ranges"]
        one = jobs[len(jobs) // 2]["name"]
        tj = json.loads(get("/ui/api/training-jobs/" + one))
        assert len(tj["metrics"]["loss"]) == a.points, tj["metrics"].keys()
        endpoints = [
            ("session", "/ui/api/session"),
            ("tuning-jobs (list)", "/ui/api/tuning-jobs"),
            ("tuning job (%d training jobs)" % a.jobs, "/ui/api/tuning-jobs/" + TUNING),
            ("tuning job CSV", "/ui/api/tuning-jobs/%s/csv" % TUNING),
            ("training job (%d points x 2)" % a.points, "/ui/api/training-jobs/" + one),
            ("training job log", "/ui/api/training-jobs/%s/log?offset=0" % one),
            ("index.html (embedded)", "/ui/"),
            ("tuning job, store changed (cold)", "/ui/api/tuning-jobs/" + TUNING, True),
            ("tuning job CSV, store changed", "/ui/api/tuning-jobs/%s/csv" % TUNING, True),
        ]
        db = sqlite3.connect(os.path.join(data, "openhpo.db"), timeout=5, isolation_level=None)
        touches = [0]

        def touch():
            """A commit from another connection: data_version moves on."""
            touches[0] += 1
            db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES('bench-touch', ?)",
                       (touches[0],))
        print("fill: %d training jobs x %d points x 2 metrics in %.1f s (random objective:"
              " importances %s)" % (a.jobs, a.points, fill_s, ", ".join(
                  "%s %.2f" % (i["name"], i["importance"]) for i in det["importances"])
                  or "none, as they should be"))
        print("load average %.1f on %d CPUs (wall times grow with it; hpod's CPU time per request"
              " does not)" % (os.getloadavg()[0], os.cpu_count()))
        print("%-34s %9s %9s %9s %11s %10s" % ("endpoint", "p50 ms", "p90 ms", "max ms",
                                              "hpod cpu ms", "bytes"))
        worst = 0.0
        for label, path, *cold in endpoints:
            for _ in range(3):
                get(path)
            ts = []
            size = 0
            c0 = cpu_ms(proc.pid)
            for _ in range(a.reps):
                if cold:
                    touch()
                t = time.perf_counter()
                size = len(get(path))
                ts.append((time.perf_counter() - t) * 1e3)
            cpu = (cpu_ms(proc.pid) - c0) / a.reps
            if path.startswith("/ui/api/"):
                worst = max(worst, pct(ts, 0.5))
            print("%-34s %9.2f %9.2f %9.2f %11.2f %10d" % (label, pct(ts, 0.5), pct(ts, 0.9),
                                                         max(ts), cpu, size))
        print("goal: every JSON endpoint's median under %.0f ms: %s (worst median %.2f ms)" % (
            GOAL_MS, "met" if worst < GOAL_MS else "NOT met", worst))
        conn.close()
        db.close()
    finally:
        if proc:
            proc.terminate()
            proc.wait(timeout=20)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
