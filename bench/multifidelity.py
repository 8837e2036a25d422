#!/usr/bin/env python3
"""Multi-fidelity benchmark: epochs are the resource.

The model is scikit-learn's MLPClassifier trained with partial_fit on
load_digits (Debian's python3-sklearn ships it), one pass over the training
set per epoch; the objective is the validation log loss (minimised), printed
every epoch. Its hyperparameters: learning_rate_init (1e-5..1, log), alpha
(1e-7..1, log), hidden units (4..128, log), batch_size (16..512, log).

openhpo runs through the real hpod (current API, X-Amz-Target, no
credentials): Bayesian, Bayesian + TrainingJobEarlyStoppingType Auto (the
median rule), Hyperband (MinResource 1, MaxResource = the static "epochs")
and Random. Training happens for real: each training job is a thin client
(this file with --client, no scikit-learn import, so it starts fast) that
asks a training server in this process (a thread per job) to train its
config; the server sends each epoch's validation log loss back and the client
prints it; a stopped job's client dies, and the server stops training at
the next epoch it cannot deliver. Every epoch trained is counted. Each
epoch takes at least --epoch-seconds (paced), so that hpod's 100 ms tick is
small beside it: a stop lands about one epoch after the decision.

Optuna 3.1 (Debian's python3-optuna) runs in this process on the same
training function: TPESampler(seed) with HyperbandPruner(min_resource=1,
max_resource=EPOCHS, reduction_factor=3) and with MedianPruner (defaults),
sequentially, until it has consumed as many epochs as openhpo's Hyperband
did on the same seed (equal epochs).

"best at E epochs": in the order epochs were trained, each job counts with
its latest validation loss (what it would report if it ended there); the
best is the minimum over jobs once E epochs in all have been trained.

Reported: medians over the seeds, with a 90% bootstrap interval of the
median (2000 resamples of the seeds).

usage: /usr/bin/python3 bench/multifidelity.py [--quick] [--seeds 10] [--jobs 30]
       [--hb-jobs 60] [--epochs 27] [--parallel 3] [--epoch-seconds 0.1]
"""
import argparse
import json
import math
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HERE = os.path.abspath(__file__)


# ---------------------------------------------------------------- client
def client_main(sock_path):
    """The training program hpod runs (argv: --client SOCK train)."""
    with open(os.path.join(os.environ["SM_INPUT_CONFIG_DIR"], "hyperparameters.json")) as f:
        hp = json.load(f)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock_path)
    s.sendall((json.dumps({"job": os.environ["TRAINING_JOB_NAME"], "hp": hp}) + "\n").encode())
    for line in s.makefile("r"):
        e, v = line.split()
        print("epoch %s val_loss=%s" % (e, v), flush=True)


# ---------------------------------------------------------------- training
DATA = None


def data():
    global DATA
    if DATA is None:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
        X, y = load_digits(return_X_y=True)
        X = X / 16.0
        DATA = train_test_split(X, y, test_size=0.4, random_state=0, stratify=y)
    return DATA


LOSS_CAP = 10.0  # a diverged model's loss (NaN weights, or worse than this)


