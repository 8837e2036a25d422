"""End-to-end: the current SageMaker API (JSON 1.1, X-Amz-Target) driven by
Debian's boto3 and /usr/bin/aws against the real hpod, with SigV4 credentials
and two accounts."""
import datetime
import json
import os
import subprocess
import time
from unittest import mock

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.config
import botocore.credentials
import pytest

from conftest import ACCOUNT, Hpod, job_request, private_dir

REGION = "us-east-1"
KEY_A, SECRET_A = "AKIAOPENHPOTESTKEYAA", "secret/A+openhpo-test-key-0001"
OTHER = "210987654321"
KEY_B, SECRET_B = "AKIAOPENHPOTESTKEYBB", "secret/B+openhpo-test-key-0002"
AWS = "/usr/bin/aws"


def write_credentials(tmp):
    """A's file roots are the test's private input and output dirs; B's,
    TMP/b-s3 (b_dir())."""
    path = os.path.join(str(tmp), "credentials.json")
    os.makedirs(b_dir(tmp), exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"credentials": [
            {"access_key_id": KEY_A, "secret_access_key": SECRET_A, "account_id": ACCOUNT,
             "file_roots": [private_dir("input"), private_dir("output")]},
            {"access_key_id": KEY_B, "secret_access_key": SECRET_B, "account_id": OTHER,
             "file_roots": [b_dir(tmp)]},
        ]}, f)
    return path


def b_dir(tmp):
    return os.path.join(str(tmp), "b-s3")


def client(d, key=KEY_A, secret=SECRET_A, retries=True):
    cfg = botocore.config.Config(retries={"max_attempts": 1} if not retries else None)
    return boto3.client("sagemaker", endpoint_url=d.url, region_name=REGION,
                        aws_access_key_id=key, aws_secret_access_key=secret, config=cfg)


