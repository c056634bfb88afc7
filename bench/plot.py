#!/usr/bin/env python3
"""Turn the raw outputs of bench/run-all.sh into a table, plots and the
generated sections of docs/PERFORMANCE.md.

    /usr/bin/python3 bench/plot.py OUT_DIR [--doc docs/PERFORMANCE.md] [--img docs/img]

OUT_DIR holds what run-all.sh wrote: figures.tsv (name, value, unit, 1-minute
load before the figure), kernel.N.txt, grid/ALGO.PATHS.STEPS.csv,
scale.R.N.txt, bench_redis.txt, load.N.txt, e2e.R.N.txt, numpy.txt, env.txt.
Prints the table; with --doc replaces the text between the
"<!-- BEGIN generated: NAME -->" and "<!-- END generated: NAME -->" markers
(the rest of the file is hand-written and left alone); with --img writes
the PNGs (matplotlib, Agg). Best = the fastest repeat, median over repeats.
"""
import argparse
import glob
import math
import os
import re
import statistics
import sys

import numpy as np

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

PHASES = ("fetch", "parse", "compute", "mirror", "write", "total")


def header_load(path):
    """1-minute load average from a raw file's '# utc ... load A B C' line."""
    with open(path) as f:
        for line in f:
            m = re.match(r"# utc \S+ load ([\d.]+)", line)
            if m:
                return float(m.group(1))
    return float("nan")


class Fig:
    """One row of the table: repeats of a figure with their loads."""

    def __init__(self, label, unit, values, loads, goal="", cmd="", higher_better=False):
        self.label, self.unit, self.goal, self.cmd = label, unit, goal, cmd
        self.values = [v for v in values if v == v]
        self.loads = [x for x in loads if x == x]
        self.higher_better = higher_better

    best_override = median_override = None

    @property
    def best(self):
        if self.best_override is not None:
            return self.best_override
        if not self.values:
            return float("nan")
        return max(self.values) if self.higher_better else min(self.values)

    @property
    def median(self):
        if self.median_override is not None:
            return self.median_override
        return statistics.median(self.values) if self.values else float("nan")

    def load_str(self):
        if not self.loads:
            return "-"
        lo, hi = min(self.loads), max(self.loads)
        return f"{lo:.2f}" if lo == hi else f"{lo:.2f}-{hi:.2f}"


def fmt(v):
    if v != v:
        return "-"
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}"
    return f"{v:.3g}"


def read_tsv(out):
    """figures.tsv -> {name: [(value, load), ...]}"""
    d = {}
    with open(os.path.join(out, "figures.tsv")) as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            if len(p) < 4 or not p[1]:
                continue
            d.setdefault(p[0], []).append((float(p[1]), float(p[3]) if p[3] else float("nan")))
    return d


def tsv_fig(d, name, label, unit, scale=1.0, **kw):
    rows = d.get(name, [])
    return Fig(label, unit, [v * scale for v, _ in rows], [x for _, x in rows], **kw)


def parse_kernel(out):
    """{label: Fig} from kernel.N.txt (ms/trade and the per-step figure)."""
    ms, per, loads = {}, {}, {}
    for path in sorted(glob.glob(os.path.join(out, "kernel.*.txt"))):
        load = header_load(path)
        with open(path) as f:
            for line in f:
                m = re.match(r"\s+(.+?)\s+([\d.]+) ms/trade\s+([\d.]+) ns/(path-step|normal)", line)
                if m:
                    ms.setdefault(m.group(1), []).append(float(m.group(2)))
                    per.setdefault(m.group(1), []).append(float(m.group(3)))
                    loads.setdefault(m.group(1), []).append(load)
    return ms, per, loads


