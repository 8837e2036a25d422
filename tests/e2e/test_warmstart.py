"""End-to-end through boto3 (current API): WarmStartConfig (issue 13).

A warm start's parents' training jobs are the Bayesian strategy's prior: the
first model-based suggestion (with a prior of at least n_init = 5 trials, the
very first trial) differs from the same seed's cold start, is reproduced by
the same parent, and changes with another parent; parents' jobs outside the
new ranges are left out. DescribeHyperParameterTuningJob echoes
WarmStartConfig and, for IdenticalDataAndAlgorithm, answers
OverallBestTrainingJob across the job and its parents (not their parents:
not recursive), also once a parent is deleted and its name taken again, and
across a restart of hpod. Every restriction of the spec is a
ValidationException naming the parent; another account's job is an unknown
one; the 2017 API refuses WarmStartConfig. The training program is
trainer.py: accuracy = -(x-2.5)^2 - 0.1(n-7)^2 + {a:0, b:1, c:0.5}[kind].
"""
import json
import os
import sys

import boto3
import botocore.exceptions
import botocore.session
import pytest

from conftest import ACCOUNT, TRAINER, Hpod, job_request, private_dir
from test_cli import hpo
from test_current_api import (KEY_A, KEY_B, OTHER, REGION, SECRET_A, SECRET_B, b_dir,
                              error_code, signed, tuning_request, wait_tuning, write_credentials)
from test_strategies import jobs_of

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL_DATA = os.path.join(HERE, "..", "..", "scripts", "botocore-newest")
PARENT = "WarmStartConfig.ParentHyperParameterTuningJobs[0] (tuning job %s)"


def client(d, key=KEY_A, secret=SECRET_A):
    """Debian's boto3 with the newest SageMaker model (RandomSeed;
    scripts/botocore-newest/README.md)."""
    bs = botocore.session.get_session()
    bs.get_component("data_loader").search_paths.insert(0, MODEL_DATA)
    return boto3.session.Session(botocore_session=bs).client(
        "sagemaker", endpoint_url=d.url, region_name=REGION, aws_access_key_id=key,
        aws_secret_access_key=secret)


def start_hpod(tmp):
    with open(os.path.join(str(tmp), "images.json"), "w") as f:
        json.dump({"trainer:latest": [sys.executable, TRAINER],
                   "trainer2:latest": [sys.executable, TRAINER]}, f)
    return Hpod(str(tmp), ["--credentials", write_credentials(tmp)]).start()


@pytest.fixture
def hpod_ws(tmp_path):
    d = start_hpod(tmp_path)
    yield d
    d.stop()


def warm(parents, kind="IdenticalDataAndAlgorithm"):
    return {"ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": p}
                                               for p in parents],
            "WarmStartType": kind}


def ranges(x=("-5", "10"), n=("1", "15"), kinds=("a", "b", "c")):
    return {"ContinuousParameterRanges": [{"Name": "x", "MinValue": x[0], "MaxValue": x[1],
                                           "ScalingType": "Linear"}],
            "IntegerParameterRanges": [{"Name": "n", "MinValue": n[0], "MaxValue": n[1]}],
            "CategoricalParameterRanges": [{"Name": "kind", "Values": list(kinds)}]}


def req(name, max_jobs=4, parallel=2, seed=7, parents=None, kind="IdenticalDataAndAlgorithm",
        strategy="Bayesian", rng=None, static=None):
    body = tuning_request(name, max_jobs, parallel, strategy=strategy, ranges=rng or ranges(),
                          static=static)
    body["HyperParameterTuningJobConfig"]["RandomSeed"] = seed
    if parents is not None:
        body["WarmStartConfig"] = warm(parents, kind)
    return body


def run(sm, body):
    sm.create_hyper_parameter_tuning_job(**body)
    d = wait_tuning(sm, body["HyperParameterTuningJobName"])
    assert d["HyperParameterTuningJobStatus"] == "Completed", d
    return d


def trials(sm, name):
    """The training jobs of `name` in trial order (their names are NAME-NNN-...)."""
    return sorted(jobs_of(sm, name), key=lambda j: j["TrainingJobName"])


