"""End-to-end: the hpo CLI against a real hpod (and its own embedded hpod)."""
import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from conftest import ACCOUNT, HPOD, TRAINER, Hpod, job_request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
HPO = os.environ.get("HPO_BIN", os.path.join(ROOT, "build", "hpo"))


def hpo(*args, env=None, timeout=120, endpoint=None, check=None):
    """Runs hpo; returns CompletedProcess (text). `check` is the exit code wanted."""
    e = dict(os.environ)
    for k in ("HPO_ENDPOINT", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE",
              "HPO_ACCOUNT"):
        e.pop(k, None)
    e["HPO_HPOD"] = os.path.abspath(HPOD)
    e["HOME"] = e.get("HOME", "/tmp")
    if env:
        e.update(env)
    argv = [HPO] + (["--endpoint-url", endpoint] if endpoint else []) + list(args)
    p = subprocess.run(argv, capture_output=True, text=True, env=e, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    if check is not None:
        assert p.returncode == check, (argv, p.returncode, p.stdout, p.stderr)
    return p


def write_job(tmp_path, name="cli1", **kw):
    body = job_request(name=name, **kw)
    del body["AwsAccountId"]  # the CLI fills it in
    path = tmp_path / ("%s.json" % name)
    path.write_text(json.dumps(body))
    return str(path)


def test_help_and_usage_errors():
    p = hpo("--help", check=0)
    for cmd in ("create-tuning-job", "describe-tuning-job", "stop-tuning-job", "tune", "watch",
                "logs", "test-metrics", "describe-training-job", "list-tuning-jobs"):
        assert cmd in p.stdout, cmd
    assert "Exit codes" in p.stdout
    for cmd in ("create-tuning-job", "describe-tuning-job", "list-training-jobs", "tune",
                "watch", "logs", "test-metrics", "stop-training-job", "add-tags", "daemon"):
        assert "usage: hpo " + cmd in hpo(cmd, "--help", check=0).stdout, cmd
    assert hpo(check=2).returncode == 2
    assert "unknown command" in hpo("frobnicate", check=2).stderr
    assert "missing NAME" in hpo("describe-tuning-job", check=2).stderr
    assert "--cli-input-json is required" in hpo("create-tuning-job", check=2).stderr
    assert "unknown option" in hpo("describe-tuning-job", "x", "--bogus", "1", check=2).stderr
    assert hpo("--output", "yaml", "describe-tuning-job", "x", check=2).returncode == 2


def test_create_describe_list_stop(hpod, tmp_path):
    job = write_job(tmp_path, max_jobs=4, parallel=2)
    p = hpo("create-tuning-job", "--cli-input-json", "file://" + job, endpoint=hpod.url, check=0)
    assert json.loads(p.stdout)["TuningJobArn"].endswith(":%s:tuning-job/cli1" % ACCOUNT)
    hpod.wait_status("cli1", ["Completed"], timeout=60)
    d = json.loads(hpo("describe-tuning-job", "cli1", endpoint=hpod.url, check=0).stdout)
    assert d["TuningJobStatus"] == "Completed"
    assert d["ResourcesStats"]["ConsumedResources"]["Jobs"]["Completed"] == 4
    # list-training-jobs NAME is the 2017 ListTrainingJobsForTuningJob, all pages.
    p = hpo("list-training-jobs", "cli1", "--sort-by", "FinalObjectiveMetricValue",
            "--sort-order", "Descending", endpoint=hpod.url, check=0)
    jobs = json.loads(p.stdout)["TrainingJobSummaries"]
    values = [j["FinalTuningJobObjectiveMetric"]["Value"] for j in jobs]
    assert len(values) == 4 and values == sorted(values, reverse=True)
    assert jobs[0]["TrainingJobName"] == d["BestTrainingJob"]["TrainingJobName"]
    # One page at a time with --max-results, continued with --next-token.
    p1 = json.loads(hpo("list-training-jobs-for-tuning-job", "cli1", "--max-results", "3",
                        endpoint=hpod.url, check=0).stdout)
    assert len(p1["TrainingJobSummaries"]) == 3 and p1["NextToken"]
    p2 = json.loads(hpo("list-training-jobs", "cli1", "--max-results", "3", "--next-token",
                        p1["NextToken"], endpoint=hpod.url, check=0).stdout)
    assert len(p2["TrainingJobSummaries"]) == 1
    # Tables.
    t = hpo("--output", "table", "list-training-jobs", "cli1", endpoint=hpod.url, check=0).stdout
    lines = t.splitlines()
    assert "TrainingJobName" in lines[0] and "TrainingJobStatus" in lines[0]
    assert set(lines[1]) <= {"-", " "}
    assert len(lines) == 2 + 4 and all("Completed" in ln for ln in lines[2:])
    t = hpo("describe-tuning-job", "cli1", "--output", "table", endpoint=hpod.url, check=0).stdout
    assert any(ln.startswith("TuningJobStatus") and "Completed" in ln for ln in t.splitlines())
    assert "ResourcesStats.ConsumedResources.Jobs.Completed" in t
    # Stop a running job: the answer is empty, the job ends Stopped.
    job = write_job(tmp_path, name="cli2", static={"mode": "sleep", "sleep": "60"}, max_jobs=2)
    hpo("create-tuning-job", "--cli-input-json", "file://" + job, endpoint=hpod.url, check=0)
    p = hpo("stop-tuning-job", "cli2", endpoint=hpod.url, check=0)
    assert p.stdout == ""
    hpod.wait_status("cli2", ["Stopped"], timeout=60)


def test_service_errors_and_exit_codes(hpod, tmp_path):
    p = hpo("describe-tuning-job", "nope", endpoint=hpod.url, check=1)
    assert "ResourceNotFound" in p.stderr and "nope" in p.stderr and "404" in p.stderr
    p = hpo("stop-tuning-job", "nope", endpoint=hpod.url, check=1)
    assert "ValidationError" in p.stderr
    bad = job_request(name="bad", max_jobs=0)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    p = hpo("create-tuning-job", "--cli-input-json", "file://%s" % path, endpoint=hpod.url,
            check=1)
    assert "ValidationError" in p.stderr and "MaxNumberOfTrainingJobs" in p.stderr
    # A name already taken.
    job = write_job(tmp_path, name="dup", max_jobs=1, parallel=1)
    hpo("create-tuning-job", "--cli-input-json", "file://" + job, endpoint=hpod.url, check=0)
    p = hpo("create-tuning-job", "--cli-input-json", "file://" + job, endpoint=hpod.url, check=1)
    assert "ResourceInUse" in p.stderr
    # Bad local input.
    p = hpo("create-tuning-job", "--cli-input-json", "file:///nonexistent.json",
            endpoint=hpod.url, check=2)
    assert "cannot read" in p.stderr
    (tmp_path / "broken.json").write_text("{not json")
    hpo("create-tuning-job", "--cli-input-json", "file://%s" % (tmp_path / "broken.json"),
        endpoint=hpod.url, check=2)
    # Nobody listening: exit 3.
    p = hpo("describe-tuning-job", "x", endpoint="http://127.0.0.1:9", check=3)
    assert "cannot reach" in p.stderr
    hpo("describe-tuning-job", "x", endpoint="ftp://example", check=2)
    # The account: another account does not see the job.
    hpo("--account", "210987654321", "describe-tuning-job", "dup", endpoint=hpod.url, check=1)
    hpo("describe-tuning-job", "dup", endpoint=hpod.url, env={"HPO_ACCOUNT": ACCOUNT}, check=0)
    # The endpoint from the environment.
    hpo("describe-tuning-job", "dup", env={"HPO_ENDPOINT": hpod.url}, check=0)


def test_watch_plain_lines(hpod, tmp_path):
    job = write_job(tmp_path, name="w1", max_jobs=4, parallel=2,
                    static={"mode": "normal", "sleep": "0.5"})
    hpo("create-tuning-job", "--cli-input-json", "file://" + job, endpoint=hpod.url, check=0)
    p = hpo("watch", "w1", "--interval", "0.2", endpoint=hpod.url, check=0)
    lines = p.stdout.splitlines()
    assert lines and all(ln.startswith("[") for ln in lines), p.stdout
    assert "\033" not in p.stdout  # no cursor movement when not a terminal
    assert lines[-1].startswith("[  4/4] Completed: 4 completed, 0 failed, 0 running")
    assert "best accuracy=" in lines[-1] and "ETA 0:00" in lines[-1]
    # The best's tuned hyperparameters are shown, not the static ones.
    assert "x=" in lines[-1] and "kind=" in lines[-1] and "mode=" not in lines[-1]
    # A job that ends Stopped: exit 4.
    job = write_job(tmp_path, name="w2", max_jobs=1, parallel=1,
                    static={"mode": "sleep", "sleep": "60"})
    hpo("create-tuning-job", "--cli-input-json", "file://" + job, endpoint=hpod.url, check=0)
    hpod.ok("StopTuningJob", {"AwsAccountId": ACCOUNT, "TuningJobName": "w2"})
    p = hpo("watch", "w2", "--interval", "0.2", endpoint=hpod.url, check=4)
    assert "Stopped" in p.stdout.splitlines()[-1]
    hpo("watch", "nope", endpoint=hpod.url, check=1)


def test_tune_against_running_daemon(hpod, tmp_path):
    job = write_job(tmp_path, name="t1", max_jobs=3, parallel=3)
    p = hpo("tune", job, "--interval", "0.2", endpoint=hpod.url, check=0)
    assert "Tuning job t1: Completed (3 completed, 0 failed)" in p.stdout
    assert "Best training job: t1-" in p.stdout
    best = hpod.describe("t1")["BestTrainingJob"]
    assert best["TrainingJobName"] in p.stdout
    for k in ("x", "n", "kind"):
        assert "    %-24s %s" % (k, best["HyperParameters"][k]) in p.stdout
    # Again: the name is taken, so a suffixed one is used.
    p = hpo("tune", job, "--interval", "0.2", endpoint=hpod.url, check=0)
    assert re.search(r"Tuning job t1-[0-9]{10}: Completed", p.stdout), p.stdout
    # A job whose every training job fails: exit 4 and the reason.
    job = write_job(tmp_path, name="t2", max_jobs=2, parallel=2, static={"mode": "crash"})
    p = hpo("tune", job, "--interval", "0.2", endpoint=hpod.url, check=4)
    assert "Failed" in p.stdout and "No training job reported the objective" in p.stdout


def test_tune_interrupt_stops_the_job(hpod, tmp_path):
    job = write_job(tmp_path, name="t3", max_jobs=2, parallel=2,
                    static={"mode": "sleep", "sleep": "60"})
    e = dict(os.environ)
    e.pop("HPO_ENDPOINT", None)
    proc = subprocess.Popen([HPO, "--endpoint-url", hpod.url, "tune", job, "--interval", "0.2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL, env=e)
    deadline = time.time() + 30
    while time.time() < deadline:
        st, js, _ = hpod.call("DescribeTuningJob", {"AwsAccountId": ACCOUNT,
                                                    "TuningJobName": "t3"})
        if st == 200 and js["ResourcesStats"]["ConsumedResources"]["Jobs"]["Running"] == 2:
            break
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    # No terminal to ask on: the tuning job is stopped.
    assert proc.returncode == 130, (out, err)
    assert "Stopping tuning job t3" in err
    assert hpod.describe("t3")["TuningJobStatus"] == "Stopped"


def test_tune_embedded_daemon(tmp_path):
    """No endpoint: hpo starts its own hpod on its data dir, with the image
    catalog next to the job file (relative paths resolved), and stops it."""
    work = tmp_path / "proj"
    (work / "jobs").mkdir(parents=True)
    os.symlink(TRAINER, str(work / "trainer.py"))
    (work / "images.json").write_text(json.dumps(
        {"local/trainer:1": [sys.executable, "trainer.py"]}))
    body = job_request(name="emb", max_jobs=3, parallel=3, image="local/trainer:1")
    del body["AwsAccountId"]
    (work / "jobs" / "job.json").write_text(json.dumps(body))
    data = tmp_path / "data"
    env = {"HPO_DATA_DIR": str(data)}
    p = hpo("tune", str(work / "jobs" / "job.json"), "--interval", "0.2", env=env, check=0)
    assert "Tuning job emb: Completed (3 completed, 0 failed)" in p.stdout, p.stderr
    assert "embedded hpod" in p.stderr
    cat = json.loads((data / "images.json").read_text())
    assert cat["local/trainer:1"] == [sys.executable, os.path.realpath(TRAINER)]
    # The daemon it started is gone again.
    hpo("daemon", "status", env=env, check=3)
    # Other commands start it on demand and find the job in the same data dir.
    d = json.loads(hpo("describe-tuning-job", "emb", env=env, check=0).stdout)
    assert d["TuningJobStatus"] == "Completed"
    best = d["BestTrainingJob"]["TrainingJobName"]
    assert "accuracy=" in hpo("logs", best, env=env, check=0).stdout
    hpo("daemon", "status", env=env, check=3)
    # XDG_DATA_HOME decides the data dir when HPO_DATA_DIR is not set.
    xdg = tmp_path / "xdg"
    p = hpo("describe-tuning-job", "emb", env={"XDG_DATA_HOME": str(xdg)}, check=1)
    assert "ResourceNotFound" in p.stderr
    assert (xdg / "openhpo" / "openhpo.db").exists()


def test_embedded_create_keeps_daemon_running(tmp_path):
    data = tmp_path / "data"
    env = {"HPO_DATA_DIR": str(data)}
    images = tmp_path / "images.json"
    images.write_text(json.dumps({"trainer:latest": [sys.executable, TRAINER]}))
    job = write_job(tmp_path, name="bg", max_jobs=2, parallel=2)
    hpo("--images", str(images), "create-tuning-job", "--cli-input-json", "file://" + job,
        env=env, check=0)
    try:
        st = hpo("daemon", "status", env=env, check=0).stdout
        assert "running: http://127.0.0.1:" in st
        p = hpo("watch", "bg", "--interval", "0.2", env=env, check=0)
        assert "Completed" in p.stdout.splitlines()[-1]
    finally:
        hpo("daemon", "stop", env=env, check=0)
    hpo("daemon", "status", env=env, check=3)


def test_logs(hpod, tmp_path):
    job = write_job(tmp_path, name="lg", max_jobs=1, parallel=1)
    hpo("create-tuning-job", "--cli-input-json", "file://" + job, endpoint=hpod.url, check=0)
    hpod.wait_status("lg", ["Completed"], timeout=60)
    name = hpod.training_jobs("lg")[0]["TrainingJobName"]
    p = hpo("logs", name, endpoint=hpod.url, check=0)
    assert p.stdout.startswith("epoch 0 loss: 1.0000\n") and "accuracy=" in p.stdout
    p = hpo("logs", "nope-001-00000000", endpoint=hpod.url, check=1)
    assert "ResourceNotFound" in p.stderr
    hpo("--account", "210987654321", "logs", name, endpoint=hpod.url, check=1)
    # --follow prints as the job writes, and ends with it.
    job = write_job(tmp_path, name="lf", max_jobs=1, parallel=1,
                    static={"mode": "sleep", "sleep": "1.5"})
    hpo("create-tuning-job", "--cli-input-json", "file://" + job, endpoint=hpod.url, check=0)
    deadline = time.time() + 20
    while not hpod.training_jobs("lf") and time.time() < deadline:
        time.sleep(0.1)
    name = hpod.training_jobs("lf")[0]["TrainingJobName"]
    t0 = time.time()
    p = hpo("logs", name, "--follow", endpoint=hpod.url, check=0, timeout=60)
    assert p.stdout.count("heartbeat loss: 1.0") >= 3
    assert time.time() - t0 < 30
    assert hpod.training_jobs("lf")[0]["TrainingJobStatus"] == "Completed"
    # The endpoint directly: chunks and offsets.
    st, hd, raw = hpod.raw("/openhpo/logs/%s/%s/0" % (ACCOUNT, name), None, headers={},
                           method="GET")
    assert st == 200 and int(hd["X-Openhpo-Next-Offset"]) == len(raw)
    assert hd["X-Openhpo-Job-Status"] == "Completed"
    st, hd, raw2 = hpod.raw("/openhpo/logs/%s/%s/5" % (ACCOUNT, name), None, headers={},
                            method="GET")
    assert raw2 == raw[5:]
    st, _, _ = hpod.raw("/openhpo/logs/%s/%s/x" % (ACCOUNT, name), None, headers={},
                        method="GET")
    assert st == 400
    st, _, _ = hpod.raw("/openhpo/logs/%s/..%%2f/0" % ACCOUNT, None, headers={}, method="GET")
    assert st == 400


def test_test_metrics(tmp_path):
    job = write_job(tmp_path, name="m1")
    log = tmp_path / "train.log"
    log.write_text("starting\nepoch 0 loss: 0.9\nepoch 1 loss: 0.5\nnoise accuracy=oops\n"
                   "accuracy=0.875")  # no newline at the end
    p = hpo("test-metrics", job, str(log), check=0)
    out = p.stdout
    assert "    2| epoch 0 loss: 0.9" in out and "-> loss = 0.9" in out
    assert "    5| accuracy=0.875" in out and "-> accuracy = 0.875   (objective)" in out
    assert "starting" not in out  # lines without a match are left out...
    assert "    1| starting" in hpo("test-metrics", job, str(log), "--all", check=0).stdout
    assert "5 lines read" in out
    rows = {ln.split()[0]: ln.split() for ln in out.splitlines() if ln.startswith(("loss", "acc"))}
    assert rows["loss"][1:3] == ["2", "0.5"] and rows["accuracy"][1:3] == ["1", "0.875"]
    js = json.loads(hpo("--output", "json", "test-metrics", job, str(log), check=0).stdout)
    assert js["ObjectiveFound"] is True and js["LinesRead"] == 5
    assert [ln["Line"] for ln in js["Lines"]] == [2, 3, 5]
    assert js["Lines"][2]["Metrics"] == {"accuracy": 0.875}
    # The objective never matches: exit 4 and a warning.
    log.write_text("epoch 0 loss: 0.9\n")
    p = hpo("test-metrics", job, str(log), check=4)
    assert "objective metric accuracy matched no line" in p.stdout
    # A regex that does not compile: exit 2, naming it.
    bad = job_request(metrics=[{"Name": "accuracy", "Regex": "accuracy=(["}])
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    p = hpo("test-metrics", str(tmp_path / "bad.json"), str(log), check=2)
    assert "MetricDefinitions[0].Regex does not compile" in p.stderr
    hpo("test-metrics", job, str(tmp_path / "missing.log"), check=2)
    # The examples' regexes find their programs' metrics.
    ex = os.path.join(ROOT, "examples", "sklearn-digits", "job.json")
    log.write_text("fit seconds: 0.120\ntrain accuracy: 1.0000\nvalidation accuracy: 0.9822\n")
    assert "-> validation:accuracy = 0.9822   (objective)" in hpo(
        "test-metrics", ex, str(log), check=0).stdout


def test_test_metrics_with_training_job_definitions(tmp_path):
    """A current-API file with several TrainingJobDefinitions: --definition
    picks one (default the first), and its TuningObjective is the objective."""
    def definition(name, regex, objective):
        return {"DefinitionName": name,
                "TuningObjective": {"Type": "Minimize", "MetricName": objective},
                "AlgorithmSpecification": {
                    "TrainingImage": "trainer:latest", "TrainingInputMode": "File",
                    "MetricDefinitions": [{"Name": objective, "Regex": regex}]}}
    job = tmp_path / "defs.json"
    job.write_text(json.dumps({
        "HyperParameterTuningJobName": "defs",
        "HyperParameterTuningJobConfig": {"Strategy": "Bayesian"},
        "TrainingJobDefinitions": [definition("first", "loss=([0-9.]+)", "loss"),
                                   definition("second", "err: ([0-9.]+)", "err")]}))
    log = tmp_path / "train.log"
    log.write_text("loss=0.25\nerr: 0.5\n")
    out = hpo("test-metrics", str(job), str(log), check=0).stdout
    assert "-> loss = 0.25   (objective)" in out and "err" not in out, out
    out = hpo("test-metrics", str(job), str(log), "--definition", "second", check=0).stdout
    assert "-> err = 0.5   (objective)" in out and "loss" not in out, out
    p = hpo("test-metrics", str(job), str(log), "--definition", "third", check=2)
    assert "no TrainingJobDefinitions entry has DefinitionName third" in p.stderr
    p = hpo("test-metrics", write_job(tmp_path, name="m2"), str(log), "--definition", "x",
            check=2)
    assert "--definition needs a file with TrainingJobDefinitions" in p.stderr


def test_current_api_subcommands(hpod, tmp_path):
    """The current-API subcommands, when the daemon serves that API."""
    st, js, _ = hpod.raw("/", b"{}", headers={
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": "SageMaker.ListHyperParameterTuningJobs"})
    if st != 200:
        pytest.skip("the daemon does not serve the current API yet")
    job = write_job(tmp_path, name="cur1", max_jobs=2, parallel=2)
    hpo("create-tuning-job", "--cli-input-json", "file://" + job, endpoint=hpod.url, check=0)
    hpod.wait_status("cur1", ["Completed"], timeout=60)
    p = hpo("list-tuning-jobs", endpoint=hpod.url, check=0)
    names = [s["HyperParameterTuningJobName"]
             for s in json.loads(p.stdout)["HyperParameterTuningJobSummaries"]]
    assert "cur1" in names
    p = hpo("list-training-jobs", endpoint=hpod.url, check=0)
    tj = [s["TrainingJobName"] for s in json.loads(p.stdout)["TrainingJobSummaries"]]
    assert len(tj) == 2
    d = json.loads(hpo("describe-training-job", tj[0], endpoint=hpod.url, check=0).stdout)
    assert d["TrainingJobStatus"] == "Completed"
    p = hpo("describe-training-job", "nope", endpoint=hpod.url, check=1)
    assert "ValidationException" in p.stderr or "ResourceNotFound" in p.stderr
    arn = json.loads(hpo("describe-hyper-parameter-tuning-job", "cur1", endpoint=hpod.url,
                         check=0).stdout)["HyperParameterTuningJobArn"]
    hpo("add-tags", "--resource-arn", arn, "--tags", "Key=team,Value=ml", "Key=x,Value=y",
        endpoint=hpod.url, check=0)
    tags = json.loads(hpo("list-tags", "--resource-arn", arn, endpoint=hpod.url,
                          check=0).stdout)["Tags"]
    assert {"Key": "team", "Value": "ml"} in tags
    hpo("delete-tags", "--resource-arn", arn, "--tag-keys", "x", endpoint=hpod.url, check=0)
    tags = json.loads(hpo("list-tags", "--resource-arn", arn, endpoint=hpod.url,
                          check=0).stdout)["Tags"]
    assert [t["Key"] for t in tags] == ["team"]
    # One training job on its own: create, describe, stop.
    from test_current_api import training_request
    req = training_request(name="solo", hp={"mode": "sleep", "sleep": "60"})
    (tmp_path / "solo.json").write_text(json.dumps(req))
    p = hpo("create-training-job", "--cli-input-json", "file://%s" % (tmp_path / "solo.json"),
            endpoint=hpod.url, check=0)
    assert json.loads(p.stdout)["TrainingJobArn"].endswith(":training-job/solo")
    hpo("stop-training-job", "solo", endpoint=hpod.url, check=0)
    deadline = time.time() + 60
    while time.time() < deadline:
        d = json.loads(hpo("describe-training-job", "solo", endpoint=hpod.url, check=0).stdout)
        if d["TrainingJobStatus"] == "Stopped":
            break
        time.sleep(0.2)
    assert d["TrainingJobStatus"] == "Stopped"
    t = hpo("list-training-jobs", "--name-contains", "solo", "--output", "table",
            endpoint=hpod.url, check=0).stdout
    assert "solo" in t and "Stopped" in t and t.count("\n") == 3


def _sklearn_available():
    return subprocess.run(["/usr/bin/python3", "-c", "import sklearn"],
                          capture_output=True).returncode == 0


@pytest.mark.skipif(not _sklearn_available(), reason="python3-sklearn is not installed")
def test_sklearn_example_tiny_budget(tmp_path):
    """The demo's example end to end, with a budget of 2 training jobs."""
    body = json.load(open(os.path.join(ROOT, "examples", "sklearn-digits", "job.json")))
    body["TuningJobConfig"]["ResourceLimits"] = {"MaxNumberOfTrainingJobs": 2,
                                                 "MaxParallelTrainingJobs": 2}
    job = tmp_path / "job.json"
    job.write_text(json.dumps(body))
    env = {"HPO_DATA_DIR": str(tmp_path / "data")}
    p = hpo("--images", os.path.join(ROOT, "examples", "images.json"), "tune", str(job),
            "--interval", "0.3", env=env, check=0, timeout=90)
    assert "Tuning job sklearn-digits: Completed (2 completed, 0 failed)" in p.stdout, p.stderr
    acc = [ln for ln in p.stdout.splitlines() if "validation:accuracy =" in ln][0]
    assert 0.05 < float(acc.split("=")[1].split()[0]) <= 1.0


def test_shell_example(tmp_path):
    env = {"HPO_DATA_DIR": str(tmp_path / "data")}
    p = hpo("tune", os.path.join(ROOT, "examples", "shell-quadratic", "job.json"),
            "--interval", "0.2", env=env, check=0, timeout=90)
    assert "Tuning job shell-quadratic: Completed (10 completed, 0 failed)" in p.stdout, p.stderr
    assert "loss = " in p.stdout and "(Minimize)" in p.stdout


def test_sigv4_signing_with_credentials(tmp_path):
    """Against hpod --credentials: hpo signs with the environment's keys or a
    profile of the shared credentials file; unsigned or wrongly signed
    requests are refused with the service's code."""
    try:
        from test_current_api import KEY_A, OTHER, SECRET_A, write_credentials
    except ImportError:
        pytest.skip("no credentials support in this tree")
    d = Hpod(str(tmp_path), ["--credentials", write_credentials(tmp_path)]).start()
    try:
        keys = {"AWS_ACCESS_KEY_ID": KEY_A, "AWS_SECRET_ACCESS_KEY": SECRET_A}
        job = write_job(tmp_path, name="sig", max_jobs=1, parallel=1)
        hpo("create-tuning-job", "--cli-input-json", "file://" + job, endpoint=d.url,
            env=keys, check=0)
        p = hpo("describe-tuning-job", "sig", endpoint=d.url, check=1)
        assert "AccessForbidden" in p.stderr
        bad = dict(keys, AWS_SECRET_ACCESS_KEY="wrong")
        assert "AccessForbidden" in hpo("describe-tuning-job", "sig", endpoint=d.url, env=bad,
                                        check=1).stderr
        # The 2017 API's account must be the signer's.
        assert "AccessForbidden" in hpo("--account", OTHER, "describe-tuning-job", "sig",
                                        endpoint=d.url, env=keys, check=1).stderr
        # A profile of the shared credentials file.
        cred = tmp_path / "aws-credentials"
        cred.write_text("[default]\naws_access_key_id = nobody\naws_secret_access_key = x\n\n"
                        "[team]\naws_access_key_id = %s\naws_secret_access_key = %s\n"
                        % (KEY_A, SECRET_A))
        prof = {"AWS_SHARED_CREDENTIALS_FILE": str(cred)}
        deadline = time.time() + 60
        while True:
            p = hpo("--profile", "team", "describe-tuning-job", "sig", endpoint=d.url, env=prof,
                    check=0)
            if json.loads(p.stdout)["TuningJobStatus"] == "Completed" or time.time() > deadline:
                break
            time.sleep(0.2)
        hpo("describe-tuning-job", "sig", endpoint=d.url, env=dict(prof, AWS_PROFILE="team"),
            check=0)
        hpo("describe-tuning-job", "sig", endpoint=d.url, env=prof, check=1)  # [default]
        p = hpo("--profile", "nope", "describe-tuning-job", "sig", endpoint=d.url, env=prof,
                check=2)
        assert "profile nope not found" in p.stderr
        # Signed GET of the logs endpoint.
        name = json.loads(hpo("list-training-jobs", "sig", endpoint=d.url, env=keys,
                              check=0).stdout)["TrainingJobSummaries"][0]["TrainingJobName"]
        assert "accuracy=" in hpo("logs", name, endpoint=d.url, env=keys, check=0).stdout
        hpo("logs", name, endpoint=d.url, check=1)
        # The current API, signed.
        p = hpo("list-tuning-jobs", endpoint=d.url, env=keys, check=0)
        assert "sig" in [s["HyperParameterTuningJobName"] for s in
                         json.loads(p.stdout)["HyperParameterTuningJobSummaries"]]
        p = hpo("list-tuning-jobs", endpoint=d.url, check=1)
        assert "MissingAuthenticationToken" in p.stderr
    finally:
        d.stop()


def test_watch_shows_early_stopped_jobs(tmp_path):
    """hpo watch counts the training jobs Hyperband stopped early (Stopped
    with the objective they reached) among the completed ones."""
    from test_current_api import KEY_A, SECRET_A
    from test_strategies import CONT, client, jobs_of, request, start_hpod, wait_tuning
    d = start_hpod(tmp_path)
    try:
        sm = client(d)
        sm.create_hyper_parameter_tuning_job(**request(
            "hbw", "Hyperband", CONT, {"epochs": "9", "sleep": "0.1"}, max_jobs=8, parallel=2,
            strategy_config={"HyperbandStrategyConfig": {"MinResource": 1}}))
        wait_tuning(sm, "hbw", timeout=180)
        stopped = [j for j in jobs_of(sm, "hbw") if j["TrainingJobStatus"] == "Stopped"]
        assert stopped
        env = {"AWS_ACCESS_KEY_ID": KEY_A, "AWS_SECRET_ACCESS_KEY": SECRET_A,
               "HPO_ACCOUNT": ACCOUNT}
        p = hpo("watch", "hbw", endpoint=d.url, env=env, check=0)
        last = p.stdout.splitlines()[-1]
        assert "completed (%d stopped early)," % len(stopped) in last, (last, stopped)
    finally:
        d.stop()
