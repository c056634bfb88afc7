#!/usr/bin/python3
"""finsim-report: render a finsim results file as a PNG and a small HTML page.

usage: finsim-report.py RESULTS.h5 [-o REPORT.png] [--html REPORT.html] [--title TEXT]

Risk first: the portfolio totals with error bars (/portfolio, or the total
computed from /results for a format 1 file), the top contributors to |PV|,
the failed trades with their status names, the distributions of PV, of the
relative PV errors and of the Greeks; then the run-quality panels: the time
each MPI rank spent in fetch / parse / compute / mirror / write (from
/telemetry) and each rank's throughput. The title line carries the run's
provenance (algorithm, seed, paths, ranks, hosts, wall time, trades/s).

Default outputs: RESULTS.png and RESULTS.html next to the results file. The
HTML page is one self-contained file: the PNG is inlined (a data: URI), with
tables of the totals, the top contributors and the failed trades, and the
run's attributes (the effective configuration is shown as stored: secrets
are already redacted by finsim). Reads every results format (1 and 2,
docs/OUTPUT-FORMAT.md).

Needs python3-h5py and python3-matplotlib (Debian 12: apt-get install
python3-h5py python3-matplotlib); it uses the Agg backend, no display needed.
Exit status: 0 written, 1 unreadable or not a finsim results file, 2 usage.
"""
import argparse
import base64
import datetime
import html
import os
import sys

try:
    import h5py
    import numpy as np
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError as e:  # pragma: no cover - depends on the machine
    sys.stderr.write(f"finsim-report: {e}; install python3-h5py python3-matplotlib "
                     f"(this interpreter is {sys.executable})\n")
    sys.exit(1)

# per-trade status codes (stable; format 2 files carry them as an HDF5 enum)
STATUS_NAMES = {-1: "unwritten", 0: "ok", 1: "parse", 2: "missing-field", 3: "bad-number", 4: "domain",
                5: "too-large", 6: "not-found", 7: "wrong-type", 8: "injected-failure", 9: "duplicate",
                10: "store", 11: "no-memory", 12: "id-mismatch", 13: "numeric"}
TOP = 10

PHASES = ["fetch", "parse", "compute", "mirror", "write"]
PHASE_COLOURS = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3"]


def text(v):
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, np.ndarray) and v.shape == ():
        return text(v[()])
    return str(v)


def load(path):
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise SystemExit(f"finsim-report: cannot read {path}: {e}") from None
    with f:
        if "results" not in f:
            raise SystemExit(f"finsim-report: {path} has no /results dataset (not a finsim results file)")
        res = f["results"][...]
        tel = f["telemetry"][...] if "telemetry" in f else None
        attrs = {k: text(v) for k, v in f.attrs.items()}
        names = dict(STATUS_NAMES)
        enum = h5py.check_enum_dtype(f["results"].dtype["status"]) if "status" in (res.dtype.names or ()) else None
        if enum:
            names.update({int(v): k for k, v in enum.items()})
        port = f["portfolio/totals"][...] if "portfolio/totals" in f else None
    need = {"trade_id", "status", "pv", "pv_stderr", "delta", "vega"}
    missing = need - set(res.dtype.names or ())
    if missing:
        raise SystemExit(f"finsim-report: /results in {path} lacks fields {sorted(missing)}")
    ok = res["status"] == 0
    if port is None:  # format 1: the total from /results (variances add)
        g = res[ok]
        def tot(k):
            v, e = g[k], g[k + "_stderr"]
            m = np.isfinite(v) & np.isfinite(e)
            return (float(np.sum(v[m])), float(np.sqrt(np.sum(e[m] ** 2)))) if m.any() else (np.nan, np.nan)
        port = [dict(group="total", trades=len(res), priced=int(ok.sum()), failed=int((~ok).sum()),
                     **{k: tot(k)[0] for k in ("pv", "delta", "vega")},
                     **{k + "_stderr": tot(k)[1] for k in ("pv", "delta", "vega")})]
    else:
        port = [{n: (text(r[n]) if n == "group" else r[n]) for n in port.dtype.names} for r in port]
    attrs["_status_names"] = names
    return res, tel, attrs, port


def status_name(attrs, code):
    return attrs["_status_names"].get(int(code), str(int(code)))


def top_contributors(res, n=TOP):
    ok = res[(res["status"] == 0) & np.isfinite(res["pv"])]
    order = np.lexsort((ok["trade_id"], -np.abs(ok["pv"])))
    return ok[order[:n]]