def value(j):
    return j["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]


def test_prior_changes_the_first_model_based_suggestion(hpod_ws):
    sm = client(hpod_ws)
    run(sm, req("par-a", max_jobs=6, seed=1))
    run(sm, req("par-b", max_jobs=6, seed=2, strategy="Random"))
    one = dict(max_jobs=1, parallel=1, seed=42)
    run(sm, req("cold", **one))
    run(sm, req("warm-a", parents=["par-a"], **one))
    run(sm, req("warm-a-again", parents=["par-a"], **one))
    run(sm, req("warm-b", parents=["par-b"], kind="TransferLearning", **one))
    first = {n: trials(sm, n)[0]["TunedHyperParameters"]
             for n in ("cold", "warm-a", "warm-a-again", "warm-b")}
    # Without a parent, trial 0 is the seed's first Sobol' point; with 6
    # prior trials (>= n_init = 5) the GP proposes trial 0 from them.
    assert first["warm-a"] != first["cold"], first
    assert first["warm-b"] != first["cold"], first
    # The same parent and seed give the same suggestion; another parent's
    # observations another one.
    assert first["warm-a-again"] == first["warm-a"], first
    assert first["warm-b"] != first["warm-a"], first
    d = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="warm-b")
    assert d["WarmStartConfig"] == warm(["par-b"], "TransferLearning"), d
    assert "OverallBestTrainingJob" not in d, d  # IdenticalDataAndAlgorithm only
    cold = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="cold")
    assert "WarmStartConfig" not in cold and "OverallBestTrainingJob" not in cold, cold


def test_parent_jobs_outside_the_new_ranges_are_left_out(hpod_ws):
    sm = client(hpod_ws)
    run(sm, req("par", max_jobs=6, seed=1))  # x in [-5, 10]
    far = ranges(x=("20", "30"))
    one = dict(max_jobs=1, parallel=1, seed=42, rng=far)
    run(sm, req("cold-far", **one))
    run(sm, req("warm-far", parents=["par"], kind="TransferLearning", **one))
    # No parent job lies in x in [20, 30]: the prior is empty, and trial 0
    # is the cold start's.
    assert (trials(sm, "warm-far")[0]["TunedHyperParameters"] ==
            trials(sm, "cold-far")[0]["TunedHyperParameters"])
    # Ranges that keep 5 and 4 of the 6: each kept job shortens the initial
    # design (n_init = 5) by one. With 5, trial 0 is already the GP's; with
    # 4, trial 0 is still the seed's first Sobol' point and trial 1 the GP's.
    xs = sorted((j["TunedHyperParameters"]["x"] for j in trials(sm, "par")), key=float)
    for keep, lo in ((5, xs[1]), (4, xs[2])):
        near = dict(one, max_jobs=2, rng=ranges(x=(lo, "10")))
        run(sm, req("cold-%d" % keep, **near))
        run(sm, req("warm-%d" % keep, parents=["par"], kind="TransferLearning", **near))
        w = [j["TunedHyperParameters"] for j in trials(sm, "warm-%d" % keep)]
        c = [j["TunedHyperParameters"] for j in trials(sm, "cold-%d" % keep)]
        if keep == 5:
            assert w[0] != c[0], (w, c)
        else:
            assert w[0] == c[0] and w[1] != c[1], (w, c)


def overall(sm, name):
    return sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)


def best_of(sm, names):
    """The best (max accuracy) training job over tuning jobs `names`, and its owner."""
    jobs = [(value(j), n, j) for n in names for j in trials(sm, n)
            if j.get("FinalHyperParameterTuningJobObjectiveMetric")]
    v, n, j = max(jobs, key=lambda t: t[0])
    return j, n


