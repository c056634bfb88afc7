#!/usr/bin/python3
"""Read finsim HDF5 results back and check them (used by the script tests).

  h5check.py same A.h5 B.h5          numeric result fields bitwise equal
  h5check.py valid A.h5 N [FAILED]   N rows ordered by trade id, statuses,
                                     checksum attribute = recomputed, telemetry
  h5check.py mirror A.h5 DUMP        mirror XML dump (key<TAB>value lines) equals HDF5
  h5check.py status A.h5 ID CODE     the row of trade ID has status CODE
"""
import re
import sys

import h5py
import numpy as np

FIELDS = ["trade_id", "status", "pv", "pv_stderr", "delta", "delta_stderr",
          "vega", "vega_stderr", "paths"]
MASK = (1 << 64) - 1


def load(path):
    with h5py.File(path, "r") as f:
        r = f["results"][...]
        attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}
        tel = f["telemetry"][...] if "telemetry" in f else None
    return r, attrs, tel


def bits(col):
    a = np.ascontiguousarray(col)
    if a.dtype.kind == "f":
        u = a.view(np.uint64).copy()
        u[np.isnan(a)] = 0x7FF8000000000000
        return u
    return a.astype(np.int64).view(np.uint64)


def mix64(x):
    x = (x + 0x9E3779B97F4A7C15) & MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK
    return x ^ (x >> 31)


def mix64_np(x):
    """mix64 over a uint64 array (numpy wraps modulo 2^64)."""
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def checksum(r):
    """Independent recomputation of result_checksum (sum of per-row hashes),
    vectorised: a million rows take well under a second."""
    cols = [bits(r["status"].astype(np.uint32).astype(np.int64))] + \
           [bits(r[k]) for k in FIELDS[2:8]] + [bits(r["paths"])]
    h = mix64_np(bits(r["trade_id"]))
    for c in cols:
        h = mix64_np(h ^ c)
    return int(np.sum(h, dtype=np.uint64)) & MASK


def checksum_slow(r):
    """The same, one row at a time in plain Python (the reference)."""
    total = 0
    cols = [bits(r["status"].astype(np.uint32).astype(np.int64))] + \
           [bits(r[k]) for k in FIELDS[2:8]] + [bits(r["paths"])]
    ids = bits(r["trade_id"])
    for i in range(len(r)):
        h = mix64(int(ids[i]))
        for c in cols:
            h = mix64(h ^ int(c[i]))
        total = (total + h) & MASK
    return total


def fail(msg):
    print("h5check: FAIL: " + msg)
    sys.exit(1)


def cmd_same(a, b):
    ra, _, _ = load(a)
    rb, _, _ = load(b)
    if len(ra) != len(rb):
        fail(f"{a} has {len(ra)} rows, {b} has {len(rb)}")
    names = FIELDS + ["inputs"]  # the fingerprint of seed, kernel, trade fields
    for k in names:
        if k not in ra.dtype.names or k not in rb.dtype.names:
            fail(f"field {k} missing")
        da, db = bits(ra[k]), bits(rb[k])
        bad = np.nonzero(da != db)[0]
        if len(bad):
            i = bad[0]
            fail(f"field {k} differs in {len(bad)} rows, first at row {i} (trade {ra['trade_id'][i]}): "
                 f"{ra[k][i]!r} vs {rb[k][i]!r}")
    print(f"h5check: {a} and {b}: {len(ra)} rows bitwise equal")


def cmd_valid(a, n, failed=None):
    r, attrs, tel = load(a)
    n = int(n)
    if len(r) != n:
        fail(f"{len(r)} rows, expected {n}")
    ids = r["trade_id"]
    if not np.all(ids[1:] > ids[:-1]):
        fail("rows are not ordered by trade id")
    if np.any(r["status"] == -1):
        fail("some rows were never written (status -1)")
    ok = r["status"] == 0
    if np.any(~np.isfinite(r["pv"][ok])) or np.any(r["pv_stderr"][ok] < 0):
        fail("non-finite pv or negative stderr in priced rows")
    if failed is not None and int((~ok).sum()) != int(failed):
        fail(f"{int((~ok).sum())} failed rows, expected {failed}")
    want = checksum(r)
    if len(r) <= 1000 and checksum_slow(r) != want:
        fail("vectorised and plain checksums differ")
    got = int(attrs["checksum"], 16)
    if want != got:
        fail(f"checksum attribute {got:016x} != recomputed {want:016x}")
    for k in ("finsim_version", "command_line", "algorithm", "seed", "ranks", "start_time", "end_time", "config"):
        if k not in attrs:
            fail(f"attribute {k} missing")
    if "password" in attrs["config"] and "redacted" not in attrs["config"] and "<none>" not in attrs["config"]:
        fail("config attribute shows a password")
    if tel is None or len(tel) != int(attrs["ranks"]):
        fail("telemetry has no row per rank")
    if int(tel["trades"].sum()) != n:
        fail(f"telemetry counts {int(tel['trades'].sum())} trades, expected {n}")
    print(f"h5check: {a}: {n} rows valid, {int((~ok).sum())} failed, checksum {got:016x}")


def cmd_mirror(a, dump):
    r, _, _ = load(a)
    by_id = {int(x["trade_id"]): x for x in r}
    seen = 0
    with open(dump) as f:
        for line in f:
            if not line.strip():
                continue
            key, val = line.rstrip("\n").split("\t", 1)
            m = re.search(r"ey(\d+)_result\.xml$", key)
            if not m:
                continue
            tid = int(m.group(1))
            attrs = dict(re.findall(r'(\w+)="([^"]*)"', val))
            row = by_id.get(tid)
            if row is None:
                fail(f"mirror has trade {tid} that the HDF5 file lacks")
            if int(attrs["status"]) != int(row["status"]):
                fail(f"trade {tid}: mirror status {attrs['status']} != {row['status']}")
            for k in ("pv", "pv_stderr", "delta", "delta_stderr", "vega", "vega_stderr"):
                mv = float(attrs[k])
                hv = float(row[k])
                if not ((np.isnan(mv) and np.isnan(hv)) or mv == hv):
                    fail(f"trade {tid}: mirror {k}={mv!r} != HDF5 {hv!r}")
            if int(attrs["inputs"], 16) != int(row["inputs"]):
                fail(f"trade {tid}: mirror inputs {attrs['inputs']} != HDF5 {int(row['inputs']):016x}")
            seen += 1
    want = int((r["status"] != 6).sum())  # trades absent from the store get no mirror key
    if seen != want:
        fail(f"mirror has {seen} result keys, HDF5 has {want} rows of trades in the store")
    print(f"h5check: mirror equals {a} for {seen} trades")


def cmd_status(a, tid, code):
    r, _, _ = load(a)
    rows = r[r["trade_id"] == int(tid)]
    if len(rows) != 1:
        fail(f"trade {tid} not in {a}")
    if int(rows[0]["status"]) != int(code):
        fail(f"trade {tid} has status {rows[0]['status']}, expected {code}")
    print(f"h5check: trade {tid} status {code}")


if __name__ == "__main__":
    cmds = {"same": cmd_same, "valid": cmd_valid, "mirror": cmd_mirror, "status": cmd_status}
    if len(sys.argv) < 3 or sys.argv[1] not in cmds:
        print(__doc__)
        sys.exit(2)
    cmds[sys.argv[1]](*sys.argv[2:])
