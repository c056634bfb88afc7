#!/usr/bin/env python3
"""End-to-end checks of finsim against tests/ref/mc_reference.json.

  ref_tool.py eyxml JSON OUT.xml [--trials N|NAME=N,...] [--copies C --trade NAME --first-id K]
      write the reference trades (or C copies of one, ids K..K+C-1) as one
      eyxml document, the fields exactly as in the JSON
  ref_tool.py check JSON RESULTS --algorithm A [--sigmas 4] [--greeks all|significant]
      RESULTS: finsim price CSV or a finsim run HDF5 file. Every figure must be
      within SIGMAS of finsim's own standard errors of the NumPy value; the
      reference must be precise enough for that (its SE at most half of
      finsim's). --greeks all: every Greek must be significant (|reference|
      above SIGMAS finsim SEs: the paths must be enough) and have the
      reference's sign; significant (default): the sign is checked where the
      Greek is significant, and reported as unchecked elsewhere
  ref_tool.py spread RESULTS --algorithm A [--min 0.8 --max 1.25]
      RESULTS hold many copies of one trade (independent streams: one per
      id): the std of the estimates over copies / the RMS reported SE must be
      within [min, max] for PV (and delta, vega for deltavega)
  ref_tool.py same A B
      two result sets (CSV or HDF5) hold the same trades with bitwise equal
      figures and SEs (how run must match price for one seed, kernel, paths)
  ref_tool.py differ A B
      every trade's PV differs between A and B (another seed was used)
  ref_tool.py se-ratio JSON FAST REFERENCE --trade NAME --max R
      the fast kernel's PV SE over the reference kernel's for
      trade NAME, is below R (antithetic pairs: which kernel actually ran)
Exit 0 when every check passes, 1 otherwise (the reasons on stderr).
"""
import argparse
import csv
import json
import math
import sys

FIELDS = ["pv", "delta", "vega"]


def load_json(path):
    with open(path) as f:
        return json.load(f)


def trade_xml(t, tid, trials):
    return ('  <trade fx1="%r" start_date="2017-12-29" end_date="2018-08-28" drift="%r" '
            'maturity="%r" t_steps="%d" trials="%d" ro="%r" v="%r" sigma1="%r" '
            'warrantsNo="%d" notionalPerWarr="%r" strike="%r">%010d</trade>\n'
            % (t["fx1"], t["drift"], t["maturity"], t["t_steps"], trials, t["ro"], t["v"],
               t["sigma1"], t["warrants_no"], t["notional_per_warr"], t["strike"], tid))


def cmd_eyxml(a):
    ref = load_json(a.json)
    trials = {}
    default = 10000
    for part in (a.trials or "").split(","):
        if "=" in part:
            k, v = part.split("=")
            trials[k] = int(v)
        elif part:
            default = int(part)
    with open(a.out, "w") as f:
        f.write("<AZFINSIM>\n")
        for t in ref["trades"]:
            if a.copies:
                if t["name"] != a.trade:
                    continue
                for i in range(a.copies):
                    f.write(trade_xml(t, a.first_id + i, trials.get(t["name"], default)))
            else:
                f.write(trade_xml(t, t["id"], trials.get(t["name"], default)))
        f.write("</AZFINSIM>\n")
    return 0


def load_results(path):
    """Rows as dicts of floats keyed by field name, one per trade id."""
    rows = {}
    if path.endswith(".h5"):
        import h5py
        with h5py.File(path, "r") as f:
            r = f["results"][:]
            for rec in r:
                rows[int(rec["trade_id"])] = {k: float(rec[k]) for k in r.dtype.names
                                              if k != "trade_id"}
    else:
        with open(path) as f:
            for rec in csv.DictReader(f):
                rows[int(rec["trade_id"])] = {k: (float(v) if v not in ("", None) else math.nan)
                                              for k, v in rec.items() if k != "trade_id"}
    return rows


def cmd_check(a):
    ref = load_json(a.json)
    rows = load_results(a.results)
    fields = ["pv"] if a.algorithm == "pvonly" else FIELDS
    bad = 0
    checked = 0
    if len(rows) != len(ref["trades"]):
        print("FAIL: %d result rows for %d reference trades" % (len(rows), len(ref["trades"])),
              file=sys.stderr)
        bad += 1
    for t in ref["trades"]:
        r = rows.get(t["id"])
        if r is None:
            print("FAIL: %s (id %d): no result" % (t["name"], t["id"]), file=sys.stderr)
            bad += 1
            continue
        if int(r["status"]) != 0:
            print("FAIL: %s: status %d" % (t["name"], int(r["status"])), file=sys.stderr)
            bad += 1
            continue
        if a.algorithm == "pvonly" and not (math.isnan(r["delta"]) and math.isnan(r["vega"])):
            print("FAIL: %s: pvonly gave Greeks" % t["name"], file=sys.stderr)
            bad += 1
        for k in fields:
            x, se, want, want_se = r[k], r[k + "_stderr"], t[k], t[k + "_se"]
            line = ("%-18s %-5s finsim %.8g +- %.3g  numpy %.8g +- %.3g  (%+.2f SE)"
                    % (t["name"], k, x, se, want, want_se, (x - want) / se if se > 0 else math.inf))
            why = []
            if not (math.isfinite(x) and math.isfinite(se) and se > 0):
                why.append("no finite estimate and SE")
            else:
                if want_se > 0.5 * se:
                    why.append("reference too coarse (its SE above half of finsim's)")
                if abs(x - want) > a.sigmas * se:
                    why.append("off by more than %g SE" % a.sigmas)
                if k != "pv":
                    if abs(want) > a.sigmas * se:
                        if math.copysign(1, x) != math.copysign(1, want):
                            why.append("wrong sign")
                    elif a.greeks == "all":
                        why.append("Greek not significant at these paths (|ref| <= %g SE)" % a.sigmas)
                    else:
                        line += "  [sign not significant here]"
            checked += 1
            print(("FAIL: " + line + ": " + "; ".join(why)) if why else ("ok    " + line),
                  file=sys.stderr if why else sys.stdout)
            bad += bool(why)
    print("%d figures checked, %d failed" % (checked, bad))
    return 1 if bad or checked == 0 else 0


