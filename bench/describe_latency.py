#!/usr/bin/env python3
"""DescribeTuningJob latency while a Bayesian tuning job with many finished
trials keeps MaxParallelTrainingJobs=8 running (issue 9: every request used
to wait behind the GP fit of the next suggestion, run on the loop thread).

A real hpod runs a Bayesian tuning job over a 5-dimensional space
(MaxNumberOfTrainingJobs FINISHED+100, MaxParallelTrainingJobs 8) whose
trainer, a catalog image running /bin/sh + awk, prints its loss and exits at
once. Once FINISHED trials have finished, the trainer is made to sleep (a file
it reads), so that the remaining trials keep 8 running for about SECONDS;
every one of them still costs a suggestion with a full GP fit over 1000
trials. Meanwhile one client, on one keep-alive connection, alternates
DescribeHyperParameterTuningJob (current API, unsigned JSON 1.1) and the 2017
API's DescribeTuningJob, back to back, and prints p50/p99/max per operation.

usage: bench/describe_latency.py [--finished N] [--seconds S]
       (HPOD_BIN overrides build/hpod; --finished 300 for a quick check)
"""
import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HPOD = os.environ.get("HPOD_BIN", os.path.join(ROOT, "build", "hpod"))
ACCOUNT = "123456789012"  # hpod's account for unsigned callers
PARALLEL = 8
EXTRA = 100  # trials left after FINISHED: they keep 8 running while measured
NAME = "latency"

TRAINER = r"""#!/bin/sh
# Sleeps as long as SLOW says (once the bench wants trials to last), then
# prints a loss over 5 hyperparameters and exits.
if [ -r "%(slow)s" ]; then sleep "$(cat "%(slow)s")"; fi
exec awk -v a="$SM_HP_A" -v b="$SM_HP_B" -v c="$SM_HP_C" -v d="$SM_HP_D" -v n="$SM_HP_N" 'BEGIN {
    l = (a - 0.3) ^ 2 + 2 * (b - 0.6) ^ 2 + 0.5 * (log(c) / log(10) + 2) ^ 2 + 0.1 * sin(9 * d) \
        + 0.01 * (n - 7) ^ 2
    printf "loss=%%.9f\n", l
}'
"""


class Client:
    """One keep-alive HTTP connection to hpod."""

    def __init__(self, port):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def call(self, path, headers, body):
        data = json.dumps(body).encode()
        for attempt in range(2):
            try:
                self.conn.request("POST", path, body=data, headers=headers)
                r = self.conn.getresponse()
                raw = r.read()
                break
            except (http.client.HTTPException, ConnectionError):
                if attempt:
                    raise
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        if r.status != 200:
            raise RuntimeError("%s %s: %d %s" % (path, body, r.status, raw[:300]))
        return json.loads(raw) if raw else None

    def current(self, op, body):
        return self.call("/", {"Content-Type": "application/x-amz-json-1.1",
                               "X-Amz-Target": "SageMaker." + op}, body)

    def v2017(self, op, body):
        return self.call("/" + op, {"Content-Type": "application/json"}, body)


def tuning_request(max_jobs, out_dir):
    cont = [{"Name": k, "MinValue": "0", "MaxValue": "1", "ScalingType": "Linear"}
            for k in ("a", "b", "d")]
    cont.append({"Name": "c", "MinValue": "0.0001", "MaxValue": "1",
                 "ScalingType": "Logarithmic"})
    return {
        "HyperParameterTuningJobName": NAME,
        "HyperParameterTuningJobConfig": {
            "Strategy": "Bayesian",
            "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "loss"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": max_jobs,
                               "MaxParallelTrainingJobs": PARALLEL},
            "ParameterRanges": {
                "ContinuousParameterRanges": cont,
                "IntegerParameterRanges": [{"Name": "n", "MinValue": "1", "MaxValue": "20",
                                            "ScalingType": "Linear"}]},
            "TrainingJobEarlyStoppingType": "Off"},
        "TrainingJobDefinition": {
            "AlgorithmSpecification": {
                "TrainingImage": "bench/trainer:latest", "TrainingInputMode": "File",
                "MetricDefinitions": [{"Name": "loss", "Regex": "loss=([-+0-9.eE]+)"}]},
            "RoleArn": "arn:aws:iam::%s:role/bench" % ACCOUNT,
            "OutputDataConfig": {"S3OutputPath": "file://" + out_dir},
            "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large",
                               "VolumeSizeInGB": 1},
            "StoppingCondition": {"MaxRuntimeInSeconds": 600}}}


