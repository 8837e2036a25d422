"""End-to-end, through boto3 (the current API): TuningJobCompletionCriteria and
ResourceLimits.MaxRuntimeInSeconds end a tuning job early, Completed, with its running
training jobs Stopped and the details in Describe (also after a restart);
RetryStrategy retries infrastructure failures only, within StoppingCondition;
DeleteHyperParameterTuningJob removes the tuning job only (also across a kill -9);
RandomSeed repeats the configurations; the hpo CLI's flags for all of these."""
import json
import os
import signal
import sqlite3
import time

import boto3
import botocore.session
import pytest

from conftest import ACCOUNT, HERE, Hpod
from test_cli import hpo
from test_current_api import (KEY_A, REGION, SECRET_A, current_call, error_code,  # noqa: F401
                              hpod_auth, signed, tuning_request, wait_tuning)

MODEL_DATA = os.path.join(HERE, "..", "..", "scripts", "botocore-newest")


def client(d):
    """Debian's boto3 with the newest SageMaker model (scripts/botocore-newest/README.md)."""
    bs = botocore.session.get_session()
    bs.get_component("data_loader").search_paths.insert(0, MODEL_DATA)
    return boto3.session.Session(botocore_session=bs).client(
        "sagemaker", endpoint_url=d.url, region_name=REGION, aws_access_key_id=KEY_A,
        aws_secret_access_key=SECRET_A)

CONST = {"CategoricalParameterRanges": [{"Name": "kind", "Values": ["a"]}]}
STATIC = {"mode": "normal", "x": "2.5", "n": "7"}


def jobs_of(sm, name):
    return sm.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name, MaxResults=100)["TrainingJobSummaries"]


def statuses(jobs):
    out = {}
    for j in jobs:
        out[j["TrainingJobStatus"]] = out.get(j["TrainingJobStatus"], 0) + 1
    return out


def test_target_objective_stops_running_jobs(hpod_auth):
    sm = client(hpod_auth)
    body = tuning_request("target", max_jobs=20, parallel=3, strategy="Random", static=STATIC,
                          ranges={"CategoricalParameterRanges": [
                              {"Name": "kind", "Values": ["a", "b", "c"]},
                              {"Name": "delay", "Values": ["0", "60"]}]})
    cfg = body["HyperParameterTuningJobConfig"]
    cfg["RandomSeed"] = 3
    cfg["TuningJobCompletionCriteria"] = {"TargetObjectiveMetricValue": 0.4}
    sm.create_hyper_parameter_tuning_job(**body)
    d = wait_tuning(sm, "target", timeout=60)
    assert d["HyperParameterTuningJobStatus"] == "Completed", d
    assert d["HyperParameterTuningJobConfig"]["TuningJobCompletionCriteria"] == {
        "TargetObjectiveMetricValue": 0.4}
    best = d["BestTrainingJob"]
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] >= 0.4
    jobs = jobs_of(sm, "target")
    assert len(jobs) < 20
    st = statuses(jobs)
    assert set(st) <= {"Completed", "Stopped"}, st
    assert st.get("Stopped", 0) >= 1, st  # those still running (the 60 s ones, at least)
    for j in jobs:
        if j["TunedHyperParameters"]["delay"] == "60":
            assert j["TrainingJobStatus"] == "Stopped", j
    assert d["TrainingJobStatusCounters"]["Stopped"] == st["Stopped"]
    assert d["ConsumedResources"]["RuntimeInSeconds"] < 30
    assert "NumberOfTrainingJobsObjectiveNotImproving" in d["TuningJobCompletionDetails"]


