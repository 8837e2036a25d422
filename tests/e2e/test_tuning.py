"""End-to-end: tuning jobs run real training programs through hpod."""
import json
import os
import signal
import time

from conftest import ACCOUNT, Hpod, job_request


def max_overlap(track):
    events = []
    for line in open(track):
        kind, t, _ = line.split()
        events.append((float(t), 1 if kind == "start" else -1))
    cur = best = 0
    for _, d in sorted(events, key=lambda e: (e[0], e[1])):
        cur += d
        best = max(best, cur)
    return best, sum(1 for _, d in events if d == 1)


def test_ten_jobs_complete_best_is_true_best(hpod, tmp_path):
    track = str(tmp_path / "track")
    req = job_request(max_jobs=10, parallel=3,
                      static={"mode": "normal", "sleep": "0.3", "track": track})
    arn = hpod.ok("CreateTuningJob", req)["TuningJobArn"]
    assert arn == "arn:aws:sagemaker:us-east-1:%s:tuning-job/job1" % ACCOUNT
    d = hpod.wait_status("job1", ["Completed", "Failed"], timeout=120)
    assert d["TuningJobStatus"] == "Completed", d
    jobs = hpod.training_jobs("job1")
    assert len(jobs) == 10
    assert len({j["TrainingJobName"] for j in jobs}) == 10
    for j in jobs:
        assert j["TrainingJobStatus"] == "Completed", j
        hp = j["HyperParameters"]
        assert -5 <= float(hp["x"]) <= 10 and 0 <= int(hp["n"]) <= 15
        assert hp["kind"] in ("a", "b", "c")
        assert j["TrainingJobName"].startswith("job1-")
    best = max(jobs, key=lambda j: j["FinalTuningJobObjectiveMetric"]["Value"])
    assert d["BestTrainingJob"]["TrainingJobName"] == best["TrainingJobName"]
    assert d["BestTrainingJob"]["FinalTuningJobObjectiveMetric"]["MetricName"] == "accuracy"
    # The value is the objective the program computed from its hyperparameters.
    hp = best["HyperParameters"]
    want = -((float(hp["x"]) - 2.5) ** 2) - 0.1 * (int(hp["n"]) - 7) ** 2 + \
        {"a": 0.0, "b": 1.0, "c": 0.5}[hp["kind"]]
    assert abs(best["FinalTuningJobObjectiveMetric"]["Value"] - want) < 1e-5
    c = d["ResourcesStats"]["ConsumedResources"]["Jobs"]
    assert c == {"Completed": 10, "Failed": 0, "Pending": 0, "Running": 0}
    assert d["ResourcesStats"]["ResourceLimits"]["MaxParallelTrainingJobs"] == 3
    assert d["TuningJobEndTime"] >= d["TuningJobStartTime"]
    overlap, starts = max_overlap(track)
    assert starts == 10
    assert 2 <= overlap <= 3, overlap


def test_parallel_limit_one_never_overlaps(hpod, tmp_path):
    track = str(tmp_path / "track")
    req = job_request(max_jobs=4, parallel=1,
                      static={"mode": "normal", "sleep": "0.2", "track": track})
    hpod.ok("CreateTuningJob", req)
    hpod.wait_status("job1", ["Completed"], timeout=60)
    overlap, starts = max_overlap(track)
    assert (overlap, starts) == (1, 4)


def test_max_runtime_stops_sleeping_job(hpod):
    req = job_request(max_jobs=1, parallel=1, static={"mode": "sleep"}, max_runtime=1)
    hpod.ok("CreateTuningJob", req)
    t0 = time.time()
    d = hpod.wait_status("job1", ["Completed", "Failed", "Stopped"], timeout=60)
    assert time.time() - t0 < 30
    jobs = hpod.training_jobs("job1")
    assert jobs[0]["TrainingJobStatus"] == "Stopped"
    assert d["TuningJobStatus"] == "Failed"  # no job produced the objective


