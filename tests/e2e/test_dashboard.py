"""The dashboard (/ui/) in a real browser against the real hpod: Debian's
chromium driven by playwright-core (browser_env.py, tests/browser/
dashboard.mjs). One daemon with --credentials runs a finished tuning job
(Hyperband: completed, early-stopped and failed training jobs) and a running
one of account A, and a finished one of account B. The browser's numbers are
read from the charts' data (ECharts' options), not from pixels, and checked
against what the SageMaker API (boto3) says. Screenshots are kept in
$HPO_TEST_ARTIFACTS/dashboard or tests/e2e/artifacts/dashboard."""
import csv
import hashlib
import io
import http.cookiejar
import json
import os
import re
import sys
import time
import urllib.request

import pytest

from conftest import ACCOUNT, Hpod, job_request
from browser_env import artifacts_dir, playwright, run  # noqa: F401 (fixture)
from test_current_api import KEY_A, KEY_B, OTHER, SECRET_A, SECRET_B, client, wait_tuning

HERE = os.path.dirname(os.path.abspath(__file__))
TRAINER = os.path.join(HERE, "dash_trainer.py")
UI = os.path.normpath(os.path.join(HERE, "..", "..", "ui"))
EPOCHS = 9
RANGES = {
    "ContinuousParameterRanges": [
        {"Name": "q", "MinValue": "0", "MaxValue": "1"},
        {"Name": "lr", "MinValue": "0.0001", "MaxValue": "1", "ScalingType": "Logarithmic"}],
    "CategoricalParameterRanges": [{"Name": "kind", "Values": ["a", "b", "c"]}],
}
SIGN_IN_A = {"HPO_ACCESS_KEY": KEY_A, "HPO_SECRET": SECRET_A}


def request(name, out, strategy, max_jobs, parallel, static, strategy_config=None):
    cfg = {
        "Strategy": strategy,
        "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "val_loss"},
        "ResourceLimits": {"MaxNumberOfTrainingJobs": max_jobs, "MaxParallelTrainingJobs": parallel},
        "ParameterRanges": RANGES,
        "TrainingJobEarlyStoppingType": "Off",
    }
    if strategy_config:
        cfg["StrategyConfig"] = strategy_config
    return {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": cfg,
        "TrainingJobDefinition": {
            "AlgorithmSpecification": {
                "TrainingImage": "dash:latest", "TrainingInputMode": "File",
                "MetricDefinitions": [
                    {"Name": "val_loss", "Regex": "val_loss=([-+0-9.eE]+)"},
                    {"Name": "train_loss", "Regex": "train_loss=([-+0-9.eE]+)"}]},
            "RoleArn": "arn:aws:iam::%s:role/openhpo" % ACCOUNT,
            "OutputDataConfig": {"S3OutputPath": "file://" + out},
            "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 1},
            "StaticHyperParameters": static,
            "StoppingCondition": {"MaxRuntimeInSeconds": 600},
        },
    }


def jobs_of(sm, name):
    out = []
    for page in sm.get_paginator("list_training_jobs_for_hyper_parameter_tuning_job").paginate(
            HyperParameterTuningJobName=name):
        out += page["TrainingJobSummaries"]
    return out


def has_objective(j):
    return "FinalHyperParameterTuningJobObjectiveMetric" in j


class UiClient:
    """hpod's /ui/api/ as the browser uses it: signed in, with its cookie."""

    def __init__(self, url, key, secret):
        self.url = url
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        req = urllib.request.Request(url + "/ui/api/login", method="POST",
                                     data=json.dumps({"access_key": key, "secret": secret}).encode(),
                                     headers={"Content-Type": "application/json"})
        with self.opener.open(req, timeout=30) as r:
            assert r.status == 200

    def get(self, path):
        with self.opener.open(self.url + "/ui/api/" + path, timeout=30) as r:
            return json.loads(r.read())


