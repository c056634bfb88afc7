#!/usr/bin/env python3
"""Independent NumPy prices for tests/unit/test_mc.c (the Monte Carlo kernels).

Implements the model of docs/DESIGN.md from scratch with NumPy's own generator
(PCG64, fixed seed): antithetic pairs (z, -z) averaged per pair, S and vol in
linear space, daily knock-out at S_j < strike for j = 0..t_steps. The Greeks use
common random numbers: base, fx1 +/- 1 % and sigma1 +/- 1 % are evolved on the
same normals, and each figure's standard error is the sample std of the
pair averages / sqrt(pairs).

Writes tests/ref/mc_reference.json (trade parameters and results, floats
in Python's shortest round-trip form) and prints a summary. The C test reads the
JSON; it never runs this script. The default 2 * 10^7 paths (10^7 antithetic
pairs) per trade on 2 worker processes take about 5 minutes on 2 idle cores
(27 minutes when last regenerated, on a machine shared with other work);
the path count used is stored in the JSON ("paths", "antithetic_pairs"):

    /usr/bin/python3 tests/ref/mc_reference.py [--paths N] [--workers W] [--out FILE]

(use the system Python: it has python3-numpy)
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np

PAYOFF_FACTOR = 1.000799081
SEED = 20240611

# gen_trade(1, id) of finsim (seed 1, ids 0..3), printed with %.17g, then
# altered where the test needs another regime. "why" says what each covers.
TRADES = [
    {"name": "gen1_id0", "why": "generated trade as is (rare knock-outs)",
     "id": 0, "fx1": 0.87246591622797454, "drift": 0.066483704966398077,
     "maturity": 0.20000000000000001, "t_steps": 172, "ro": 3.8413221829e-05,
     "v": 0.0015480737860400001, "sigma1": 0.072587474889491993,
     "warrants_no": 49962, "notional_per_warr": 991.83586066604516,
     "strike": 0.75297437647652521},
    {"name": "gen1_id3", "why": "generated trade as is (spot 7 % above strike)",
     "id": 3, "fx1": 0.83588910358846802, "drift": -0.088968673321121017,
     "maturity": 0.20000000000000001, "t_steps": 172, "ro": 3.8413221829e-05,
     "v": 0.0015480737860400001, "sigma1": 0.088518604310874965,
     "warrants_no": 59629, "notional_per_warr": 1028.9335246715773,
     "strike": 0.77952118909340951},
    {"name": "gen1_id2_knockout", "why": "strike = 0.99 fx1, sigma1 0.2: most paths knocked out",
     "id": 2, "fx1": 0.93926972530386199, "drift": -0.096660012420797636,
     "maturity": 0.20000000000000001, "t_steps": 172, "ro": 3.8413221829e-05,
     "v": 0.0015480737860400001, "sigma1": 0.2,
     "warrants_no": 45718, "notional_per_warr": 956.73575776422285,
     "strike": 0.99 * 0.93926972530386199},
    {"name": "gen1_id1_stochvol", "why": "vol of vol 0.8, ro -0.6, strike 0.95 fx1: the vol path matters",
     "id": 1, "fx1": 0.90772641583177083, "drift": -0.055452124886822662,
     "maturity": 0.20000000000000001, "t_steps": 172, "ro": -0.6,
     "v": 0.8, "sigma1": 0.15,
     "warrants_no": 32500, "notional_per_warr": 967.88046760971974,
     "strike": 0.95 * 0.90772641583177083},
    {"name": "coarse_long", "why": "12 steps over 1 year: a large dt",
     "id": 4, "fx1": 0.84755596436652558, "drift": 0.058389381669453927,
     "maturity": 1.0, "t_steps": 12, "ro": 0.3,
     "v": 0.3, "sigma1": 0.12,
     "warrants_no": 44398, "notional_per_warr": 988.28936806773117,
     "strike": 0.78594239082187101},
]


def _combine(a, b):
    """Chan's pairwise update of (count, mean, M2) arrays."""
    n = a[0] + b[0]
    d = b[1] - a[1]
    return (n, a[1] + d * b[0] / n, a[2] + b[2] + d * d * a[0] * b[0] / n)