def parse_report(path):
    """Phase min/mean/max, wall time and trades from a finsim run report."""
    r = {"phases": {}}
    with open(path) as f:
        for line in f:
            m = re.match(r"\s+(\w+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*$", line)
            if m and m.group(1) in PHASES:
                r["phases"][m.group(1)] = tuple(float(m.group(i)) for i in (2, 3, 4))
            m = re.match(r"wall time\s*:\s*([\d.]+) s", line)
            if m:
                r["wall"] = float(m.group(1))
            m = re.match(r"trades\s*:\s*(\d+)", line)
            if m:
                r["trades"] = int(m.group(1))
            m = re.match(r"ranks\s*:\s*(\d+)", line)
            if m:
                r["ranks"] = int(m.group(1))
            m = re.match(r"peak RSS\s*:\s*([\d.]+) MB", line)
            if m:
                r["rss"] = float(m.group(1))
    r["load"] = header_load(path)
    return r


def parse_grid(out):
    """{algo: [(paths, steps, median compute_s per trade, load)]}"""
    g = {}
    for path in glob.glob(os.path.join(out, "grid", "*.csv")):
        algo, p, s = os.path.basename(path)[:-4].split(".")
        secs = []
        with open(path) as f:
            for line in f:
                if line.startswith("#") or line.startswith("trade_id"):
                    continue
                c = line.rstrip("\n").split(",")
                if len(c) >= 10 and c[1] == "0":
                    secs.append(float(c[9]))
        if secs:
            # fastest trade of the point: preemption on a shared machine only
            # ever adds time, and the trades of a point cost the same work
            g.setdefault(algo, []).append((int(p), int(s), min(secs), header_load(path)))
    for v in g.values():
        v.sort()
    return g


