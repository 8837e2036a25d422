#!/usr/bin/python3
"""Tables from the REG / LAT lines of strategy_bench and optuna_bench.py.

  report.py FILE...   (lines from both programs, any order)

Regret cells are the median over seeds with its 90% bootstrap interval
(2000 resamples of the seeds, a fixed generator: the same lines give the
same table). On noisy functions the regret is the true value of each
strategy's incumbent (strategy_bench.c, optuna_bench.py).
"""
import collections
import sys

import numpy as np

BOOT = 2000


def boot(v):
    """Median of v and the 5% / 95% percentiles of bootstrap medians."""
    v = np.asarray(v, float)
    rng = np.random.default_rng(12345)
    meds = np.median(v[rng.integers(0, len(v), size=(BOOT, len(v)))], axis=1)
    return np.median(v), np.percentile(meds, 5), np.percentile(meds, 95)


def fmt(x):
    return "%.3g" % x if abs(x) >= 1e-3 or x == 0 else "%.1e" % x


def cell(v):
    med, lo, hi = boot(v)
    return "%s [%s, %s]" % (fmt(med), fmt(lo), fmt(hi))


def main():
    reg = collections.defaultdict(list)   # (func, label) -> [(r25, r30, r50, r100, best)]
    lat = {}                               # (label, d, n) -> (median, p95)
    funcs, labels = [], []
    for path in sys.argv[1:]:
        for line in open(path):
            f = line.split()
            if not f:
                continue
            if f[0] == "REG":
                func, strat, batch = f[1], f[2], int(f[3])
                label = (strat if batch == 1 else "%s(q=%d)" % (strat, batch) if batch > 1
                         else "%s(async %d)" % (strat, -batch))
                reg[(func, label)].append([float(x) for x in f[5:10]])
                if func not in funcs:
                    funcs.append(func)
                if label not in labels:
                    labels.append(label)
            elif f[0] == "LAT":
                lat[(f[1], int(f[2]), int(f[3]))] = (float(f[4]), float(f[5]))
    order = {"Bayesian": 0, "Bayesian(q=4)": 1, "Bayesian(async 4)": 2, "TPE": 3, "Random": 4}
    labels.sort(key=lambda s: (order.get(s, 9), s))
    if reg:
        print("Simple regret (best so far - minimum; noisy: true value of the incumbent - "
              "minimum): median [90% bootstrap interval] over seeds")
        print()
        print("| function | strategy | seeds | after 25 | after 50 | after 100 |")
        print("|---|---|---|---|---|---|")
        for func in funcs:
            for label in labels:
                rows = reg.get((func, label))
                if not rows:
                    continue
                a = np.array(rows)
                print("| %s | %s | %d | %s | %s | %s |" % (
                    func, label, len(rows), cell(a[:, 0]), cell(a[:, 2]), cell(a[:, 3])))
        print()
        print("Comparisons (medians)")
        for func in funcs:
            b, t = reg.get((func, "Bayesian")), reg.get((func, "TPE"))
            if b and t:
                for col, at in ((2, 50), (3, 100)):
                    mb, mt = np.median(np.array(b)[:, col]), np.median(np.array(t)[:, col])
                    print("  %-16s at %3d: Bayesian %-9s TPE %-9s -> %s" % (
                        func, at, fmt(mb), fmt(mt), "Bayesian" if mb < mt else
                        "tie" if mb == mt else "TPE"))
        for label in labels:
            if label.startswith("Bayesian("):
                for func in funcs:
                    s, p = reg.get((func, "Bayesian")), reg.get((func, label))
                    if s and p:
                        s50, s100 = np.median(np.array(s)[:, 2]), np.median(np.array(s)[:, 3])
                        p50, p100 = np.median(np.array(p)[:, 2]), np.median(np.array(p)[:, 3])
                        ratio = "%.2fx" % (p50 / s50) if s50 > 0 else "-"
                        r100 = "%.2fx" % (p100 / s100) if s100 > 0 else "-"
                        print("  %-16s at 50 / 100: sequential %s / %s, %s %s / %s (%s / %s)"
                              % (func, fmt(s50), fmt(s100), label, fmt(p50), fmt(p100), ratio,
                                 r100))
        print()
    if lat:
        print("Ask latency, ms (median / p95), d-dimensional Ackley, random history")
        print()
        strats = sorted({k[0] for k in lat})
        print("| d | trials | " + " | ".join(strats) + " |")
        print("|---|---|" + "---|" * len(strats))
        for d, n in sorted({(k[1], k[2]) for k in lat}):
            cells = []
            for s in strats:
                v = lat.get((s, d, n))
                cells.append("%.1f / %.1f" % v if v else "-")
            print("| %d | %d | " % (d, n) + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
