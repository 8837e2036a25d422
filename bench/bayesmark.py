#!/usr/bin/env python3
"""Bayesmark-style benchmark through the real hpod: scikit-learn models on
Debian's datasets (bench/bayesmark_problems.py), cross-validated loss,
ROUNDS rounds of BATCH parallel evaluations (16 x 8 = 128), scored as
Bayesmark scores (normalised against random search; see score() below and
bench/README.md).

Optimisers, all on the same objective (one evaluation server, one cache):
  openhpo Bayesian, openhpo Random: tuning jobs in a real hpod (ephemeral
      loopback port, temporary data dir) created with boto3;
      MaxNumberOfTrainingJobs ROUNDS*BATCH, MaxParallelTrainingJobs BATCH,
      RandomSeed = the seed; every evaluation is a training job, the local
      backend running bench/bayesmark_train.py --server SOCK.
  Optuna TPE, Optuna Random: Debian's python3-optuna (3.1) in this process,
      TPESampler(seed) / RandomSampler(seed) with defaults, ask BATCH, evaluate
      them in parallel, tell BATCH, ROUNDS times.
  Optuna GP: optuna.samplers.GPSampler(seed) of a newer Optuna source tree,
      only when OPTUNA_SRC names one (it needs torch); run in a subprocess
      with PYTHONPATH=$OPTUNA_SRC, asking the same evaluation server. Left
      out, saying why, when it cannot be imported.

The evaluation server (a Unix socket) holds the data and a pool of WORKERS
processes that fit the models; a configuration seen before (same problem,
same parameters as the model sees them) is answered from its cache.

Results are appended, one JSON line per (seed, problem, optimiser), to
--out; --report FILE prints the tables of such a file (also of a partial
run).

usage: /usr/bin/python3 bench/bayesmark.py [--quick] [--seeds 20]
       [--problems a,b] [--out FILE] [--workers 2] [--overhead 128]
       /usr/bin/python3 bench/bayesmark.py --report FILE
"""
import argparse
import concurrent.futures
import json
import multiprocessing
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import bayesmark_problems as bp  # noqa: E402

IMAGE = "bayesmark:bench"
# Set by SIGTERM/SIGINT (main thread only writes it); the runs poll it and
# give up at their next round, so that a run cut short stops within seconds.
STOP = threading.Event()


class Stopped(Exception):
    pass
METHODS = ("openhpo-Bayesian", "openhpo-Random", "Optuna-TPE", "Optuna-Random", "Optuna-GP")
RANDOMS = ("openhpo-Random", "Optuna-Random")


# ---------------------------------------------------------------- evaluation server
_PROBLEMS = {}


def _worker_eval(name, hp):
    """In a pool process: (loss, seconds)."""
    p = _PROBLEMS.get(name)
    if p is None:
        p = _PROBLEMS[name] = bp.Problem(name)
    t = time.process_time()
    loss = p.evaluate(hp)
    return loss, time.process_time() - t


