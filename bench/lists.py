#!/usr/bin/env python3
"""List and Describe latency at many training jobs.

For each size N: fills a data dir through the store (build/fill_store: one
tuning job holding N training jobs, plus N/26 standalone ones, all finished),
times the store's queries (fill_store time), then starts a real hpod on the
data dir (unsigned) and times the current API's operations over HTTP on one
keep-alive connection. Prints p50 / p99 in ms per operation.

usage: bench/lists.py [--sizes 10000,130000] [--reps 200] [--keep DIR]
  --keep DIR   fill DIR/N once and reuse it on later runs (filling 130k
               jobs takes a few minutes)
(HPOD_BIN and FILL_STORE_BIN override build/hpod and build/fill_store.)
"""
import argparse
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HPOD = os.environ.get("HPOD_BIN", os.path.join(ROOT, "build", "hpod"))
FILL = os.environ.get("FILL_STORE_BIN", os.path.join(ROOT, "build", "fill_store"))
TUNING = "bench-tuning"


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


class Client:
    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def call(self, op, body):
        self.conn.request("POST", "/", body=json.dumps(body).encode(), headers={
            "X-Amz-Target": "SageMaker." + op,
            "Content-Type": "application/x-amz-json-1.1"})
        r = self.conn.getresponse()
        raw = r.read()
        if r.status != 200:
            raise RuntimeError("%s: HTTP %d %s" % (op, r.status, raw[:300]))
        return json.loads(raw)


def fill(data, n):
    standalone = max(1, n // 26)
    t0 = time.time()
    subprocess.run([FILL, "fill", data, str(n), str(standalone)], check=True,
                   stderr=subprocess.DEVNULL)
    return standalone, time.time() - t0


def http_bench(data, n, reps):
    port_file = os.path.join(data, "..", "port-%d" % os.getpid())
    if os.path.exists(port_file):
        os.unlink(port_file)
    log = open(os.path.join(data, "..", "hpod-%d.log" % os.getpid()), "w")
    p = subprocess.Popen([HPOD, "--listen", "127.0.0.1:0", "--data-dir", data,
                          "--port-file", port_file], stdout=log, stderr=log)
    try:
        for _ in range(3000):
            if os.path.exists(port_file) and open(port_file).read().strip():
                break
            if p.poll() is not None:
                raise RuntimeError("hpod exited; see " + log.name)
            time.sleep(0.01)
        c = Client(int(open(port_file).read().strip()))
        page1 = c.call("ListTrainingJobs", {"MaxResults": 100})
        assert len(page1["TrainingJobSummaries"]) == 100 and "NextToken" in page1, page1.keys()
        child = c.call("ListTrainingJobsForHyperParameterTuningJob", {
            "HyperParameterTuningJobName": TUNING, "MaxResults": 1}
        )["TrainingJobSummaries"][0]["TrainingJobName"]
        d = c.call("DescribeHyperParameterTuningJob", {"HyperParameterTuningJobName": TUNING})
        counted = sum(d["TrainingJobStatusCounters"].values())
        assert counted == n, (counted, n)
        ops = [
            ("ListTrainingJobs (first 100)", "ListTrainingJobs", {"MaxResults": 100}),
            ("ListTrainingJobs (page 2)", "ListTrainingJobs",
             {"MaxResults": 100, "NextToken": page1["NextToken"]}),
            ("ListTrainingJobs newest, Failed", "ListTrainingJobs",
             {"MaxResults": 100, "SortOrder": "Descending", "StatusEquals": "Failed"}),
            ("ListTrainingJobs NameContains", "ListTrainingJobs",
             {"MaxResults": 100, "SortOrder": "Descending", "NameContains": "SOLO-0000"}),
            ("ListTrainingJobs by Name", "ListTrainingJobs",
             {"MaxResults": 100, "SortBy": "Name"}),
            ("DescribeHyperParameterTuningJob", "DescribeHyperParameterTuningJob",
             {"HyperParameterTuningJobName": TUNING}),
            ("ListTrainingJobsForHPTJob (Name)", "ListTrainingJobsForHyperParameterTuningJob",
             {"HyperParameterTuningJobName": TUNING, "MaxResults": 100}),
            ("ListTrainingJobsForHPTJob (best first)",
             "ListTrainingJobsForHyperParameterTuningJob",
             {"HyperParameterTuningJobName": TUNING, "MaxResults": 100,
              "SortBy": "FinalObjectiveMetricValue", "SortOrder": "Descending"}),
            ("ListTrainingJobsForHPTJob (Stopped)",
             "ListTrainingJobsForHyperParameterTuningJob",
             {"HyperParameterTuningJobName": TUNING, "MaxResults": 100,
              "StatusEquals": "Stopped"}),
            ("ListHyperParameterTuningJobs", "ListHyperParameterTuningJobs", {}),
            ("DescribeTrainingJob", "DescribeTrainingJob", {"TrainingJobName": child}),
        ]
        rows = []
        for label, op, body in ops:
            c.call(op, body)  # warm
            ms = []
            for _ in range(reps):
                t = time.perf_counter()
                c.call(op, body)
                ms.append((time.perf_counter() - t) * 1e3)
            rows.append((label, pct(ms, 0.5), pct(ms, 0.99)))
        return rows
    finally:
        p.terminate()
        p.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,130000")
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--keep", default=None)
    a = ap.parse_args()
    for n in [int(x) for x in a.sizes.split(",")]:
        tmp = None
        if a.keep:
            root = os.path.join(a.keep, str(n))
            data = os.path.join(root, "data")
            how = "reused"
            if not os.path.exists(os.path.join(root, "filled")):
                shutil.rmtree(root, ignore_errors=True)
                os.makedirs(root)
                standalone, secs = fill(data, n)
                open(os.path.join(root, "filled"), "w").write("%d\n" % standalone)
                how = "filled in %.0f s" % secs
            standalone = int(open(os.path.join(root, "filled")).read())
        else:
            tmp = tempfile.mkdtemp(prefix="openhpo-bench-lists-")
            data = os.path.join(tmp, "data")
            standalone, secs = fill(data, n)
            how = "filled in %.0f s" % secs
        try:
            print("== %d training jobs in one tuning job + %d standalone (%s)"
                  % (n, standalone, how))
            sys.stdout.flush()
            subprocess.run([FILL, "time", data, str(a.reps)], check=True,
                           stderr=subprocess.DEVNULL)
            print()
            print("%-40s %8s %8s" % ("HTTP (hpod, current API)", "p50 ms", "p99 ms"))
            for label, p50, p99 in http_bench(data, n, a.reps):
                print("%-40s %8.2f %8.2f" % (label, p50, p99))
            print()
            sys.stdout.flush()
        finally:
            if tmp:
                shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