def test_best_objective_not_improving(hpod_auth):
    sm = client(hpod_auth)
    body = tuning_request("flat", max_jobs=10, parallel=1, strategy="Random", static=STATIC,
                          ranges=CONST)
    body["HyperParameterTuningJobConfig"]["TuningJobCompletionCriteria"] = {
        "BestObjectiveNotImproving": {"MaxNumberOfTrainingJobsNotImproving": 3}}
    sm.create_hyper_parameter_tuning_job(**body)
    d = wait_tuning(sm, "flat")
    assert d["HyperParameterTuningJobStatus"] == "Completed", d
    # The first job sets the best; the next three do not improve it by 1 %.
    assert d["TuningJobCompletionDetails"]["NumberOfTrainingJobsObjectiveNotImproving"] == 3
    assert "ConvergenceDetectedTime" not in d["TuningJobCompletionDetails"]
    assert d["TrainingJobStatusCounters"]["Completed"] == 4
    assert len(jobs_of(sm, "flat")) == 4
    # Below the API's minimum of 3: refused.
    bad = tuning_request("flat2", ranges=CONST, static=STATIC)
    bad["HyperParameterTuningJobConfig"]["TuningJobCompletionCriteria"] = {
        "BestObjectiveNotImproving": {"MaxNumberOfTrainingJobsNotImproving": 2}}
    st, js = current_call(hpod_auth, "CreateHyperParameterTuningJob", bad)
    assert st == 400 and "MaxNumberOfTrainingJobsNotImproving" in js["message"], js


def test_convergence_detected_survives_restart(tmp_path):
    from test_current_api import write_credentials
    d = Hpod(str(tmp_path), ["--credentials", write_credentials(tmp_path)]).start()
    sm = client(d)
    body = tuning_request("conv", max_jobs=20, parallel=1, strategy="Random", static=STATIC,
                          ranges=CONST)
    body["HyperParameterTuningJobConfig"]["TuningJobCompletionCriteria"] = {
        "ConvergenceDetected": {"CompleteOnConvergence": "Enabled"}}
    sm.create_hyper_parameter_tuning_job(**body)
    desc = wait_tuning(sm, "conv")
    assert desc["HyperParameterTuningJobStatus"] == "Completed", desc
    # A window of max(5, 20/5) jobs: converged once 2 windows (10 jobs) are in.
    assert desc["TrainingJobStatusCounters"]["Completed"] == 10
    det = desc["TuningJobCompletionDetails"]
    assert det["NumberOfTrainingJobsObjectiveNotImproving"] == 9
    assert desc["CreationTime"] <= det["ConvergenceDetectedTime"] <= \
        desc["HyperParameterTuningEndTime"]
    runtime = desc["ConsumedResources"]["RuntimeInSeconds"]
    d.stop(signal.SIGKILL)
    d.start()
    sm = client(d)
    again = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="conv")
    assert again["TuningJobCompletionDetails"] == det
    assert again["ConsumedResources"]["RuntimeInSeconds"] == runtime  # ended: it stays
    d.stop()


def test_convergence_disabled_is_echoed_and_runs_the_budget(hpod_auth):
    """CompleteOnConvergence Disabled: Describe answers it as given, and the
    flat objective that converges above (10 jobs) runs all 12."""
    sm = client(hpod_auth)
    body = tuning_request("noconv", max_jobs=12, parallel=3, strategy="Random", static=STATIC,
                          ranges=CONST)
    body["HyperParameterTuningJobConfig"]["TuningJobCompletionCriteria"] = {
        "ConvergenceDetected": {"CompleteOnConvergence": "Disabled"}}
    sm.create_hyper_parameter_tuning_job(**body)
    d = wait_tuning(sm, "noconv")
    assert d["HyperParameterTuningJobStatus"] == "Completed", d
    assert d["HyperParameterTuningJobConfig"]["TuningJobCompletionCriteria"] == {
        "ConvergenceDetected": {"CompleteOnConvergence": "Disabled"}}
    assert d["TrainingJobStatusCounters"]["Completed"] == 12
    assert "ConvergenceDetectedTime" not in d.get("TuningJobCompletionDetails", {})


