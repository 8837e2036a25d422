"""End-to-end through boto3 (current API): TrainingJobDefinitions, several
algorithms in one tuning job. Two definitions, two programs (trainer.py and
curve_trainer.py) with their own ranges, objectives, static hyperparameters
and images: both run, MaxNumberOfTrainingJobs divided between them (job i runs
definition i mod n), the summaries carry each job's TrainingJobDefinitionName
and its definition's objective metric, BestTrainingJob is the best across the
definitions, Describe echoes TrainingJobDefinitions; Grid runs each
definition's combinations; the request rules (names, objectives, at most ten,
not with TrainingJobDefinition) are ValidationExceptions in the API's field
paths; the 2017 API refuses the member; a kill -9 of hpod mid-run keeps each
job's definition."""
import copy
import json
import os
import signal
import sys
import time

import botocore.exceptions
import pytest

from conftest import ACCOUNT, TRAINER, Hpod, job_request, private_dir
from test_cli import hpo
from test_current_api import (KEY_A, SECRET_A, client, current_call, error_code, wait_tuning,
                              write_credentials)

HERE = os.path.dirname(os.path.abspath(__file__))
CURVE = os.path.join(HERE, "curve_trainer.py")


def start_hpod(tmp):
    images = os.path.join(str(tmp), "images.json")
    with open(images, "w") as f:
        json.dump({"trainer:latest": [sys.executable, TRAINER],
                   "curve:latest": [sys.executable, CURVE]}, f)
    return Hpod(str(tmp), ["--credentials", write_credentials(tmp)]).start()


@pytest.fixture
def hpod_defs(tmp_path):
    d = start_hpod(tmp_path)
    yield d
    d.stop()


def definition(name, image, metric, regex, ranges, static, mtype="Maximize"):
    return {
        "DefinitionName": name,
        "TuningObjective": {"Type": mtype, "MetricName": metric},
        "HyperParameterRanges": copy.deepcopy(ranges),
        "StaticHyperParameters": static,
        "AlgorithmSpecification": {
            "TrainingImage": image, "TrainingInputMode": "File",
            "MetricDefinitions": [{"Name": metric, "Regex": regex}]},
        "RoleArn": "arn:aws:iam::%s:role/openhpo" % ACCOUNT,
        "InputDataConfig": [{"ChannelName": "train", "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": "file://" + private_dir("input")}}}],
        "OutputDataConfig": {"S3OutputPath": "file://" + private_dir("output")},
        "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large",
                           "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    }


# trainer.py: accuracy = -(x - 2.5)^2 - 0.1 (n - 7)^2 + {a: 0}: at most -42.25 here.
QUAD_RANGES = {"ContinuousParameterRanges": [{"Name": "x", "MinValue": "-5", "MaxValue": "-4"}],
               "CategoricalParameterRanges": [{"Name": "kind", "Values": ["a"]}]}
# curve_trainer.py: val_loss = q + 0.1 / epochs, in [1.05, 2.05] here: always better.
WAVE_RANGES = {"ContinuousParameterRanges": [{"Name": "q", "MinValue": "1", "MaxValue": "2"}]}


def two_definitions(quad_static=None, wave_static=None):
    return [
        definition("quad", "trainer:latest", "accuracy", "accuracy=([-+0-9.eE]+)", QUAD_RANGES,
                   quad_static or {"mode": "normal", "n": "7", "algo": "quad"}),
        definition("wave", "curve:latest", "score", "val_loss=([-+0-9.eE]+)", WAVE_RANGES,
                   wave_static or {"epochs": "2", "algo": "wave"}),
    ]


def request(name, defs, max_jobs=6, parallel=2, strategy="Random"):
    limits = {"MaxParallelTrainingJobs": parallel}
    if max_jobs is not None:
        limits["MaxNumberOfTrainingJobs"] = max_jobs
    return {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": {"Strategy": strategy, "ResourceLimits": limits,
                                          "TrainingJobEarlyStoppingType": "Off"},
        "TrainingJobDefinitions": defs,
    }


