"""End-to-end faults of the engine (issue 9): a child name already taken,
and kill -9 of hpod and of runners, at random, during one tuning job —
nothing lost, nothing run twice beyond what RetriedAttempt accounts for."""
import json
import os
import random
import signal
import sys
import time
import urllib.error

from conftest import ACCOUNT, Hpod, job_request

MASK64 = (1 << 64) - 1


def mix64(x):
    x = (x + 0x9E3779B97F4A7C15) & MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK64
    return x ^ (x >> 31)


def child_name(tuning, idx, region="us-east-1", kind="tuning-job"):
    """The name the engine gives child idx (0-based) of a tuning job."""
    arn = "arn:aws:sagemaker:%s:%s:%s/%s" % (region, ACCOUNT, kind, tuning)
    h = 1469598103934665603
    for b in arn.encode():
        h = ((h ^ b) * 1099511628211) & MASK64
    h = mix64(h ^ idx)
    return "%s-%03d-%08x" % (tuning, idx + 1, h & 0xFFFFFFFF)


def current(d, op, body):
    st, _, raw = d.raw("/", json.dumps(body).encode(),
                       headers={"Content-Type": "application/x-amz-json-1.1",
                                "X-Amz-Target": "SageMaker." + op})
    return st, (json.loads(raw) if raw else None)


def test_taken_child_name_gets_the_next_free_one(tmp_path):
    d = Hpod(str(tmp_path)).start()
    try:
        taken = child_name("named", 0)
        st, js = current(d, "CreateTrainingJob", {
            "TrainingJobName": taken,
            "HyperParameters": {"x": "2.5", "n": "7", "kind": "b"},
            "AlgorithmSpecification": {
                "TrainingImage": "trainer:latest", "TrainingInputMode": "File",
                "MetricDefinitions": [{"Name": "accuracy", "Regex": "accuracy=([-+0-9.eE]+)"}]},
            "RoleArn": "arn:aws:iam::%s:role/openhpo" % ACCOUNT,
            "OutputDataConfig": {"S3OutputPath": "file://%s/out" % tmp_path},
            "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large",
                               "VolumeSizeInGB": 1},
            "StoppingCondition": {"MaxRuntimeInSeconds": 600}})
        assert st == 200, js
        d.ok("CreateTuningJob", job_request(name="named", max_jobs=2, parallel=1))
        st = d.wait_status("named", ["Completed", "Failed"], timeout=60)
        assert st["TuningJobStatus"] == "Completed", st
        names = sorted(j["TrainingJobName"] for j in d.training_jobs("named"))
        assert names == sorted([taken + "-2", child_name("named", 1)]), names
        log = d.read_log()
        assert log.count("already exists") == 0, log
    finally:
        d.stop()


TRAINER = r'''
import json, os, sys, time
cfg = os.environ["SM_INPUT_CONFIG_DIR"]
hp = json.load(open(os.path.join(cfg, "hyperparameters.json")))
with open(hp["track"], "a") as f:
    f.write("%s %s\n" % (os.environ["TRAINING_JOB_NAME"],
                         json.dumps({k: hp[k] for k in ("x", "n", "kind")}, sort_keys=True)))
time.sleep(float(hp["sleep"]))
print("accuracy=%.6f" % -((float(hp["x"]) - 2.5) ** 2), flush=True)
'''


def test_random_kill_9_of_hpod_and_runners_lose_and_repeat_nothing(tmp_path):
    """Up to 30 kill -9 of hpod at random instants (fixed seed) plus a few
    kill -9 of runners, all while one tuning job runs (at least 10 of hpod:
    on a slow machine each restart takes longer and the job may end first).
    Each trainer appends its name and hyperparameters to a shared file:
    every training job ends, each name appears once per attempt, and
    RetriedAttempt accounts for every extra."""
    rnd = random.Random(9)
    trainer = tmp_path / "fault_trainer.py"
    trainer.write_text(TRAINER)
    images = tmp_path / "images.json"
    images.write_text(json.dumps({"trainer:latest": [sys.executable, str(trainer)]}))
    track = str(tmp_path / "track")
    d = Hpod(str(tmp_path)).start()
    jobs_n = 32
    req = job_request(max_jobs=jobs_n, parallel=4, strategy="Random",
                      static={"sleep": "1.0", "track": track})
    t0 = time.time()
    hpod_kills = runner_kills = 0
    try:
        d.ok("CreateTuningJob", req)
        for i in range(30):
            time.sleep(rnd.uniform(0.02, 0.35))
            if i % 3 == 1:
                pids = d.runner_pids()
                if pids:
                    try:
                        os.kill(rnd.choice(pids), signal.SIGKILL)
                        runner_kills += 1
                    except ProcessLookupError:
                        pass  # it finished between the listing and the kill
            if d.describe("job1")["TuningJobStatus"] != "Running":
                break  # every kill so far landed during the tuning job
            d.stop(sig=signal.SIGKILL)
            hpod_kills += 1
            d.start()
        assert hpod_kills >= 10, hpod_kills
        st = d.wait_status("job1", ["Completed", "Failed"], timeout=90)
        elapsed = time.time() - t0
        jobs = d.training_jobs("job1")
        names = [j["TrainingJobName"] for j in jobs]
        assert len(names) == jobs_n and len(set(names)) == jobs_n, names
        lines = [l.split(" ", 1) for l in open(track).read().splitlines()]
        runs = {}
        for name, hp in lines:
            runs.setdefault(name, []).append(hp)
        retried = {j["TrainingJobName"]: j["RetriedAttempt"] for j in jobs}
        extra = sum(len(v) - 1 for v in runs.values())
        print("\nfaults: %d hpod kill -9, %d runner kill -9, %d training jobs, %d extra runs, "
              "%d retried attempts, %.1f s" % (hpod_kills, runner_kills, jobs_n, extra,
                                               sum(retried.values()), elapsed))
        for j in jobs:
            n = j["TrainingJobName"]
            # A job may only run again when the engine counted a retry for it.
            assert len(runs.get(n, [])) <= 1 + retried[n], (n, runs.get(n), retried[n])
            # Each attempt ran the job's own hyperparameters.
            hp = {k: j["HyperParameters"][k] for k in ("x", "n", "kind")}
            for got in runs.get(n, []):
                assert json.loads(got) == hp, (n, got, hp)
            if j["TrainingJobStatus"] == "Completed":
                assert runs.get(n), n
            else:  # only a job whose runner was killed too often may fail
                assert j["TrainingJobStatus"] == "Failed" and retried[n] >= 2, \
                    (j, current(d, "DescribeTrainingJob", {"TrainingJobName": n})[1])
        assert set(runs) <= set(names)  # nothing ran that the store does not know
        assert st["TuningJobStatus"] == "Completed", st
    finally:
        d.stop()
    assert d.runner_pids() == []
