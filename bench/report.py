#!/usr/bin/python3
"""Tables from the REG / LAT lines of strategy_bench and optuna_bench.py.

  report.py FILE...   (lines from both programs, any order)
"""
import collections
import sys

import numpy as np


def q(v):
    v = np.asarray(v, float)
    return np.percentile(v, 25), np.median(v), np.percentile(v, 75)


def fmt(x):
    return "%.3g" % x if abs(x) >= 1e-3 or x == 0 else "%.1e" % x


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
                label = strat if batch == 1 else "%s(q=%d)" % (strat, batch)
                reg[(func, label)].append([float(x) for x in f[5:10]])
                if func not in funcs:
                    funcs.append(func)
                if label not in labels:
                    labels.append(label)
            elif f[0] == "LAT":
                lat[(f[1], int(f[2]), int(f[3]))] = (float(f[4]), float(f[5]))
    if reg:
        print("Simple regret (best so far - minimum): median [25%, 75%] over seeds")
        print("%-12s %-16s %5s  %-28s %-28s %-28s" % ("function", "strategy", "seeds",
                                                        "after 25", "after 50", "after 100"))
        for func in funcs:
            for label in labels:
                rows = reg.get((func, label))
                if not rows:
                    continue
                a = np.array(rows)
                cells = []
                for col in (0, 2, 3):
                    lo, med, hi = q(a[:, col])
                    cells.append("%-9s [%s, %s]" % (fmt(med), fmt(lo), fmt(hi)))
                print("%-12s %-16s %5d  %-28s %-28s %-28s" % (func, label, len(rows), *cells))
        print()
        print("Targets")
        wins, total = 0, 0
        for func in funcs:
            b, t = reg.get((func, "Bayesian")), reg.get((func, "TPE"))
            if b and t:
                mb, mt = np.median(np.array(b)[:, 2]), np.median(np.array(t)[:, 2])
                total += 1
                wins += mb < mt
                print("  %-12s median regret at 50: Bayesian %s vs TPE %s -> %s" % (
                    func, fmt(mb), fmt(mt), "Bayesian" if mb < mt else "TPE"))
        if total:
            print("  Bayesian beats TPE at 50 evaluations on %d of %d functions (target >= 5 of 6)"
                  % (wins, total))
        if reg.get(("branin", "Bayesian")):
            print("  Branin median regret at 30: %s (target < 1e-3)"
                  % fmt(np.median(np.array(reg[("branin", "Bayesian")])[:, 1])))
        if reg.get(("hartmann6", "Bayesian")):
            print("  Hartmann6 median best at 100: %.4f (target <= -3.30)"
                  % np.median(np.array(reg[("hartmann6", "Bayesian")])[:, 4]))
        for label in labels:
            if label.startswith("Bayesian(q="):
                for func in funcs:
                    s, p = reg.get((func, "Bayesian")), reg.get((func, label))
                    if s and p:
                        print("  %-12s median regret at 50 / 100: sequential %s / %s, %s %s / %s"
                              % (func, fmt(np.median(np.array(s)[:, 2])),
                                 fmt(np.median(np.array(s)[:, 3])), label,
                                 fmt(np.median(np.array(p)[:, 2])),
                                 fmt(np.median(np.array(p)[:, 3]))))
        print()
    if lat:
        print("Ask latency, ms (median / p95), d-dimensional Ackley, random history")
        strats = sorted({k[0] for k in lat})
        print("%-4s %-6s " % ("d", "nobs") + " ".join("%-22s" % s for s in strats))
        for d in (2, 6, 10):
            for n in (100, 500, 1000):
                cells = []
                for s in strats:
                    v = lat.get((s, d, n))
                    cells.append("%-22s" % ("%.2f / %.2f" % v if v else "-"))
                print("%-4d %-6d " % (d, n) + " ".join(cells))


if __name__ == "__main__":
    main()