def signed(d, path, body, key=KEY_A, secret=SECRET_A, target=None, when=None, tamper=None,
           content_type=None):
    """Sends a request signed as botocore signs; returns (status, json)."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": content_type or
               ("application/x-amz-json-1.1" if target else "application/json")}
    if target:
        headers["X-Amz-Target"] = "SageMaker." + target
    req = botocore.awsrequest.AWSRequest(method="POST", url=d.url + path, data=data,
                                         headers=headers)
    signer = botocore.auth.SigV4Auth(botocore.credentials.Credentials(key, secret),
                                     "sagemaker", REGION)
    if when is not None:
        with mock.patch("botocore.auth.datetime") as m:
            m.datetime.utcnow.return_value = when
            signer.add_auth(req)
    else:
        signer.add_auth(req)
    hdrs = dict(req.headers.items())
    st, _, raw = d.raw(path, tamper if tamper is not None else data, headers=hdrs)
    return st, (json.loads(raw) if raw else None)


def current_call(d, op, body, **kw):
    return signed(d, "/", body, target=op, **kw)


@pytest.fixture
def hpod_auth(tmp_path):
    d = Hpod(str(tmp_path), ["--credentials", write_credentials(tmp_path)]).start()
    yield d
    d.stop()


def tuning_request(name="tune1", max_jobs=6, parallel=2, static=None, strategy="Bayesian",
                   tags=None, ranges=None):
    body = {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": {
            "Strategy": strategy,
            "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "accuracy"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": max_jobs,
                               "MaxParallelTrainingJobs": parallel},
            "ParameterRanges": ranges or {
                "ContinuousParameterRanges": [
                    {"Name": "x", "MinValue": "-5", "MaxValue": "10", "ScalingType": "Linear"}],
                "IntegerParameterRanges": [
                    {"Name": "n", "MinValue": "1", "MaxValue": "15",
                     "ScalingType": "Logarithmic"}],
                "CategoricalParameterRanges": [{"Name": "kind", "Values": ["a", "b", "c"]}],
            },
            "TrainingJobEarlyStoppingType": "Off",
        },
        "TrainingJobDefinition": {
            "AlgorithmSpecification": {
                "TrainingImage": "trainer:latest", "TrainingInputMode": "File",
                "MetricDefinitions": [{"Name": "accuracy", "Regex": "accuracy=([-+0-9.eE]+)"},
                                      {"Name": "loss", "Regex": "loss: ([-+0-9.eE]+)"}]},
            "RoleArn": "arn:aws:iam::%s:role/openhpo" % ACCOUNT,
            "InputDataConfig": [{"ChannelName": "train", "DataSource": {"S3DataSource": {
                "S3DataType": "S3Prefix", "S3Uri": "file://" + private_dir("input")}}}],
            "OutputDataConfig": {"S3OutputPath": "file://" + private_dir("output")},
            "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large",
                               "VolumeSizeInGB": 1},
            "StaticHyperParameters": static if static is not None else {"mode": "normal"},
            "StoppingCondition": {"MaxRuntimeInSeconds": 600},
        },
    }
    if tags:
        body["Tags"] = tags
    return body


def training_request(name="train1", hp=None, max_runtime=600):
    return {
        "TrainingJobName": name,
        "HyperParameters": hp if hp is not None else {"x": "2.5", "n": "7", "kind": "b"},
        "AlgorithmSpecification": {
            "TrainingImage": "trainer:latest", "TrainingInputMode": "File",
            "MetricDefinitions": [{"Name": "accuracy", "Regex": "accuracy=([-+0-9.eE]+)"}]},
        "RoleArn": "arn:aws:iam::%s:role/openhpo" % ACCOUNT,
        "OutputDataConfig": {"S3OutputPath": "file://" + private_dir("output")},
        "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large",
                           "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": max_runtime},
        "Environment": {"OPENHPO_TEST": "yes"},
    }


def wait_tuning(sm, name, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        d = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
        if d["HyperParameterTuningJobStatus"] not in ("InProgress", "Stopping"):
            return d
        time.sleep(0.2)
    raise AssertionError("tuning job %s still %s" % (name, d["HyperParameterTuningJobStatus"]))


def error_code(exc):
    return exc.value.response["Error"]["Code"]


def aws_cli(d, *args, key=KEY_A, secret=SECRET_A):
    env = dict(os.environ, AWS_ACCESS_KEY_ID=key, AWS_SECRET_ACCESS_KEY=secret,
               AWS_DEFAULT_REGION=REGION, AWS_PAGER="", AWS_CONFIG_FILE="/dev/null",
               AWS_SHARED_CREDENTIALS_FILE="/dev/null")
    env.pop("AWS_SESSION_TOKEN", None)
    env.pop("AWS_PROFILE", None)
    return subprocess.run([AWS, "sagemaker", "--endpoint-url", d.url, "--output", "json"] +
                          list(args), env=env, capture_output=True, text=True, timeout=120)


def test_current_tuning_job_boto3_to_completion(hpod_auth):
    sm = client(hpod_auth)
    arn = sm.create_hyper_parameter_tuning_job(**tuning_request())["HyperParameterTuningJobArn"]
    assert arn == "arn:aws:sagemaker:%s:%s:hyper-parameter-tuning-job/tune1" % (REGION, ACCOUNT)
    d = wait_tuning(sm, "tune1")
    assert d["HyperParameterTuningJobStatus"] == "Completed", d
    assert d["HyperParameterTuningJobArn"] == arn
    assert d["TrainingJobStatusCounters"] == {"Completed": 6, "InProgress": 0, "RetryableError": 0,
                                              "NonRetryableError": 0, "Stopped": 0}
    assert d["ObjectiveStatusCounters"] == {"Succeeded": 6, "Pending": 0, "Failed": 0}
    cfg = d["HyperParameterTuningJobConfig"]
    assert cfg["Strategy"] == "Bayesian"
    assert cfg["ResourceLimits"] == {"MaxNumberOfTrainingJobs": 6, "MaxParallelTrainingJobs": 2}
    assert cfg["ParameterRanges"]["IntegerParameterRanges"][0]["ScalingType"] == "Logarithmic"
    assert d["TrainingJobDefinition"]["StaticHyperParameters"] == {"mode": "normal"}
    assert d["HyperParameterTuningEndTime"] >= d["CreationTime"]

    # boto3's paginator, two per page: every job once, in name order.
    pages = list(sm.get_paginator("list_training_jobs_for_hyper_parameter_tuning_job").paginate(
        HyperParameterTuningJobName="tune1", PaginationConfig={"PageSize": 2}))
    assert len(pages) == 3
    assert "NextToken" not in pages[-1]
    jobs = [s for p in pages for s in p["TrainingJobSummaries"]]
    names = [j["TrainingJobName"] for j in jobs]
    assert len(set(names)) == 6 and names == sorted(names)
    for j in jobs:
        assert j["TrainingJobStatus"] == "Completed" and j["ObjectiveStatus"] == "Succeeded"
        assert j["TuningJobName"] == "tune1"
        tuned = j["TunedHyperParameters"]
        assert set(tuned) == {"x", "n", "kind"}
        assert -5 <= float(tuned["x"]) <= 10 and 1 <= int(tuned["n"]) <= 15
    best = max(jobs, key=lambda j: j["FinalHyperParameterTuningJobObjectiveMetric"]["Value"])
    assert d["BestTrainingJob"]["TrainingJobName"] == best["TrainingJobName"]
    top = sm.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="tune1", SortBy="FinalObjectiveMetricValue",
        SortOrder="Descending", MaxResults=1)
    assert top["TrainingJobSummaries"][0]["TrainingJobName"] == best["TrainingJobName"]
    assert "NextToken" in top

    t = sm.describe_training_job(TrainingJobName=best["TrainingJobName"])
    assert t["TrainingJobStatus"] == "Completed" and t["SecondaryStatus"] == "Completed"
    assert t["TuningJobArn"] == arn
    assert t["HyperParameters"]["_tuning_objective_metric"] == "accuracy"
    assert t["HyperParameters"]["mode"] == "normal"
    finals = {m["MetricName"]: m["Value"] for m in t["FinalMetricDataList"]}
    assert finals["accuracy"] == pytest.approx(
        best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"])
    assert "loss" in finals
    statuses = [s["Status"] for s in t["SecondaryStatusTransitions"]]
    assert statuses == ["Starting", "Training", "Completed"]
    for a, b in zip(t["SecondaryStatusTransitions"], t["SecondaryStatusTransitions"][1:]):
        assert a["EndTime"] == b["StartTime"]
    assert t["ModelArtifacts"]["S3ModelArtifacts"].endswith("/output/model.tar.gz")
    assert t["TrainingEndTime"] >= t["TrainingStartTime"] >= t["CreationTime"]

    # The List operations see it.
    lst = sm.list_hyper_parameter_tuning_jobs()["HyperParameterTuningJobSummaries"]
    assert [s["HyperParameterTuningJobName"] for s in lst] == ["tune1"]
    assert lst[0]["ObjectiveStatusCounters"]["Succeeded"] == 6
    all_jobs = [s for p in sm.get_paginator("list_training_jobs").paginate(
        PaginationConfig={"PageSize": 4}) for s in p["TrainingJobSummaries"]]
    assert sorted(s["TrainingJobName"] for s in all_jobs) == sorted(names)
    one = sm.list_training_jobs(NameContains=names[2][-8:])["TrainingJobSummaries"]
    assert [s["TrainingJobName"] for s in one] == [names[2]]
    assert sm.list_training_jobs(StatusEquals="Failed")["TrainingJobSummaries"] == []
    desc = sm.list_training_jobs(SortBy="Name", SortOrder="Descending")["TrainingJobSummaries"]
    assert [s["TrainingJobName"] for s in desc] == sorted(names, reverse=True)


def test_current_training_job_waiter(hpod_auth):
    sm = client(hpod_auth)
    arn = sm.create_training_job(**training_request())["TrainingJobArn"]
    assert arn == "arn:aws:sagemaker:%s:%s:training-job/train1" % (REGION, ACCOUNT)
    sm.get_waiter("training_job_completed_or_stopped").wait(
        TrainingJobName="train1", WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    t = sm.describe_training_job(TrainingJobName="train1")
    assert t["TrainingJobStatus"] == "Completed", t
    assert "TuningJobArn" not in t
    assert "FailureReason" not in t
    assert t["HyperParameters"] == {"x": "2.5", "n": "7", "kind": "b"}
    assert t["Environment"] == {"OPENHPO_TEST": "yes"}
    assert t["FinalMetricDataList"][0]["MetricName"] == "accuracy"
    assert t["FinalMetricDataList"][0]["Value"] == pytest.approx(1.0)
    assert t["ModelArtifacts"]["S3ModelArtifacts"].endswith("train1/output/model.tar.gz")
    # A training job on its own is not a tuning job.
    assert sm.list_hyper_parameter_tuning_jobs()["HyperParameterTuningJobSummaries"] == []
    with pytest.raises(sm.exceptions.ClientError) as e:
        sm.create_training_job(**training_request())
    assert error_code(e) == "ResourceInUse"


def test_current_stop_from_cli(hpod_auth):
    sm = client(hpod_auth)
    sm.create_training_job(**training_request("sleeper", hp={"mode": "sleep"}))
    sm.create_hyper_parameter_tuning_job(**tuning_request(
        "sleepy", max_jobs=4, parallel=2, static={"mode": "sleep"}))
    deadline = time.time() + 30
    while time.time() < deadline:
        t = sm.describe_training_job(TrainingJobName="sleeper")
        if t["SecondaryStatus"] == "Training":
            break
        time.sleep(0.1)
    r = aws_cli(hpod_auth, "stop-training-job", "--training-job-name", "sleeper")
    assert r.returncode == 0, r.stderr
    r = aws_cli(hpod_auth, "stop-hyper-parameter-tuning-job",
                "--hyper-parameter-tuning-job-name", "sleepy")
    assert r.returncode == 0, r.stderr
    sm.get_waiter("training_job_completed_or_stopped").wait(
        TrainingJobName="sleeper", WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    t = sm.describe_training_job(TrainingJobName="sleeper")
    assert t["TrainingJobStatus"] == "Stopped"
    assert "Stopping" in [s["Status"] for s in t["SecondaryStatusTransitions"]]
    d = wait_tuning(sm, "sleepy")
    assert d["HyperParameterTuningJobStatus"] == "Stopped"
    assert d["TrainingJobStatusCounters"]["Stopped"] == 2
    # The CLI reads the job back, and a service error exits 254.
    r = aws_cli(hpod_auth, "describe-training-job", "--training-job-name", "sleeper")
    assert r.returncode == 0 and json.loads(r.stdout)["TrainingJobStatus"] == "Stopped"
    r = aws_cli(hpod_auth, "stop-training-job", "--training-job-name", "sleeper")
    assert r.returncode == 254 and "ValidationException" in r.stderr


def test_current_tags_round_trip(hpod_auth):
    sm = client(hpod_auth)
    arn = sm.create_hyper_parameter_tuning_job(**tuning_request(
        "tagged", max_jobs=1, parallel=1, tags=[{"Key": "team", "Value": "ml"}]))[
        "HyperParameterTuningJobArn"]
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "ml"}]
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": "env", "Value": "dev"},
                                       {"Key": "team", "Value": "hpo"}])
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "env", "Value": "dev"},
                                                     {"Key": "team", "Value": "hpo"}]
    sm.delete_tags(ResourceArn=arn, TagKeys=["team"])
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "env", "Value": "dev"}]
    # Paged with boto3's paginator.
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": "k%02d" % i, "Value": str(i)} for i in range(48)])
    tags = [t for p in sm.get_paginator("list_tags").paginate(
        ResourceArn=arn, PaginationConfig={"PageSize": 50}) for t in p["Tags"]]
    assert len(tags) == 49
    with pytest.raises(sm.exceptions.ClientError) as e:
        sm.add_tags(ResourceArn=arn, Tags=[{"Key": "one", "Value": "1"},
                                           {"Key": "two", "Value": "2"}])
    assert error_code(e) == "ResourceLimitExceeded"
    # Training jobs carry tags too; another account's resource does not exist.
    sm.create_training_job(**dict(training_request("tagjob"), Tags=[{"Key": "a", "Value": "b"}]))
    tarn = "arn:aws:sagemaker:%s:%s:training-job/tagjob" % (REGION, ACCOUNT)
    assert sm.list_tags(ResourceArn=tarn)["Tags"] == [{"Key": "a", "Value": "b"}]
    other = client(hpod_auth, KEY_B, SECRET_B)
    with pytest.raises(other.exceptions.ClientError) as e:
        other.list_tags(ResourceArn=tarn)
    assert error_code(e) == "ValidationException"
    with pytest.raises(other.exceptions.ClientError) as e:
        other.add_tags(ResourceArn=arn, Tags=[{"Key": "x", "Value": "y"}])
    assert error_code(e) == "ValidationException"
    assert len(sm.list_tags(ResourceArn=arn, MaxResults=100)["Tags"]) == 49


def test_current_and_2017_share_jobs_per_account(hpod_auth):
    d = hpod_auth
    sm, other = client(d), client(d, KEY_B, SECRET_B)
    # Created through the 2017 API, signed by account A.
    st, js = signed(d, "/CreateTuningJob", job_request("old", max_jobs=2, parallel=2))
    assert st == 200, js
    # Created through the current API.
    sm.create_hyper_parameter_tuning_job(**tuning_request("new", max_jobs=2, parallel=2))
    old = wait_tuning(sm, "old")
    assert old["HyperParameterTuningJobStatus"] == "Completed"
    assert old["HyperParameterTuningJobArn"].endswith(":tuning-job/old")
    assert old["TrainingJobStatusCounters"]["Completed"] == 2
    jobs = sm.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="old")["TrainingJobSummaries"]
    t = sm.describe_training_job(TrainingJobName=jobs[0]["TrainingJobName"])
    assert "_tuning_objective_metric" not in t["HyperParameters"]  # a 2017 job
    wait_tuning(sm, "new")
    st, js = signed(d, "/DescribeTuningJob", {"AwsAccountId": ACCOUNT, "TuningJobName": "new"})
    assert st == 200 and js["TuningJobStatus"] == "Completed", js
    st, js = signed(d, "/ListTrainingJobsForTuningJob",
                    {"AwsAccountId": ACCOUNT, "TuningJobName": "new"})
    assert st == 200 and len(js["TrainingJobSummaries"]) == 2
    names = sorted(s["HyperParameterTuningJobName"]
                   for s in sm.list_hyper_parameter_tuning_jobs()["HyperParameterTuningJobSummaries"])
    assert names == ["new", "old"]
    # Account B sees none of it, through either API.
    assert other.list_hyper_parameter_tuning_jobs()["HyperParameterTuningJobSummaries"] == []
    assert other.list_training_jobs()["TrainingJobSummaries"] == []
    for name in ("old", "new"):
        with pytest.raises(other.exceptions.ClientError) as e:
            other.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
        assert error_code(e) == "ResourceNotFound"
        st, js = signed(d, "/DescribeTuningJob", {"AwsAccountId": OTHER, "TuningJobName": name},
                        key=KEY_B, secret=SECRET_B)
        assert st == 404 and js["__type"] == "ResourceNotFound"
    with pytest.raises(other.exceptions.ClientError) as e:
        other.describe_training_job(TrainingJobName=jobs[0]["TrainingJobName"])
    assert error_code(e) == "ValidationException"
    with pytest.raises(other.exceptions.ClientError) as e:
        other.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName="new")
    assert error_code(e) == "ResourceNotFound"
    # B may use the same name in its own account (and its own output path).
    other.create_training_job(**dict(training_request("new"), OutputDataConfig={
        "S3OutputPath": "file://" + b_dir(d.tmp)}))
    assert other.describe_training_job(TrainingJobName="new")["TrainingJobArn"].endswith(
        ":%s:training-job/new" % OTHER)


@pytest.mark.parametrize("mutate,field", [
    # (WarmStartConfig is supported: test_warmstart.py. Strategy Hyperband/Grid, StrategyConfig and early stopping Auto are
    # supported: test_strategies.py.)
    (lambda b: b["TrainingJobDefinition"].update(VpcConfig={
        "SecurityGroupIds": ["sg-1"], "Subnets": ["subnet-1"]}), "TrainingJobDefinition.VpcConfig"),
    (lambda b: b["TrainingJobDefinition"].update(EnableManagedSpotTraining=True),
     "TrainingJobDefinition.EnableManagedSpotTraining"),
    (lambda b: b["TrainingJobDefinition"]["AlgorithmSpecification"].update(
        TrainingInputMode="Pipe"), "TrainingInputMode"),
])
def test_current_unsupported_fields_refused(hpod_auth, mutate, field):
    sm = client(hpod_auth)
    body = tuning_request("refused")
    mutate(body)
    with pytest.raises(sm.exceptions.ClientError) as e:
        sm.create_hyper_parameter_tuning_job(**body)
    assert error_code(e) == "ValidationException"
    assert field in e.value.response["Error"]["Message"]
    assert "not supported" in e.value.response["Error"]["Message"]
    assert sm.list_hyper_parameter_tuning_jobs()["HyperParameterTuningJobSummaries"] == []


def test_several_instances_need_a_multi_host_backend(hpod_auth):
    """InstanceCount > 1 is the docker and slurm backends' (test_docker.py,
    test_slurm.py); on the local backend both Create operations refuse it
    naming the member and the backend."""
    sm = client(hpod_auth)
    body = tuning_request("hosts2")
    body["TrainingJobDefinition"]["ResourceConfig"]["InstanceCount"] = 2
    with pytest.raises(sm.exceptions.ClientError) as e:
        sm.create_hyper_parameter_tuning_job(**body)
    msg = e.value.response["Error"]["Message"]
    assert error_code(e) == "ValidationException"
    assert "TrainingJobDefinition.ResourceConfig.InstanceCount" in msg and "'local'" in msg, msg
    req = training_request("hosts2")
    req["ResourceConfig"]["InstanceCount"] = 3
    with pytest.raises(sm.exceptions.ClientError) as e:
        sm.create_training_job(**req)
    msg = e.value.response["Error"]["Message"]
    assert msg.startswith("ResourceConfig.InstanceCount: 3 instances"), msg
    assert sm.list_hyper_parameter_tuning_jobs()["HyperParameterTuningJobSummaries"] == []


def test_current_unsupported_training_fields_and_raw_members(hpod_auth):
    d = hpod_auth
    sm = client(d)
    for extra, field in [({"VpcConfig": {"SecurityGroupIds": ["sg-1"], "Subnets": ["s-1"]}},
                          "VpcConfig"),
                         ({"DebugHookConfig": {"S3OutputPath": "s3://b/d"}}, "DebugHookConfig"),
                         ({"EnableNetworkIsolation": True}, "EnableNetworkIsolation")]:
        with pytest.raises(sm.exceptions.ClientError) as e:
            sm.create_training_job(**dict(training_request(), **extra))
        assert error_code(e) == "ValidationException"
        assert field in e.value.response["Error"]["Message"]
    # Members newer than boto3 1.26's model, sent raw: Autotune refused; RandomSeed,
    # ResourceLimits.MaxRuntimeInSeconds and Environment on the definition supported.
    body = tuning_request("raw")
    body["Autotune"] = {"Mode": "Enabled"}
    st, js = current_call(d, "CreateHyperParameterTuningJob", body)
    assert st == 400 and js["__type"] == "ValidationException" and "Autotune" in js["message"]
    bad = tuning_request("raw")
    bad["HyperParameterTuningJobConfig"]["RandomSeed"] = "seven"
    st, js = current_call(d, "CreateHyperParameterTuningJob", bad)
    assert st == 400 and "RandomSeed" in js["message"]
    names = []
    for name in ("seeded1", "seeded2"):
        body = tuning_request(name, max_jobs=3, parallel=1, strategy="Random")
        body["HyperParameterTuningJobConfig"]["RandomSeed"] = 42
        body["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxRuntimeInSeconds"] = 3600
        body["TrainingJobDefinition"]["Environment"] = {"OPENHPO_ENV": "1"}
        st, js = current_call(d, "CreateHyperParameterTuningJob", body)
        assert st == 200, js
        names.append(name)
    tuned = []
    for name in names:
        desc = wait_tuning(sm, name)
        assert desc["HyperParameterTuningJobStatus"] == "Completed"
        st, raw = current_call(d, "DescribeHyperParameterTuningJob",
                               {"HyperParameterTuningJobName": name})
        assert raw["HyperParameterTuningJobConfig"]["RandomSeed"] == 42
        assert raw["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxRuntimeInSeconds"] == 3600
        assert raw["TrainingJobDefinition"]["Environment"] == {"OPENHPO_ENV": "1"}
        jobs = sm.list_training_jobs_for_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=name, SortBy="CreationTime")["TrainingJobSummaries"]
        tuned.append([j["TunedHyperParameters"] for j in jobs])
    assert tuned[0] == tuned[1]  # the same seed proposes the same configurations


def test_current_errors(hpod_auth):
    d = hpod_auth
    sm = client(d)
    with pytest.raises(sm.exceptions.ClientError) as e:
        sm.describe_training_job(TrainingJobName="nope")
    assert error_code(e) == "ValidationException"
    assert e.value.response["Error"]["Message"] == "Requested resource not found."
    with pytest.raises(sm.exceptions.ResourceNotFound):
        sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="nope")
    with pytest.raises(sm.exceptions.ResourceNotFound):
        sm.list_training_jobs_for_hyper_parameter_tuning_job(HyperParameterTuningJobName="nope")
    with pytest.raises(sm.exceptions.ResourceNotFound):
        sm.stop_training_job(TrainingJobName="nope")
    sm.create_hyper_parameter_tuning_job(**tuning_request("dup", max_jobs=1, parallel=1))
    with pytest.raises(sm.exceptions.ResourceInUse):
        sm.create_hyper_parameter_tuning_job(**tuning_request("dup", max_jobs=1, parallel=1))
    # Semantic checks name the current API's members.
    body = tuning_request("badobj")
    body["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]["MetricName"] = "f1"
    with pytest.raises(sm.exceptions.ClientError) as e:
        sm.create_hyper_parameter_tuning_job(**body)
    assert error_code(e) == "ValidationException"
    assert "HyperParameterTuningJobConfig.HyperParameterTuningJobObjective" in \
        e.value.response["Error"]["Message"]
    body = tuning_request("badpar", max_jobs=2, parallel=3)
    with pytest.raises(sm.exceptions.ClientError) as e:
        sm.create_hyper_parameter_tuning_job(**body)
    assert "MaxParallelTrainingJobs" in e.value.response["Error"]["Message"]
    with pytest.raises(sm.exceptions.ClientError) as e:
        sm.create_training_job(**dict(training_request(), AlgorithmSpecification={
            "TrainingImage": "no-such:image", "TrainingInputMode": "File"}))
    assert "TrainingImage" in e.value.response["Error"]["Message"]
    # Unknown target, empty body, bad JSON, wrong content type.
    st, js = current_call(d, "DescribeEndpoint", {})
    assert st == 400 and js["__type"] == "UnknownOperationException", js
    st, js = current_call(d, "ListTrainingJobs", b"")
    assert st == 200 and len(js["TrainingJobSummaries"]) == 1, js  # dup's one job
    st, js = current_call(d, "ListTrainingJobs", b"{nope")
    assert st == 400 and js["__type"] == "ValidationException"
    st, js = current_call(d, "ListTrainingJobs", {}, content_type="text/plain")
    assert st == 400 and js["__type"] == "ValidationException"
    st, js = current_call(d, "ListTrainingJobs", {"MaxResults": 1000})
    assert st == 400 and "MaxResults" in js["message"]
    st, js = current_call(d, "ListTrainingJobs", {"NextToken": "1.abc"})
    assert st == 400 and "NextToken" in js["message"]