def train(hp, epochs):
    """Yields the validation log loss after each epoch."""
    import warnings
    import numpy as np
    from sklearn.metrics import log_loss
    from sklearn.neural_network import MLPClassifier
    Xtr, Xva, ytr, yva = data()
    clf = MLPClassifier(hidden_layer_sizes=(int(hp["hidden"]),),
                        learning_rate_init=float(hp["lr"]), alpha=float(hp["alpha"]),
                        batch_size=int(hp["batch"]), random_state=0)
    for _ in range(epochs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clf.partial_fit(Xtr, ytr, classes=list(range(10)))
            p = clf.predict_proba(Xva)
        v = log_loss(yva, p, labels=list(range(10))) if np.all(np.isfinite(p)) else LOSS_CAP
        yield min(v, LOSS_CAP)


class Server:
    """Trains configs for the clients; logs (time, job, epoch, value)."""

    def __init__(self, path, epochs, pace):
        self.path, self.epochs, self.pace = path, epochs, pace
        self.log, self.lock = [], threading.Lock()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(64)
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            c, _ = self.sock.accept()
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def serve(self, c):
        try:
            req = json.loads(c.makefile("r").readline())
            job, hp = req["job"], req["hp"]
            t = time.time()
            for e, v in enumerate(train(hp, int(hp.get("epochs", self.epochs))), 1):
                with self.lock:
                    self.log.append((time.time(), job, e, v))
                dt = self.pace - (time.time() - t)
                if dt > 0:
                    time.sleep(dt)
                t = time.time()
                c.sendall(("%d %.6f\n" % (e, v)).encode())
        except (BrokenPipeError, ConnectionResetError):
            pass  # the job was stopped
        finally:
            c.close()

    def take(self, prefix):
        with self.lock:
            mine = [r for r in self.log if r[1].startswith(prefix + "-")]
            self.log = [r for r in self.log if not r[1].startswith(prefix + "-")]
        return sorted(mine)


def best_at(log, budget):
    """Best (min) of each job's latest value after `budget` epochs of `log`
    (time-ordered (t, job, epoch, value)); and the epochs in all."""
    latest = {}
    for i, (_, job, _, v) in enumerate(log):
        if i >= budget:
            break
        latest[job] = v
    return (min(latest.values()) if latest else float("nan")), len(log)


def epochs_to_reach(log, target):
    """Epochs of `log` (as best_at's) after which the best is <= target; inf
    when never."""
    latest = {}
    for i, r in enumerate(log):
        latest[r[0]] = r[-1]
        if min(latest.values()) <= target:
            return i + 1
    return float("inf")


# ---------------------------------------------------------------- openhpo
RANGES = {
    "ContinuousParameterRanges": [
        {"Name": "lr", "MinValue": "0.00001", "MaxValue": "1", "ScalingType": "Logarithmic"},
        {"Name": "alpha", "MinValue": "0.0000001", "MaxValue": "1",
         "ScalingType": "Logarithmic"}],
    "IntegerParameterRanges": [
        {"Name": "hidden", "MinValue": "4", "MaxValue": "128", "ScalingType": "Logarithmic"},
        {"Name": "batch", "MinValue": "16", "MaxValue": "512", "ScalingType": "Logarithmic"}],
}


def call(url, op, body):
    req = urllib.request.Request(url + "/", data=json.dumps(body).encode(), headers={
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "SageMaker." + op})
    with urllib.request.urlopen(req, timeout=60) as r:
        raw = r.read()
        return json.loads(raw) if raw else None


def tuning_body(name, strategy, seed, jobs, parallel, epochs, early, out_dir):
    cfg = {"Strategy": strategy, "RandomSeed": seed,
           "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "val_loss"},
           "ResourceLimits": {"MaxNumberOfTrainingJobs": jobs,
                              "MaxParallelTrainingJobs": parallel},
           "ParameterRanges": RANGES,
           "TrainingJobEarlyStoppingType": "Auto" if early else "Off"}
    if strategy == "Hyperband":
        cfg["StrategyConfig"] = {"HyperbandStrategyConfig": {"MinResource": 1}}
    return {"HyperParameterTuningJobName": name, "HyperParameterTuningJobConfig": cfg,
            "TrainingJobDefinition": {
                "AlgorithmSpecification": {
                    "TrainingImage": "mlp:bench", "TrainingInputMode": "File",
                    "MetricDefinitions": [{"Name": "val_loss",
                                           "Regex": "val_loss=([-+0-9.eE]+)"}]},
                "RoleArn": "arn:aws:iam::123456789012:role/bench",
                "OutputDataConfig": {"S3OutputPath": "file://" + out_dir},
                "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large",
                                   "VolumeSizeInGB": 1},
                "StaticHyperParameters": {"epochs": str(epochs)},
                "StoppingCondition": {"MaxRuntimeInSeconds": 3600}}}


