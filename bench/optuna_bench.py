#!/usr/bin/python3
"""Optuna TPE on the functions of bench/functions.json, for comparison with
bench/strategy_bench.c. Same output lines:

  optuna_bench.py regret SEEDS BUDGET [FUNC]
      REG func TPE 1 seed r25 r30 r50 r100 best
  optuna_bench.py latency REPS
      LAT TPE d nobs median_ms p95_ms   (time of ask + suggest_*: the sampler)

Uses TPESampler(seed=s) with Optuna's defaults; the formulas below mirror
strategy_bench.c. On a noisy function (functions.json "noise") each told value
has Gaussian noise added and the regret is the true value of the best
observed trial (TPE's incumbent) minus the minimum.
"""
import json
import math
import os
import sys
import time

import numpy as np
import optuna

optuna.logging.set_verbosity(optuna.logging.WARNING)

HERE = os.path.dirname(os.path.abspath(__file__))


def branin(x):
    a, b, c, r, s, t = 1, 5.1 / (4 * math.pi**2), 5 / math.pi, 6, 10, 1 / (8 * math.pi)
    u = x[1] - b * x[0] ** 2 + c * x[0] - r
    return a * u * u + s * (1 - t) * math.cos(x[0]) + s


HA = [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14],
      [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]]
HP = [[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
      [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]]
HAL = [1.0, 1.2, 3.0, 3.2]


def hartmann6(x):
    f = 0.0
    for i in range(4):
        s = sum(HA[i][j] * (x[j] - 1e-4 * HP[i][j]) ** 2 for j in range(6))
        f -= HAL[i] * math.exp(-s)
    return f


def rosenbrock(x):
    return sum(100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2 for i in range(len(x) - 1))


def ackley(x):
    d = len(x)
    s1 = sum(v * v for v in x)
    s2 = sum(math.cos(2 * math.pi * v) for v in x)
    return -20 * math.exp(-0.2 * math.sqrt(s1 / d)) - math.exp(s2 / d) + 20 + math.e


def mixed(x):
    off = [0.5, 0, 1, 2]
    c = int(x[3])
    a, b, m = x[0] - 1, x[1] + 0.5, x[2] - 7
    return a * a + b * b * (2 if c == 0 else 1) + 0.1 * m * m + off[c]


def logscale(x):
    a, b, m = math.log10(x[0]) + 2.5, math.log10(x[1]) + 4, x[2] - 0.9
    return a * a + 0.5 * b * b + 2 * m * m + 0.5 * a * m


def mixedlog(x):
    off, w = [1.0, 0, 0.3], [1, 1, 2]
    c = int(x[3])
    a, b, m = math.log10(x[0]) + 4.5, x[1] - 0.2, math.log2(x[2]) - 7
    return w[c] * a * a + 4 * b * b + 0.3 * a * b + 0.1 * m * m + off[c]


def levy(x):
    w = [1 + (v - 1) / 4 for v in x]
    f = math.sin(math.pi * w[0]) ** 2
    f += (w[-1] - 1) ** 2 * (1 + math.sin(2 * math.pi * w[-1]) ** 2)
    for i in range(len(x) - 1):
        f += (w[i] - 1) ** 2 * (1 + 10 * math.sin(math.pi * w[i] + 1) ** 2)
    return f


def styblinski(x):
    return sum(0.5 * (v ** 4 - 16 * v * v + 5 * v) for v in x)


FUNCS = {"branin": branin, "hartmann6": hartmann6, "mixed": mixed, "mixedlog": mixedlog,
         "logscale": logscale}
FAMILIES = {"rosenbrock": rosenbrock, "ackley": ackley, "levy": levy, "styblinski": styblinski}


def formula(name):
    """The formula of `name`: families with a dimension suffix take len(x)."""
    if name in FUNCS:
        return FUNCS[name]
    for prefix, fn in FAMILIES.items():
        if name.startswith(prefix):
            return fn
    raise KeyError(name)


def params(ranges):
    """The ranges as (name, kind, lo, hi, log, values), in openhpo's order:
    continuous, integer, categorical."""
    out = []
    for r in ranges.get("ContinuousParameterRanges", []):
        lo, hi = float(r["MinValue"]), float(r["MaxValue"])
        sc = r.get("ScalingType", "Auto")
        log = sc == "Logarithmic" or (sc == "Auto" and lo > 0 and hi / lo >= 100)
        out.append((r["Name"], "float", lo, hi, log, None))
    for r in ranges.get("IntegerParameterRanges", []):
        lo, hi = int(r["MinValue"]), int(r["MaxValue"])
        sc = r.get("ScalingType", "Auto")
        log = sc == "Logarithmic" or (sc == "Auto" and lo > 0 and hi / lo >= 100)
        out.append((r["Name"], "int", lo, hi, log, None))
    for r in ranges.get("CategoricalParameterRanges", []):
        out.append((r["Name"], "cat", 0, 0, False, r["Values"]))
    return out


def suggest(trial, ps):
    x = []
    for name, kind, lo, hi, log, values in ps:
        if kind == "float":
            x.append(trial.suggest_float(name, lo, hi, log=log))
        elif kind == "int":
            x.append(trial.suggest_int(name, lo, hi, log=log))
        else:
            x.append(values.index(trial.suggest_categorical(name, values)))
    return x


def regret(seeds, budget, only):
    spec = json.load(open(os.path.join(HERE, "functions.json")))
    for f in spec["functions"]:
        if only and f["name"] != only:
            continue
        ps, fn, fmin = params(f["ranges"]), formula(f.get("f", f["name"])), f["fmin"]
        noise = f.get("noise", 0.0)
        for s in range(seeds):
            study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=s + 1))
            best, at, xs = math.inf, {}, []
            for t in range(budget):
                trial = study.ask()
                x = suggest(trial, ps)
                xs.append(x)
                y = fn(x)
                if noise > 0:
                    y += noise * np.random.default_rng([0x4015e, s + 1, t]).normal()
                study.tell(trial, y)
                if noise > 0:
                    # TPE's incumbent is the best observed (noisy) value
                    best = fn(xs[study.best_trial.number])
                else:
                    best = min(best, y)
                if t + 1 in (25, 30, 50, 100):
                    at[t + 1] = best - fmin
            r = [at.get(k, float("nan")) for k in (25, 30, 50, 100)]
            print("REG %s TPE 1 %d %.6g %.6g %.6g %.6g %.10g" % (f["name"], s, *r, best),
                  flush=True)