def test_tuning_max_runtime_completes(hpod_auth):
    sm = client(hpod_auth)
    body = tuning_request("clock", max_jobs=50, parallel=1, strategy="Random",
                          static={"mode": "normal", "sleep": "1"})
    body["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxRuntimeInSeconds"] = 4
    st, js = current_call(hpod_auth, "CreateHyperParameterTuningJob", body)  # below boto3's 120
    assert st == 200, js
    d = wait_tuning(sm, "clock", timeout=60)
    assert d["HyperParameterTuningJobStatus"] == "Completed", d
    assert 4 <= d["ConsumedResources"]["RuntimeInSeconds"] <= 12, d["ConsumedResources"]
    jobs = jobs_of(sm, "clock")
    assert 1 <= statuses(jobs).get("Completed", 0) < 50
    assert set(statuses(jobs)) <= {"Completed", "Stopped"}


def test_completion_criteria_refused_by_2017_api(hpod_auth):
    from conftest import job_request
    body = job_request("old")
    body["TuningJobConfig"]["TuningJobCompletionCriteria"] = {"TargetObjectiveMetricValue": 1}
    st, js = signed(hpod_auth, "/CreateTuningJob", body)
    assert st == 400, js
    assert "TuningJobCompletionCriteria" in json.dumps(js)
    body = job_request("old")
    body["TrainingJobDefinition"]["RetryStrategy"] = {"MaximumRetryAttempts": 2}
    st, js = signed(hpod_auth, "/CreateTuningJob", body)
    assert st == 400 and "RetryStrategy" in json.dumps(js), js


# ---------- retries ----------

