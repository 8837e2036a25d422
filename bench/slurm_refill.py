#!/usr/bin/env python3
"""Submission through Slurm must not be the bottleneck: on a 3-node test
cluster (tests/e2e/slurm_env.py: munged, slurmctld, 3 x slurmd on this
machine), the refill latency (a slot freed -> the next job running) and
trivial jobs per second through openhpo's slurm backend, beside a plain
`sbatch` loop of the same program (a driver that keeps P jobs in flight,
polling squeue every POLL_S). Prints medians over REPEATS runs.

The program is tests/e2e/trainer.py in its normal mode (three loss lines and
the objective, no sleep): it appends "start T NAME" / "end T NAME" to a track
file, and both measures come from those times:
  refill latency: the i-th start (i >= P, in time order) minus the (i-P)-th
                  end: how long a freed slot stayed empty;
  jobs per second: N / (last end - first start).

usage: bench/slurm_refill.py [--jobs N] [--parallel P] [--repeats R] [--poll-ms MS]
Needs root (the cluster's daemons) and slurm-wlm + munge (scripts/deps)."""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
os.environ.setdefault("HPOD_BIN", os.path.join(ROOT, "build", "hpod"))

import conftest  # noqa: E402  (Hpod, job_request)
from slurm_env import SlurmCluster  # noqa: E402

TRAINER = os.path.join(ROOT, "tests", "e2e", "trainer.py")
PY = "/usr/bin/python3"
POLL_S = 0.05


def measures(track, parallel):
    starts, ends = [], []
    for line in open(track):
        kind, t, _ = line.split()
        (starts if kind == "start" else ends).append(float(t))
    starts.sort()
    ends.sort()
    gaps = [starts[i] - ends[i - parallel] for i in range(parallel, len(starts))]
    span = max(ends) - min(starts)
    return statistics.median(gaps), len(ends) / span


def via_openhpo(cluster, tmp, jobs, parallel, poll_ms, tag):
    d = os.path.join(tmp, "hpod-" + tag)
    os.makedirs(d)
    cat = {"trainer:latest": {"backend": "slurm", "command": [PY, TRAINER]}}
    with open(os.path.join(d, "images.json"), "w") as f:
        json.dump(cat, f)
    conf = cluster.backend_config(os.path.join(d, "backends.json"), poll_ms=poll_ms,
                                  size_by_instance_type=False, cpus_per_node=1)
    h = conftest.Hpod(d, ["--backend-config", conf, "--grace", "2"]).start()
    try:
        track = os.path.join(d, "track")
        req = conftest.job_request(name="bench", max_jobs=jobs, parallel=parallel,
                                   static={"mode": "normal", "track": track},
                                   strategy="Random", s3_dir=d)
        h.ok("CreateTuningJob", req)
        st = h.wait_status("bench", ["Completed", "Failed", "Stopped"], timeout=600)
        if st["TuningJobStatus"] != "Completed":
            raise RuntimeError("tuning job %s: %s" % (st["TuningJobStatus"], h.read_log()))
        return measures(track, parallel)
    finally:
        h.cleanup()


def via_sbatch_loop(cluster, tmp, jobs, parallel, tag):
    d = os.path.join(tmp, "loop-" + tag)
    cfg = os.path.join(d, "input", "config")
    os.makedirs(cfg)
    os.makedirs(os.path.join(d, "model"))
    track = os.path.join(d, "track")
    with open(os.path.join(cfg, "hyperparameters.json"), "w") as f:
        json.dump({"mode": "normal", "track": track, "x": "1", "n": "3", "kind": "a"}, f)
    env = dict(cluster.env, SM_INPUT_CONFIG_DIR=cfg, SM_MODEL_DIR=os.path.join(d, "model"))
    running, submitted = set(), 0

    def submit():
        nonlocal submitted
        env["TRAINING_JOB_NAME"] = "loop-%d" % submitted
        out = subprocess.run(["/usr/bin/sbatch", "--parsable", "--no-requeue", "--nodes=1",
                              "--cpus-per-task=1", "--job-name=loop-%s" % tag,
                              "--output=%s/slurm-%%j.out" % d, "--chdir=" + d,
                              "--wrap", "exec %s %s train" % (PY, TRAINER)],
                             env=env, capture_output=True, text=True, check=True).stdout
        running.add(out.strip().split(";")[0])
        submitted += 1

    while submitted < min(parallel, jobs):
        submit()
    while running:
        out = subprocess.run(["/usr/bin/squeue", "-h", "-t", "all", "-o", "%i %T", "-j",
                              ",".join(sorted(running))], env=env, capture_output=True,
                             text=True).stdout
        for line in out.splitlines():
            jid, state = line.split()
            if state not in ("PENDING", "RUNNING", "CONFIGURING", "COMPLETING"):
                running.discard(jid)
                if submitted < jobs:
                    submit()
        time.sleep(POLL_S)
    return measures(track, parallel)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=24)
    ap.add_argument("--parallel", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--poll-ms", type=int, default=100)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="slurm-bench-") as tmp:
        c = SlurmCluster(tmp, nodes=3)
        try:
            c.start()
        except (RuntimeError, OSError) as e:
            c.stop()
            print("slurm_refill: the test cluster did not start: %s" % e)
            return
        try:
            rows = {"openhpo": [], "sbatch loop": []}
            for r in range(a.repeats):
                rows["openhpo"].append(via_openhpo(c, tmp, a.jobs, a.parallel, a.poll_ms, str(r)))
                rows["sbatch loop"].append(via_sbatch_loop(c, tmp, a.jobs, a.parallel, str(r)))
        finally:
            c.stop()
    print("== Slurm (3 nodes on this machine): %d trivial jobs, %d in parallel, median of %d"
          % (a.jobs, a.parallel, a.repeats))
    print("%-12s %18s %14s" % ("", "refill latency s", "jobs/s"))
    for k, v in rows.items():
        print("%-12s %18.3f %14.2f" % (k, statistics.median(x[0] for x in v),
                                       statistics.median(x[1] for x in v)))
    print("(openhpo polls squeue every %d ms; the sbatch loop every %d ms)"
          % (a.poll_ms, int(POLL_S * 1000)))


if __name__ == "__main__":
    main()