def test_stop_tuning_job_stops_everything(hpod):
    req = job_request(max_jobs=6, parallel=3, static={"mode": "sleep"})
    hpod.ok("CreateTuningJob", req)
    deadline = time.time() + 30
    while time.time() < deadline:
        if sum(1 for j in hpod.training_jobs("job1") if j["TrainingJobStatus"] == "InProgress") == 3:
            break
        time.sleep(0.1)
    st, body, _ = hpod.call("StopTuningJob", {"AwsAccountId": ACCOUNT, "TuningJobName": "job1"})
    assert st == 200 and body is None
    d = hpod.wait_status("job1", ["Stopped"], timeout=60)
    jobs = hpod.training_jobs("job1")
    assert len(jobs) == 3
    assert all(j["TrainingJobStatus"] == "Stopped" for j in jobs), jobs
    assert d["ResourcesStats"]["ConsumedResources"]["Jobs"]["Running"] == 0
    # Stopping a finished job is refused.
    st, body, hd = hpod.call("StopTuningJob", {"AwsAccountId": ACCOUNT, "TuningJobName": "job1"})
    assert st == 400 and body["__type"] == "ValidationError"


def test_failures_get_status_and_reason(hpod):
    for mode in ("crash", "nometric", "failurefile"):
        hpod.ok("CreateTuningJob", job_request(name="j-" + mode, max_jobs=1, parallel=1,
                                                static={"mode": mode}))
    got = {}
    for mode in ("crash", "nometric", "failurefile"):
        d = hpod.wait_status("j-" + mode, ["Completed", "Failed"], timeout=60)
        assert d["TuningJobStatus"] == "Failed"
        assert "objective" in d["FailureReason"]
        assert d["ResourcesStats"]["ConsumedResources"]["Jobs"]["Failed"] == 1
        got[mode] = hpod.training_jobs("j-" + mode)[0]
    assert got["crash"]["TrainingJobStatus"] == "Failed"
    assert got["nometric"]["TrainingJobStatus"] == "Completed"
    assert "FinalTuningJobObjectiveMetric" not in got["nometric"]
    assert got["failurefile"]["TrainingJobStatus"] == "Failed"
    # FailureReason of training jobs is in the store (the current API shows it);
    # check it through the job directories the daemon kept.
    import sqlite3
    db = sqlite3.connect(os.path.join(hpod.data, "openhpo.db"))
    reasons = dict(db.execute("SELECT name, failure_reason FROM training_jobs"))
    assert "exited with code 3" in reasons[got["crash"]["TrainingJobName"]]
    assert "about to crash" in reasons[got["crash"]["TrainingJobName"]]
    assert "No value of the objective metric 'accuracy'" in \
        reasons[got["nometric"]["TrainingJobName"]]
    assert reasons[got["failurefile"]["TrainingJobName"]] == "ValueError: learning rate too high"


def test_contract_files_and_env(hpod, tmp_path):
    data = tmp_path / "traindata"
    data.mkdir()
    (data / "part-0.csv").write_text("1,2,3\n")
    prog = tmp_path / "prog.sh"
    prog.write_text("#!/bin/sh\nenv > \"$SM_OUTPUT_DATA_DIR/env.txt\"\n"
                    "ls \"$SM_CHANNEL_TRAIN\" > \"$SM_OUTPUT_DATA_DIR/ls.txt\"\n"
                    "echo \"args=$*\"\necho accuracy=0.5\n")
    prog.chmod(0o755)
    req = job_request(max_jobs=1, parallel=1, image="file://" + str(prog),
                      static={"mode": "x y; $(rm -rf /)"},
                      channels=[{"ChannelName": "train", "DataSource": {"S3DataSource": {
                          "S3DataType": "S3Prefix", "S3Uri": "file://" + str(data)}}}])
    hpod.ok("CreateTuningJob", req)
    d = hpod.wait_status("job1", ["Completed", "Failed"], timeout=60)
    assert d["TuningJobStatus"] == "Completed", d
    name = d["BestTrainingJob"]["TrainingJobName"]
    jd = os.path.join(hpod.data, "jobs", ACCOUNT, name)
    hp = json.load(open(os.path.join(jd, "input/config/hyperparameters.json")))
    assert hp["mode"] == "x y; $(rm -rf /)"  # never through a shell
    assert set(hp) == {"mode", "x", "n", "kind"}
    rc = json.load(open(os.path.join(jd, "input/config/resourceconfig.json")))
    assert rc["current_host"] == "algo-1" and rc["hosts"] == ["algo-1"]
    idc = json.load(open(os.path.join(jd, "input/config/inputdataconfig.json")))
    assert idc["train"]["TrainingInputMode"] == "File"
    env = dict(l.split("=", 1) for l in open(os.path.join(jd, "output/data/env.txt"))
               .read().splitlines() if "=" in l)
    assert env["TRAINING_JOB_NAME"] == name
    # As the API's TrainingJobArn (hpod's default region).
    assert env["TRAINING_JOB_ARN"] == "arn:aws:sagemaker:us-east-1:%s:training-job/%s" % (
        ACCOUNT, name)
    assert env["SM_MODEL_DIR"] == os.path.join(jd, "model")
    assert env["SM_CHANNEL_TRAIN"] == os.path.join(jd, "input/data/train")
    assert json.loads(env["SM_CHANNELS"]) == ["train"]
    assert json.loads(env["SM_HPS"]) == hp
    assert env["SM_HP_MODE"] == "x y; $(rm -rf /)"
    assert env["SM_CURRENT_HOST"] == "algo-1" and json.loads(env["SM_HOSTS"]) == ["algo-1"]
    for k in ("SM_OUTPUT_DIR", "SM_OUTPUT_DATA_DIR", "SM_INPUT_DIR", "SM_INPUT_CONFIG_DIR",
              "SM_NUM_CPUS", "SM_NUM_GPUS", "SM_TRAINING_ENV"):
        assert k in env, k
    tenv = json.loads(env["SM_TRAINING_ENV"])
    assert tenv["channel_input_dirs"] == {"train": os.path.join(jd, "input/data/train")}
    assert tenv["hyperparameters"] == hp and tenv["job_name"] == name
    assert open(os.path.join(jd, "output/data/ls.txt")).read().split() == ["part-0.csv"]
    assert "args=train" in open(os.path.join(jd, "output.log")).read()