def jobs_of(sm, name):
    out, token = [], None
    while True:
        kw = {"NextToken": token} if token else {}
        r = sm.list_training_jobs_for_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=name, MaxResults=100, **kw)
        out += r["TrainingJobSummaries"]
        token = r.get("NextToken")
        if not token:
            return out


def index_of(job_name):
    """The 1-based index in <tuning>-<NNN>-<hex>[-k]."""
    return int(job_name.split("-")[1])


TUNED = {"quad": {"x", "kind"}, "wave": {"q"}}
METRIC = {"quad": "accuracy", "wave": "score"}
IMAGE = {"quad": "trainer:latest", "wave": "curve:latest"}


def check_jobs(jobs, n):
    """n jobs, definition i mod 2 for index i (0-based), each with its own
    tuned hyperparameters and objective metric."""
    assert len(jobs) == n, jobs
    for j in jobs:
        dn = j["TrainingJobDefinitionName"]
        assert dn == ("quad", "wave")[(index_of(j["TrainingJobName"]) - 1) % 2], j
        assert set(j["TunedHyperParameters"]) == TUNED[dn], j
        if "FinalHyperParameterTuningJobObjectiveMetric" in j:
            assert j["FinalHyperParameterTuningJobObjectiveMetric"]["MetricName"] == METRIC[dn]


def test_two_definitions_run_and_the_best_is_across_them(hpod_defs):
    sm = client(hpod_defs)
    sm.create_hyper_parameter_tuning_job(**request("multi", two_definitions()))
    d = wait_tuning(sm, "multi", timeout=120)
    assert d["HyperParameterTuningJobStatus"] == "Completed", d
    jobs = jobs_of(sm, "multi")
    check_jobs(jobs, 6)
    assert all(j["TrainingJobStatus"] == "Completed" for j in jobs), jobs
    by_def = {}
    for j in jobs:
        by_def.setdefault(j["TrainingJobDefinitionName"], []).append(
            j["FinalHyperParameterTuningJobObjectiveMetric"]["Value"])
    assert sorted(by_def) == ["quad", "wave"] and all(len(v) == 3 for v in by_def.values())
    assert max(by_def["quad"]) < -40 < 1 < min(by_def["wave"]), by_def  # both really ran
    # The best across both definitions: the second one's, by value.
    best = d["BestTrainingJob"]
    assert best["TrainingJobDefinitionName"] == "wave", best
    assert best["FinalHyperParameterTuningJobObjectiveMetric"] == {
        "MetricName": "score", "Type": "Maximize", "Value": max(by_def["wave"])}
    assert d["ObjectiveStatusCounters"]["Succeeded"] == 6
    # Describe echoes the definitions as given, without the single-definition members.
    assert "TrainingJobDefinition" not in d
    echo = d["TrainingJobDefinitions"]
    assert [e["DefinitionName"] for e in echo] == ["quad", "wave"]
    assert echo[1]["TuningObjective"] == {"Type": "Maximize", "MetricName": "score"}
    assert echo[1]["HyperParameterRanges"]["ContinuousParameterRanges"][0]["Name"] == "q"
    assert echo[0]["StaticHyperParameters"] == {"mode": "normal", "n": "7", "algo": "quad"}
    assert echo[1]["AlgorithmSpecification"]["TrainingImage"] == "curve:latest"
    cfg = d["HyperParameterTuningJobConfig"]
    assert "HyperParameterTuningJobObjective" not in cfg and "ParameterRanges" not in cfg, cfg
    # Each training job ran its definition: image, static hyperparameters.
    for j in jobs:
        dn = j["TrainingJobDefinitionName"]
        t = sm.describe_training_job(TrainingJobName=j["TrainingJobName"])
        assert t["AlgorithmSpecification"]["TrainingImage"] == IMAGE[dn]
        assert t["HyperParameters"]["algo"] == dn, t["HyperParameters"]
        assert t["HyperParameters"]["_tuning_objective_metric"] == METRIC[dn]
        assert [m["MetricName"] for m in t["FinalMetricDataList"]] == [METRIC[dn]]
    # The hpo CLI's listing shows each job's definition.
    p = hpo("--endpoint-url", hpod_defs.url, "--output", "table",
            "list-training-jobs-for-hyper-parameter-tuning-job", "multi",
            env={"AWS_ACCESS_KEY_ID": KEY_A, "AWS_SECRET_ACCESS_KEY": SECRET_A}, check=0)
    lines = p.stdout.splitlines()
    assert "TrainingJobDefinitionName" in lines[0], p.stdout
    for j in jobs:
        row = [ln for ln in lines if j["TrainingJobName"] in ln]
        assert len(row) == 1 and j["TrainingJobDefinitionName"] in row[0].split(), p.stdout
    # The dashboard's training jobs name their definitions too.
    from test_ui_api import get_json, login
    cookie, _ = login(hpod_defs)
    ui = get_json(hpod_defs, "/ui/api/tuning-jobs/multi", cookie)
    assert {t["name"]: t["definition"] for t in ui["training_jobs"]} == {
        j["TrainingJobName"]: j["TrainingJobDefinitionName"] for j in jobs}