def counts(jobs):
    """What the history and the parallel plot must draw, from the API."""
    st = lambda s: [j for j in jobs if j["TrainingJobStatus"] == s]  # noqa: E731
    return {
        "completed": len([j for j in st("Completed") if has_objective(j)]),
        "stopped": len([j for j in st("Stopped") if has_objective(j)]),
        "failed": len(st("Failed")),
        "running": len(st("InProgress")),
        "started": len([j for j in jobs if j.get("TrainingStartTime")]),
        "jobs": len(jobs),
    }


@pytest.fixture(scope="module")
def dash(tmp_path_factory, playwright):  # noqa: F811
    tmp = tmp_path_factory.mktemp("dashboard")
    out_a, out_b = str(tmp / "out-a"), str(tmp / "out-b")
    os.makedirs(out_a)
    os.makedirs(out_b)
    creds = os.path.join(str(tmp), "credentials.json")
    fd = os.open(creds, os.O_WRONLY | os.O_CREAT, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"credentials": [
            {"access_key_id": KEY_A, "secret_access_key": SECRET_A, "account_id": ACCOUNT,
             "file_roots": [out_a]},
            {"access_key_id": KEY_B, "secret_access_key": SECRET_B, "account_id": OTHER,
             "file_roots": [out_b]}]}, f)
    with open(os.path.join(str(tmp), "images.json"), "w") as f:
        json.dump({"dash:latest": [sys.executable, TRAINER]}, f)
    d = Hpod(str(tmp), ["--credentials", creds]).start()
    try:
        sm, smb = client(d), client(d, KEY_B, SECRET_B)
        sm.create_hyper_parameter_tuning_job(**request(
            "dash-done", out_a, "Hyperband", 10, 2, {"epochs": str(EPOCHS), "sleep": "0.15"},
            {"HyperbandStrategyConfig": {"MinResource": 1}}))
        smb.create_hyper_parameter_tuning_job(**request(
            "dash-other", out_b, "Random", 2, 2, {"epochs": "2"}))
        assert wait_tuning(sm, "dash-done", timeout=180)["HyperParameterTuningJobStatus"] == "Completed"
        assert wait_tuning(smb, "dash-other")["HyperParameterTuningJobStatus"] == "Completed"
        # The live one: four short training jobs (one fails), then ones
        # that run ~2 min, two at once.
        sm.create_hyper_parameter_tuning_job(**request(
            "dash-live", out_a, "Random", 20, 2,
            {"epochs": "60", "sleep": "0.01", "slow_after": "4", "slow_sleep": "2"}))
        ui = UiClient(d.url, KEY_A, SECRET_A)
        deadline = time.time() + 120
        while time.time() < deadline:  # the short ones ended, two slow ones printed a value
            jobs = ui.get("tuning-jobs/dash-live")["training_jobs"]
            live = [ui.get("training-jobs/" + j["name"]) for j in jobs if j["status"] == "InProgress"]
            ended = [j for j in jobs if j["status"] in ("Completed", "Failed")]
            if len(ended) >= 4 and sum(1 for j in live if j["metrics"]["val_loss"]) >= 2:
                break
            time.sleep(0.2)
        else:
            raise AssertionError("dash-live's jobs printed no value: %s" % live)
        d.sm, d.ui = sm, ui
        yield d
    finally:
        d.cleanup()