def _fit_worker_init():
    """A fit worker is forked after main() set its SIGTERM/SIGINT handler;
    that handler raised KeyboardInterrupt inside the worker when the pool
    was terminated (a traceback at every exit, and a worker that could die
    holding the pool's queue lock). Workers take the default SIGTERM and
    leave SIGINT (a Ctrl-C reaches the whole group) to the parent."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class EvalServer:
    """Answers {"problem", "hp", "job"} lines on a Unix socket with {"loss"};
    evaluate() is the same for in-process callers. The cache (and the
    in-flight table that makes concurrent equal requests wait for one fit)
    is guarded by self.lock."""

    def __init__(self, path, workers):
        self.pool = multiprocessing.get_context("fork").Pool(workers, initializer=_fit_worker_init)
        self.path, self.lock = path, threading.Lock()
        self.cache, self.inflight, self.keys = {}, {}, {}
        self.fits = self.hits = 0
        self.cpu = 0.0
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(128)
        threading.Thread(target=self._accept, daemon=True).start()

    def key(self, name, hp):
        sp = self.keys.get(name)
        if sp is None:
            sp = self.keys[name] = bp.Problem.space_of(name)
        return (name,) + bp.key(sp, hp)

    def evaluate(self, name, hp):
        if name == "null":  # the overhead measurement: no fit
            return 0.0
        key = self.key(name, hp)
        with self.lock:
            if key in self.cache:
                self.hits += 1
                return self.cache[key]
            ev = self.inflight.get(key)
            mine = ev is None
            if mine:
                ev = self.inflight[key] = threading.Event()
        if not mine:
            ev.wait()
            with self.lock:
                self.hits += 1
                return self.cache[key]
        loss, cpu = self.pool.apply(_worker_eval, (name, hp))
        with self.lock:
            self.cache[key] = loss
            self.fits += 1
            self.cpu += cpu
            del self.inflight[key]
        ev.set()
        return loss

    def _accept(self):
        while True:
            c, _ = self.sock.accept()
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        try:
            req = json.loads(c.makefile("r").readline())
            loss = self.evaluate(req["problem"], req["hp"])
            c.sendall((json.dumps({"loss": loss}) + "\n").encode())
        except (OSError, ValueError, KeyError) as e:
            print("evaluation server: %s" % e, file=sys.stderr)
        finally:
            c.close()


def remote_evaluate(sock_path, name, hp):
    """evaluate() through the socket (the GPSampler subprocess)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock_path)
    s.sendall((json.dumps({"problem": name, "hp": hp, "job": "gp"}) + "\n").encode())
    return json.loads(s.makefile("r").readline())["loss"]