def test_a_definition_that_fails_does_not_hide_the_other(hpod_defs):
    """The best is the other definition's even when the first definition's
    jobs all fail: definitions are run and judged together."""
    sm = client(hpod_defs)
    defs = two_definitions(quad_static={"mode": "crash", "n": "7", "algo": "quad"})
    sm.create_hyper_parameter_tuning_job(**request("halfbad", defs, max_jobs=4))
    d = wait_tuning(sm, "halfbad", timeout=120)
    assert d["HyperParameterTuningJobStatus"] == "Completed", d
    jobs = jobs_of(sm, "halfbad")
    check_jobs(jobs, 4)
    for j in jobs:
        want = "Failed" if j["TrainingJobDefinitionName"] == "quad" else "Completed"
        assert j["TrainingJobStatus"] == want, j
    assert d["BestTrainingJob"]["TrainingJobDefinitionName"] == "wave"
    assert d["TrainingJobStatusCounters"]["NonRetryableError"] == 2


def test_grid_runs_each_definitions_combinations(hpod_defs):
    """Each definition runs its own grid; the one with fewer combinations
    leaves its share of the budget to the other once it is done."""
    sm = client(hpod_defs)
    quad = {"CategoricalParameterRanges": [{"Name": "kind", "Values": ["a", "b"]},
                                           {"Name": "x", "Values": ["2"]}]}
    qs = ("1", "1.25", "1.5", "1.75", "2")
    wave = {"CategoricalParameterRanges": [{"Name": "q", "Values": list(qs)}]}
    defs = two_definitions()
    defs[0]["HyperParameterRanges"] = quad
    defs[1]["HyperParameterRanges"] = wave
    # MaxNumberOfTrainingJobs left out: the sum of the combinations, 2 + 5.
    sm.create_hyper_parameter_tuning_job(**request("grid2", defs, max_jobs=None,
                                                   strategy="Grid"))
    d = wait_tuning(sm, "grid2", timeout=120)
    assert d["HyperParameterTuningJobStatus"] == "Completed", d
    assert d["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"] == 7
    jobs = sorted(jobs_of(sm, "grid2"), key=lambda j: index_of(j["TrainingJobName"]))
    assert [j["TrainingJobDefinitionName"] for j in jobs] == [
        "quad", "wave", "quad", "wave", "wave", "wave", "wave"], jobs
    seen = {"quad": [], "wave": []}
    for j in jobs:
        seen[j["TrainingJobDefinitionName"]].append(tuple(sorted(
            j["TunedHyperParameters"].items())))
    assert sorted(seen["quad"]) == [(("kind", k), ("x", "2")) for k in "ab"]
    assert sorted(seen["wave"]) == [(("q", q),) for q in qs]
    # Best: q=2 gives 2.05.
    assert d["BestTrainingJob"]["TunedHyperParameters"] == {"q": "2"}
    # A MaxNumberOfTrainingJobs that is not the sum is refused.
    with pytest.raises(botocore.exceptions.ClientError) as exc:
        sm.create_hyper_parameter_tuning_job(**request("grid3", defs, max_jobs=6,
                                                       strategy="Grid"))
    assert error_code(exc) == "ValidationException"
    assert "(7)" in str(exc.value), str(exc.value)