def test_every_page_renders_with_the_right_number_of_points(dash):
    sm = dash.sm
    done = jobs_of(sm, "dash-done")
    c = counts(done)
    # The Hyperband job has each kind of end the plots mark.
    assert c["completed"] and c["stopped"] and c["failed"], done
    pick = {}
    for j in sorted(done, key=lambda j: j["TrainingJobName"]):
        pick.setdefault(j["TrainingJobStatus"], j["TrainingJobName"])
    # The stopped job with the shortest curve (a stop may also land after
    # a job's last epoch).
    curve = {j["TrainingJobName"]: len(dash.ui.get("training-jobs/" + j["TrainingJobName"])["objective_curve"])
             for j in done if j["TrainingJobStatus"] == "Stopped"}
    pick["Stopped"] = min(sorted(curve), key=lambda n: curve[n])
    live_before = counts(jobs_of(sm, "dash-live"))
    running = sorted(j["TrainingJobName"] for j in jobs_of(sm, "dash-live")
                     if j["TrainingJobStatus"] == "InProgress")[0]
    training = [pick["Completed"], pick["Stopped"], pick["Failed"], running]
    res = run(dash.url, artifacts_dir("dashboard"), "pages", "dash-done", "dash-live", *training,
              env=SIGN_IN_A)
    live_after = counts(jobs_of(sm, "dash-live"))
    assert res["console_errors"] == [], res["console_errors"]
    p = res["pages"]

    # The list: account A's two jobs, the filter, the compare button.
    assert sorted(p["list"]["rows"]) == ["dash-done", "dash-live"]
    assert p["list"]["filtered"] == ["dash-done"]
    assert p["list"]["progress"]["dash-done"] == "%d of 10 training jobs finished" % len(done)
    assert p["list"]["by_name"] == ["dash-done", "dash-live"]
    assert p["list"]["by_name_desc"] == ["dash-live", "dash-done"]
    assert p["list"]["compare_hash"] == "#/compare?jobs=dash-done,dash-live"

    # The finished tuning job: exact numbers.
    f = p["tuning-finished"]
    assert f["status"] == "Completed" and not f["live"] and not f["stop_enabled"]
    h = {k: v["points"] for k, v in f["charts"]["history"]["series"].items()}
    assert h["completed"] == c["completed"]
    assert h["early"] + h["stopped"] == c["stopped"]
    stopped_without = len([j for j in done if j["TrainingJobStatus"] == "Stopped" and not has_objective(j)])
    assert f["charts"]["history"]["series"]["stopped"]["marks"] == stopped_without
    assert h["running"] == 0
    assert f["charts"]["history"]["series"]["failed"]["marks"] == c["failed"]
    assert h["failed"] == 0  # failed jobs are marks, never points
    first_final = min(i for i, j in enumerate(sorted(done, key=lambda j: j["CreationTime"]))
                      if has_objective(j))
    assert h["best"] == len(done) - first_final  # the best-so-far line from the first value on
    drawn = c["completed"] + c["stopped"]
    assert f["charts"]["parallel"]["series"]["jobs"]["points"] == drawn
    assert [a["name"] for a in f["charts"]["parallel"]["axes"]] == ["q", "lr (log)", "kind", "val_loss"]
    assert f["charts"]["parallel"]["axes"][1]["type"] == "log"
    assert f["axis_chips"] == ["q", "lr", "kind"]
    # q hidden, lr moved right of kind.
    assert f["axes_after"] == ["kind", "lr (log)", "val_loss"]
    # q shown again, then lr dragged to the front.
    assert f["axes_after_drag"] == ["lr (log)", "q", "kind", "val_loss"]
    for r in ("q", "lr", "kind"):
        assert f["charts"]["slice:" + r]["series"]["slice"]["points"] == drawn, r
    assert f["charts"]["slice:lr"]["xType"] == "log"
    assert f["charts"]["slice:kind"]["xType"] == "category"
    imp = dash.ui.get("tuning-jobs/dash-done")["importances"]
    assert f["charts"]["importance"]["series"]["importance"]["points"] == len(imp) == 3
    assert f["charts"]["timeline"]["series"]["run"]["points"] == c["started"]
    assert f["table_rows"] == len(done)
    assert f["completed_rows"] == len([j for j in done if j["TrainingJobStatus"] == "Completed"])
    vals = [float(x) for x in f["sorted_objectives"] if x != "—"]
    assert vals == sorted(vals) and len(vals) == drawn
    assert f["sorted_objectives"][len(vals):] == ["—"] * (len(done) - drawn)  # the failed ones last
    assert f["csv_href"] == "/ui/api/tuning-jobs/dash-done/csv"
    assert f["csv_name"] == "dash-done.csv"
    rows = list(csv.DictReader(io.StringIO(f["csv"])))
    assert sorted(r["name"] for r in rows) == sorted(j["TrainingJobName"] for j in done)
    failed_reasons = [j["FailureReason"] for j in done if j["TrainingJobStatus"] == "Failed"]
    assert sorted(f["reasons"]) == sorted(failed_reasons)  # FailureReason in the table

    # The running tuning job: live, polled again, numbers between the API's
    # before and after the browser looked.
    r = p["tuning-running"]
    assert r["status"] == "InProgress" and r["live"] and r["live_badge"] and r["polled"]
    assert r["stop_enabled"]
    h = {k: v["points"] for k, v in r["charts"]["history"]["series"].items()}
    assert live_before["completed"] <= h["completed"] <= live_after["completed"]
    assert live_before["failed"] <= r["charts"]["history"]["series"]["failed"]["marks"] <= live_after["failed"]
    assert h["running"] <= 2  # running jobs drawn only with a value (hpod gives none yet)
    # Unfinished jobs are not drawn on the parallel plot (never as 0).
    assert r["charts"]["parallel"]["series"]["jobs"]["points"] == h["completed"] + h["early"] + h["stopped"]
    assert live_before["jobs"] <= r["table_rows"] <= live_after["jobs"]
    assert h["completed"] >= 3 and r["charts"]["history"]["series"]["failed"]["marks"] >= 1
    assert r["charts"]["history"]["series"]["running"]["marks"] == 2  # the two slow ones

    # Training jobs: every metric over time, the objective's curve, the log.
    for k, name in enumerate(training):
        t = p["training-%d" % k]
        d = sm.describe_training_job(TrainingJobName=name)
        series = {m: v["series"]["m"]["points"] for m, v in t["charts"].items() if m.startswith("metric:")}
        assert sorted(series) == ["metric:train_loss", "metric:val_loss"], t["charts"].keys()
        epochs = len(re.findall(r"^epoch \d+ ", t["log"], re.M))
        if k < 3:
            assert t["status"] == d["TrainingJobStatus"]
            assert t["log_complete"]
            assert series["metric:val_loss"] == series["metric:train_loss"] == epochs, (name, series, epochs)
            assert t["charts"]["curve"]["series"]["curve"]["points"] == epochs
            assert t["transitions"] == [x["Status"] for x in d["SecondaryStatusTransitions"]]
        assert t["hyperparameters"] >= 3
    assert p["training-0"]["charts"]["curve"]["series"]["curve"]["points"] == EPOCHS
    assert 1 <= p["training-1"]["charts"]["curve"]["series"]["curve"]["points"] < EPOCHS  # early stop
    failed = p["training-2"]
    assert failed["status"] == "Failed" and "loading data" in failed["log"]
    assert failed["failure_reason"] and "AlgorithmError" in failed["failure_reason"]
    lv = p["training-3"]
    assert lv["status"] == "InProgress" and not lv["log_complete"] and lv["log_grew"] and lv["live_badge"]

    # Compare: both tuning jobs' values and best-so-far lines on one plot.
    cs = p["compare"]["charts"]["compare"]["series"]
    assert cs["pts:dash-done"]["points"] == drawn
    assert cs["best:dash-done"]["points"] == h_best(done)
    assert "pts:dash-live" in cs and "best:dash-live" in cs
    assert p["compare"]["rows"] == 2
    for s in res["screenshots"]:
        assert os.path.getsize(s) > 10000, s