def fit_line(x, y, relative=False):
    """Least squares y = a + b x (relative=True: on relative residuals, so
    the small points that fix the intercept count as much as the large
    ones); returns a, b, R^2."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    A = np.vstack([np.ones_like(x), x]).T
    w = 1.0 / y if relative else np.ones_like(y)
    (a, b), *_ = np.linalg.lstsq(A * w[:, None], y * w, rcond=None)
    res = y - (a + b * x)
    r2 = 1 - (res @ res) / (((y - y.mean()) ** 2).sum() or 1)
    return float(a), float(b), float(r2)


def parse_bench_redis(out):
    r = {}
    path = os.path.join(out, "bench_redis.txt")
    if not os.path.exists(path):
        return r
    with open(path) as f:
        for line in f:
            m = re.match(r"(put|get)\s+([\d.]+) s\s+([\d.]+) trades/s.*client cpu ([\d.]+) s", line)
            if m:
                r[m.group(1)] = (float(m.group(2)), float(m.group(3)), float(m.group(4)))
            m = re.search(r"trades (\d+)", line)
            if m and line.startswith("store"):
                r["n"] = int(m.group(1))
    r["load"] = header_load(path)
    return r


def parse_numpy(out):
    r = {}
    path = os.path.join(out, "numpy.txt")
    if not os.path.exists(path):
        return r
    with open(path) as f:
        for line in f:
            m = re.match(r"numpy (\w+)\s+best\s+([\d.]+)\s+median\s+([\d.]+) ms/trade\s+([\d.]+)", line)
            if m:
                r[m.group(1)] = (float(m.group(2)), float(m.group(3)), float(m.group(4)))
    r["load"] = header_load(path)
    return r


def analyse(out):
    d = read_tsv(out)
    env = open(os.path.join(out, "env.txt")).read().strip()
    N = None
    A = {"env": env, "rows": [], "sections": {}}
    rows = A["rows"]

    # kernel
    ms, per, kl = parse_kernel(out)
    kcmd = "bench_kernel (bench/bench_kernel.sh)"
    for label in ("fast pvonly", "pvonly fed precomputed normals", "fast deltavega",
                  "deltavega fed precomputed normals", "normals only (taus2+Box-Muller)",
                  "reference pvonly", "reference deltavega"):
        if label in ms:
            rows.append(Fig(f"kernel {label}", "ms/trade", ms[label], kl[label], cmd=kcmd))
            unit = "ns/normal" if label.startswith("normals") else "ns/path-step"
            rows.append(Fig(f"kernel {label}", unit, per[label], kl[label], cmd=kcmd))
    A["kernel_ms"] = {k: statistics.median(v) for k, v in ms.items()}

    # numpy
    npy = parse_numpy(out)
    for algo in ("pvonly", "deltavega"):
        if algo in npy:
            best, med, ns = npy[algo]
            rows.append(Fig(f"NumPy {algo} (10,000 x 172)", "ms/trade", [best, med], [npy["load"]],
                            cmd="bench/numpy_model.py"))
            fk = A["kernel_ms"].get(f"fast {algo}")
            if fk:
                rows.append(Fig(f"NumPy / finsim fast, {algo}", "x", [med / fk], [npy["load"]],
                                cmd="medians"))
    A["numpy"] = npy

    # cost growth
    grid = parse_grid(out)
    A["grid"] = grid
    A["fits"] = {}
    for algo, pts in sorted(grid.items()):
        a, b, r2 = fit_line([p * s for p, s, _, _ in pts], [t for _, _, t, _ in pts], relative=True)
        A["fits"][algo] = (a, b, r2)
        loads = [x for *_, x in pts]
        rows.append(Fig(f"fit {algo}: a (per-trade overhead)", "us", [a * 1e6], loads,
                        cmd="finsim price, 1k-40k paths x 43-688 steps"))
        rows.append(Fig(f"fit {algo}: b (per path-step), R^2 {r2:.4f}", "ns", [b * 1e9], loads,
                        cmd="least squares (relative) on the fastest trade's compute_s"))
    tw = {}
    for n in (1, 10, 100, 1000):
        rr = d.get(f"price_wall.trades{n}", [])
        if rr:
            tw[n] = rr
    if tw:
        ns = [n for n, rr in tw.items() for _ in rr]
        ts = [v for rr in tw.values() for v, _ in rr]
        a, b, r2 = fit_line(ns, ts)
        A["trades_fit"] = (a, b, r2, tw)
        loads = [x for rr in tw.values() for _, x in rr]
        rows.append(Fig("finsim price: process start-up", "s", [a], loads,
                        cmd="finsim price --paths 1000, 1..1000 trades"))
        rows.append(Fig(f"finsim price: per trade at 1000 x 172 (R^2 {r2:.4f})", "ms", [b * 1e3], loads,
                        cmd="fit wall = start + N c"))

    # scaling
    sc = {r: [parse_report(p) for p in sorted(glob.glob(os.path.join(out, f"scale.{r}.*.txt")))] for r in (1, 2)}
    if sc[1] and sc[2]:
        w1 = [x["wall"] for x in sc[1] if "wall" in x]
        w2 = [x["wall"] for x in sc[2] if "wall" in x]
        l1 = [x["load"] for x in sc[1]]
        l2 = [x["load"] for x in sc[2]]
        ntr = sc[1][0].get("trades", 0)
        rows.append(Fig(f"pvonly {ntr} trades, 1 rank (file store)", "s", w1, l1,
                        cmd="mpirun -np 1 finsim run --algorithm pvonly"))
        rows.append(Fig(f"pvonly {ntr} trades, 2 ranks (file store)", "s", w2, l2,
                        cmd="mpirun -np 2 finsim run --algorithm pvonly"))
        f = Fig("speed-up 1 -> 2 ranks (best: best/best; median: median/median)", "x", [], l1 + l2)
        f.values = [min(w1) / min(w2), statistics.median(w1) / statistics.median(w2)]
        f.best_override, f.median_override = f.values
        rows.append(f)
        f = Fig("parallel efficiency 1 -> 2 ranks (same)", "%", [], l1 + l2)
        f.values = [50 * min(w1) / min(w2), 50 * statistics.median(w1) / statistics.median(w2)]
        f.best_override, f.median_override = f.values
        rows.append(f)
        same = open(os.path.join(out, "scale.same.txt")).read() if os.path.exists(os.path.join(out, "scale.same.txt")) else ""
        A["scale"] = (w1, w2, ntr, "bitwise equal" in same)

    # store throughput
    br = parse_bench_redis(out)
    A["bench_redis"] = br
    if "put" in br and "get" in br:
        n = br.get("n", 200000)
        rows.append(Fig("one client: put (format + MSET)", "keys/s", [br["put"][1]], [br["load"]],
                        cmd="bench_redis TCP, batch 1000", higher_better=True))
        rows.append(Fig("one client: get (MGET + parse)", "keys/s", [br["get"][1]], [br["load"]],
                        cmd="bench_redis TCP, batch 1000", higher_better=True))
        cpu = d.get("bench_redis.server_cpu", [(float("nan"), float("nan"))])[0][0]
        rows.append(Fig("redis-server CPU per key (put + get)", "us", [cpu / (2 * n) * 1e6], [br["load"]],
                        cmd="INFO cpu around bench_redis"))
        A["redis_cpu_per_key"] = cpu / (2 * n)

    # load
    loads = d.get("load.wall", [])
    gen = sorted(glob.glob(os.path.join(out, "load.*.txt")))
    if gen:
        m = re.search(r"generated (\d+) trades", open(gen[0]).read())
        N = int(m.group(1)) if m else None
    A["N"] = N
    if loads:
        rows.append(Fig(f"generate + load {N:,} trades, 2 ranks", "s", [v for v, _ in loads], [x for _, x in loads],
                        goal="<= 5 s", cmd="mpirun -np 2 finsim generate --batch 2000"))
        cc = d.get("load.client_cpu", [])
        if cc:
            rows.append(Fig("  client CPU per trade (both ranks + mpirun)", "us", [v / N * 1e6 for v, _ in cc],
                            [x for _, x in cc], cmd="/usr/bin/time user + sys"))
        cpu = d.get("load.server_cpu", [])
        rows.append(Fig("  redis-server CPU per trade loaded", "us", [v / N * 1e6 for v, _ in cpu],
                        [x for _, x in cpu], cmd="INFO cpu"))
        A["load_wall"] = [v for v, _ in loads]
    um = d.get("redis.used_memory", [])
    if um and N:
        rows.append(Fig(f"  redis used_memory, {N:,} trades", "MB", [um[0][0] / 2**20], [um[0][1]]))

    # end to end
    e2 = [parse_report(p) for p in sorted(glob.glob(os.path.join(out, "e2e.2.*.txt")))]
    e1 = [parse_report(p) for p in sorted(glob.glob(os.path.join(out, "e2e.1.*.txt")))]
    w = d.get("e2e.ranks2.mpirun_wall", [])
    if w and N:
        rows.append(Fig(f"end to end {N:,} zero-work trades, 2 ranks", "s", [v for v, _ in w], [x for _, x in w],
                        goal="<= 10 s", cmd="mpirun -np 2 finsim run --algorithm synthetic --task-duration 0"))
        rows.append(Fig("  overhead per trade per rank", "us", [v * 2 / N * 1e6 for v, _ in w], [x for _, x in w],
                        goal="<= 20 us"))
        rows.append(Fig("  finsim's own wall (report, no mpirun start)", "s", [x["wall"] for x in e2 if "wall" in x],
                        [x["load"] for x in e2]))
        cc = d.get("e2e.ranks2.client_cpu", [])
        if cc:
            rows.append(Fig("  client CPU per trade (both ranks + mpirun)", "us", [v / N * 1e6 for v, _ in cc],
                            [x for _, x in cc], cmd="/usr/bin/time user + sys"))
        cpu = d.get("e2e.ranks2.server_cpu", [])
        rows.append(Fig("  redis-server CPU per trade (MGET + mirror MSET)", "us", [v / N * 1e6 for v, _ in cpu],
                        [x for _, x in cpu]))
        rows.append(Fig("  the same, first run only (creates the 10^6 result keys)", "us", [cpu[0][0] / N * 1e6],
                        [cpu[0][1]]))
        A["e2e"] = e2
        # the model uses the first run: a production run creates its result keys
        A["e2e_server_cpu"] = cpu[0][0] / N
    wu = d.get("e2e.unix.mpirun_wall", [])
    if wu and N:
        rows.append(Fig(f"end to end {N:,} zero-work trades, 2 ranks, unix socket", "s", [v for v, _ in wu],
                        [x for _, x in wu], goal="<= 10 s", cmd="... run --store unix:///path.sock"))
        cpu = d.get("e2e.unix.server_cpu", [])
        rows.append(Fig("  redis-server CPU per trade, unix socket", "us", [v / N * 1e6 for v, _ in cpu],
                        [x for _, x in cpu]))
    w1 = d.get("e2e.ranks1.mpirun_wall", [])
    if w1 and N and e1:
        rows.append(Fig(f"end to end {N:,} zero-work trades, 1 rank", "s", [v for v, _ in w1], [x for _, x in w1],
                        cmd="mpirun -np 1 finsim run ... synthetic"))
        busy = e1[0]["phases"].get("total", (float("nan"),) * 3)[2]
        rows.append(Fig("  per trade, one rank (report total / trades)", "us", [busy / N * 1e6], [e1[0]["load"]]))
        A["e2e1"] = e1
        A["c_client"] = busy / N
        A["startup"] = max(0.0, statistics.median(v for v, _ in w1) - e1[0].get("wall", busy))

    # RSS
    for name, label in (("rss.window10000", "peak RSS per rank, 10^4-trade window"),
                        ("e2e.ranks2.rss_mb", f"peak RSS per rank, {N or 0:,}-trade window")):
        vals = [v for k, rr in d.items() if k.startswith(name) for v, _ in rr]
        lds = [x for k, rr in d.items() if k.startswith(name) for _, x in rr]
        if vals:
            f = Fig(label + " (max over ranks)", "MB", vals, lds, goal="flat, <= 64 MB", higher_better=True)
            f.values = [max(vals)]  # worst rank of any repeat
            rows.append(f)
    return A


def table_text(A):
    w = max(len(r.label) for r in A["rows"]) + 1
    lines = [f"{'figure':<{w}} {'best':>9} {'median':>9}  {'unit':<12} {'goal':<15} load(1m)"]
    for r in A["rows"]:
        lines.append(f"{r.label:<{w}} {fmt(r.best):>9} {fmt(r.median) if len(r.values) > 1 else '':>9}  "
                     f"{r.unit:<12} {r.goal:<15} {r.load_str()}")
    return "\n".join(lines)


def table_md(A):
    out = ["| figure | best | median | unit | goal | load (1 min) | measured with |",
           "|---|---:|---:|---|---|---|---|"]
    for r in A["rows"]:
        out.append(f"| {r.label.strip()} | {fmt(r.best)} | {fmt(r.median) if len(r.values) > 1 else ''} | "
                   f"{r.unit} | {r.goal} | {r.load_str()} | {r.cmd} |")
    return "\n".join(out)


def model(A):
    """time(N, R) ~ N c_client / R + N c_server + startup, for zero work and pvonly."""
    if "c_client" not in A or "e2e_server_cpu" not in A:
        return None
    c_cl = A["c_client"]
    c_sv = A["e2e_server_cpu"]
    start = A.get("startup", 1.0)
    kern = A["kernel_ms"].get("fast pvonly", float("nan")) / 1e3
    kern_dv = A["kernel_ms"].get("fast deltavega", float("nan")) / 1e3
    return {"c_client": c_cl, "c_server": c_sv, "startup": start, "c_pv": kern, "c_dv": kern_dv,
            "knee_zero": c_cl / c_sv, "knee_pv": (c_cl + kern) / c_sv, "knee_dv": (c_cl + kern_dv) / c_sv}


def est(M, n, r, c_work):
    return max(n * (M["c_client"] + c_work) / r, n * M["c_server"]) + M["startup"]


def model_md(M, N):
    if not M:
        return "(not enough data: the one-rank and two-rank end-to-end runs are needed)"
    rs = (1, 2, 8, 32, 128, 512, 2048)
    lines = [
        f"Inputs measured in this run: client cost per trade c_client = {M['c_client'] * 1e6:.1f} us "
        f"(fetch + parse + mirror + write on one rank, zero-work trades); redis-server CPU per trade "
        f"c_server = {M['c_server'] * 1e6:.2f} us (MGET + mirror MSET creating the result keys, from INFO cpu); start-up "
        f"{M['startup']:.2f} s (mpirun to first batch, one host); pricing {M['c_pv'] * 1e3:.2f} ms/trade "
        f"pvonly, {M['c_dv'] * 1e3:.2f} ms deltavega (fast kernel, 10,000 x 172).",
        "",
        "Estimate: time(N, R) = max(N (c_client + c_price) / R, N c_server) + startup; one Redis "
        "(single-threaded) saturates at R* = (c_client + c_price) / c_server ranks.",
        "",
        f"| ranks R | zero-work, {N:,} trades | pvonly, {N:,} trades | deltavega, {N:,} trades |",
        "|---:|---:|---:|---:|",
    ]
    for r in rs:
        lines.append(f"| {r} | {est(M, N, r, 0):.1f} s | {est(M, N, r, M['c_pv']):.1f} s | "
                     f"{est(M, N, r, M['c_dv']):.1f} s |")
    lines += ["", f"One Redis stops the scaling at R* = {M['knee_zero']:.1f} ranks for zero-work trades, "
              f"{M['knee_pv']:.0f} for pvonly and {M['knee_dv']:.0f} for deltavega "
              f"(floor: N c_server = {N * M['c_server']:.1f} s per {N:,} trades)."]
    return "\n".join(lines)


def plots(A, img):
    os.makedirs(img, exist_ok=True)
    made = []
    # 1. kernel against the floor, and NumPy
    km = A["kernel_ms"]
    bars = [(k, km[k]) for k in ("fast pvonly", "pvonly fed precomputed normals", "normals only (taus2+Box-Muller)",
                                  "fast deltavega", "deltavega fed precomputed normals",
                                  "reference pvonly", "reference deltavega") if k in km]
    for algo in ("pvonly", "deltavega"):
        if algo in A["numpy"]:
            bars.append((f"NumPy {algo}", A["numpy"][algo][1]))
    if bars:
        fig, ax = plt.subplots(figsize=(7.5, 3.6))
        y = np.arange(len(bars))
        ax.barh(y, [v for _, v in bars], color=["C0" if "fed" not in k and "normals" not in k else "C2" for k, _ in bars])
        ax.set_yticks(y, [k for k, _ in bars], fontsize=8)
        ax.invert_yaxis()
        ax.set_xscale("log")
        ax.set_xlabel("ms per trade (10,000 paths x 172 steps, one core, median)")
        for i, (_, v) in enumerate(bars):
            ax.text(v, i, f" {v:.1f}", va="center", fontsize=7)
        ax.set_title("Monte Carlo kernels: full, fed precomputed normals (RNG floor), NumPy", fontsize=9)
        fig.tight_layout()
        fig.savefig(os.path.join(img, "kernel.png"), dpi=90)
        plt.close(fig)
        made.append("kernel.png")
    # 2. cost growth
    if A["grid"]:
        fig, axs = plt.subplots(1, 2, figsize=(9, 3.6))
        ax = axs[0]
        for algo, mk in (("pvonly", "o"), ("deltavega", "s")):
            pts = A["grid"].get(algo)
            if not pts:
                continue
            x = np.array([p * s for p, s, _, _ in pts], float)
            t = np.array([t for _, _, t, _ in pts]) * 1e3
            ax.scatter(x, t, marker=mk, s=14, label=f"{algo} (fastest of the trades)")
            a, b, _ = A["fits"][algo]
            xx = np.linspace(0, x.max(), 50)
            ax.plot(xx, (a + b * xx) * 1e3, lw=1, label=f"fit {a * 1e6:.0f} us + {b * 1e9:.2f} ns x paths x steps")
        ax.set_xlabel("paths x steps")
        ax.set_ylabel("compute ms per trade")
        ax.set_title("per-trade cost vs paths x steps (finsim price)", fontsize=9)
        ax.legend(fontsize=7)
        ax = axs[1]
        if "trades_fit" in A:
            a, b, _, tw = A["trades_fit"]
            for n, rr in tw.items():
                ax.scatter([n] * len(rr), [v for v, _ in rr], color="C0", s=12)
            xx = np.array([1, 1000])
            ax.plot(xx, a + b * xx, lw=1, color="C1", label=f"fit {a:.2f} s + {b * 1e3:.2f} ms x trades")
            ax.set_xscale("log")
            ax.set_xlabel("trades in one finsim price (1000 paths x 172 steps)")
            ax.set_ylabel("wall s")
            ax.legend(fontsize=7)
            ax.set_title("growth in trades (process start-up + per trade)", fontsize=9)
        fig.tight_layout()
        fig.savefig(os.path.join(img, "cost_growth.png"), dpi=90)
        plt.close(fig)
        made.append("cost_growth.png")
    # 3. pipeline phases of the best end-to-end run
    if A.get("e2e"):
        best = min(A["e2e"], key=lambda r: r.get("wall", 1e9))
        ph = [p for p in PHASES if p != "total" and p in best["phases"]]
        fig, ax = plt.subplots(figsize=(6, 3))
        mn = [best["phases"][p][0] for p in ph]
        mean = [best["phases"][p][1] for p in ph]
        mx = [best["phases"][p][2] for p in ph]
        ax.bar(ph, mean, yerr=[np.subtract(mean, mn), np.subtract(mx, mean)], capsize=3, color="C0")
        ax.set_ylabel("seconds per rank (mean, min-max)")
        ax.set_title(f"end to end, {A['N']:,} zero-work trades, 2 ranks: wall {best.get('wall', 0):.1f} s",
                     fontsize=9)
        fig.tight_layout()
        fig.savefig(os.path.join(img, "pipeline_phases.png"), dpi=90)
        plt.close(fig)
        made.append("pipeline_phases.png")
    # 4. cluster estimate
    M = model(A)
    if M:
        rs = np.unique(np.logspace(0, 12, 60, base=2).astype(int))
        N = A["N"]
        fig, ax = plt.subplots(figsize=(6, 3.6))
        for label, c in (("zero-work", 0.0), ("pvonly", M["c_pv"]), ("deltavega", M["c_dv"])):
            ax.plot(rs, [est(M, N, r, c) for r in rs], label=label)
        ax.axhline(N * M["c_server"] + M["startup"], color="grey", ls=":", lw=1,
                   label="one Redis saturated (N c_server + start-up)")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("ranks")
        ax.set_ylabel(f"estimated s for {N:,} trades")
        ax.set_title("estimate from the measured per-trade costs (one Redis)", fontsize=9)
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(os.path.join(img, "cluster_estimate.png"), dpi=90)
        plt.close(fig)
        made.append("cluster_estimate.png")
    return made


def replace_section(text, name, body):
    b, e = f"<!-- BEGIN generated: {name} -->", f"<!-- END generated: {name} -->"
    if b in text and e in text:
        i, j = text.index(b) + len(b), text.index(e)
        return text[:i] + "\n" + body.strip() + "\n" + text[j:]
    return text + f"\n{b}\n{body.strip()}\n{e}\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--doc")
    ap.add_argument("--img")
    args = ap.parse_args()
    A = analyse(args.out)
    print(A["env"])
    print()
    print(table_text(A))
    M = model(A)
    if M:
        print()
        print("\n".join(x.replace("| ", "").replace(" |", "  ") for x in model_md(M, A["N"]).splitlines()
                        if not x.startswith("|---")))
    made = plots(A, args.img) if args.img else []
    if args.doc:
        text = open(args.doc).read() if os.path.exists(args.doc) else "# finsim performance\n"
        env = "\n".join("    " + x for x in A["env"].splitlines())
        text = replace_section(text, "figures", env + "\n\n" + table_md(A))
        text = replace_section(text, "model", model_md(M, A["N"]))
        rel = os.path.relpath(args.img, os.path.dirname(os.path.abspath(args.doc)))
        text = replace_section(text, "plots", "\n\n".join(f"![{m[:-4]}]({rel}/{m})" for m in made))
        with open(args.doc, "w") as f:
            f.write(text)
        print(f"\nwrote {args.doc} and {len(made)} plots in {args.img}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