def price_pairs(tr, pairs, seed_seq, chunk=25000):
    """(count, mean, M2) of the pair-averaged PV, delta and vega estimates over
    `pairs` antithetic pairs drawn from seed_seq."""
    rng = np.random.Generator(np.random.PCG64(seed_seq))
    fx1, k, sig = tr["fx1"], tr["strike"], tr["sigma1"]
    dt = tr["maturity"] / tr["t_steps"]
    sdt = math.sqrt(dt)
    v, ro, drift = tr["v"], tr["ro"], tr["drift"]
    rc = math.sqrt(1.0 - ro * ro)
    wn = tr["warrants_no"] * tr["notional_per_warr"]
    hfx, hv = 0.01 * fx1, 0.01 * sig
    s0 = [fx1, fx1 + hfx, fx1 - hfx, fx1, fx1]
    v0 = [sig, sig, sig, sig + hv, sig - hv]
    acc = (0, np.zeros(3), np.zeros(3))
    done = 0
    while done < pairs:
        n = min(chunk, pairs - done)
        s = [np.full(2 * n, x) for x in s0]
        vol = [np.full(2 * n, x) for x in v0]
        alive = [np.full(2 * n, x >= k) for x in s0]
        for _ in range(tr["t_steps"]):
            z = rng.standard_normal((2, n))
            z = np.concatenate((z, -z), axis=1)  # path i and path n + i: a pair
            f = np.exp(-0.5 * v * v * dt + v * (ro * z[0] + rc * z[1]) * sdt)
            zs = z[0] * sdt
            for j in range(5):
                vol[j] *= f
                s[j] *= np.exp((drift - 0.5 * vol[j] * vol[j]) * dt + vol[j] * zs)
                alive[j] &= s[j] >= k
        y = [np.where(alive[j], wn * np.maximum(0.0, s[j] / k - 1.0) / s[j] * PAYOFF_FACTOR, 0.0)
             for j in range(5)]
        y = [0.5 * (e[:n] + e[n:]) for e in y]  # pair averages: independent samples
        est = np.stack([y[0], (y[1] - y[2]) / (2 * hfx) / 10000.0,
                        (y[3] - y[4]) / (2 * hv) / 10000.0])
        m = est.mean(axis=1)
        acc = _combine(acc, (n, m, ((est - m[:, None]) ** 2).sum(axis=1)))
        done += n
    return acc


def _work(job):
    tr, pairs, seed_seq = job
    return price_pairs(tr, pairs, seed_seq)


def price(tr, paths, seed_seq, workers=1):
    """PV, delta and vega with standard errors for trade dict tr: paths // 2
    antithetic pairs split over `workers` processes (independent PCG64 streams
    spawned from seed_seq), SE = std of the pair averages / sqrt(pairs)."""
    pairs = paths // 2
    kids = seed_seq.spawn(workers)
    share = [pairs // workers + (1 if i < pairs % workers else 0) for i in range(workers)]
    jobs = [(tr, share[i], kids[i]) for i in range(workers) if share[i] > 0]
    if workers > 1:
        import multiprocessing
        with multiprocessing.Pool(len(jobs)) as pool:
            parts = pool.map(_work, jobs)
    else:
        parts = [_work(j) for j in jobs]
    acc = (0, np.zeros(3), np.zeros(3))
    for p in parts:
        acc = _combine(acc, p)
    n, mean, m2 = acc
    se = np.sqrt(m2 / (n - 1) / n)
    return {"pv": mean[0], "pv_se": se[0], "delta": mean[1], "delta_se": se[1],
            "vega": mean[2], "vega_se": se[2]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--paths", type=int, default=20000000,
                    help="paths per trade (paths / 2 antithetic pairs)")
    ap.add_argument("--workers", type=int, default=2, help="processes per trade")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                  "mc_reference.json"))
    args = ap.parse_args()
    root = np.random.SeedSequence(SEED)
    out = {"generator": "numpy PCG64, SeedSequence(%d).spawn per trade and worker" % SEED,
           "paths": args.paths, "antithetic_pairs": args.paths // 2, "workers": args.workers,
           "numpy": np.__version__, "trades": []}
    t_all = time.time()
    for tr, ss in zip(TRADES, root.spawn(len(TRADES))):
        t0 = time.time()
        res = price(tr, args.paths, ss, args.workers)
        rec = dict(tr)
        rec.update({k: float(x) for k, x in res.items()})
        out["trades"].append(rec)
        print("%-20s pv %.6g +- %.3g  delta %.6g +- %.3g  vega %.6g +- %.3g  (%.0f s)"
              % (tr["name"], res["pv"], res["pv_se"], res["delta"], res["delta_se"],
                 res["vega"], res["vega_se"], time.time() - t0), flush=True)
    out["seconds"] = round(time.time() - t_all)

    with open(args.out, "w") as f:  # floats as repr: they read back bit for bit
        json.dump(out, f, indent=1)
        f.write("\n")
    print("wrote", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