def counters(c):
    d = c.current("DescribeHyperParameterTuningJob", {"HyperParameterTuningJobName": NAME})
    t = d["TrainingJobStatusCounters"]
    finished = t["Completed"] + t["NonRetryableError"] + t["RetryableError"] + t["Stopped"]
    return d["HyperParameterTuningJobStatus"], finished, t["InProgress"]


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def hammer(c, seconds, stop_at_end=True):
    """Alternates the two Describe calls back to back for `seconds`."""
    lat = {"DescribeHyperParameterTuningJob": [], "DescribeTuningJob (2017)": []}
    running_seen = []
    end = time.time() + seconds
    k = 0
    while time.time() < end:
        if k % 2 == 0:
            t = time.perf_counter()
            d = c.current("DescribeHyperParameterTuningJob", {"HyperParameterTuningJobName": NAME})
            lat["DescribeHyperParameterTuningJob"].append(time.perf_counter() - t)
            running_seen.append(d["TrainingJobStatusCounters"]["InProgress"])
            if stop_at_end and d["HyperParameterTuningJobStatus"] != "InProgress":
                break
        else:
            t = time.perf_counter()
            c.v2017("DescribeTuningJob", {"AwsAccountId": ACCOUNT, "TuningJobName": NAME})
            lat["DescribeTuningJob (2017)"].append(time.perf_counter() - t)
        k += 1
    return lat, running_seen


def report(lat):
    for op, xs in lat.items():
        ms = [x * 1000 for x in xs]
        print("    %-34s n=%6d  p50 %7.2f ms  p99 %7.2f ms  max %7.1f ms"
              % (op, len(ms), pct(ms, 50), pct(ms, 99), max(ms)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--finished", type=int, default=1000,
                    help="finished trials before measuring (default 1000)")
    ap.add_argument("--seconds", type=float, default=20.0, help="measuring time (default 20)")
    a = ap.parse_args()
    max_jobs = a.finished + EXTRA
    with tempfile.TemporaryDirectory() as tmp:
        slow = os.path.join(tmp, "slow")
        trainer = os.path.join(tmp, "train.sh")
        with open(trainer, "w") as f:
            f.write(TRAINER % {"slow": slow})
        os.chmod(trainer, 0o755)
        images = os.path.join(tmp, "images.json")
        with open(images, "w") as f:
            json.dump({"bench/trainer:latest": ["/bin/sh", trainer]}, f)
        out_dir = os.path.join(tmp, "out")
        os.mkdir(out_dir)
        port_file = os.path.join(tmp, "port")
        log = open(os.path.join(tmp, "hpod.log"), "w")
        p = subprocess.Popen([HPOD, "--listen", "127.0.0.1:0", "--data-dir",
                              os.path.join(tmp, "data"), "--port-file", port_file,
                              "--images", images], stdout=log, stderr=log)
        try:
            deadline = time.time() + 30
            while not os.path.exists(port_file) or not open(port_file).read().strip():
                if p.poll() is not None or time.time() > deadline:
                    raise RuntimeError("hpod did not start: " +
                                       open(os.path.join(tmp, "hpod.log")).read()[-2000:])
                time.sleep(0.01)
            c = Client(int(open(port_file).read().strip()))
            c.current("CreateHyperParameterTuningJob", tuning_request(max_jobs, out_dir))

            # fast trials up to FINISHED; slow ones from a few trials before it,
            # so that about EXTRA remain when measuring starts
            t0 = time.time()
            trial_s = max(0.2, PARALLEL * a.seconds * 1.3 / EXTRA)
            switched = False
            while True:
                status, fin, running = counters(c)
                if status != "InProgress":
                    raise RuntimeError("tuning job ended %s after %d trials" % (status, fin))
                if not switched and fin >= a.finished - 2 * PARALLEL:
                    with open(slow + ".tmp", "w") as f:
                        f.write("%.3f\n" % trial_s)
                    os.rename(slow + ".tmp", slow)
                    switched = True
                if fin >= a.finished:
                    break
                time.sleep(0.05)
            fill_s = time.time() - t0
            print("describe latency: Bayesian, 5 parameters, %d finished trials after %.0f s "
                  "(%.1f trials/s), MaxParallelTrainingJobs=%d, trials now last %.2f s"
                  % (fin, fill_s, fin / fill_s, PARALLEL, trial_s))

            start_fin = fin
            lat, running_seen = hammer(c, a.seconds)
            status, fin, running = counters(c)
            print("  while running: %.1f s, %d trials finished meanwhile (each a suggestion), "
                  "median %d running" % (a.seconds, fin - start_fin,
                                         statistics.median(running_seen)))
            report(lat)
            # stop the job so no runner outlives the temporary directory
            c.current("StopHyperParameterTuningJob", {"HyperParameterTuningJobName": NAME})
            deadline = time.time() + 60
            while time.time() < deadline and counters(c)[0] == "Stopping":
                time.sleep(0.1)
            # the same requests with nothing to suggest: the requests' own cost
            idle_s = max(2.0, a.seconds / 4)
            lat, _ = hammer(c, idle_s, stop_at_end=False)
            print("  after the job ended (%s; no suggestions): %.1f s" % (counters(c)[0], idle_s))
            report(lat)
        finally:
            p.terminate()
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


if __name__ == "__main__":
    sys.exit(main())