def bad(mutate):
    body = request("bad", two_definitions())
    mutate(body)
    return body


def set_in(path, value):
    def f(body):
        node = body
        for k in path[:-1]:
            node = node[k]
        if value is None:
            del node[path[-1]]
        else:
            node[path[-1]] = value
    return f


SINGLE = {
    "AlgorithmSpecification": {"TrainingImage": "trainer:latest", "TrainingInputMode": "File",
                               "MetricDefinitions": [{"Name": "accuracy",
                                                      "Regex": "accuracy=([-+0-9.eE]+)"}]},
    "RoleArn": "arn:aws:iam::%s:role/openhpo" % ACCOUNT,
    "OutputDataConfig": {"S3OutputPath": "file:///tmp"},
    "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 1},
    "StoppingCondition": {"MaxRuntimeInSeconds": 600},
}


def many(n):
    def f(body):
        body["TrainingJobDefinitions"] = [
            dict(copy.deepcopy(body["TrainingJobDefinitions"][0]), DefinitionName="d%d" % i)
            for i in range(n)]
    return f


@pytest.mark.parametrize("mutate, needle", [
    (set_in(["TrainingJobDefinitions", 1, "DefinitionName"], "quad"),
     "TrainingJobDefinitions[1].DefinitionName: 'quad' is already the DefinitionName of "
     "TrainingJobDefinitions[0]"),
    (set_in(["TrainingJobDefinition"], SINGLE),
     "TrainingJobDefinitions: give either TrainingJobDefinition or TrainingJobDefinitions"),
    (many(11), "TrainingJobDefinitions"),
    (set_in(["TrainingJobDefinitions", 1, "TuningObjective"], None),
     "TrainingJobDefinitions[1].TuningObjective: is required"),
    (set_in(["TrainingJobDefinitions", 0, "DefinitionName"], None),
     "TrainingJobDefinitions[0].DefinitionName: is required"),
    (set_in(["TrainingJobDefinitions", 1, "HyperParameterRanges"], None),
     "TrainingJobDefinitions[1].HyperParameterRanges: is required"),
    (set_in(["TrainingJobDefinitions", 1, "TuningObjective", "Type"], "Minimize"),
     "TrainingJobDefinitions[1].TuningObjective.Type: Minimize differs"),
    (set_in(["TrainingJobDefinitions", 1, "TuningObjective", "MetricName"], "nope"),
     "TrainingJobDefinitions[1].TuningObjective.MetricName: 'nope' is not the Name of any of "
     "TrainingJobDefinitions[1].AlgorithmSpecification.MetricDefinitions"),
    (set_in(["HyperParameterTuningJobConfig", "HyperParameterTuningJobObjective"],
            {"Type": "Maximize", "MetricName": "accuracy"}),
     "HyperParameterTuningJobConfig.HyperParameterTuningJobObjective: must be left out"),
    (set_in(["HyperParameterTuningJobConfig", "ParameterRanges"], WAVE_RANGES),
     "HyperParameterTuningJobConfig.ParameterRanges: must be left out"),
    (set_in(["HyperParameterTuningJobConfig", "Strategy"], "Hyperband"),
     "Hyperband is not supported with TrainingJobDefinitions"),
    (set_in(["HyperParameterTuningJobConfig", "TrainingJobEarlyStoppingType"], "Auto"),
     "TrainingJobEarlyStoppingType: must be Off with TrainingJobDefinitions"),
    (set_in(["TrainingJobDefinitions", 1, "AlgorithmSpecification", "TrainingImage"], "nope:1"),
     "TrainingJobDefinitions[1].AlgorithmSpecification.TrainingImage"),
    (set_in(["TrainingJobDefinitions", 1, "HyperParameterRanges", "ContinuousParameterRanges",
             0, "MinValue"], "3"),
     "TrainingJobDefinitions[1].HyperParameterRanges.ContinuousParameterRanges[0].MinValue: 3 "
     "must not be greater than MaxValue 2"),
    (set_in(["TrainingJobDefinitions", 0, "EnableManagedSpotTraining"], True),
     "TrainingJobDefinitions[0].EnableManagedSpotTraining"),
    (set_in(["TrainingJobDefinitions", 1, "StaticHyperParameters", "q"], "1"),
     "TrainingJobDefinitions[1].HyperParameterRanges.ContinuousParameterRanges[0].Name: 'q' is "
     "also a key of TrainingJobDefinitions[1].StaticHyperParameters"),
])
def test_validation(hpod_defs, mutate, needle):
    # Raw signed requests: boto3 would refuse some of these itself.
    st, js = current_call(hpod_defs, "CreateHyperParameterTuningJob", bad(mutate))
    assert st == 400, (st, js)
    assert js["__type"].endswith("ValidationException"), js
    assert needle in js["message"], js["message"]
    st, js = current_call(hpod_defs, "ListHyperParameterTuningJobs", {})
    assert st == 200 and js["HyperParameterTuningJobSummaries"] == [], js  # nothing stored