def test_overall_best_training_job_across_parents_and_child(hpod_ws):
    sm = client(hpod_ws)
    good, bad = ranges(x=("2", "3"), n=("6", "8")), ranges(x=("-5", "-4"))
    run(sm, req("good", rng=good))
    run(sm, req("worse", parents=["good"], rng=bad))
    d = overall(sm, "worse")
    assert d["WarmStartConfig"] == warm(["good"]), d
    parent_best = overall(sm, "good")["BestTrainingJob"]
    ob = d["OverallBestTrainingJob"]
    # The parent's job is the best of all: OverallBestTrainingJob names it
    # (with its own tuning job), BestTrainingJob stays the child's own.
    assert ob["TrainingJobName"] == parent_best["TrainingJobName"], (ob, parent_best)
    assert ob["TuningJobName"] == "good", ob
    assert value(ob) == value(parent_best) and value(ob) > value(d["BestTrainingJob"]), d
    assert d["BestTrainingJob"]["TuningJobName"] == "worse", d
    assert ob["TrainingJobArn"].endswith(":training-job/" + ob["TrainingJobName"]), ob
    assert ob["ObjectiveStatus"] == "Succeeded" and ob["TunedHyperParameters"], ob
    assert ob["FinalHyperParameterTuningJobObjectiveMetric"]["MetricName"] == "accuracy", ob
    j, owner = best_of(sm, ["good", "worse"])
    assert (owner, j["TrainingJobName"]) == ("good", ob["TrainingJobName"])

    # The child's own job is the best: both name it.
    run(sm, req("better", parents=["worse"], rng=good))
    d = overall(sm, "better")
    assert d["OverallBestTrainingJob"] == d["BestTrainingJob"], d
    j, owner = best_of(sm, ["better", "worse"])
    assert owner == "better" and j["TrainingJobName"] == d["BestTrainingJob"]["TrainingJobName"]

    # Not recursive: "grand" (parent "worse", itself warm-started from
    # "good") compares its jobs with worse's only, never good's.
    run(sm, req("grand", parents=["worse"], rng=ranges(x=("-4.5", "-4"))))
    d = overall(sm, "grand")
    j, owner = best_of(sm, ["grand", "worse"])
    assert d["OverallBestTrainingJob"]["TrainingJobName"] == j["TrainingJobName"], d
    assert d["OverallBestTrainingJob"]["TuningJobName"] == owner and owner != "good", d
    assert value(d["OverallBestTrainingJob"]) < value(parent_best), d


def test_parents_fixed_at_create_across_delete_and_restart(hpod_ws):
    """A parent deleted (and its name taken again) while the child runs, and
    hpod restarted: the child keeps the parents it was created with, makes
    the same suggestions as a twin that ran through, and its
    OverallBestTrainingJob is still the deleted parent's job."""
    d = hpod_ws
    sm = client(d)
    good = ranges(x=("2", "3"), n=("6", "8"))
    run(sm, req("p", rng=good, static={"mode": "normal", "delay": "0"}))
    slow = dict(max_jobs=3, parallel=1, seed=5, parents=["p"], rng=ranges(x=("-5", "-4")))
    run(sm, req("twin", static={"mode": "normal", "delay": "0"}, **slow))
    sm.create_hyper_parameter_tuning_job(**req("child", static={"mode": "normal", "delay": "2"},
                                               **slow))
    p_best = overall(sm, "p")["BestTrainingJob"]["TrainingJobName"]
    sm.delete_hyper_parameter_tuning_job(HyperParameterTuningJobName="p")
    run(sm, req("p", rng=ranges(x=("-5", "-4.9")), static={"mode": "normal", "delay": "0"}))
    assert overall(sm, "child")["HyperParameterTuningJobStatus"] == "InProgress"
    d.stop()
    d.start()
    sm = client(d)
    c = wait_tuning(sm, "child")
    assert c["HyperParameterTuningJobStatus"] == "Completed", c
    assert ([j["TunedHyperParameters"] for j in trials(sm, "child")] ==
            [j["TunedHyperParameters"] for j in trials(sm, "twin")])
    assert c["OverallBestTrainingJob"]["TrainingJobName"] == p_best, c
    assert c["OverallBestTrainingJob"]["TuningJobName"] == "p", c
    assert c["WarmStartConfig"] == warm(["p"]), c
    # A new warm start finds the new "p".
    run(sm, req("child2", parents=["p"], max_jobs=1, parallel=1,
                static={"mode": "normal", "delay": "0"}))
    ob = overall(sm, "child2")["OverallBestTrainingJob"]
    assert ob["TrainingJobName"] != p_best, ob


