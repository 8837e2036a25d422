#!/usr/bin/python3
"""Per-training-job start overhead of the Docker backend, beside `docker run`.

Starts its own dockerd (tests/e2e/docker_env.py: own data root and socket;
or uses --socket SOCK) with the tiny busybox test image, and an hpod with
--docker-socket. For N runs of a trivial training job (one epoch, no sleep):

  openhpo  CreateTrainingJob -> first line in the job's log (output.log),
           CreateTrainingJob -> DescribeTrainingJob says Completed
           (container start, log stream, exit, model.tar.gz, removal)
  docker   `docker run --rm -v DIR:/opt/ml IMAGE train` on the same engine:
           exec -> first line on stdout, exec -> exit

and prints the medians (ms). Usage: bench/container_start.py [-n 10] [--socket SOCK]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))

import docker_env  # noqa: E402
from conftest import Hpod  # noqa: E402

DOCKER = "/usr/bin/docker"
ACCOUNT = "123456789012"


def current(d, op, body):
    st, _, raw = d.raw("/", json.dumps(body).encode(), headers={
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "SageMaker." + op})
    js = json.loads(raw) if raw else None
    assert st == 200, (op, st, js)
    return js


def openhpo_run(d, i, out):
    name = "bench-%d-%d" % (os.getpid(), i)
    log = os.path.join(d.data, "jobs", ACCOUNT, name, "output.log")
    t0 = time.monotonic()
    current(d, "CreateTrainingJob", {
        "TrainingJobName": name,
        "HyperParameters": {"mode": "normal", "epochs": "1", "x": "1"},
        "AlgorithmSpecification": {"TrainingImage": docker_env.IMAGE,
                                   "TrainingInputMode": "File"},
        "RoleArn": "arn:aws:iam::%s:role/openhpo" % ACCOUNT,
        "OutputDataConfig": {"S3OutputPath": "file://" + out},
        "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large",
                           "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600}})
    first = None
    while True:
        if first is None:
            try:
                if os.path.getsize(log) > 0:
                    first = time.monotonic() - t0
            except OSError:
                pass
        t = current(d, "DescribeTrainingJob", {"TrainingJobName": name})
        if t["TrainingJobStatus"] not in ("InProgress", "Stopping"):
            break
        time.sleep(0.005)
    total = time.monotonic() - t0
    assert t["TrainingJobStatus"] == "Completed", t
    return first if first is not None else total, total


def docker_run(sock, ml):
    t0 = time.monotonic()
    p = subprocess.Popen([DOCKER, "-H", "unix://" + sock, "run", "--rm", "--network", "none",
                          "-v", ml + ":/opt/ml", docker_env.IMAGE, "train"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    p.stdout.readline()
    first = time.monotonic() - t0
    p.stdout.read()
    p.wait()
    return first, time.monotonic() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=10)
    ap.add_argument("--socket")
    a = ap.parse_args()
    eng = None
    sock = a.socket
    if not sock:
        eng, why = docker_env.start_engine()
        if not eng:
            print("container_start: skipped: %s" % why)
            return
        sock = eng.sock
    tmp = tempfile.mkdtemp(prefix="hpo-bench-")
    d = None
    try:
        d = Hpod(tmp, ["--docker-socket", sock]).start()
        out = os.path.join(tmp, "out")
        os.makedirs(out)
        ml = os.path.join(tmp, "ml")
        for sub in ("input/config", "model", "output/data"):
            os.makedirs(os.path.join(ml, sub))
        with open(os.path.join(ml, "input/config/hyperparameters.json"), "w") as f:
            json.dump({"mode": "normal", "epochs": "1", "x": "1"}, f)
        with open(os.path.join(ml, "input/config/resourceconfig.json"), "w") as f:
            json.dump({"current_host": "algo-1", "hosts": ["algo-1"]}, f)
        openhpo_run(d, -1, out)  # warm-up (page cache, first container)
        docker_run(sock, ml)
        oh, dk = [], []
        for i in range(a.n):
            oh.append(openhpo_run(d, i, out))
            dk.append(docker_run(sock, ml))
        med = lambda xs, k: statistics.median(x[k] for x in xs) * 1000  # noqa: E731
        print("container start, %d runs each, medians (ms):" % a.n)
        print("  %-44s %8.0f" % ("openhpo: CreateTrainingJob -> first log line", med(oh, 0)))
        print("  %-44s %8.0f" % ("openhpo: CreateTrainingJob -> Completed", med(oh, 1)))
        print("  %-44s %8.0f" % ("docker run --rm: exec -> first line", med(dk, 0)))
        print("  %-44s %8.0f" % ("docker run --rm: exec -> exit", med(dk, 1)))
        print("  %-44s %8.0f" % ("openhpo overhead per job (Completed - exit)",
                                 med(oh, 1) - med(dk, 1)))
    finally:
        if d:
            d.stop()
        if eng:
            docker_env.stop_engine(eng)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
