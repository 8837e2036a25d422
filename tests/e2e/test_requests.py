"""End-to-end: the typed request under both APIs (issue 8): an unknown image
answered at once with the daemon still serving, tuning job tags on the
training jobs it launches, names unique case-insensitively, and the edge
inputs refused with messages naming them."""
import json
import time
import urllib.request

import pytest

from conftest import ACCOUNT, job_request
from test_current_api import (client, error_code, hpod_auth, signed,  # noqa: F401 (fixture)
                              training_request, tuning_request)

CPR17 = "TuningJobConfig.ParameterRanges.ContinuousParameterRanges"
CPRC = "HyperParameterTuningJobConfig.ParameterRanges.ContinuousParameterRanges"


def test_unknown_image_is_refused_and_the_daemon_serves_on(hpod_auth):
    d = hpod_auth
    sm = client(d, retries=False)
    body = tuning_request("noimage")
    body["TrainingJobDefinition"]["AlgorithmSpecification"]["TrainingImage"] = "no-such:image"
    t0 = time.time()
    with pytest.raises(sm.exceptions.ClientError) as e:
        sm.create_hyper_parameter_tuning_job(**body)
    assert time.time() - t0 < 5
    assert error_code(e) == "ValidationException"
    msg = e.value.response["Error"]["Message"]
    assert "TrainingJobDefinition.AlgorithmSpecification.TrainingImage" in msg, msg
    assert "no-such:image" in msg
    with urllib.request.urlopen(d.url + "/health", timeout=5) as r:
        assert r.status == 200
    assert sm.list_hyper_parameter_tuning_jobs()["HyperParameterTuningJobSummaries"] == []
    # CreateTrainingJob names the member by its own path
    with pytest.raises(sm.exceptions.ClientError) as e:
        sm.create_training_job(**dict(training_request(), AlgorithmSpecification={
            "TrainingImage": "no-such:image", "TrainingInputMode": "File"}))
    assert e.value.response["Error"]["Message"].startswith("AlgorithmSpecification.TrainingImage")


def test_child_training_jobs_carry_the_tuning_jobs_tags(hpod_auth):
    sm = client(hpod_auth)
    tags = [{"Key": "team", "Value": "ml"}, {"Key": "cost-center", "Value": "42"}]
    sm.create_hyper_parameter_tuning_job(**tuning_request("tagged", max_jobs=2, parallel=2,
                                                          tags=tags))
    deadline = time.time() + 60
    jobs = []
    while time.time() < deadline and len(jobs) < 2:
        jobs = sm.list_training_jobs_for_hyper_parameter_tuning_job(
            HyperParameterTuningJobName="tagged")["TrainingJobSummaries"]
        time.sleep(0.1)
    assert len(jobs) == 2
    for j in jobs:
        got = sm.list_tags(ResourceArn=j["TrainingJobArn"])["Tags"]
        assert sorted(got, key=lambda t: t["Key"]) == sorted(tags, key=lambda t: t["Key"])
    # the 2017 API's Tags too
    st, js = signed(hpod_auth, "/CreateTuningJob",
                    dict(job_request("old", max_jobs=1, parallel=1),
                         Tags=[{"Key": "api", "Value": "2017"}]))
    assert st == 200, js
    deadline = time.time() + 60
    jobs = []
    while time.time() < deadline and not jobs:
        jobs = sm.list_training_jobs_for_hyper_parameter_tuning_job(
            HyperParameterTuningJobName="old")["TrainingJobSummaries"]
        time.sleep(0.1)
    assert sm.list_tags(ResourceArn=jobs[0]["TrainingJobArn"])["Tags"] == [
        {"Key": "api", "Value": "2017"}]


def test_names_differing_in_case_are_in_use(hpod_auth):
    d = hpod_auth
    sm = client(d)
    sm.create_hyper_parameter_tuning_job(**tuning_request("Case-Job", max_jobs=1, parallel=1))
    with pytest.raises(sm.exceptions.ResourceInUse):
        sm.create_hyper_parameter_tuning_job(**tuning_request("case-JOB", max_jobs=1, parallel=1))
    st, js = signed(d, "/CreateTuningJob", job_request("CASE-JOB", max_jobs=1, parallel=1))
    assert (st, js["__type"]) == (400, "ResourceInUse"), js
    sm.create_training_job(**training_request("Train-One"))
    with pytest.raises(sm.exceptions.ClientError) as e:
        sm.create_training_job(**training_request("train-one"))
    assert error_code(e) == "ResourceInUse"
    names = [s["TrainingJobName"] for s in sm.list_training_jobs()["TrainingJobSummaries"]]
    assert "Train-One" in names and "train-one" not in names


WIDE = {"Name": "x", "MinValue": "-1.7e308", "MaxValue": "1.7e308"}


def test_non_finite_width_refused_in_both_apis(hpod_auth):
    d = hpod_auth
    sm = client(d)
    body = tuning_request("wide", ranges={"ContinuousParameterRanges": [WIDE]})
    with pytest.raises(sm.exceptions.ClientError) as e:
        sm.create_hyper_parameter_tuning_job(**body)
    msg = e.value.response["Error"]["Message"]
    assert error_code(e) == "ValidationException"
    assert CPRC + "[0]" in msg and "not finite" in msg and "'x'" in msg, msg
    st, js = signed(d, "/CreateTuningJob", job_request(
        "wide", ranges={"ContinuousParameterRanges": [dict(WIDE, Type="Continuous")]}))
    assert (st, js["__type"]) == (400, "ValidationError"), js
    assert CPR17 + "[0]" in js["message"] and "not finite" in js["message"], js
    # half of it is fine
    st, js = signed(d, "/CreateTuningJob", job_request(
        "half", max_jobs=1, parallel=1, ranges={"ContinuousParameterRanges": [
            dict(WIDE, MinValue="0", Type="Continuous")]}))
    assert st == 200, js


def test_sm_hp_collisions_refused_in_both_apis(hpod_auth):
    d = hpod_auth
    sm = client(d)
    body = tuning_request("clash", static={"mode": "normal", "a-b": "1", "a_b": "2"})
    with pytest.raises(sm.exceptions.ClientError) as e:
        sm.create_hyper_parameter_tuning_job(**body)
    msg = e.value.response["Error"]["Message"]
    assert "'a-b'" in msg and "'a_b'" in msg and "SM_HP_A_B" in msg, msg
    st, js = signed(d, "/CreateTuningJob", job_request("clash", static={"LR": "0.1"}, ranges={
        "ContinuousParameterRanges": [{"Name": "lr", "MinValue": "0", "MaxValue": "1",
                                       "Type": "Continuous"}]}))
    assert (st, js["__type"]) == (400, "ValidationError"), js
    m = js["message"]
    assert "'lr'" in m and "'LR'" in m and "SM_HP_LR" in m and CPR17 + "[0].Name" in m, m
    with pytest.raises(sm.exceptions.ClientError) as e:
        sm.create_training_job(**training_request("clash", hp={"lr": "1", "LR": "2"}))
    assert "SM_HP_LR" in e.value.response["Error"]["Message"]