STATIC = {"mode": "normal", "s1": "0", "s2": "0", "s3": "0", "s4": "0", "s5": "0", "s6": "0"}


def refused(sm, body, *words):
    name = body["HyperParameterTuningJobName"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sm.create_hyper_parameter_tuning_job(**body)
    assert error_code(e) == "ValidationException", e.value.response
    msg = e.value.response["Error"]["Message"]
    for w in words:
        assert w in msg, (w, msg)
    with pytest.raises(botocore.exceptions.ClientError) as e2:
        sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    assert error_code(e2) == "ResourceNotFound", e2.value.response
    return msg


def accepted(sm, body):
    sm.create_hyper_parameter_tuning_job(**body)
    d = sm.describe_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=body["HyperParameterTuningJobName"])
    assert d["WarmStartConfig"] == body["WarmStartConfig"], d


def child(parent="p", kind="IdenticalDataAndAlgorithm", static=None, rng=None, parents=None):
    return req("c", max_jobs=1, parallel=1, parents=parents or [parent], kind=kind, rng=rng,
               static=dict(STATIC, **(static or {})))


def test_each_restriction_is_refused_naming_the_parent(hpod_ws, tmp_path):
    sm = client(hpod_ws)
    run(sm, req("p", static=STATIC))
    who = PARENT % "p"
    n = [0]

    def named(body, name=None):
        n[0] += 1
        body["HyperParameterTuningJobName"] = name or "c%d" % n[0]
        return body

    refused(sm, named(child("nosuch")), PARENT % "nosuch", "no such tuning job")
    refused(sm, named(child(parents=["p", "P"])), "ParentHyperParameterTuningJobs[1]",
            "named twice")
    # The parent must be final.
    sm.create_hyper_parameter_tuning_job(**req("busy", max_jobs=1, parallel=1,
                                               static={"mode": "sleep", "sleep": "60"}))
    refused(sm, named(child("busy")), PARENT % "busy", "InProgress",
            "Completed, Stopped or Failed")
    sm.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName="busy")
    # The same objective metric and type.
    b = named(child())
    b["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"] = {
        "Type": "Minimize", "MetricName": "loss"}
    refused(sm, b, who, "objective")
    b = named(child())
    b["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]["Type"] = "Minimize"
    refused(sm, b, who, "objective", "Maximize", "Minimize")
    # The same number of hyperparameters, and the same ones.
    refused(sm, named(child(static={"s7": "0"})), who, "10 hyperparameters", "this job 11")
    b = named(child())
    del b["TrainingJobDefinition"]["StaticHyperParameters"]["s6"]
    b["TrainingJobDefinition"]["StaticHyperParameters"]["s9"] = "0"
    refused(sm, b, who, "no hyperparameter s9")
    # Each keeps its type: tunable on both sides, or static on one.
    r = ranges()
    r["IntegerParameterRanges"].append(dict(r.pop("ContinuousParameterRanges")[0],
                                            ScalingType="Auto"))
    refused(sm, named(child(rng=r)), who, "hyperparameter x is Continuous there, Integer here")
    no_x = ranges()
    del no_x["ContinuousParameterRanges"]
    refused(sm, named(child(rng=no_x, static={"x": "abc"})), who, "hyperparameter x",
            "'abc'")
    # At most 10 changes: a static value changed counts 2, a categorical
    # made static its values (kind: 3), a numeric one made static 1.
    refused(sm, named(child(static={"s%d" % i: "1" for i in range(1, 7)})), who,
            "12 changes")
    no_kind = ranges()
    del no_kind["CategoricalParameterRanges"]
    refused(sm, named(child(rng=no_kind, static=dict({"kind": "b"},
                                                     **{"s%d" % i: "1" for i in range(1, 5)}))),
            who, "11 changes")
    refused(sm, named(child(rng=no_x, static=dict({"x": "2.5"},
                                                  **{"s%d" % i: "1" for i in range(1, 6)}))),
            who, "11 changes")
    accepted(sm, named(child(static={"s%d" % i: "1" for i in range(1, 6)}), "ok-10-changes"))
    accepted(sm, named(child(rng=no_kind, static=dict({"kind": "b"},
                                                      **{"s%d" % i: "1" for i in range(1, 4)})),
                       "ok-9-changes"))
    # IdenticalDataAndAlgorithm keeps the image and the input data;
    # TransferLearning may change them.
    b = named(child())
    b["TrainingJobDefinition"]["AlgorithmSpecification"]["TrainingImage"] = "trainer2:latest"
    refused(sm, b, who, "TrainingImage", "IdenticalDataAndAlgorithm")
    b = named(child(kind="TransferLearning"), "ok-other-image")
    b["TrainingJobDefinition"]["AlgorithmSpecification"]["TrainingImage"] = "trainer2:latest"
    accepted(sm, b)
    other = os.path.join(private_dir("input"), "other")
    os.makedirs(other, exist_ok=True)
    b = named(child())
    b["TrainingJobDefinition"]["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] = (
        "file://" + other)
    refused(sm, b, who, "input data", "channel train")
    b["HyperParameterTuningJobName"] = "ok-other-data"
    b["WarmStartConfig"]["WarmStartType"] = "TransferLearning"
    accepted(sm, b)
    for name in ("ok-10-changes", "ok-9-changes", "ok-other-image", "ok-other-data"):
        assert wait_tuning(sm, name)["HyperParameterTuningJobStatus"] == "Completed"
    wait_tuning(sm, "busy")


def test_another_accounts_job_is_an_unknown_parent(hpod_ws, tmp_path):
    sm = client(hpod_ws)
    smb = client(hpod_ws, KEY_B, SECRET_B)
    body = req("theirs", max_jobs=1, parallel=1, static={"mode": "sleep", "sleep": "60"})
    tjd = body["TrainingJobDefinition"]
    tjd["RoleArn"] = "arn:aws:iam::%s:role/openhpo" % OTHER
    tjd["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] = "file://" + b_dir(tmp_path)
    tjd["OutputDataConfig"]["S3OutputPath"] = "file://" + b_dir(tmp_path)
    smb.create_hyper_parameter_tuning_job(**body)
    b = req("mine", max_jobs=1, parallel=1, parents=["theirs"])
    msg = refused(sm, b, PARENT % "theirs", "no such tuning job")
    b = req("mine", max_jobs=1, parallel=1, parents=["nosuch"])
    assert refused(sm, b) == msg.replace("theirs", "nosuch")
    smb.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName="theirs")
    wait_tuning(smb, "theirs")


def test_2017_api_refuses_warm_start(hpod_ws):
    body = job_request("old")
    body["WarmStartConfig"] = warm(["p"])
    st, js = signed(hpod_ws, "/CreateTuningJob", body)
    assert st == 400 and js["__type"] == "ValidationError", (st, js)
    assert "WarmStartConfig" in js["message"] and "2017" in js["message"], js
    st, js = signed(hpod_ws, "/DescribeTuningJob", {"AwsAccountId": ACCOUNT,
                                                    "TuningJobName": "old"})
    assert st == 404, (st, js)


def test_cli_warm_start_flags(hpod_ws, tmp_path):
    sm = client(hpod_ws)
    run(sm, req("p"))
    path = str(tmp_path / "job.json")
    body = req("from-cli", max_jobs=1, parallel=1)
    with open(path, "w") as f:
        json.dump(body, f)
    r = hpo("--endpoint-url", hpod_ws.url, "create-hyper-parameter-tuning-job",
            "--cli-input-json", "file://" + path, "--warm-start-parents", "p",
            "--warm-start-type", "TransferLearning",
            env={"AWS_ACCESS_KEY_ID": KEY_A, "AWS_SECRET_ACCESS_KEY": SECRET_A})
    assert r.returncode == 0, r.stderr
    d = wait_tuning(sm, "from-cli")
    assert d["WarmStartConfig"] == warm(["p"], "TransferLearning"), d