def test_accounts_are_isolated(hpod):
    hpod.ok("CreateTuningJob", job_request(max_jobs=1, parallel=1))
    other = "210987654321"
    st, body, hd = hpod.call("DescribeTuningJob", {"AwsAccountId": other, "TuningJobName": "job1"})
    assert st == 404 and body["__type"] == "ResourceNotFound"
    assert hd.get("x-amzn-ErrorType") == "ResourceNotFound"
    # The same name is free in another account; taken in the first.
    hpod.ok("CreateTuningJob", job_request(account=other, max_jobs=1, parallel=1))
    st, body, _ = hpod.call("CreateTuningJob", job_request(max_jobs=1, parallel=1))
    assert st == 400 and body["__type"] == "ResourceInUse"


def test_list_pagination_sort_filter(hpod):
    hpod.ok("CreateTuningJob", job_request(max_jobs=7, parallel=4, strategy=None))
    hpod.wait_status("job1", ["Completed"], timeout=90)
    seen, token = [], None
    while True:
        body = {"AwsAccountId": ACCOUNT, "TuningJobName": "job1", "MaxResults": 3,
                "SortBy": "FinalObjectiveMetricValue", "SortOrder": "Descending"}
        if token:
            body["NextToken"] = token
        js = hpod.ok("ListTrainingJobsForTuningJob", body)
        assert len(js["TrainingJobSummaries"]) <= 3
        seen += js["TrainingJobSummaries"]
        token = js.get("NextToken")
        if not token:
            break
    assert len(seen) == 7
    vals = [j["FinalTuningJobObjectiveMetric"]["Value"] for j in seen]
    assert vals == sorted(vals, reverse=True)
    # A tampered token is refused.
    js = hpod.ok("ListTrainingJobsForTuningJob",
                 {"AwsAccountId": ACCOUNT, "TuningJobName": "job1", "MaxResults": 2})
    tok = js["NextToken"]
    bad = ("9" + tok[1:]) if tok[0] != "9" else ("8" + tok[1:])
    st, b, _ = hpod.call("ListTrainingJobsForTuningJob",
                         {"AwsAccountId": ACCOUNT, "TuningJobName": "job1", "NextToken": bad})
    assert st == 400 and b["__type"] == "ValidationError" and "NextToken" in b["message"]
    js = hpod.ok("ListTrainingJobsForTuningJob",
                 {"AwsAccountId": ACCOUNT, "TuningJobName": "job1",
                  "TrainingJobStatusEquals": "Failed"})
    assert js["TrainingJobSummaries"] == [] and "NextToken" not in js


