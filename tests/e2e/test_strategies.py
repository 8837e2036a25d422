"""End-to-end through boto3 (current API): Strategy Grid (every combination
once, also across kill -9 of hpod), Strategy Hyperband and early stopping
Auto (the median rule): stopped jobs end Stopped, keep their last objective
value, and the best training job is the best over Completed and
early-stopped jobs. The training program is curve_trainer.py: its
objective val_loss (minimised) falls every epoch."""
import itertools
import json
import os
import signal
import sys
import time

import botocore.exceptions
import pytest

from conftest import ACCOUNT, Hpod, private_dir
from test_current_api import client, current_call, error_code, wait_tuning, write_credentials

HERE = os.path.dirname(os.path.abspath(__file__))
CURVE = os.path.join(HERE, "curve_trainer.py")


def start_hpod(tmp):
    images = os.path.join(str(tmp), "images.json")
    with open(images, "w") as f:
        json.dump({"curve:latest": [sys.executable, CURVE]}, f)
    return Hpod(str(tmp), ["--credentials", write_credentials(tmp)]).start()


@pytest.fixture
def hpod_curve(tmp_path):
    d = start_hpod(tmp_path)
    yield d
    d.stop()


def request(name, strategy, ranges, static, max_jobs=None, parallel=2, early="Off",
            strategy_config=None):
    limits = {"MaxParallelTrainingJobs": parallel}
    if max_jobs is not None:
        limits["MaxNumberOfTrainingJobs"] = max_jobs
    cfg = {
        "Strategy": strategy,
        "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "val_loss"},
        "ResourceLimits": limits,
        "ParameterRanges": ranges,
        "TrainingJobEarlyStoppingType": early,
    }
    if strategy_config is not None:
        cfg["StrategyConfig"] = strategy_config
    return {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": cfg,
        "TrainingJobDefinition": {
            "AlgorithmSpecification": {
                "TrainingImage": "curve:latest", "TrainingInputMode": "File",
                "MetricDefinitions": [{"Name": "val_loss", "Regex": "val_loss=([-+0-9.eE]+)"}]},
            "RoleArn": "arn:aws:iam::%s:role/openhpo" % ACCOUNT,
            "OutputDataConfig": {"S3OutputPath": "file://" + private_dir("output")},
            "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large",
                               "VolumeSizeInGB": 1},
            "StaticHyperParameters": static,
            "StoppingCondition": {"MaxRuntimeInSeconds": 600},
        },
    }


def cat_ranges(c="abc", d="ab"):
    return {"CategoricalParameterRanges": [{"Name": "c", "Values": list(c)},
                                           {"Name": "d", "Values": list(d)}]}


CONT = {"ContinuousParameterRanges": [{"Name": "q", "MinValue": "0", "MaxValue": "1"}]}


def jobs_of(sm, name):
    out = []
    for page in sm.get_paginator("list_training_jobs_for_hyper_parameter_tuning_job").paginate(
            HyperParameterTuningJobName=name):
        out += page["TrainingJobSummaries"]
    return out


def track_values(track):
    """Job name -> [values printed, in order]; and the start lines."""
    vals, starts = {}, []
    for line in open(track):
        f = line.split()
        if f[0] == "start":
            starts.append(f[1])
        elif f[0] == "value":
            vals.setdefault(f[1], []).append(float(f[3]))
    return vals, starts