def wall_seconds(tel, attrs):
    if tel is not None and len(tel) and "total_seconds" in tel.dtype.names:
        return float(np.max(tel["total_seconds"]))
    try:
        t0 = datetime.datetime.fromisoformat(attrs["start_time"].replace("Z", "+00:00"))
        t1 = datetime.datetime.fromisoformat(attrs["end_time"].replace("Z", "+00:00"))
        return max((t1 - t0).total_seconds(), 0.0)
    except (KeyError, ValueError):
        return float("nan")


def summary(res, tel, attrs):
    ok = res["status"] == 0
    wall = wall_seconds(tel, attrs)
    paths = int(np.sum(res["paths"][ok])) if "paths" in res.dtype.names else 0
    s = {
        "trades": len(res),
        "priced": int(ok.sum()),
        "failed": int((~ok).sum()),
        "algorithm": attrs.get("algorithm", "?"),
        "seed": attrs.get("seed", "?"),
        "paths": attrs.get("paths", "?"),
        "ranks": attrs.get("ranks", str(len(tel)) if tel is not None else "?"),
        "hosts": attrs.get("hosts", "?"),
        "wall": wall,
        "trades_per_s": len(res) / wall if wall and wall > 0 else float("nan"),
        "paths_per_s": paths / wall if wall and wall > 0 else float("nan"),
        "total_pv": float(np.sum(res["pv"][ok])) if ok.any() else float("nan"),
        "checksum": attrs.get("checksum", "?"),
        "start": attrs.get("start_time", "?"),
        "version": attrs.get("finsim_version", "?"),
    }
    return s


def histogram(ax, values, title, xlabel, colour):
    v = values[np.isfinite(values)]
    ax.set_title(title, fontsize=11)
    if len(v) == 0:
        ax.text(0.5, 0.5, "not computed\n(pvonly run or no priced trades)", ha="center", va="center",
                transform=ax.transAxes, fontsize=10, color="#666666")
        ax.set_xticks([])
        ax.set_yticks([])
        return
    bins = min(50, max(5, int(np.sqrt(len(v)))))
    ax.hist(v, bins=bins, color=colour, edgecolor="white", linewidth=0.5)
    ax.axvline(np.mean(v), color="black", linestyle="--", linewidth=1, label=f"mean {np.mean(v):.4g}")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("trades")
    ax.legend(fontsize=8, loc="upper right")
    ax.ticklabel_format(axis="x", style="sci", scilimits=(-3, 4))


