#!/usr/bin/env python3
"""Trivial training jobs per second through hpod at MaxParallelTrainingJobs=8,
beside `xargs -P8` running the same program. Prints medians of REPEATS runs.

usage: bench/throughput.py [--jobs N] [--repeats R]   (HPOD_BIN overrides build/hpod)
"""
import argparse
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
STRATEGY = os.environ.get("STRATEGY", "Bayesian")


def post(url, op, body):
    req = urllib.request.Request(url + "/" + op, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        raw = r.read()
        return json.loads(raw) if raw else None


def run_hpod(tmp, prog, jobs):
    data, port_file = os.path.join(tmp, "data"), os.path.join(tmp, "port")
    log = open(os.path.join(tmp, "hpod.log"), "w")
    p = subprocess.Popen([HPOD, "--listen", "127.0.0.1:0", "--data-dir", data,
                          "--port-file", port_file], stdout=log, stderr=log)
    try:
        while not os.path.exists(port_file):
            time.sleep(0.01)
        url = "http://127.0.0.1:" + open(port_file).read().strip()
        body = {
            "AwsAccountId": ACCOUNT, "TuningJobName": "bench",
            "TrainingJobDefinition": {
                "AlgorithmSpecification": {"TrainingImage": prog, "TrainingInputMode": "File",
                                           "MetricDefinitions": [{"Name": "acc",
                                                                  "Regex": "acc=([0-9.]+)"}]},
                "InputDataConfig": [{"ChannelName": "train", "DataSource": {"S3DataSource": {
                    "S3DataType": "S3Prefix", "S3Uri": "file:///tmp"}}}],
                "OutputDataConfig": {"S3OutputPath": "file:///tmp/out"},
                "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m4.xlarge",
                                   "VolumeSizeInGB": 1},
                "RoleArn": "arn:aws:iam::123456789012:role/bench",
                "StoppingCondition": {"MaxRuntimeInSeconds": 600}},
            "TuningJobConfig": {
                "Strategy": STRATEGY,
                "ParameterRanges": {"ContinuousParameterRanges": [
                    {"Name": "x", "MinValue": "0", "MaxValue": "1", "Type": "Continuous"}]},
                "ResourceLimits": {"MaxNumberOfTrainingJobs": jobs,
                                   "MaxParallelTrainingJobs": 8},
                "TuningJobObjective": {"MetricName": "acc", "Type": "Maximize"}}}
        t0 = time.time()
        post(url, "CreateTuningJob", body)
        while True:
            d = post(url, "DescribeTuningJob", {"AwsAccountId": ACCOUNT,
                                                "TuningJobName": "bench"})
            if d["TuningJobStatus"] not in ("Created", "Running"):
                break
            time.sleep(0.02)
        dt = time.time() - t0
        assert d["TuningJobStatus"] == "Completed", d
        assert d["ResourcesStats"]["ConsumedResources"]["Jobs"]["Completed"] == jobs, d
        # The daemon's own CPU time per job: steadier than wall time on a busy machine.
        f = open("/proc/%d/stat" % p.pid).read().rsplit(")", 1)[1].split()
        cpu = (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
        return jobs / dt, cpu / jobs * 1000
    finally:
        p.terminate()
        p.wait()


def run_xargs(tmp, prog, jobs):
    t0 = time.time()
    subprocess.run("seq %d | xargs -P8 -I{} %s train > /dev/null" % (jobs, prog),
                   shell=True, check=True, cwd=tmp)
    return jobs / (time.time() - t0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        prog = os.path.join(tmp, "train.sh")
        with open(prog, "w") as f:
            f.write("#!/bin/sh\necho acc=0.5\n")
        os.chmod(prog, 0o755)
        h, x, c = [], [], []
        for r in range(a.repeats):
            with tempfile.TemporaryDirectory() as t:
                rate, cpu_ms = run_hpod(t, prog, a.jobs)
                h.append(rate)
                c.append(cpu_ms)
            x.append(run_xargs(tmp, prog, a.jobs))
        mh, mx = statistics.median(h), statistics.median(x)
        print("throughput: %d trivial training jobs, MaxParallelTrainingJobs=8, %d runs"
              % (a.jobs, a.repeats))
        print("  hpod     median %8.1f jobs/s  (min %.1f, max %.1f)" % (mh, min(h), max(h)))
        print("  xargs -P8 median %7.1f jobs/s  (min %.1f, max %.1f)" % (mx, min(x), max(x)))
        print("  ratio hpod/xargs %.3f" % (mh / mx))
        print("  hpod CPU per job (user+sys of the daemon alone) median %.2f ms" %
              statistics.median(c))


if __name__ == "__main__":
    sys.exit(main())
