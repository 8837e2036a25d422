#!/usr/bin/env python3
"""End to end through hpod: the scikit-learn digits SVC of examples/sklearn-digits
tuned with Bayesian and with Random, same budget, several repetitions. Prints the
median (and quartiles) of the best validation accuracy after 5, 10 and BUDGET jobs.

usage: bench/sklearn_e2e.py [--budget N] [--repeats R] [--parallel P]
"""
import argparse
import copy
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HPOD = os.environ.get("HPOD_BIN", os.path.join(ROOT, "build", "hpod"))
ACCOUNT = "123456789012"


def post(url, op, body):
    req = urllib.request.Request(url + "/" + op, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        raw = r.read()
        return json.loads(raw) if raw else None


def best_after(jobs, k):
    """Best objective among the first k training jobs (by creation order)."""
    vals = [j["FinalTuningJobObjectiveMetric"]["Value"] for j in jobs[:k]
            if "FinalTuningJobObjectiveMetric" in j]
    return max(vals) if vals else float("nan")


def quartiles(xs):
    xs = sorted(xs)
    if len(xs) < 2:
        return xs[0], xs[0], xs[0]
    q = statistics.quantiles(xs, n=4)
    return q[0], statistics.median(xs), q[2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--budget", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--parallel", type=int, default=2)
    a = ap.parse_args()
    base = json.load(open(os.path.join(ROOT, "examples", "sklearn-digits", "job.json")))
    with tempfile.TemporaryDirectory() as tmp:
        images = os.path.join(tmp, "images.json")
        json.dump({base["TrainingJobDefinition"]["AlgorithmSpecification"]["TrainingImage"]:
                   ["/usr/bin/python3",
                    os.path.join(ROOT, "examples", "sklearn-digits", "train.py")]},
                  open(images, "w"))
        port_file = os.path.join(tmp, "port")
        log = open(os.path.join(tmp, "hpod.log"), "w")
        p = subprocess.Popen([HPOD, "--listen", "127.0.0.1:0", "--data-dir",
                              os.path.join(tmp, "data"), "--port-file", port_file,
                              "--images", images], stdout=log, stderr=log)
        try:
            while not os.path.exists(port_file):
                time.sleep(0.02)
            url = "http://127.0.0.1:" + open(port_file).read().strip()
            checkpoints = sorted({5, 10, a.budget})
            res = {s: {k: [] for k in checkpoints} for s in ("Bayesian", "Random")}
            late = {s: [] for s in ("Bayesian", "Random")}
            t0 = time.time()
            for r in range(a.repeats):
                for strat in ("Bayesian", "Random"):
                    body = copy.deepcopy(base)
                    body["AwsAccountId"] = ACCOUNT
                    body["TuningJobName"] = "%s-%d" % (strat.lower(), r)
                    body["TuningJobConfig"]["Strategy"] = strat
                    body["TuningJobConfig"]["ResourceLimits"] = {
                        "MaxNumberOfTrainingJobs": a.budget,
                        "MaxParallelTrainingJobs": a.parallel}
                    post(url, "CreateTuningJob", body)
                    while True:
                        d = post(url, "DescribeTuningJob", {"AwsAccountId": ACCOUNT,
                                                            "TuningJobName": body["TuningJobName"]})
                        if d["TuningJobStatus"] not in ("Created", "Running", "Stopping"):
                            break
                        time.sleep(0.5)
                    jobs = post(url, "ListTrainingJobsForTuningJob", {
                        "AwsAccountId": ACCOUNT, "TuningJobName": body["TuningJobName"],
                        "MaxResults": 100})["TrainingJobSummaries"]
                    for k in checkpoints:
                        res[strat][k].append(best_after(jobs, k))
                    tail = [j["FinalTuningJobObjectiveMetric"]["Value"]
                            for j in jobs[a.budget // 2:] if "FinalTuningJobObjectiveMetric" in j]
                    late[strat].append(statistics.mean(tail) if tail else float("nan"))
            print("sklearn digits SVC through hpod: %d repeats, budget %d, %d parallel (%.0f s)"
                  % (a.repeats, a.budget, a.parallel, time.time() - t0))
            print("  best validation accuracy: median [q1, q3] after N training jobs")
            print("  %-9s" % "strategy" + "".join("%24s" % ("N=%d" % k) for k in checkpoints))
            for strat in ("Bayesian", "Random"):
                row = "  %-9s" % strat
                for k in checkpoints:
                    q1, med, q3 = quartiles(res[strat][k])
                    row += "%24s" % ("%.4f [%.4f, %.4f]" % (med, q1, q3))
                print(row)
            print("  mean accuracy of the second half of the jobs (how well the strategy exploits):")
            for strat in ("Bayesian", "Random"):
                q1, med, q3 = quartiles(late[strat])
                print("  %-9s median %.4f [%.4f, %.4f]" % (strat, med, q1, q3))
        finally:
            p.terminate()
            p.wait()


if __name__ == "__main__":
    sys.exit(main())