# ---------------------------------------------------------------- openhpo through hpod
class Hpod:
    def __init__(self, tmp, sock_path):
        import boto3
        import botocore.session
        images = os.path.join(tmp, "images.json")
        with open(images, "w") as f:
            json.dump({IMAGE: ["/usr/bin/python3", "-S", os.path.join(HERE, "bayesmark_train.py"),
                               "--server", sock_path]}, f)
        port_file = os.path.join(tmp, "port")
        self.log = open(os.path.join(tmp, "hpod.log"), "w")
        self.out = os.path.join(tmp, "out")
        os.makedirs(self.out)
        hpod = os.environ.get("HPOD_BIN", os.path.join(ROOT, "build", "hpod"))
        self.p = subprocess.Popen([hpod, "--listen", "127.0.0.1:0", "--data-dir",
                                   os.path.join(tmp, "data"), "--port-file", port_file,
                                   "--images", images], stdout=self.log, stderr=self.log)
        t0 = time.time()
        while not (os.path.exists(port_file) and open(port_file).read().strip()):
            if self.p.poll() is not None or time.time() - t0 > 30:
                raise SystemExit("hpod did not start; see its log")
            time.sleep(0.02)
        url = "http://127.0.0.1:" + open(port_file).read().strip()
        # Debian's boto3 with the newest SageMaker model (RandomSeed), as the e2e tests.
        bs = botocore.session.get_session()
        bs.get_component("data_loader").search_paths.insert(
            0, os.path.join(ROOT, "scripts", "botocore-newest"))
        cfg = __import__("botocore.config").config.Config(max_pool_connections=20)
        self.sm = boto3.session.Session(botocore_session=bs).client(
            "sagemaker", endpoint_url=url, region_name="us-east-1", aws_access_key_id="bench",
            aws_secret_access_key="bench", config=cfg)

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        try:
            self.p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()

    def run(self, name, strategy, problem, seed, rounds, batch):
        """Losses in creation order and the tuning job's wall seconds."""
        ints, conts = [], []
        space = {} if problem == "null" else bp.Problem.space_of(problem)
        for k, (t, s, lo, hi) in space.items():
            r = {"Name": k, "MinValue": repr(lo), "MaxValue": repr(hi),
                 "ScalingType": "Logarithmic" if s == "log" else "Linear"}
            (ints if t == "int" else conts).append(r)
        if not space:
            conts.append({"Name": "x", "MinValue": "0", "MaxValue": "1", "ScalingType": "Linear"})
        t0 = time.time()
        self.sm.create_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=name,
            HyperParameterTuningJobConfig={
                "Strategy": strategy, "RandomSeed": seed,
                "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "cv_loss"},
                "ResourceLimits": {"MaxNumberOfTrainingJobs": rounds * batch,
                                   "MaxParallelTrainingJobs": batch},
                "ParameterRanges": {"IntegerParameterRanges": ints,
                                    "ContinuousParameterRanges": conts},
                "TrainingJobEarlyStoppingType": "Off"},
            TrainingJobDefinition={
                "AlgorithmSpecification": {
                    "TrainingImage": IMAGE, "TrainingInputMode": "File",
                    "MetricDefinitions": [{"Name": "cv_loss",
                                           "Regex": "cv_loss=([-+0-9.eEinfa]+)"}]},
                "RoleArn": "arn:aws:iam::123456789012:role/bench",
                "OutputDataConfig": {"S3OutputPath": "file://" + self.out},
                "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large",
                                   "VolumeSizeInGB": 1},
                "StaticHyperParameters": {"problem": problem},
                "StoppingCondition": {"MaxRuntimeInSeconds": 3600}})
        while True:
            if STOP.is_set():
                self.sm.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
                raise Stopped()
            d = self.sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
            if d["HyperParameterTuningJobStatus"] not in ("InProgress", "Stopping"):
                break
            time.sleep(0.25)
        wall = time.time() - t0
        if d["HyperParameterTuningJobStatus"] != "Completed":
            raise RuntimeError("%s ended %s: %s" % (name, d["HyperParameterTuningJobStatus"],
                                                     d.get("FailureReason")))
        jobs, tok = [], None
        while True:
            kw = {"NextToken": tok} if tok else {}
            r = self.sm.list_training_jobs_for_hyper_parameter_tuning_job(
                HyperParameterTuningJobName=name, MaxResults=100, SortBy="CreationTime",
                SortOrder="Ascending", **kw)
            jobs += r["TrainingJobSummaries"]
            tok = r.get("NextToken")
            if not tok:
                break
        bad = [j["TrainingJobName"] for j in jobs if j["TrainingJobStatus"] != "Completed"]
        if bad:
            raise RuntimeError("%s: training jobs not Completed: %s" % (name, bad[:5]))
        jobs.sort(key=lambda j: j["CreationTime"])
        return [j["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for j in jobs], wall


# ---------------------------------------------------------------- Optuna peers
def suggest(trial, space):
    hp = {}
    for k, (t, s, lo, hi) in space.items():
        if t == "int":
            hp[k] = trial.suggest_int(k, lo, hi, log=s == "log")
        else:
            hp[k] = trial.suggest_float(k, lo, hi, log=s == "log")
    return hp


def run_optuna(optuna, sampler, problem, rounds, batch, evaluate):
    """Ask `batch`, evaluate them in parallel, tell them; `rounds` times."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="minimize", sampler=sampler)
    space = bp.Problem.space_of(problem)
    losses = []
    with concurrent.futures.ThreadPoolExecutor(batch) as ex:
        for _ in range(rounds):
            if STOP.is_set():
                raise Stopped()
            trials = [study.ask() for _ in range(batch)]
            hps = [suggest(t, space) for t in trials]
            ls = list(ex.map(lambda hp: evaluate(problem, hp), hps))
            for t, v in zip(trials, ls):
                study.tell(t, v)
            losses += ls
    return losses


def gp_main(argv):
    """--gp-worker SOCK PROBLEM SEED ROUNDS BATCH, run with PYTHONPATH=$OPTUNA_SRC:
    prints {"losses": [...]} or {"skip": why}."""
    sock, problem, seed, rounds, batch = argv[0], argv[1], int(argv[2]), int(argv[3]), int(argv[4])
    try:
        import optuna
        import torch  # noqa: F401  GPSampler's dependency, imported lazily by Optuna
        sampler = optuna.samplers.GPSampler(seed=seed)
    except Exception as e:  # ImportError (torch), AttributeError (an older Optuna)
        print(json.dumps({"skip": "%s: %s" % (type(e).__name__, e)}))
        return
    losses = run_optuna(optuna, sampler, problem, rounds, batch,
                        lambda n, hp: remote_evaluate(sock, n, hp))
    print(json.dumps({"losses": losses, "version": optuna.__version__}))


def run_gp(sock, problem, seed, rounds, batch):
    src = os.environ.get("OPTUNA_SRC")
    if not src:
        return None, "OPTUNA_SRC is not set"
    env = dict(os.environ, PYTHONPATH=src)
    r = subprocess.run([sys.executable, os.path.abspath(__file__), "--gp-worker", sock, problem,
                        str(seed), str(rounds), str(batch)], env=env, capture_output=True,
                       text=True)
    try:
        out = json.loads(r.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None, "GPSampler run failed: %s" % r.stderr.strip()[-300:]
    return out.get("losses"), out.get("skip")


# ---------------------------------------------------------------- scoring
def expected_min(pool, m):
    """Unbiased estimate of E[min of m draws without replacement] from `pool`
    (Bayesmark's pooled estimator of random search's expected best): the
    i-th smallest of n is the minimum with probability C(n-i, m-1)/C(n, m)."""
    xs = sorted(pool)
    n = len(xs)
    m = min(m, n)
    # P(min is x_i) for i = 1..n, computed as a running product to avoid huge binomials
    p = m / n  # i = 1: C(n-1, m-1)/C(n, m)
    tot = 0.0
    for i in range(1, n - m + 2):
        tot += p * xs[i - 1]
        # ratio C(n-i-1, m-1)/C(n-i, m-1) = (n-i-m+1)/(n-i)
        if n - i > 0:
            p *= (n - i - m + 1) / (n - i)
    return tot


def bootstrap_median(xs, reps=2000, seed=0):
    """Median of xs and its 90% percentile-bootstrap interval."""
    rng = random.Random(seed)
    meds = sorted(statistics.median(rng.choices(xs, k=len(xs))) for _ in range(reps))
    return statistics.median(xs), meds[int(0.05 * reps)], meds[int(0.95 * reps) - 1]


def score(rows, budget):
    """Per problem and optimiser: {seed: score} where score = 100 * (1 - (S - opt) /
    (R - opt)), S = the run's best loss in its first `budget` evaluations,
    opt = the best loss any optimiser found on the problem in any seed,
    R = random search's expected best of `budget` evaluations, estimated from
    all evaluations of openhpo Random and Optuna Random pooled (expected_min).
    So random search scores 0 on average and the best found 100.  Also the
    Bayesmark mean score: 100 * (1 - clip((S - opt) / (C - opt), -1, 1)),
    C = the median of single random evaluations (Bayesmark's clip)."""
    by = {}
    for r in rows:
        by.setdefault(r["problem"], {}).setdefault(r["method"], {})[r["seed"]] = r["losses"]
    out, skipped = {}, []
    for prob, meth in by.items():
        pool = [v for m in RANDOMS for ls in meth.get(m, {}).values() for v in ls[:budget]]
        opt = min(v for m in meth.values() for ls in m.values() for v in ls)
        if not pool:
            skipped.append((prob, "no random runs"))
            continue
        R = expected_min(pool, budget)
        C = statistics.median(pool)
        if not R - opt > 1e-12 * max(1.0, abs(opt)):
            skipped.append((prob, "random search finds the best loss (%.6g) too" % opt))
            continue
        out[prob] = {}
        for m, seeds in meth.items():
            out[prob][m] = {}
            for s, ls in seeds.items():
                S = min(ls[:budget])
                bm = max(-1.0, min(1.0, (S - opt) / (C - opt))) if C > opt else 0.0
                out[prob][m][s] = (100 * (1 - (S - opt) / (R - opt)), 100 * (1 - bm))
    return out, skipped


def report(rows, budget):
    sc, skipped = score(rows, budget)
    methods = [m for m in METHODS if any(m in v for v in sc.values())]
    # a problem's seeds: those every optimiser has run on it
    seeds_of = {p: sorted(set.intersection(*[set(sc[p].get(m, {})) for m in methods]))
                for p in sc}
    n_full = max((len(v) for v in seeds_of.values()), default=0)
    full = [p for p in sorted(sc) if len(seeds_of[p]) == n_full]
    print("Bayesmark-style score after %d evaluations (100 = the best loss found by any "
          "optimiser, 0 = random search's expected best); median over seeds [90%% bootstrap "
          "interval]" % budget)
    print()
    print("| problem | seeds | " + " | ".join(methods) + " |")
    print("|---|---|" + "---|" * len(methods))
    for prob in full + [p for p in sorted(sc) if p not in full]:
        cells = []
        for m in methods:
            xs = [sc[prob][m][s][0] for s in seeds_of[prob]]
            cells.append("%.1f [%.1f, %.1f]" % bootstrap_median(xs) if xs else "-")
        print("| %s | %d | %s |" % (prob, len(seeds_of[prob]), " | ".join(cells)))
    # aggregate over the problems with every seed: per seed the mean over them
    agg, bmk = {m: [] for m in methods}, {m: [] for m in methods}
    seeds = seeds_of[full[0]] if full else []
    for s in seeds:
        if not all(s in seeds_of[p] for p in full):
            continue
        for m in methods:
            agg[m].append(statistics.mean(sc[p][m][s][0] for p in full))
            bmk[m].append(statistics.mean(sc[p][m][s][1] for p in full))
    cells = ["%.1f [%.1f, %.1f]" % bootstrap_median(agg[m]) if agg[m] else "-" for m in methods]
    print("| **all %d with %d seeds (per-seed mean)** | %d | %s |" % (
        len(full), n_full, len(agg[methods[0]]) if methods else 0, " | ".join(cells)))
    print()
    print("Bayesmark's own mean score over those problems (normalised by the median single "
          "random evaluation, clipped to [-1, 1]; mean over seeds and problems):")
    print("| " + " | ".join(methods) + " |")
    print("|" + "---|" * len(methods))
    print("| " + " | ".join("%.1f" % statistics.mean(bmk[m]) if bmk[m] else "-"
                            for m in methods) + " |")
    if "openhpo-Bayesian" in agg and agg["openhpo-Bayesian"]:
        print()
        print("seeds where openhpo Bayesian's mean score is above: " + ", ".join(
            "%s %d/%d" % (m, sum(1 for x, y in zip(agg["openhpo-Bayesian"], agg[m]) if x > y),
                          len(agg[m])) for m in methods if m != "openhpo-Bayesian"))
    for p, why in skipped:
        print("left out of the scores: %s (%s)" % (p, why))


# ---------------------------------------------------------------- main
def measure_overhead(hpod, n, batch):
    """Wall seconds per training job through hpod when the evaluation costs nothing."""
    out = {}
    for strat in ("Random", "Bayesian"):
        _, wall = hpod.run("overhead-%s" % strat.lower(), strat, "null", 1, n // batch, batch)
        out[strat] = wall / n
    return out


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--gp-worker":
        return gp_main(sys.argv[2:])
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="3 problems, 3 seeds")
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--seed-offset", type=int, default=0)
    ap.add_argument("--problems", help="comma-separated (default: bayesmark_problems.PROBLEMS)")
    ap.add_argument("--rounds", type=int, default=16)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--workers", type=int, default=2, help="fits at a time")
    ap.add_argument("--overhead", type=int, default=128,
                    help="training jobs of the per-job overhead measurement (0: none)")
    ap.add_argument("--out", help="append results (JSON lines) here")
    ap.add_argument("--report", help="only print the tables of this results file")
    a = ap.parse_args()
    budget = a.rounds * a.batch
    if a.report:
        rows = [json.loads(x) for x in open(a.report) if x.strip()]
        return report([r for r in rows if "losses" in r], budget)
    problems = a.problems.split(",") if a.problems else (bp.QUICK if a.quick else bp.PROBLEMS)
    seeds = range(1 + a.seed_offset, 1 + a.seed_offset + (3 if a.quick else a.seeds))

    def on_term(sig, frame):
        STOP.set()
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    import optuna
    rows = []
    out = open(a.out, "a") if a.out else None
    t_start = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        sock = os.path.join(tmp, "eval.sock")
        server = EvalServer(sock, a.workers)
        hpod = Hpod(tmp, sock)
        try:
            if a.overhead:
                oh = measure_overhead(hpod, a.overhead, a.batch)
                print("hpod wall time per training job, %d jobs at %d parallel, no fit: "
                      "Random %.3f s, Bayesian %.3f s" % (a.overhead, a.batch, oh["Random"],
                                                          oh["Bayesian"]), flush=True)
                if out:
                    out.write(json.dumps({"overhead": oh, "jobs": a.overhead}) + "\n")
            gp_skip = None
            # Problem by problem, all seeds of one before the next: a run cut
            # short has whole problems (every seed) to score.
            for pi, prob in enumerate(problems):
                for seed in seeds:
                    t0 = time.time()
                    jobs = {}
                    with concurrent.futures.ThreadPoolExecutor(5) as ex:
                        for strat in ("Bayesian", "Random"):
                            jobs["openhpo-" + strat] = ex.submit(
                                hpod.run, "s%d-p%d-%s" % (seed, pi, strat.lower()), strat, prob,
                                seed, a.rounds, a.batch)
                        jobs["Optuna-TPE"] = ex.submit(
                            run_optuna, optuna, optuna.samplers.TPESampler(seed=seed), prob,
                            a.rounds, a.batch, server.evaluate)
                        jobs["Optuna-Random"] = ex.submit(
                            run_optuna, optuna, optuna.samplers.RandomSampler(seed=seed), prob,
                            a.rounds, a.batch, server.evaluate)
                        if gp_skip is None:
                            jobs["Optuna-GP"] = ex.submit(run_gp, sock, prob, seed, a.rounds,
                                                          a.batch)
                        res = {}
                        for m, f in jobs.items():
                            r = f.result()
                            if m == "Optuna-GP":
                                if r[0] is None:
                                    gp_skip = r[1]
                                    print("Optuna GPSampler left out: %s" % gp_skip, flush=True)
                                    continue
                                r = r[0]
                            if m.startswith("openhpo"):
                                res[m] = {"losses": r[0], "wall": r[1]}
                            else:
                                res[m] = {"losses": r}
                    for m, r in res.items():
                        row = dict(r, seed=seed, problem=prob, method=m)
                        rows.append(row)
                        if out:
                            out.write(json.dumps(row) + "\n")
                            out.flush()
                    print("seed %d %-18s %5.0f s  best: %s  (fits %d, cache hits %d)" % (
                        seed, prob, time.time() - t0,
                        ", ".join("%s %.5g" % (m, min(r["losses"])) for m, r in res.items()),
                        server.fits, server.hits), flush=True)
        except (KeyboardInterrupt, Stopped):
            print("interrupted; reporting what is done", flush=True)
        finally:
            hpod.stop()
            server.pool.terminate()
    walls = [r["wall"] / budget for r in rows if "wall" in r]
    if walls:
        print("openhpo tuning jobs: median wall %.3f s per training job (%d tuning jobs, "
              "4 optimisers sharing %d fit workers)" % (statistics.median(walls), len(walls),
                                                       a.workers))
    print("total %.0f s; %d fits (%.0f CPU s), %d cache hits" % (
        time.time() - t_start, server.fits, server.cpu, server.hits))
    print()
    if rows:
        report(rows, budget)


if __name__ == "__main__":
    main()