def check_values_and_best(sm, name, track):
    """Every job with an objective kept its last printed value; the best is
    the minimum over Completed and early-Stopped jobs. Returns the jobs."""
    jobs = jobs_of(sm, name)
    vals, _ = track_values(track)
    for j in jobs:
        assert j["TrainingJobStatus"] in ("Completed", "Stopped"), j
        fin = j["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
        assert fin == pytest.approx(vals[j["TrainingJobName"]][-1], abs=1e-5), j
        assert j["ObjectiveStatus"] == "Succeeded", j
    best = min(jobs, key=lambda j: j["FinalHyperParameterTuningJobObjectiveMetric"]["Value"])
    desc = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    assert desc["BestTrainingJob"]["TrainingJobName"] == best["TrainingJobName"], desc
    n = len(jobs)
    assert desc["ObjectiveStatusCounters"]["Succeeded"] == n, desc
    return jobs, desc


def test_grid_visits_every_combination_once(hpod_curve, tmp_path):
    sm = client(hpod_curve)
    track = str(tmp_path / "track")
    sm.create_hyper_parameter_tuning_job(**request(
        "grid1", "Grid", cat_ranges(), {"epochs": "2", "track": track}, parallel=3))
    d = wait_tuning(sm, "grid1")
    assert d["HyperParameterTuningJobStatus"] == "Completed", d
    cfg = d["HyperParameterTuningJobConfig"]
    assert cfg["Strategy"] == "Grid"
    assert cfg["ResourceLimits"]["MaxNumberOfTrainingJobs"] == 6  # the combinations
    jobs = jobs_of(sm, "grid1")
    combos = sorted((j["TunedHyperParameters"]["c"], j["TunedHyperParameters"]["d"])
                    for j in jobs)
    assert combos == sorted(itertools.product("abc", "ab"))
    # The documented order: lexicographic over the ranges, the last fastest.
    by_name = sorted(jobs, key=lambda j: j["TrainingJobName"])
    assert [(j["TunedHyperParameters"]["c"], j["TunedHyperParameters"]["d"])
            for j in by_name] == list(itertools.product("abc", "ab"))
    assert d["BestTrainingJob"]["TunedHyperParameters"] == {"c": "a", "d": "a"}
    assert all(j["TrainingJobStatus"] == "Completed" for j in jobs)


def test_grid_refusals(hpod_curve):
    sm = client(hpod_curve)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sm.create_hyper_parameter_tuning_job(**request(
            "g2", "Grid", dict(cat_ranges(), **CONT), {"epochs": "1"}))
    assert error_code(e) == "ValidationException"
    msg = e.value.response["Error"]["Message"]
    assert "ContinuousParameterRanges[0]" in msg and "'q'" in msg, msg
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sm.create_hyper_parameter_tuning_job(**request(
            "g3", "Grid", cat_ranges(), {"epochs": "1"}, max_jobs=5))
    assert error_code(e) == "ValidationException"
    assert "MaxNumberOfTrainingJobs" in e.value.response["Error"]["Message"]
    # Equal to the combinations: accepted.
    sm.create_hyper_parameter_tuning_job(**request(
        "g4", "Grid", cat_ranges(), {"epochs": "1"}, max_jobs=6))
    assert wait_tuning(sm, "g4")["HyperParameterTuningJobStatus"] == "Completed"


def test_grid_after_kill_9_every_combination_once(tmp_path):
    d = start_hpod(tmp_path)
    track = str(tmp_path / "track")
    try:
        sm = client(d)
        sm.create_hyper_parameter_tuning_job(**request(
            "gridk", "Grid", cat_ranges("abcd", "abc"),
            {"epochs": "3", "sleep": "0.25", "track": track}, parallel=3))
        for _ in range(2):
            time.sleep(1.5)
            d.stop(sig=signal.SIGKILL)
            time.sleep(0.3)
            d.start()
        sm = client(d)
        desc = wait_tuning(sm, "gridk", timeout=180)
        assert desc["HyperParameterTuningJobStatus"] == "Completed", desc
        jobs = jobs_of(sm, "gridk")
        assert len(jobs) == 12
        combos = sorted((j["TunedHyperParameters"]["c"], j["TunedHyperParameters"]["d"])
                        for j in jobs)
        assert combos == sorted(itertools.product("abcd", "abc"))
        _, starts = track_values(track)
        assert sorted(starts) == sorted(j["TrainingJobName"] for j in jobs)  # each ran once
        assert all(j["TrainingJobStatus"] == "Completed" for j in jobs)
    finally:
        d.stop()


def test_hyperband_stops_jobs_that_keep_their_values(hpod_curve, tmp_path):
    sm = client(hpod_curve)
    track = str(tmp_path / "track")
    # MaxResource is inferred from the static "epochs"; rungs at 1 and 3.
    sm.create_hyper_parameter_tuning_job(**request(
        "hb1", "Hyperband", CONT, {"epochs": "9", "sleep": "0.15", "track": track},
        max_jobs=10, parallel=2,
        strategy_config={"HyperbandStrategyConfig": {"MinResource": 1}}))
    d = wait_tuning(sm, "hb1", timeout=180)
    assert d["HyperParameterTuningJobStatus"] == "Completed", d
    assert d["HyperParameterTuningJobConfig"]["StrategyConfig"] == {
        "HyperbandStrategyConfig": {"MinResource": 1}}
    jobs, desc = check_values_and_best(sm, "hb1", track)
    assert len(jobs) == 10
    vals, _ = track_values(track)
    stopped = [j for j in jobs if j["TrainingJobStatus"] == "Stopped"]
    assert stopped, jobs
    # Stopped early: fewer than the 9 epochs, never before MinResource.
    assert any(len(vals[j["TrainingJobName"]]) < 9 for j in stopped)
    assert all(len(vals[j["TrainingJobName"]]) >= 1 for j in jobs)
    assert sum(len(v) for v in vals.values()) < 10 * 9
    tj = sm.describe_training_job(TrainingJobName=stopped[0]["TrainingJobName"])
    assert tj["TrainingJobStatus"] == "Stopped"
    assert tj["FinalMetricDataList"][0]["Value"] == pytest.approx(
        vals[stopped[0]["TrainingJobName"]][-1], abs=1e-5)


def quantile_third(vals):
    """Hyperband's cut: the 1/eta (eta 3) quantile, linear interpolation."""
    v = sorted(vals)
    pos = (len(v) - 1) / 3.0
    lo = int(pos)
    return v[lo] + (pos - lo) * (v[lo + 1] - v[lo]) if lo + 1 < len(v) else v[lo]


def test_hyperband_across_kill_9_of_hpod(tmp_path):
    """kill -9 of hpod three times during a Hyperband job whose only rung is
    at 4 epochs (MinResource 4, MaxResource 12: one bracket). Hyperband's
    decisions are a function of the curves alone, so the restarted daemon
    goes on judging: a job whose value at epoch 4 is outside the best third
    of the values at epoch 4 of the jobs that had reached it before this job
    started is stopped before its 12th epoch (its epochs 4 to 12 take 6.4 s,
    longer than hpod is down); the best job runs all 12; every job ends with
    its last value kept, each ran once. A job is required to be stopped only
    when it printed one of its epochs 4 to 11 while hpod was up (from half a
    second after a start to a second before the next kill): one whose epochs
    all went by while hpod was down or starting (slow restarts, as under ASan
    on a loaded machine) ran them unjudged. The restarted daemon judges the
    whole curve, the epochs printed before the restart too."""
    d = start_hpod(tmp_path)
    track = str(tmp_path / "track")
    try:
        sm = client(d)
        sm.create_hyper_parameter_tuning_job(**request(
            "hbk", "Hyperband", CONT, {"epochs": "12", "sleep": "0.8", "track": track},
            max_jobs=12, parallel=3,
            strategy_config={"HyperbandStrategyConfig": {"MinResource": 4}}))
        ups = [time.time()]  # hpod is up from ups[2i] to ups[2i+1]
        for _ in range(3):
            time.sleep(2.0)
            ups.append(time.time())
            d.stop(sig=signal.SIGKILL)
            d.start()
            ups.append(time.time())
        ups.append(float("inf"))  # up from here on
        sm = client(d)
        desc = wait_tuning(sm, "hbk", timeout=180)
        assert desc["HyperParameterTuningJobStatus"] == "Completed", desc
        jobs, _ = check_values_and_best(sm, "hbk", track)
        assert len(jobs) == 12
        vals, starts = track_values(track)
        assert sorted(starts) == sorted(j["TrainingJobName"] for j in jobs)  # each ran once
        assert all(len(v) >= 4 for v in vals.values()), vals  # never before MinResource
        # Who had reached epoch 4 before each job started (the track file is
        # in time order: hpod had seen those values by the time it judged).
        at3, seen, judged, must_stop = {}, {}, set(), []
        for line in open(track):
            f = line.split()
            if f[0] == "start":
                seen[f[1]] = dict(at3)
            if f[0] != "value":
                continue
            if f[2] == "4":
                at3[f[1]] = float(f[3])
            if 4 <= int(f[2]) <= 11 and any(
                    ups[i] + 0.5 < float(f[4]) < ups[i + 1] - 1.0 for i in range(0, len(ups), 2)):
                judged.add(f[1])
        for name, before in seen.items():
            if name in judged and len(before) >= 2 and vals[name][3] > quantile_third(
                    list(before.values()) + [vals[name][3]]):
                must_stop.append(name)
        assert must_stop, (vals, seen)
        by_name = {j["TrainingJobName"]: j for j in jobs}
        for name in must_stop:
            assert by_name[name]["TrainingJobStatus"] == "Stopped", (name, vals[name])
            assert len(vals[name]) < 12, (name, vals[name])
        best = min(vals, key=lambda n: vals[n][-1])
        assert len(vals[best]) == 12, vals
    finally:
        d.stop()


def test_hyperband_refusals(hpod_curve):
    sm = client(hpod_curve)
    cases = [
        # no MaxResource and no epochs hyperparameter
        (request("h2", "Hyperband", CONT, {"sleep": "0"}), "MaxResource"),
        # early stopping must be Off
        (request("h3", "Hyperband", CONT, {"epochs": "3"}, max_jobs=2, early="Auto"),
         "TrainingJobEarlyStoppingType"),
        # MinResource > MaxResource
        (request("h4", "Hyperband", CONT, {"epochs": "3"}, max_jobs=2,
                 strategy_config={"HyperbandStrategyConfig": {"MinResource": 5,
                                                              "MaxResource": 4}}),
         "MinResource"),
        # StrategyConfig is Hyperband's
        (request("h5", "Bayesian", CONT, {"epochs": "3"}, max_jobs=2,
                 strategy_config={"HyperbandStrategyConfig": {"MaxResource": 4}}),
         "StrategyConfig"),
        (request("h6", "Hyperband", CONT, {"epochs": "lots"}, max_jobs=2), "epochs"),
    ]
    for body, word in cases:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            sm.create_hyper_parameter_tuning_job(**body)
        assert error_code(e) == "ValidationException", body
        assert word in e.value.response["Error"]["Message"], e.value.response


@pytest.mark.parametrize("strategy", ["Random", "Bayesian"])
def test_early_stopping_auto_median_rule(hpod_curve, tmp_path, strategy):
    track = str(tmp_path / "track")
    static = {"epochs": "8", "sleep": "0.05", "track": track, "wave": "1"}
    body = request("es1", strategy, CONT, static,
                   max_jobs=10, parallel=1, early="Auto")
    body["HyperParameterTuningJobConfig"]["RandomSeed"] = 7  # newer than boto3 1.26: raw
    st, out = current_call(hpod_curve, "CreateHyperParameterTuningJob", body)
    assert st == 200, out
    sm = client(hpod_curve)
    d = wait_tuning(sm, "es1", timeout=180)
    assert d["HyperParameterTuningJobStatus"] == "Completed", d
    assert d["HyperParameterTuningJobConfig"]["TrainingJobEarlyStoppingType"] == "Auto"
    jobs, desc = check_values_and_best(sm, "es1", track)
    assert len(jobs) == 10
    vals, _ = track_values(track)
    stopped = [j for j in jobs if j["TrainingJobStatus"] == "Stopped"]
    assert stopped, jobs
    # The rule's minimum step (4) and its decision: each stopped job's value
    # at its last step was worse than the median of the finished jobs'.
    by_name = sorted(jobs, key=lambda j: j["TrainingJobName"])
    for i, j in enumerate(by_name):
        v = vals[j["TrainingJobName"]]
        if j["TrainingJobStatus"] != "Stopped":
            assert len(v) == 8
            continue
        assert 4 <= len(v) < 8, v
        earlier = [vals[k["TrainingJobName"]] for k in by_name[:i]]  # parallel 1: finished
        assert len(earlier) >= 3
        s = len(v)
        avgs = sorted(sum(e[:s]) / len(e[:s]) for e in earlier)
        m = len(avgs)
        med = avgs[m // 2] if m % 2 else (avgs[m // 2 - 1] + avgs[m // 2]) / 2
        assert v[-1] > med - 1e-6, (v, med)