def wait_runner(d, other_than=(), timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        pids = [p for p in d.runner_pids() if p not in other_than]
        if pids:
            return pids[0]
        time.sleep(0.05)
    raise AssertionError("no new hpo-runner; log: %s" % d.read_log())


def sleeping_job(name, retries=None, max_runtime=600):
    body = tuning_request(name, max_jobs=1, parallel=1, strategy="Random",
                          static={"mode": "sleep", "sleep": "3600"})
    body["TrainingJobDefinition"]["StoppingCondition"]["MaxRuntimeInSeconds"] = max_runtime
    if retries is not None:
        body["TrainingJobDefinition"]["RetryStrategy"] = {"MaximumRetryAttempts": retries}
    return body


def retried_attempt(d, name):
    st, js = signed(d, "/ListTrainingJobsForTuningJob",
                    {"AwsAccountId": ACCOUNT, "TuningJobName": name})
    assert st == 200, js
    return [j["RetriedAttempt"] for j in js["TrainingJobSummaries"]]


def test_retry_sigkilled_runner_up_to_maximum(hpod_auth):
    d = hpod_auth
    sm = client(d)
    sm.create_hyper_parameter_tuning_job(**sleeping_job("retry", retries=2))
    seen = []
    for attempt in range(3):  # the first run and 2 retries, each killed
        pid = wait_runner(d, seen)
        seen.append(pid)
        time.sleep(0.3)
        os.kill(pid, signal.SIGKILL)
    desc = wait_tuning(sm, "retry", timeout=60)
    assert desc["HyperParameterTuningJobStatus"] == "Failed"
    job = jobs_of(sm, "retry")[0]
    tj = sm.describe_training_job(TrainingJobName=job["TrainingJobName"])
    assert tj["TrainingJobStatus"] == "Failed"
    assert tj["FailureReason"].startswith("InternalServerError"), tj["FailureReason"]
    assert "lost 3 times" in tj["FailureReason"]
    assert tj["RetryStrategy"] == {"MaximumRetryAttempts": 2}
    assert retried_attempt(d, "retry") == [2]
    c = desc["TrainingJobStatusCounters"]
    assert (c["RetryableError"], c["NonRetryableError"]) == (1, 0), c
    assert d.runner_pids() == []


def test_program_failure_is_not_retried(hpod_auth):
    d = hpod_auth
    sm = client(d)
    body = tuning_request("crash", max_jobs=2, parallel=1, strategy="Random",
                          static={"mode": "crash"})
    body["TrainingJobDefinition"]["RetryStrategy"] = {"MaximumRetryAttempts": 5}
    sm.create_hyper_parameter_tuning_job(**body)
    desc = wait_tuning(sm, "crash")
    assert desc["HyperParameterTuningJobStatus"] == "Failed"
    c = desc["TrainingJobStatusCounters"]
    assert (c["RetryableError"], c["NonRetryableError"]) == (0, 2), c
    assert retried_attempt(d, "crash") == [0, 0]
    for j in jobs_of(sm, "crash"):
        assert j["FailureReason"].startswith("AlgorithmError"), j


def test_retry_default_and_runtime_covers_attempts(hpod_auth):
    d = hpod_auth
    sm = client(d)
    # Without RetryStrategy a lost runner is still relaunched (TRIAL_MAX_RETRIES); the
    # relaunch runs for what is left of MaxRuntimeInSeconds, counted from the first start.
    sm.create_hyper_parameter_tuning_job(**sleeping_job("budget", max_runtime=6))
    pid = wait_runner(d)
    time.sleep(3)
    os.kill(pid, signal.SIGKILL)
    wait_runner(d, [pid])
    desc = wait_tuning(sm, "budget", timeout=60)
    job = jobs_of(sm, "budget")[0]
    tj = sm.describe_training_job(TrainingJobName=job["TrainingJobName"])
    assert tj["TrainingJobStatus"] == "Stopped", tj
    assert tj["SecondaryStatus"] == "MaxRuntimeExceeded"
    assert retried_attempt(d, "budget") == [1]
    took = (tj["TrainingEndTime"] - tj["TrainingStartTime"]).total_seconds()
    assert 5 <= took < 9, took  # 6 s in all, not 3 + 6
    assert desc["TrainingJobStatusCounters"]["Stopped"] == 1


# ---------- delete ----------

def test_delete_removes_the_tuning_job_only(hpod_auth):
    d = hpod_auth
    sm = client(d)
    body = tuning_request("gone", max_jobs=2, parallel=2, strategy="Random",
                          tags=[{"Key": "team", "Value": "a"}])
    arn = sm.create_hyper_parameter_tuning_job(**body)["HyperParameterTuningJobArn"]
    # Not while it runs: a ValidationException.
    with pytest.raises(sm.exceptions.ClientError) as e:
        sm.delete_hyper_parameter_tuning_job(HyperParameterTuningJobName="gone")
    assert error_code(e) == "ValidationException"
    assert "InProgress" in e.value.response["Error"]["Message"]
    assert wait_tuning(sm, "gone")["HyperParameterTuningJobStatus"] == "Completed"
    jobs = jobs_of(sm, "gone")
    assert len(jobs) == 2
    sm.delete_hyper_parameter_tuning_job(HyperParameterTuningJobName="gone")
    with pytest.raises(sm.exceptions.ClientError) as e:
        sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="gone")
    assert error_code(e) == "ResourceNotFound"
    with pytest.raises(sm.exceptions.ClientError) as e:
        sm.delete_hyper_parameter_tuning_job(HyperParameterTuningJobName="gone")
    assert error_code(e) == "ResourceNotFound"
    assert sm.list_hyper_parameter_tuning_jobs()["HyperParameterTuningJobSummaries"] == []
    st, js = signed(d, "/DescribeTuningJob", {"AwsAccountId": ACCOUNT, "TuningJobName": "gone"})
    assert st == 404, js
    with pytest.raises(sm.exceptions.ClientError) as e:  # its tags went with it
        sm.list_tags(ResourceArn=arn)
    assert error_code(e) == "ValidationException"
    # The training jobs, their tags and their artifacts stay.
    listed = {j["TrainingJobName"] for j in sm.list_training_jobs()["TrainingJobSummaries"]}
    for j in jobs:
        assert j["TrainingJobName"] in listed
        tj = sm.describe_training_job(TrainingJobName=j["TrainingJobName"])
        assert tj["TrainingJobStatus"] == "Completed" and tj["TuningJobArn"] == arn
        uri = tj["ModelArtifacts"]["S3ModelArtifacts"]
        assert os.path.exists(uri[len("file://"):]), uri
        tags = sm.list_tags(ResourceArn=tj["TrainingJobArn"])["Tags"]
        assert tags == [{"Key": "team", "Value": "a"}]
    # The name is free again.
    sm.create_hyper_parameter_tuning_job(**tuning_request("gone", max_jobs=1, parallel=1))
    assert wait_tuning(sm, "gone")["HyperParameterTuningJobStatus"] == "Completed"
    assert sm.list_tags(ResourceArn=arn)["Tags"] == []