def test_the_2017_api_has_no_training_job_definitions(hpod):
    body = job_request("old")
    body["TrainingJobDefinitions"] = [body["TrainingJobDefinition"]]
    st, js, _ = hpod.call("CreateTuningJob", body)
    assert st == 400, (st, js)
    assert "TrainingJobDefinitions" in json.dumps(js), js
    st, js, _ = hpod.call("DescribeTuningJob", {"AwsAccountId": ACCOUNT, "TuningJobName": "old"})
    assert st != 200, js  # nothing stored


def test_kill9_mid_run_keeps_each_jobs_definition(tmp_path):
    d = start_hpod(tmp_path)
    try:
        sm = client(d)
        defs = two_definitions(quad_static={"mode": "normal", "n": "7", "algo": "quad",
                                            "sleep": "1"},
                               wave_static={"epochs": "2", "algo": "wave", "sleep": "0.5"})
        sm.create_hyper_parameter_tuning_job(**request("crash", defs, max_jobs=8, parallel=2))
        deadline = time.time() + 60
        while len(jobs_of(sm, "crash")) < 3 and time.time() < deadline:
            time.sleep(0.1)
        before = {j["TrainingJobName"]: j["TrainingJobDefinitionName"]
                  for j in jobs_of(sm, "crash")}
        assert 3 <= len(before) < 8, before
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait(timeout=10)
        d.start()
        sm = client(d)
        done = wait_tuning(sm, "crash", timeout=120)
        assert done["HyperParameterTuningJobStatus"] == "Completed", done
        jobs = jobs_of(sm, "crash")
        check_jobs(jobs, 8)
        after = {j["TrainingJobName"]: j["TrainingJobDefinitionName"] for j in jobs}
        assert all(after[n] == dn for n, dn in before.items()), (before, after)
        assert sorted(after.values()).count("quad") == 4
        assert done["BestTrainingJob"]["TrainingJobDefinitionName"] == "wave"
    finally:
        d.stop()
