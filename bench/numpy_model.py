#!/usr/bin/env python3
"""NumPy version of finsim's model, timed the way a quant would write it.

The model of docs/DESIGN.md (stochastic-vol FX paths, daily knock-out at the
strike, AzFinSim's payoff), vectorised over paths with NumPy arrays and
NumPy's PCG64 generator: plain Monte Carlo in linear space, one loop over the
time steps. pvonly evolves the base scenario; deltavega also the four bumped
ones (fx1 +-1 %, sigma1 +-1 %) on the same normals. The trades are finsim's
generator's (the fields are read from an eyxml file written by
`finsim generate --eyxml`), so the figures compare like with like.

Prints one line per algorithm: ms/trade (best and median over the trades,
each the best of --reps runs) and ns per path-step. A benchmark only: it
checks nothing. Run it with the system Python (python3-numpy):

    /usr/bin/python3 bench/numpy_model.py FILE.xml [--paths N] [--trades N] [--reps N]
"""
import argparse
import math
import re
import sys
import time

import numpy as np

PAYOFF_FACTOR = 1.000799081


def read_trades(path, limit):
    """Trade attribute dicts from an eyxml document (finsim's own bytes)."""
    text = open(path).read()
    out = []
    for m in re.finditer(r"<trade ([^>]*)>\s*(\d+)\s*</trade>", text):
        a = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
        out.append({"id": int(m.group(2)), "fx1": float(a["fx1"]), "drift": float(a["drift"]),
                    "maturity": float(a["maturity"]), "t_steps": int(a["t_steps"]),
                    "ro": float(a["ro"]), "v": float(a["v"]), "sigma1": float(a["sigma1"]),
                    "wn": float(a["warrantsNo"]) * float(a["notionalPerWarr"]),
                    "strike": float(a["strike"])})
        if len(out) >= limit:
            break
    return out


def price(tr, paths, rng, greeks):
    """PV (and the Greeks) of one trade with standard errors."""
    fx1, k, sig = tr["fx1"], tr["strike"], tr["sigma1"]
    dt = tr["maturity"] / tr["t_steps"]
    sdt = math.sqrt(dt)
    v, ro, drift = tr["v"], tr["ro"], tr["drift"]
    rc = math.sqrt(1.0 - ro * ro)
    hfx, hv = 0.01 * fx1, 0.01 * sig
    if greeks:
        s0 = np.array([fx1, fx1 + hfx, fx1 - hfx, fx1, fx1])
        v0 = np.array([sig, sig, sig, sig + hv, sig - hv])
    else:
        s0, v0 = np.array([fx1]), np.array([sig])
    ns = len(s0)
    s = np.repeat(s0[:, None], paths, axis=1)
    vol = np.repeat(v0[:, None], paths, axis=1)
    alive = s >= k
    c0 = -0.5 * v * v * dt
    for _ in range(tr["t_steps"]):
        z = rng.standard_normal((2, paths))
        f = np.exp(c0 + v * sdt * (ro * z[0] + rc * z[1]))
        vol *= f
        s *= np.exp((drift - 0.5 * vol * vol) * dt + vol * (z[0] * sdt))
        alive &= s >= k
    y = np.where(alive, tr["wn"] * np.maximum(0.0, s / k - 1.0) / s * PAYOFF_FACTOR, 0.0)
    est = [y[0]]
    if ns == 5:
        est += [(y[1] - y[2]) / (2 * hfx) / 10000.0, (y[3] - y[4]) / (2 * hv) / 10000.0]
    return [(e.mean(), e.std(ddof=1) / math.sqrt(paths)) for e in est]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("eyxml")
    ap.add_argument("--paths", type=int, default=10000)
    ap.add_argument("--trades", type=int, default=5)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--algo", choices=("pvonly", "deltavega", "both"), default="both")
    ap.add_argument("--cpu-clock", action="store_true",
                    help="time with the thread's CPU time instead of the wall clock")
    args = ap.parse_args()
    trades = read_trades(args.eyxml, args.trades)
    if not trades:
        print("numpy_model: no trades in", args.eyxml, file=sys.stderr)
        return 2
    rng = np.random.Generator(np.random.PCG64(args.seed))
    print(f"NumPy {np.__version__}, {len(trades)} trades x {args.paths} paths x "
          f"{trades[0]['t_steps']} steps, best of {args.reps} runs per trade")
    clock = time.thread_time if args.cpu_clock else time.perf_counter
    for algo, greeks in (("pvonly", False), ("deltavega", True)):
        if args.algo not in (algo, "both"):
            continue
        per = []
        for tr in trades:
            best = math.inf
            for _ in range(args.reps):
                t0 = clock()
                price(tr, args.paths, rng, greeks)
                best = min(best, clock() - t0)
            per.append(best)
        per.sort()
        med = per[len(per) // 2] if len(per) % 2 else 0.5 * (per[len(per) // 2 - 1] + per[len(per) // 2])
        work = args.paths * trades[0]["t_steps"]
        print(f"numpy {algo:<10} best {per[0] * 1e3:8.2f}  median {med * 1e3:8.2f} ms/trade  "
              f"{med * 1e9 / work:6.2f} ns/path-step")
    return 0


if __name__ == "__main__":
    sys.exit(main())