def test_delete_stopped_job_and_stopping_refused(hpod_auth):
    sm = client(hpod_auth)
    sm.create_hyper_parameter_tuning_job(**sleeping_job("halt"))
    wait_runner(hpod_auth)
    sm.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName="halt")
    try:
        sm.delete_hyper_parameter_tuning_job(HyperParameterTuningJobName="halt")
        refused = False
    except sm.exceptions.ClientError as e:  # Stopping: not final yet
        assert e.response["Error"]["Code"] == "ValidationException"
        refused = True
    if refused:
        assert wait_tuning(sm, "halt")["HyperParameterTuningJobStatus"] == "Stopped"
        sm.delete_hyper_parameter_tuning_job(HyperParameterTuningJobName="halt")
    with pytest.raises(sm.exceptions.ClientError):
        sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="halt")


def test_delete_finished_after_kill9(tmp_path):
    """A daemon that dies (kill -9) after a deletion's first step — the status Deleting is
    durable, the tombstone not yet written — leaves the row Deleting; the next daemon
    finishes the deletion before it loads anything."""
    from test_current_api import write_credentials
    d = Hpod(str(tmp_path), ["--credentials", write_credentials(tmp_path)]).start()
    sm = client(d)
    sm.create_hyper_parameter_tuning_job(**tuning_request("half", max_jobs=1, parallel=1))
    assert wait_tuning(sm, "half")["HyperParameterTuningJobStatus"] == "Completed"
    job = jobs_of(sm, "half")[0]["TrainingJobName"]
    d.stop(signal.SIGKILL)
    db = sqlite3.connect(os.path.join(d.data, "openhpo.db"))
    db.execute("UPDATE tuning_jobs SET status='Deleting' WHERE name='half'")
    db.commit()
    db.close()
    d.start()
    sm = client(d)
    with pytest.raises(sm.exceptions.ClientError) as e:
        sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="half")
    assert error_code(e) == "ResourceNotFound"
    assert sm.describe_training_job(TrainingJobName=job)["TrainingJobStatus"] == "Completed"
    assert "finished deleting 1 tuning jobs" in d.read_log()
    d.stop()


def test_delete_failed_is_shown_and_retried(hpod_auth):
    """The deletion's second step fails (here: a trigger put into the store makes the
    tombstone's write fail): the call fails, the job is DeleteFailed, and deleting it
    again, once the store works, deletes it."""
    d = hpod_auth
    sm = client(d)
    sm.create_hyper_parameter_tuning_job(**tuning_request("stuck", max_jobs=1, parallel=1))
    assert wait_tuning(sm, "stuck")["HyperParameterTuningJobStatus"] == "Completed"
    db = sqlite3.connect(os.path.join(d.data, "openhpo.db"))
    db.execute("CREATE TRIGGER fail_delete BEFORE UPDATE OF kind ON tuning_jobs"
               " BEGIN SELECT RAISE(ABORT, 'injected failure'); END")
    db.commit()
    st, js = current_call(d, "DeleteHyperParameterTuningJob",
                          {"HyperParameterTuningJobName": "stuck"})
    assert st == 500 and "DeleteFailed" in js["message"], (st, js)
    desc = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="stuck")
    assert desc["HyperParameterTuningJobStatus"] == "DeleteFailed"
    listed = sm.list_hyper_parameter_tuning_jobs(StatusEquals="DeleteFailed")
    assert [s["HyperParameterTuningJobName"]
            for s in listed["HyperParameterTuningJobSummaries"]] == ["stuck"]
    with pytest.raises(sm.exceptions.ClientError) as e:  # final: not stoppable
        sm.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName="stuck")
    assert error_code(e) == "ValidationException"
    db.execute("DROP TRIGGER fail_delete")
    db.commit()
    db.close()
    sm.delete_hyper_parameter_tuning_job(HyperParameterTuningJobName="stuck")
    with pytest.raises(sm.exceptions.ClientError) as e:
        sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="stuck")
    assert error_code(e) == "ResourceNotFound"