def test_kill_9_and_restart_completes_exactly(tmp_path):
    d = Hpod(str(tmp_path)).start()
    track = str(tmp_path / "track")
    try:
        d.ok("CreateTuningJob", job_request(max_jobs=8, parallel=3,
                                             static={"mode": "normal", "sleep": "1.0",
                                                     "track": track}))
        for kill_round in range(2):
            time.sleep(1.3)
            d.stop(sig=signal.SIGKILL)
            time.sleep(0.3)
            d.start()
        st = d.wait_status("job1", ["Completed", "Failed"], timeout=120)
        assert st["TuningJobStatus"] == "Completed", st
        jobs = d.training_jobs("job1")
        assert len(jobs) == 8
        assert len({j["TrainingJobName"] for j in jobs}) == 8
        assert all(j["TrainingJobStatus"] == "Completed" for j in jobs), jobs
        # Each training job ran exactly once: one start per job name.
        starts = [l.split()[2] for l in open(track) if l.startswith("start")]
        assert sorted(starts) == sorted(j["TrainingJobName"] for j in jobs)
        assert st["ResourcesStats"]["ConsumedResources"]["Jobs"]["Completed"] == 8
    finally:
        d.stop()
    # No runner or trainer is left behind.
    assert runners_in(d.data) == []


def runners_in(data_dir):
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            argv = open("/proc/%s/cmdline" % pid, "rb").read().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"hpo-runner") and data_dir.encode() in b" ".join(argv):
            found.append(pid)
    return found


def test_clock_limit_stops_launching_and_running(tmp_path):
    d = Hpod(str(tmp_path), ["--hour-seconds", "2", "--grace", "1"]).start()
    try:
        req = job_request(max_jobs=50, parallel=2, static={"mode": "sleep", "sleep": "0.7"})
        req["TuningJobConfig"]["ResourceLimits"]["MaxClockTimeInHours"] = 1
        d.ok("CreateTuningJob", req)
        t0 = time.time()
        st = d.wait_status("job1", ["Completed", "Failed", "Stopped"], timeout=60)
        assert time.time() - t0 < 20
        jobs = d.training_jobs("job1")
        assert 2 <= len(jobs) < 50
        assert all(j["TrainingJobStatus"] in ("Completed", "Stopped") for j in jobs), jobs
        assert st["ResourcesStats"]["ConsumedResources"]["Jobs"]["Running"] == 0
    finally:
        d.stop()


def test_sigterm_restart_readopts_running_jobs(tmp_path):
    d = Hpod(str(tmp_path)).start()
    track = str(tmp_path / "track")
    try:
        d.ok("CreateTuningJob", job_request(max_jobs=3, parallel=3,
                                             static={"mode": "normal", "sleep": "2.5",
                                                     "track": track}))
        deadline = time.time() + 20
        while time.time() < deadline and not (
                os.path.exists(track) and open(track).read().count("start") == 3):
            time.sleep(0.05)
        assert d.stop() == 0  # clean exit on SIGTERM
        assert len(runners_in(d.data)) == 3  # the jobs keep running meanwhile
        d.start()
        st = d.wait_status("job1", ["Completed", "Failed"], timeout=60)
        assert st["TuningJobStatus"] == "Completed"
        jobs = d.training_jobs("job1")
        assert [j["RetriedAttempt"] for j in jobs] == [0, 0, 0]
        assert all("FinalTuningJobObjectiveMetric" in j for j in jobs)
        assert open(track).read().count("start") == 3
    finally:
        d.stop()


def test_pathological_metric_regex_does_not_stall(hpod, tmp_path):
    prog = tmp_path / "prog.sh"
    prog.write_text("#!/bin/sh\ni=0\nwhile [ $i -lt 200 ]; do\n"
                    "printf 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab\\n'\n"
                    "i=$((i+1)); done\necho accuracy=0.75\n")
    prog.chmod(0o755)
    metrics = [{"Name": "accuracy", "Regex": "accuracy=([0-9.]+)"},
               {"Name": "evil", "Regex": "^(a+)+$"}]
    hpod.ok("CreateTuningJob", job_request(max_jobs=1, parallel=1, image=str(prog),
                                           metrics=metrics))
    t0 = time.time()
    d = hpod.wait_status("job1", ["Completed", "Failed"], timeout=60)
    assert d["TuningJobStatus"] == "Completed"
    assert d["BestTrainingJob"]["FinalTuningJobObjectiveMetric"]["Value"] == 0.75
    assert time.time() - t0 < 30
    # The daemon answered promptly throughout.
    t1 = time.time()
    hpod.describe("job1")
    assert time.time() - t1 < 2