def latency(reps):
    for d in (2, 10, 30):
        ps = [("x%d" % i, "float", -32.768, 32.768, False, None) for i in range(d)]
        dists = {n: optuna.distributions.FloatDistribution(lo, hi) for n, _, lo, hi, _, _ in ps}
        for n_obs in (100, 1000):
            rng = np.random.default_rng(d * 10000 + n_obs)
            study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=1))
            trials = []
            for _ in range(n_obs):
                x = rng.uniform(-32.768, 32.768, d)
                trials.append(optuna.trial.create_trial(
                    params={"x%d" % i: float(x[i]) for i in range(d)},
                    distributions=dists, value=ackley(list(x))))
            study.add_trials(trials)
            ms = []
            for _ in range(reps):
                t0 = time.perf_counter()
                trial = study.ask()
                suggest(trial, ps)
                ms.append((time.perf_counter() - t0) * 1e3)
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
            ms.sort()
            p95 = max(0, math.ceil(0.95 * reps) - 1)
            print("LAT TPE %d %d %.3f %.3f" % (d, n_obs, ms[reps // 2], ms[p95]), flush=True)


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "latency":
        latency(int(sys.argv[2]))
    elif len(sys.argv) >= 4 and sys.argv[1] == "regret":
        regret(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] if len(sys.argv) > 4 else None)
    else:
        sys.exit("usage: optuna_bench.py regret SEEDS BUDGET [FUNC] | latency REPS")


if __name__ == "__main__":
    main()