def h_best(jobs):
    order = sorted(jobs, key=lambda j: j["CreationTime"])
    first = min(i for i, j in enumerate(order) if has_objective(j))
    return len(order) - first


def test_sign_in_is_required_and_shows_only_the_accounts_jobs(dash):
    res = run(dash.url, artifacts_dir("dashboard"), "auth", KEY_A, SECRET_A, "dash-done", "dash-other")
    assert res["console_errors"] == [] or all("401" in e or "403" in e or "404" in e
                                              for e in res["console_errors"]), res["console_errors"]
    assert res["login_shown"]
    assert res["wrong_secret_error"]
    assert res["account"] == "account " + ACCOUNT
    assert sorted(res["rows"]) == ["dash-done", "dash-live"]  # not B's dash-other
    assert res["own_status"] == "Completed"
    assert res["other_error"]  # B's job is not found for A
    assert res["stop_without_csrf"] == 403
    assert res["after_logout_login_shown"]
    # Without a session, the API answers 401.
    st, _, body = dash.raw("/ui/api/tuning-jobs", None, headers={}, method="GET")
    assert st == 401, (st, body)


def test_stop_button_stops_the_running_job(dash):
    sm = dash.sm
    assert sm.describe_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="dash-live")["HyperParameterTuningJobStatus"] == "InProgress"
    res = run(dash.url, artifacts_dir("dashboard"), "stop", "dash-live", env=SIGN_IN_A)
    assert res["before"] == "InProgress"
    assert res["after_cancel"] == "InProgress"  # cancelling the confirmation stops nothing
    assert res["after_stop"] in ("Stopping", "Stopped")
    assert res["final"] == "Stopped"
    d = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="dash-live")
    assert d["HyperParameterTuningJobStatus"] == "Stopped"
    jobs = jobs_of(sm, "dash-live")
    assert all(j["TrainingJobStatus"] in ("Stopped", "Failed", "Completed") for j in jobs)
    assert not res["stop_enabled_after"]
    # The page drew the jobs the stop ended: marked, or with their value.
    hist = res["charts"]["history"]["series"]
    c = counts(jobs)
    stopped_without = len([j for j in jobs if j["TrainingJobStatus"] == "Stopped" and not has_objective(j)])
    assert stopped_without + c["stopped"] >= 1
    assert hist["stopped"]["marks"] == stopped_without
    assert hist["stopped"]["points"] + hist["early"]["points"] == c["stopped"]
    assert hist["completed"]["points"] == c["completed"]
    assert hist["running"]["points"] == hist["running"]["marks"] == 0