def test_2017_ranges_are_linear_and_scaling_type_is_honoured(hpod, tmp_path):
    prog = tmp_path / "prog.sh"
    prog.write_text("#!/bin/sh\necho accuracy=1\n")
    prog.chmod(0o755)
    for name, scaling in (("lin", None), ("log", "Logarithmic")):
        r = {"Name": "x", "MinValue": "0.001", "MaxValue": "1000", "Type": "Continuous"}
        if scaling:
            r["ScalingType"] = scaling
        hpod.ok("CreateTuningJob", job_request(
            name=name, max_jobs=16, parallel=4, image=str(prog), strategy="Random",
            ranges={"ContinuousParameterRanges": [r]}))
    below = {}
    for name in ("lin", "log"):
        hpod.wait_status(name, ["Completed"], timeout=60)
        xs = [float(j["HyperParameters"]["x"]) for j in hpod.training_jobs(name)]
        assert len(xs) == 16 and all(0.001 <= x <= 1000 for x in xs)
        below[name] = sum(1 for x in xs if x < 1)
    assert below["lin"] <= 1    # uniform in value: P(x < 1) = 0.001 per job
    assert 3 <= below["log"] <= 13  # uniform in log10: P(x < 1) = 1/2 per job


def test_kill_9_at_many_instants_loses_and_repeats_nothing(tmp_path):
    """Kills hpod with SIGKILL at pseudo-random instants (fixed seed, so the
    run is repeatable) while training jobs start, run and finish; after each
    kill a new hpod takes over the data dir. Every training job must run
    exactly once and the tuning job must end with exactly its budget."""
    import random
    import urllib.error
    rnd = random.Random(20261127)
    d = Hpod(str(tmp_path)).start()
    track = str(tmp_path / "track")
    req = job_request(max_jobs=14, parallel=4,
                      static={"mode": "normal", "sleep": "0.3", "track": track})
    created = False
    try:
        for _ in range(12):
            if not created:
                try:
                    d.ok("CreateTuningJob", req)
                    created = True
                except (urllib.error.URLError, ConnectionError):
                    pass
            time.sleep(rnd.uniform(0.0, 0.5))
            d.stop(sig=signal.SIGKILL)
            d.start()
            if not created:
                st, _, _ = d.call("DescribeTuningJob",
                                  {"AwsAccountId": ACCOUNT, "TuningJobName": "job1"})
                created = st == 200
        if not created:
            d.ok("CreateTuningJob", req)
        st = d.wait_status("job1", ["Completed", "Failed"], timeout=120)
        assert st["TuningJobStatus"] == "Completed", st
        jobs = d.training_jobs("job1")
        names = sorted(j["TrainingJobName"] for j in jobs)
        assert len(names) == 14 and len(set(names)) == 14
        assert all(j["TrainingJobStatus"] == "Completed" for j in jobs), jobs
        starts = sorted(l.split()[2] for l in open(track) if l.startswith("start"))
        assert starts == names  # each ran once: none lost, none twice
    finally:
        d.stop()
    assert runners_in(d.data) == []


def test_stop_after_kill_9_stops_adopted_jobs(tmp_path):
    d = Hpod(str(tmp_path), ["--grace", "2"]).start()
    try:
        d.ok("CreateTuningJob", job_request(max_jobs=6, parallel=3, static={"mode": "sleep"}))
        deadline = time.time() + 30
        while time.time() < deadline and len(runners_in(d.data)) < 3:
            time.sleep(0.05)
        d.stop(sig=signal.SIGKILL)
        d.start()
        d.ok("StopTuningJob", {"AwsAccountId": ACCOUNT, "TuningJobName": "job1"})
        st = d.wait_status("job1", ["Stopped"], timeout=60)
        jobs = d.training_jobs("job1")
        assert len(jobs) == 3 and all(j["TrainingJobStatus"] == "Stopped" for j in jobs), jobs
        assert st["ResourcesStats"]["ConsumedResources"]["Jobs"]["Running"] == 0
    finally:
        d.stop()
    assert runners_in(d.data) == []


def test_machine_limit_caps_running_jobs_across_tuning_jobs(tmp_path):
    d = Hpod(str(tmp_path), ["--max-running", "2"]).start()
    track = str(tmp_path / "track")
    try:
        for name in ("a", "b"):
            d.ok("CreateTuningJob", job_request(
                name=name, max_jobs=3, parallel=3,
                static={"mode": "normal", "sleep": "0.4", "track": track}))
        for name in ("a", "b"):
            assert d.wait_status(name, ["Completed", "Failed"], timeout=60)[
                "TuningJobStatus"] == "Completed"
        overlap, starts = max_overlap(track)
        assert starts == 6 and overlap <= 2, overlap
    finally:
        d.stop()