def cmd_spread(a):
    rows = load_results(a.results)
    fields = ["pv"] if a.algorithm == "pvonly" else FIELDS
    bad = 0
    n = len(rows)
    if n < 50:
        print("FAIL: %d copies are too few for a spread" % n, file=sys.stderr)
        return 1
    for k in fields:
        xs = [r[k] for r in rows.values()]
        ses = [r[k + "_stderr"] for r in rows.values()]
        if any(int(r["status"]) != 0 for r in rows.values()) or not all(map(math.isfinite, xs + ses)):
            print("FAIL: %s: a copy failed or gave no estimate" % k, file=sys.stderr)
            bad += 1
            continue
        m = sum(xs) / n
        sd = math.sqrt(sum((x - m) ** 2 for x in xs) / (n - 1))
        rms = math.sqrt(sum(s * s for s in ses) / n)
        ratio = sd / rms
        ok = a.min <= ratio <= a.max
        print("%s %-5s spread over %d seeds %.4g, reported SE (rms) %.4g: ratio %.3f"
              % ("ok   " if ok else "FAIL:", k, n, sd, rms, ratio),
              file=sys.stdout if ok else sys.stderr)
        bad += not ok
    return 1 if bad else 0


FIGS = ["pv", "pv_stderr", "delta", "delta_stderr", "vega", "vega_stderr"]


def same_float(x, y):
    return (math.isnan(x) and math.isnan(y)) or x == y


def cmd_same(a):
    ra, rb = load_results(a.a), load_results(a.b)
    bad = []
    if sorted(ra) != sorted(rb):
        bad.append("trade ids differ: %s vs %s" % (sorted(ra), sorted(rb)))
    for tid in sorted(set(ra) & set(rb)):
        for k in FIGS + ["status"]:
            if not same_float(ra[tid][k], rb[tid][k]):
                bad.append("trade %d %s: %r vs %r" % (tid, k, ra[tid][k], rb[tid][k]))
    for b in bad:
        print("FAIL: " + b, file=sys.stderr)
    print("%d trades compared, %d differences" % (len(ra), len(bad)))
    return 1 if bad or not ra else 0


def cmd_differ(a):
    ra, rb = load_results(a.a), load_results(a.b)
    bad = [tid for tid in ra if tid in rb and ra[tid]["pv"] == rb[tid]["pv"]]
    for tid in bad:
        print("FAIL: trade %d: the same PV %r in both" % (tid, ra[tid]["pv"]), file=sys.stderr)
    return 1 if bad or not ra else 0


def cmd_se_ratio(a):
    ref = load_json(a.json)
    ids = [t["id"] for t in ref["trades"] if t["name"] == a.trade]
    rf, rr = load_results(a.fast), load_results(a.reference)
    if not ids or ids[0] not in rf or ids[0] not in rr:
        print("FAIL: trade %s not in the results" % a.trade, file=sys.stderr)
        return 1
    ratio = rf[ids[0]]["pv_stderr"] / rr[ids[0]]["pv_stderr"]
    ok = ratio < a.max
    print("%s %s: PV SE fast / reference = %.4f (want < %g)" % ("ok   " if ok else "FAIL:", a.trade, ratio, a.max),
          file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("eyxml")
    e.add_argument("json")
    e.add_argument("out")
    e.add_argument("--trials")
    e.add_argument("--copies", type=int, default=0)
    e.add_argument("--trade")
    e.add_argument("--first-id", type=int, default=1000)
    c = sub.add_parser("check")
    c.add_argument("json")
    c.add_argument("results")
    c.add_argument("--algorithm", required=True)
    c.add_argument("--sigmas", type=float, default=4.0)
    c.add_argument("--greeks", choices=["all", "significant"], default="significant")
    s = sub.add_parser("spread")
    s.add_argument("results")
    s.add_argument("--algorithm", required=True)
    s.add_argument("--min", type=float, default=0.8)
    s.add_argument("--max", type=float, default=1.25)
    for name in ("same", "differ"):
        x = sub.add_parser(name)
        x.add_argument("a")
        x.add_argument("b")
    r = sub.add_parser("se-ratio")
    r.add_argument("json")
    r.add_argument("fast")
    r.add_argument("reference")
    r.add_argument("--trade", required=True)
    r.add_argument("--max", type=float, required=True)
    a = ap.parse_args()
    return {"eyxml": cmd_eyxml, "check": cmd_check, "spread": cmd_spread, "same": cmd_same,
            "differ": cmd_differ, "se-ratio": cmd_se_ratio}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