def run_openhpo(url, server, name, strategy, seed, a, early=False, jobs=None):
    out = os.path.join(a.tmp, "out")
    os.makedirs(out, exist_ok=True)
    call(url, "CreateHyperParameterTuningJob",
         tuning_body(name, strategy, seed, jobs or a.jobs, a.parallel, a.epochs, early, out))
    while True:
        d = call(url, "DescribeHyperParameterTuningJob", {"HyperParameterTuningJobName": name})
        if d["HyperParameterTuningJobStatus"] not in ("InProgress", "Stopping"):
            break
        time.sleep(0.5)
    if d["HyperParameterTuningJobStatus"] != "Completed":
        raise SystemExit("%s ended %s: %s" % (name, d["HyperParameterTuningJobStatus"],
                                              d.get("FailureReason")))
    time.sleep(0.3)  # the last stopped clients' epochs
    log = server.take(name)
    best = d["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
    stopped = d["TrainingJobStatusCounters"].get("Stopped", 0)
    return log, best, stopped


# ---------------------------------------------------------------- optuna
def run_optuna(seed, pruner_name, budget, epochs):
    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    pruner = (optuna.pruners.HyperbandPruner(min_resource=1, max_resource=epochs,
                                             reduction_factor=3)
              if pruner_name == "hyperband" else optuna.pruners.MedianPruner())
    study = optuna.create_study(direction="minimize",
                                sampler=optuna.samplers.TPESampler(seed=seed), pruner=pruner)
    log, t = [], [0]

    def objective(trial):
        hp = {"lr": trial.suggest_float("lr", 1e-5, 1, log=True),
              "alpha": trial.suggest_float("alpha", 1e-7, 1, log=True),
              "hidden": trial.suggest_int("hidden", 4, 128, log=True),
              "batch": trial.suggest_int("batch", 16, 512, log=True)}
        v = None
        for e, v in enumerate(train(hp, epochs), 1):
            t[0] += 1
            log.append((t[0], "t%d" % trial.number, e, v))
            trial.report(v, e)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return v

    while len(log) < budget:
        study.optimize(objective, n_trials=1)
    return log


# ---------------------------------------------------------------- main
def med(xs):
    xs = [x for x in xs if not math.isnan(x)]
    return statistics.median(xs) if xs else float("nan")


def med_ci(xs, fmt, resamples=2000):
    """'median [lo, hi]': a 90% percentile bootstrap interval of the median."""
    import random
    xs = [x for x in xs if not math.isnan(x)]
    if not xs:
        return "nan"
    rnd = random.Random(0)
    ms = sorted(statistics.median(rnd.choices(xs, k=len(xs))) for _ in range(resamples))
    lo, hi = ms[int(0.05 * resamples)], ms[int(0.95 * resamples) - 1]
    return (fmt + " [" + fmt + ", " + fmt + "]") % (statistics.median(xs), lo, hi)


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--client":
        return client_main(sys.argv[2])
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="3 seeds, 15 jobs (30 for Hyperband)")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--jobs", type=int, default=30, help="training jobs of the full budget")
    ap.add_argument("--hb-jobs", type=int, default=60, help="Hyperband's training jobs")
    ap.add_argument("--epochs", type=int, default=27, help="epochs of a full training job")
    ap.add_argument("--parallel", type=int, default=3)
    ap.add_argument("--epoch-seconds", type=float, default=0.1)
    ap.add_argument("--first-seed", type=int, default=1)
    ap.add_argument("--json", help="also write the raw results here (after each seed)")
    ap.add_argument("--report", nargs="+", metavar="JSON",
                    help="run nothing: report the merged results of earlier --json runs")
    ap.add_argument("--only", help="comma-separated rows to run (default: all): bayes, "
                    "bayes_median, hyperband, random, optuna_hb, optuna_median")
    a = ap.parse_args()
    if a.quick:
        a.seeds, a.jobs, a.hb_jobs = 3, 15, 30
    if a.report:
        runs = [json.load(open(f)) for f in a.report]
        for k in ("jobs", "hb_jobs", "epochs", "parallel"):
            setattr(a, k, runs[0]["args"][k])
        rows = {k: sum((r["rows"][k] for r in runs), []) for k in runs[0]["rows"]}
        return report(rows, a)

    def on_term(sig, frame):
        raise KeyboardInterrupt  # so that hpod is stopped (finally below)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    hpod = os.environ.get("HPOD_BIN", os.path.join(ROOT, "build", "hpod"))
    full = a.jobs * a.epochs
    rows = {k: [] for k in ("bayes", "bayes_median", "hyperband", "random", "optuna_hb",
                            "optuna_median")}
    if a.only:
        rows = {k: v for k, v in rows.items() if k in a.only.split(",")}
    with tempfile.TemporaryDirectory() as tmp:
        a.tmp = tmp
        server = Server(os.path.join(tmp, "train.sock"), a.epochs, a.epoch_seconds)
        images = os.path.join(tmp, "images.json")
        json.dump({"mlp:bench": ["/usr/bin/python3", HERE, "--client", server.path]},
                  open(images, "w"))
        port_file = os.path.join(tmp, "port")
        log = open(os.environ.get("HPOD_LOG", os.path.join(tmp, "hpod.log")), "w")
        p = subprocess.Popen([hpod, "--listen", "127.0.0.1:0", "--data-dir",
                              os.path.join(tmp, "data"), "--port-file", port_file,
                              "--images", images], stdout=log, stderr=log)
        try:
            while not os.path.exists(port_file) or not open(port_file).read().strip():
                time.sleep(0.02)
            url = "http://127.0.0.1:" + open(port_file).read().strip()
            for seed in range(a.first_seed, a.first_seed + a.seeds):
                r = {}
                for key, strat, early, jobs in (("bayes", "Bayesian", False, a.jobs),
                                                ("bayes_median", "Bayesian", True, a.jobs),
                                                ("hyperband", "Hyperband", False, a.hb_jobs),
                                                ("random", "Random", False, a.jobs)):
                    if key not in rows:
                        continue
                    lg, best, stopped = run_openhpo(url, server, "%s-%d" % (key.replace("_", ""),
                                                                             seed),
                                                    strat, seed, a, early, jobs)
                    r[key] = {"epochs": len(lg), "best": best, "stopped": stopped,
                              "best_third": best_at(lg, full // 3)[0],
                              "log": [(x[1], x[2], x[3]) for x in lg]}
                hb_epochs = r["hyperband"]["epochs"] if "hyperband" in r else full // 3
                for key, pr in (("optuna_hb", "hyperband"), ("optuna_median", "median")):
                    if key not in rows:
                        continue
                    lg = run_optuna(seed, pr, hb_epochs, a.epochs)
                    r[key] = {"epochs": len(lg), "best": best_at(lg, hb_epochs)[0],
                              "best_third": best_at(lg, full // 3)[0]}
                for k in rows:
                    rows[k].append(r[k])
                print("seed %d: " % seed + ", ".join(
                    "%s %.4f/%d ep" % (k, r[k]["best"], r[k]["epochs"]) for k in rows),
                    flush=True)
                if a.json:
                    with open(a.json, "w") as f:
                        json.dump({"args": vars(a), "rows": rows}, f)
        finally:
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=30)
    report(rows, a)


def report(rows, a):
    full = a.jobs * a.epochs
    nseeds = len(next(iter(rows.values())))
    print()
    print("Multi-fidelity (MLPClassifier on digits, validation log loss, %d seeds; full budget "
          "%d jobs x %d epochs = %d; parallel %d). Medians [90%% bootstrap interval]"
          % (nseeds, a.jobs, a.epochs, full, a.parallel))
    print("| strategy | epochs | best at the end | best at %d epochs (1/3 of the full budget) "
          "| stopped jobs |" % (full // 3))
    print("|---|---|---|---|---|")
    names = {"bayes": "openhpo Bayesian (%d jobs)" % a.jobs,
             "bayes_median": "openhpo Bayesian + median stop (%d jobs)" % a.jobs,
             "hyperband": "openhpo Hyperband (%d jobs)" % a.hb_jobs,
             "random": "openhpo Random (%d jobs)" % a.jobs,
             "optuna_hb": "Optuna TPE + HyperbandPruner, at Hyperband's epochs",
             "optuna_median": "Optuna TPE + MedianPruner, at Hyperband's epochs"}
    for k in rows:
        print("| %s | %s | %s | %s | %s |" % (
            names[k], med_ci([x["epochs"] for x in rows[k]], "%.0f"),
            med_ci([x["best"] for x in rows[k]], "%.4f"),
            med_ci([x["best_third"] for x in rows[k]], "%.4f"),
            ("%g" % med([x["stopped"] for x in rows[k]])) if "stopped" in rows[k][0] else "-"))
    if not all(k in rows for k in ("bayes", "hyperband", "optuna_hb", "optuna_median")):
        return
    hb_vs_bayes = sum(1 for h, b in zip(rows["hyperband"], rows["bayes"])
                      if h["best_third"] <= b["best"])
    hb_vs_opt = sum(1 for h, o in zip(rows["hyperband"], rows["optuna_hb"])
                    if h["best"] <= o["best"])
    hb_vs_med = sum(1 for h, o in zip(rows["hyperband"], rows["optuna_median"])
                    if h["best"] <= o["best"])
    reach = sorted(epochs_to_reach(h["log"], b["best"]) / b["epochs"]
                   for h, b in zip(rows["hyperband"], rows["bayes"]))
    print()
    print("epochs Hyperband needed to reach Bayesian's full-budget best, as a share of "
          "Bayesian's epochs, per seed: " + ", ".join("%.2f" % x for x in reach)
          + " (inf: never); median %.2f" % statistics.median(reach))
    print("seeds where Hyperband within 1/3 of Bayesian's epochs <= Bayesian's full-budget best: "
          "%d/%d" % (hb_vs_bayes, nseeds))
    print("seeds where Hyperband <= Optuna TPE+HyperbandPruner at equal epochs: %d/%d"
          % (hb_vs_opt, nseeds))
    print("seeds where Hyperband <= Optuna TPE+MedianPruner at equal epochs: %d/%d"
          % (hb_vs_med, nseeds))


if __name__ == "__main__":
    main()