def render(res, tel, attrs, s, png, title, port):
    ok = res["status"] == 0
    fig, axes = plt.subplots(3, 3, figsize=(15, 12.6))
    fig.suptitle(title, fontsize=13, fontweight="bold")
    fig.text(0.5, 0.935,
             f"{s['algorithm']}, seed {s['seed']}, paths {s['paths']}, {s['ranks']} ranks on {s['hosts']} | "
             f"{s['trades']} trades, {s['priced']} priced, {s['failed']} failed | wall {s['wall']:.3g} s, "
             f"{s['trades_per_s']:.4g} trades/s, {s['paths_per_s']:.3g} paths/s | checksum {s['checksum']}",
             ha="center", fontsize=9.5, color="#333333")

    # risk first: totals with error bars (2 SE), top contributors, failed trades
    ax = axes[0, 0]
    ax.set_title("Portfolio PV by group (error bars: 2 SE)", fontsize=11)
    labels = [r["group"] for r in port]
    pv = np.array([float(r["pv"]) for r in port])
    se = np.array([float(r["pv_stderr"]) for r in port])
    ax.barh(range(len(port)), pv, xerr=2 * se, color=["#2d4f86"] + ["#4c72b0"] * (len(port) - 1),
            capsize=4, ecolor="black")
    ax.set_yticks(range(len(port)))
    ax.set_yticklabels(labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("PV")
    ax.ticklabel_format(axis="x", style="sci", scilimits=(-3, 4))

    ax = axes[0, 1]
    topc = top_contributors(res)
    ax.set_title(f"Top {len(topc)} contributors to |PV|", fontsize=11)
    if len(topc):
        ax.barh(range(len(topc)), topc["pv"], xerr=2 * topc["pv_stderr"], color="#55a868", capsize=3)
        ax.set_yticks(range(len(topc)))
        ax.set_yticklabels([f"trade {int(t)}" for t in topc["trade_id"]], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel("PV")
        ax.ticklabel_format(axis="x", style="sci", scilimits=(-3, 4))
    else:
        ax.text(0.5, 0.5, "no priced trades", ha="center", va="center", transform=ax.transAxes)

    ax = axes[0, 2]
    bad = res[~ok]
    ax.set_title(f"Failed trades: {len(bad)}", fontsize=11)
    ax.axis("off")
    if len(bad):
        lines = [f"{int(t):>10}  {status_name(attrs, c)}" for t, c in zip(bad["trade_id"][:18], bad["status"][:18])]
        if len(bad) > 18:
            lines.append(f"... and {len(bad) - 18} more (finsim results --failed)")
        ax.text(0.02, 0.98, "\n".join(lines), ha="left", va="top", family="monospace", fontsize=8.5,
                transform=ax.transAxes)
    else:
        ax.text(0.5, 0.5, "none: every trade priced", ha="center", va="center", transform=ax.transAxes)

    histogram(axes[1, 0], res["pv"][ok], "PV per trade", "PV", "#4c72b0")
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(np.abs(res["pv"][ok]) > 0, res["pv_stderr"][ok] / np.abs(res["pv"][ok]) * 100.0, np.nan)
    histogram(axes[1, 1], rel, "Monte Carlo error of PV", "standard error / |PV| (%)", "#8172b3")
    histogram(axes[1, 2], res["delta"][ok], "Delta per trade (fx1 bump)", "delta", "#55a868")
    histogram(axes[2, 0], res["vega"][ok], "Vega per trade (sigma1 bump)", "vega", "#c44e52")

    ax = axes[2, 1]
    ax.set_title("Time per rank and phase (/telemetry)", fontsize=11)
    if tel is not None and len(tel):
        ranks = tel["rank"]
        bottom = np.zeros(len(tel))
        for ph, col in zip(PHASES, PHASE_COLOURS):
            key = f"{ph}_seconds"
            if key in tel.dtype.names:
                ax.bar(ranks, tel[key], bottom=bottom, color=col, label=ph, width=0.7)
                bottom += tel[key]
        top = float(np.max(bottom)) if len(bottom) else 0.0
        if "total_seconds" in tel.dtype.names:
            ax.scatter(ranks, tel["total_seconds"], marker="_", s=600, linewidths=2, color="black",
                       label="total", zorder=3)
            top = max(top, float(np.max(tel["total_seconds"])))
        ax.set_ylim(0, top * 1.35 if top > 0 else 1)
        ax.set_xlabel("MPI rank")
        ax.set_ylabel("seconds")
        ax.set_xticks(ranks)
        ax.legend(fontsize=8, ncol=3, loc="upper center")
    else:
        ax.text(0.5, 0.5, "no /telemetry in this file", ha="center", va="center", transform=ax.transAxes)

    ax = axes[2, 2]
    ax.set_title("Throughput per rank", fontsize=11)
    if tel is not None and len(tel) and "trades" in tel.dtype.names:
        busy = np.maximum(tel["total_seconds"], 1e-9)
        tps = tel["trades"] / busy
        ax.bar(tel["rank"], tps, color="#64b5cd", width=0.7)
        for r, t, n in zip(tel["rank"], tps, tel["trades"]):
            ax.text(r, t, f"{int(n)} trades", ha="center", va="bottom", fontsize=8)
        ax.axhline(s["trades_per_s"] / max(len(tel), 1), color="black", linestyle=":", linewidth=1,
                   label=f"job mean per rank ({s['trades_per_s']:.4g} trades/s in all)")
        ax.set_ylim(0, float(np.max(tps)) * 1.3 if len(tps) and np.max(tps) > 0 else 1)
        ax.set_xlabel("MPI rank")
        ax.set_ylabel("trades per second")
        ax.set_xticks(tel["rank"])
        ax.legend(fontsize=8, loc="upper center")
    else:
        ax.text(0.5, 0.5, "no /telemetry in this file", ha="center", va="center", transform=ax.transAxes)

    fig.tight_layout(rect=(0, 0, 1, 0.94))
    desc = (f"total PV {port[0]['pv']:.10g} +- {port[0]['pv_stderr']:.3g}; "
            f"top {' '.join(str(int(t)) for t in topc['trade_id'])}; "
            f"failed {' '.join(f'{int(t)}:{status_name(attrs, c)}' for t, c in zip(bad['trade_id'], bad['status']))}")
    fig.savefig(png, dpi=100, metadata={"Title": title, "Description": desc})
    plt.close(fig)


def html_table(head, rows):
    h = "".join(f"<th>{html.escape(str(c))}</th>" for c in head)
    b = "\n".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table>\n<tr>{h}</tr>\n{b}\n</table>"


def fig_se(v, e):
    return "-" if not np.isfinite(v) else f"{v:.10g} ± {e:.3g}"


def write_html(path, png, res, attrs, s, title, port):
    rows = [
        ("trades", f"{s['trades']} ({s['priced']} priced, {s['failed']} failed)"),
        ("algorithm", s["algorithm"]), ("seed", s["seed"]), ("paths", s["paths"]),
        ("ranks / hosts", f"{s['ranks']} / {s['hosts']}"),
        ("started", s["start"]), ("wall time", f"{s['wall']:.4g} s"),
        ("throughput", f"{s['trades_per_s']:.4g} trades/s, {s['paths_per_s']:.4g} paths/s"),
        ("sum of PV (priced trades)", f"{s['total_pv']:.6g}"),
        ("checksum", s["checksum"]), ("finsim version", s["version"]),
        ("command line", attrs.get("command_line", "?")),
    ]
    table = "\n".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows)
    config = html.escape(attrs.get("config", ""))
    totals = html_table(["group", "trades", "failed", "PV", "delta", "vega"],
                        [[r["group"], int(r["trades"]), int(r["failed"]), fig_se(r["pv"], r["pv_stderr"]),
                          fig_se(r["delta"], r["delta_stderr"]), fig_se(r["vega"], r["vega_stderr"])] for r in port])
    top = html_table(["#", "trade", "PV", "share of total PV"],
                     [[i + 1, int(r["trade_id"]), fig_se(r["pv"], r["pv_stderr"]),
                       f"{100 * r['pv'] / port[0]['pv']:.2f} %" if port[0]["pv"] else "-"]
                      for i, r in enumerate(top_contributors(res))])
    bad = res[res["status"] != 0]
    failed = html_table(["trade", "status", "name"],
                        [[int(t), int(c), status_name(attrs, c)] for t, c in zip(bad["trade_id"], bad["status"])]) \
        if len(bad) else "<p>none: every trade priced</p>"
    with open(png, "rb") as f:
        data = base64.b64encode(f.read()).decode("ascii")
    doc = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{html.escape(title)}</title>
<style>
body {{ font-family: sans-serif; margin: 1.5em; color: #222; }}
table {{ border-collapse: collapse; margin-bottom: 1em; }}
th, td {{ text-align: left; padding: 0.2em 0.8em; border-bottom: 1px solid #ddd; vertical-align: top; }}
img {{ max-width: 100%; border: 1px solid #ccc; }}
pre {{ background: #f6f6f6; padding: 0.6em; }}
</style>
</head>
<body>
<h1>{html.escape(title)}</h1>
<h2>Portfolio totals</h2>
{totals}
<h2>Top contributors to |PV|</h2>
{top}
<h2>Failed trades ({len(bad)})</h2>
{failed}
<h2>Run</h2>
<table>
{table}
</table>
<img src="data:image/png;base64,{data}" alt="portfolio totals, top contributors, failed trades, PV, error and Greek distributions, per-rank phase times and throughput">
<h2>Effective configuration</h2>
<pre>{config}</pre>
</body>
</html>
"""
    with open(path, "w", encoding="utf-8") as f:
        f.write(doc)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="finsim-report.py",
                                 description="Render a finsim results file as a PNG and an HTML page.")
    ap.add_argument("results", help="finsim results file (HDF5, from 'finsim run --output')")
    ap.add_argument("-o", "--png", help="PNG to write (default: RESULTS.png)")
    ap.add_argument("--html", help="HTML page to write (default: RESULTS.html; 'none' to skip)")
    ap.add_argument("--title", help="figure title (default: 'finsim run' and the file name)")
    a = ap.parse_args(argv)
    base = os.path.splitext(a.results)[0]
    png = a.png or base + ".png"
    page = a.html or base + ".html"
    res, tel, attrs, port = load(a.results)
    s = summary(res, tel, attrs)
    title = a.title or f"finsim run: {os.path.basename(a.results)}"
    render(res, tel, attrs, s, png, title, port)
    print(f"finsim-report: wrote {png}")
    if page != "none":
        write_html(page, png, res, attrs, s, title, port)
        print(f"finsim-report: wrote {page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