# ---------- RandomSeed ----------

@pytest.mark.parametrize("strategy", ["Bayesian", "Random"])
def test_random_seed_repeats_configurations(hpod_auth, strategy):
    sm = client(hpod_auth)
    runs = []
    for name, seed in (("s1", 11), ("s2", 11), ("s3", 12)):
        body = tuning_request(name, max_jobs=4, parallel=1, strategy=strategy)
        body["HyperParameterTuningJobConfig"]["RandomSeed"] = seed
        sm.create_hyper_parameter_tuning_job(**body)
    for name in ("s1", "s2", "s3"):
        assert wait_tuning(sm, name)["HyperParameterTuningJobStatus"] == "Completed"
        jobs = sm.list_training_jobs_for_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=name, SortBy="CreationTime",
            SortOrder="Ascending")["TrainingJobSummaries"]
        runs.append([j["TunedHyperParameters"] for j in jobs])
    assert len(runs[0]) == 4
    assert runs[0] == runs[1]  # the same seed and request: the same sequence
    assert runs[0] != runs[2]  # another seed: another one


# ---------- the hpo CLI ----------

def test_cli_flags_and_delete(hpod_auth, tmp_path):
    env = {"AWS_ACCESS_KEY_ID": KEY_A, "AWS_SECRET_ACCESS_KEY": SECRET_A}
    body = tuning_request("cli", max_jobs=10, parallel=1, strategy="Random", static=STATIC,
                          ranges=CONST)
    path = tmp_path / "cli.json"
    path.write_text(json.dumps(body))
    hpo("create-hyper-parameter-tuning-job", "--cli-input-json", "file://%s" % path,
        "--max-jobs-not-improving", "3", "--random-seed", "5", "--maximum-retry-attempts", "4",
        "--target-objective-metric-value", "7.5", "--complete-on-convergence", "Disabled",
        "--max-runtime-in-seconds", "3600", endpoint=hpod_auth.url, env=env, check=0)
    sm = client(hpod_auth)
    d = wait_tuning(sm, "cli")
    cfg = d["HyperParameterTuningJobConfig"]
    assert cfg["TuningJobCompletionCriteria"]["BestObjectiveNotImproving"] == {
        "MaxNumberOfTrainingJobsNotImproving": 3}
    assert cfg["TuningJobCompletionCriteria"]["TargetObjectiveMetricValue"] == 7.5
    assert cfg["RandomSeed"] == 5 and cfg["ResourceLimits"]["MaxRuntimeInSeconds"] == 3600
    assert d["TrainingJobDefinition"]["RetryStrategy"] == {"MaximumRetryAttempts": 4}
    assert d["TrainingJobStatusCounters"]["Completed"] == 4
    p = hpo("delete", "cli", endpoint=hpod_auth.url, env=env, check=0)
    assert json.loads(p.stdout or "{}") == {}
    p = hpo("delete-hyper-parameter-tuning-job", "cli", endpoint=hpod_auth.url, env=env, check=1)
    assert "ResourceNotFound" in p.stderr
    p = hpo("create-hyper-parameter-tuning-job", "--cli-input-json", "file://%s" % path,
            "--target-objective-metric-value", "x", endpoint=hpod_auth.url, env=env, check=2)
    assert "not a number" in p.stderr