def test_without_credentials_no_sign_in(playwright, hpod):  # noqa: F811
    hpod.ok("CreateTuningJob", job_request("open1", max_jobs=1, parallel=1))
    hpod.wait_status("open1", ("Completed",))
    res = run(hpod.url, artifacts_dir("dashboard-open"), "list")
    assert not res["login_shown"]
    assert res["pages"]["list"]["rows"] == ["open1"]
    assert res["console_errors"] == []


def test_dist_is_built_from_the_sources():
    """ui/dist holds ui/src's files as they are, ECharts at the pinned
    version, and a MANIFEST whose hashes match (scripts/build-ui writes it;
    `scripts/build-ui --check` rebuilds from the lock file and compares)."""
    pinned = json.load(open(os.path.join(UI, "package.json")))["dependencies"]["echarts"]
    lock = json.load(open(os.path.join(UI, "package-lock.json")))
    assert lock["packages"]["node_modules/echarts"]["version"] == pinned
    src = os.path.join(UI, "src")
    for f in sorted(os.listdir(src)):
        built = os.path.join(UI, "dist", "index.html" if f == "index.html" else "assets/" + f)
        assert open(os.path.join(src, f), "rb").read() == open(built, "rb").read(), f
    manifest = open(os.path.join(UI, "dist", "MANIFEST")).read().splitlines()
    assert manifest[0].endswith("echarts " + pinned)
    listed = set()
    for line in manifest[1:]:
        digest, path = line.split("  ", 1)
        data = open(os.path.join(UI, "dist", path), "rb").read()
        assert hashlib.sha256(data).hexdigest() == digest, path
        listed.add(path)
    on_disk = {os.path.relpath(os.path.join(r, f), os.path.join(UI, "dist"))
               for r, _, fs in os.walk(os.path.join(UI, "dist")) for f in fs} - {"MANIFEST"}
    assert listed == on_disk
    assert "assets/echarts.min.js" in listed
