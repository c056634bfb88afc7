# test_screen.sh - finsim screen, the rich/cheap screen, end to end:
# synthetic quotes are deterministic; quotes from CSV, JSON and a real local
# HTTP server give identical signals; the join counts unquoted trades and
# orphan quotes; the selection obeys the thresholds and the ranking (HDF5
# /signals read back with h5py, the CSV, and the Redis sorted set); market
# data overrides fx1/sigma1 exactly as a repriced trade; a slow endpoint
# times out, a failing one is retried, a refused key is its own exit code;
# the API key never appears in the logs or the command line.
source "$FINSIM_SRC/tests/lib/common.sh"
source "$FINSIM_SRC/tests/lib/redis.sh"
F=$FINSIM_BIN
PRICING=(--paths 1000 --seed 5)
N=40

# ---- trades and synthetic quotes ----
expect_rc 0 "$F" generate --trades $N --seed 11 --store "$T/trades.h5"
expect_rc 0 "$F" screen --make-quotes "$T/all.csv" --store "$T/trades.h5" "${PRICING[@]}" --quote-noise 0.05
expect_grep "wrote $N quotes" "$T/last.err"
expect_rc 0 "$F" screen --make-quotes "$T/again.csv" --store "$T/trades.h5" "${PRICING[@]}" --quote-noise 0.05
cmp "$T/all.csv" "$T/again.csv"   # deterministic from the seeds
expect_rc 0 "$F" screen --make-quotes "$T/other.csv" --store "$T/trades.h5" "${PRICING[@]}" --quote-seed 8
if cmp -s "$T/all.csv" "$T/other.csv"; then echo "FAIL: --quote-seed changes nothing"; exit 1; fi
expect_rc 0 "$F" screen --make-quotes "$T/all.json" --store "$T/trades.h5" "${PRICING[@]}" --quote-noise 0.05

# quotes for trades 0..29 (30..39 unquoted) plus 3 orphans, as CSV and JSON
head -n 31 "$T/all.csv" > "$T/q.csv"
printf '100,5.5\n101,6.25\n102,7\n' >> "$T/q.csv"
"$PY" - "$T/all.json" "$T/q.json" <<'EOF'
import json, sys
rows = [r for r in json.load(open(sys.argv[1])) if r["trade_id"] < 30]
rows += [{"trade_id": 100, "quote": 5.5}, {"trade_id": 101, "quote": 6.25}, {"trade_id": 102, "quote": 7}]
json.dump(rows, open(sys.argv[2], "w"))
EOF

# ---- the screen from CSV: counts, thresholds, ranking ----
TH=(--min-edge 0.01 --min-z 3)
expect_rc 0 "$F" screen --store "$T/trades.h5" --quotes "$T/q.csv" "${PRICING[@]}" "${TH[@]}" \
    --output "$T/csv.h5" --csv "$T/csv.csv"
expect_grep "40 trades \(0 ids absent\), 30 joined, 10 unquoted, 3 orphan quotes, 0 failed" "$T/last.err"
expect_grep "3 quotes without a trade: 100 101 102" "$T/last.err"
# every joined trade, no thresholds: the reference the selection is checked against
expect_rc 0 "$F" screen --store "$T/trades.h5" --quotes "$T/q.csv" "${PRICING[@]}" --min-edge -1e9 --min-z -1e300 \
    --output "$T/every.h5" --csv "$T/every.csv"
"$PY" - "$T" <<'EOF'
import csv, sys, h5py, numpy as np
T = sys.argv[1]
def rows(path):
    with h5py.File(path, "r") as f:
        return f["signals"][:], dict(f.attrs)
sel, a = rows(T + "/csv.h5")
every, _ = rows(T + "/every.h5")
assert list(sel.dtype.names) == ["trade_id", "quote", "model_value", "model_stderr", "edge", "z"], sel.dtype
assert (a["joined"], a["unquoted"], a["orphan_quotes"], a["failed"], a["trades"]) == (30, 10, 3, 0, 40), a
assert a["min_edge"] == 0.01 and a["min_z"] == 3 and a["seed"] == 5 and a["paths"] == 1000, a
assert a["selected"] == len(sel) and "time" in a and "start_time" in a
assert len(every) == 30 and sorted(every["trade_id"]) == list(range(30))
# edge and z follow from the columns
e = (every["model_value"] - every["quote"]) / every["quote"]
z = (every["model_value"] - every["quote"]) / every["model_stderr"]
assert np.array_equal(e, every["edge"]) and np.array_equal(z, every["z"])
# the selection is exactly the rows passing both thresholds, ranked by edge
want = every[(every["edge"] >= 0.01) & (every["z"] >= 3)]
assert 0 < len(want) < 30, len(want)
assert sorted(want["trade_id"]) == sorted(sel["trade_id"])
assert all(sel["edge"][i] >= sel["edge"][i + 1] for i in range(len(sel) - 1))
assert (sel["edge"] >= 0.01).all() and (sel["z"] >= 3).all()
# the CSV holds the same rows, bit for bit, in the same order
with open(T + "/csv.csv") as f:
    r = list(csv.DictReader(f))
assert [int(x["trade_id"]) for x in r] == list(sel["trade_id"])
for k in ("quote", "model_value", "model_stderr", "edge", "z"):
    assert [float(x[k]) for x in r] == list(sel[k]), k
# quotes are per warrant: the made quotes sit within the noise of the model value
assert (abs(every["edge"]) <= 0.05 / 0.95 + 1e-12).all()
print("screen: %d of 30 joined trades selected" % len(sel))
EOF
CHECKS=$((CHECKS + 1))

# -v names every unquoted trade and orphan quote
expect_rc 0 "$F" screen --store "$T/trades.h5" --quotes "$T/q.csv" "${PRICING[@]}" "${TH[@]}" -v
[ "$(grep -c 'has no quote$' "$T/last.err")" = 10 ] || { echo "FAIL: -v unquoted"; exit 1; }
expect_grep "trade 35 has no quote" "$T/last.err"
expect_grep "quote for trade 101 has no trade" "$T/last.err"

# ---- JSON gives the same signals ----
expect_rc 0 "$F" screen --store "$T/trades.h5" --quotes "$T/q.json" "${PRICING[@]}" "${TH[@]}" --csv "$T/json.csv"
expect_grep "30 joined, 10 unquoted, 3 orphan quotes" "$T/last.err"
cmp "$T/csv.csv" "$T/json.csv"

# ---- HTTP: a real local server ----
mkdir -p "$T/www"
cp "$T/q.csv" "$T/q.json" "$T/www/"
KEY="k3y-$(od -An -tx8 -N8 /dev/urandom | tr -d ' ')"
MARKET_TEST_KEY=$KEY "$PY" "$FINSIM_SRC/tests/market_server.py" "$T/www" "$T/port" 8 &
SRV=$!
add_cleanup "kill $SRV"
wait_for 60 "port file of the market server" test -s "$T/port"
PORT=$(cat "$T/port")
URL=http://127.0.0.1:$PORT
expect_rc 0 "$F" screen --store "$T/trades.h5" --quotes "$URL/data/q.csv" "${PRICING[@]}" "${TH[@]}" \
    --csv "$T/http.csv" --output "$T/http.h5"
cmp "$T/csv.csv" "$T/http.csv"
expect_rc 0 "$F" screen --store "$T/trades.h5" --quotes "$URL/data/q.json" "${PRICING[@]}" "${TH[@]}" --csv "$T/http2.csv"
cmp "$T/csv.csv" "$T/http2.csv"
"$PY" - "$T/csv.h5" "$T/http.h5" <<'EOF'
import sys, h5py, numpy as np
a, b = (h5py.File(p, "r")["signals"][:] for p in sys.argv[1:])
assert np.array_equal(a, b)
EOF
CHECKS=$((CHECKS + 1))

# libcurl is not linked (the loader would map its chain at every start of
# every command): screen loads it at the first HTTP(S) request. When it
# cannot be loaded (FINSIM_CURL_LIBRARY, the diagnostic knob, names a library
# that does not exist, or one that is not libcurl), an http:// source fails
# with exit 2, naming the library and the Debian package, before any request
# is sent and before any output is written; file sources do not need it.
if readelf -d "$F" | grep -q 'NEEDED.*libcurl'; then
  echo "FAIL: finsim links libcurl; it is to be loaded when screen first needs it" >&2; exit 1
fi
CHECKS=$((CHECKS + 1))
: > "$T/www/requests.log"
expect_rc 2 env FINSIM_CURL_LIBRARY=libfinsim-test-no-curl.so.4 "$F" screen --store "$T/trades.h5" \
    --quotes "$URL/data/q.csv" "${PRICING[@]}" "${TH[@]}" --csv "$T/nocurl.csv" --output "$T/nocurl.h5"
expect_grep "HTTP\\(S\\) sources need libcurl, which could not be loaded \\(libfinsim-test-no-curl\\.so\\.4: cannot open" \
    "$T/last.err"
expect_grep "Debian: apt-get install libcurl4" "$T/last.err"
expect_no_grep '^GET ' "$T/www/requests.log"
[ ! -e "$T/nocurl.csv" ] && [ ! -e "$T/nocurl.h5" ] || { echo "FAIL: outputs written without market data" >&2; exit 1; }
CHECKS=$((CHECKS + 1))
expect_rc 2 env FINSIM_CURL_LIBRARY=libz.so.1 "$F" screen --store "$T/trades.h5" \
    --quotes "$URL/data/q.csv" "${PRICING[@]}" "${TH[@]}" --csv "$T/nocurl.csv"
expect_grep "libz\\.so\\.1 has no curl_global_init: HTTP\\(S\\) sources need libcurl" "$T/last.err"
expect_rc 0 env FINSIM_CURL_LIBRARY=libfinsim-test-no-curl.so.4 "$F" screen --store "$T/trades.h5" \
    --quotes "$T/q.csv" "${PRICING[@]}" "${TH[@]}" --csv "$T/nocurl.csv"
cmp "$T/csv.csv" "$T/nocurl.csv"

# An API key is never sent over plain http:// unless the user opts in for
# this run (2, nothing sent: the server would answer 200); with
# --allow-insecure-http it goes, with a warning. The test server speaks
# plain http, so the checks below opt in.
expect_rc 2 env FINSIM_MARKET_API_KEY="$KEY" "$F" screen --store "$T/trades.h5" --quotes "$URL/auth/q.csv" \
    "${PRICING[@]}"
expect_grep "refusing to send the API key over plain http:// to http://127.0.0.1:$PORT/auth/q.csv" "$T/last.err"
expect_grep "use https://, or give --allow-insecure-http" "$T/last.err"
expect_no_grep "$KEY" "$T/last.err"
PRICING_PLAIN=("${PRICING[@]}")
PRICING+=(--allow-insecure-http)
expect_rc 0 env FINSIM_MARKET_API_KEY="$KEY" "$F" screen --store "$T/trades.h5" --quotes "$URL/auth/q.csv" \
    "${PRICING[@]}" "${TH[@]}" --csv "$T/auth0.csv"
expect_grep "sending the API key over plain http:// to http://127.0.0.1:$PORT/auth/q.csv \(--allow-insecure-http\)" \
    "$T/last.err"
cmp "$T/csv.csv" "$T/auth0.csv"

# API key: refused without it (13), taken from the environment or a 0600 file
expect_rc 13 "$F" screen --store "$T/trades.h5" --quotes "$URL/auth/q.csv" "${PRICING[@]}"
expect_grep "HTTP status 401.*FINSIM_MARKET_API_KEY" "$T/last.err"
expect_rc 13 env FINSIM_MARKET_API_KEY=wrong "$F" screen --store "$T/trades.h5" --quotes "$URL/auth/q.csv" "${PRICING[@]}"
expect_rc 0 env FINSIM_MARKET_API_KEY="$KEY" "$F" screen --store "$T/trades.h5" --quotes "$URL/auth/q.csv" \
    "${PRICING[@]}" "${TH[@]}" --csv "$T/auth.csv" -v
cmp "$T/csv.csv" "$T/auth.csv"
cp "$T/last.err" "$T/log.auth-env"
printf '%s\n' "$KEY" > "$T/keyfile"
chmod 600 "$T/keyfile"
expect_rc 0 "$F" screen --store "$T/trades.h5" --quotes "$URL/auth/q.csv" --api-key-file "$T/keyfile" \
    --api-key-header X-API-Key "${PRICING[@]}" "${TH[@]}" --csv "$T/auth2.csv"
cmp "$T/csv.csv" "$T/auth2.csv"
cp "$T/last.err" "$T/log.auth-file"
expect_rc 2 env FINSIM_MARKET_API_KEY="$(printf 'k\r\nX-Injected: 1')" "$F" screen --store "$T/trades.h5" \
    --quotes "$URL/auth/q.csv" "${PRICING[@]}"
expect_grep "control characters" "$T/last.err"
chmod 644 "$T/keyfile"
expect_rc 2 "$F" screen --store "$T/trades.h5" --quotes "$URL/auth/q.csv" --api-key-file "$T/keyfile" "${PRICING[@]}"
chmod 600 "$T/keyfile"

# slow endpoint: times out after the retries (12); the key is not in the
# command line of the running process, nor in any message
start=$(date +%s.%N)
FINSIM_MARKET_API_KEY=$KEY "$F" screen --store "$T/trades.h5" --quotes "$URL/slow/q.csv" "${PRICING[@]}" \
    --http-timeout 1 --http-retries 1 --http-backoff 0.1 >"$T/slow.out" 2>"$T/slow.err" &
PID=$!
# the command line of the running finsim itself: wait for the exec (before
# it, /proc/PID/cmdline is this script's, which says "screen" anyway)
wait_for 60 "finsim screen process" test -n "$(finsim_pids "$PID")"
tr '\0' ' ' < "/proc/$PID/cmdline" > "$T/cmdline"
expect_grep "^[^ ]*finsim screen --store .* --quotes $URL/slow/q.csv " "$T/cmdline"
expect_no_grep "$KEY" "$T/cmdline"
rc=0; wait $PID || rc=$?
expect_status 12 "$rc" "slow endpoint (exit 12: timed out)" "$T/slow.out" "$T/slow.err"
el=$("$PY" -c "import sys; print(float(sys.argv[2]) - float(sys.argv[1]))" "$start" "$(date +%s.%N)")
# it waited for both timeouts (a lower bound only: a busy machine makes any
# upper bound flaky, and ctest's timeout catches a hang)
"$PY" -c "import sys; t = float(sys.argv[1]); assert t > 1.9, t" "$el"
expect_grep "timed out .*total 1 s" "$T/slow.err"
expect_grep "after 2 attempts" "$T/slow.err"

# failing endpoint: retried, then exit 11
: > "$T/www/requests.log"
expect_rc 11 "$F" screen --store "$T/trades.h5" --quotes "$URL/fail/q.csv" "${PRICING[@]}" \
    --http-retries 2 --http-backoff 0.05
expect_grep "attempt 1 of 3 failed: HTTP status 500; retrying" "$T/last.err"
expect_grep "failed after 3 attempts: HTTP status 500" "$T/last.err"
[ "$(grep -c '^GET /fail/q.csv 500' "$T/www/requests.log")" = 3 ] || { echo "FAIL: want 3 requests"; cat "$T/www/requests.log"; exit 1; }
# 408 and 429 are retried (then the file comes), a redirect is not followed
# (it could carry the key elsewhere) and not retried
for code in 408 429; do
  : > "$T/www/requests.log"
  expect_rc 0 env FINSIM_MARKET_API_KEY="$KEY" "$F" screen --store "$T/trades.h5" --quotes "$URL/once$code/q.csv" \
      "${PRICING[@]}" "${TH[@]}" --http-retries 2 --http-backoff 0.05 --csv "$T/r$code.csv"
  cmp "$T/csv.csv" "$T/r$code.csv"
  expect_grep "attempt 1 of 3 failed: HTTP status $code; retrying" "$T/last.err"
  [ "$(grep -c "^GET /once$code/q.csv " "$T/www/requests.log")" = 2 ] || {
    echo "FAIL: want 2 requests for a $code"; cat "$T/www/requests.log"; exit 1; }
  cp "$T/last.err" "$T/log.retry$code"
done
: > "$T/www/requests.log"
expect_rc 11 env FINSIM_MARKET_API_KEY="$KEY" "$F" screen --store "$T/trades.h5" --quotes "$URL/redirect/q.csv" \
    "${PRICING[@]}" --http-retries 2 --http-backoff 0.05
expect_grep "302" "$T/last.err"
cp "$T/last.err" "$T/log.redirect"
expect_grep '^GET /redirect/q.csv 302$' "$T/www/requests.log"
expect_no_grep '/data/' "$T/www/requests.log"
# (count this endpoint's lines only: the slow endpoint's handler above may
# log its late answer at any time)
[ "$(grep -c '^GET /redirect/' "$T/www/requests.log")" = 1 ] || {
  echo "FAIL: a redirect was retried"; cat "$T/www/requests.log"; exit 1; }
# no retry for a plain 404; nothing listening: a connection error (11)
expect_rc 11 "$F" screen --store "$T/trades.h5" --quotes "$URL/data/none.csv" "${PRICING[@]}" --http-backoff 0.05
expect_no_grep "retrying" "$T/last.err"
# (a port held bound, not listening, by a helper: refused, and nobody else's)
"$PY" "$FINSIM_SRC/tests/silent_server.py" "$T/deadport" refuse &
DEADSRV=$!
add_cleanup "kill $DEADSRV"
wait_for 60 "port file of the refusing helper" test -s "$T/deadport"
DEAD=$(cat "$T/deadport")
expect_rc 11 "$F" screen --store "$T/trades.h5" --quotes "http://127.0.0.1:$DEAD/q.csv?token=abc" "${PRICING[@]}" \
    --http-retries 1 --http-backoff 0.05
expect_no_grep "token=abc" "$T/last.err"   # query strings are not logged
for f in "$T"/log.* "$T/slow.err" "$T/slow.out"; do expect_no_grep "$KEY" "$f"; done

# HTTPS: verified against the CA given, refused (without retries) otherwise
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=localhost \
    -addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout "$T/srv.key" -out "$T/srv.crt" 2>/dev/null
"$PY" "$FINSIM_SRC/tests/market_server.py" "$T/www" "$T/tlsport" 4 "$T/srv.crt" "$T/srv.key" &
add_cleanup "kill $!"
wait_for 60 "port file of the HTTPS market server" test -s "$T/tlsport"
TURL=https://localhost:$(cat "$T/tlsport")
# generous ceilings: the client's TLS set-up (the system CA bundle is read
# inside the connect timeout) takes many seconds in the sanitizer build on
# a busy machine; the verdicts below, not the time, are what is checked
SLOWTLS=(--http-connect-timeout 300 --http-timeout 300)
# a client that connects and never starts its TLS handshake holds up no one else
exec 7<>"/dev/tcp/127.0.0.1/$(cat "$T/tlsport")"
expect_rc 0 "$F" screen --store "$T/trades.h5" --quotes "$TURL/data/q.csv" --http-ca "$T/srv.crt" "${PRICING[@]}" "${TH[@]}" \
    "${SLOWTLS[@]}" --csv "$T/https.csv"
exec 7>&-
cmp "$T/csv.csv" "$T/https.csv"
expect_rc 11 "$F" screen --store "$T/trades.h5" --quotes "$TURL/data/q.csv" "${PRICING[@]}" --http-backoff 0.05 \
    "${SLOWTLS[@]}"
expect_grep "certificate" "$T/last.err"
expect_no_grep "retrying" "$T/last.err"

# MPI ranks share the pricing: same signals and counts; rank 0 alone
# fetches the quotes (one request per run) and every rank exits alike
: > "$T/www/requests.log"
expect_rc 0 MPIRUN -np 3 "$F" screen --store "$T/trades.h5" --quotes "$URL/data/q.csv" "${PRICING[@]}" "${TH[@]}" \
    --csv "$T/mpi.csv" --output "$T/mpi.h5"
cmp "$T/csv.csv" "$T/mpi.csv"
expect_grep "40 trades \(0 ids absent\), 30 joined, 10 unquoted, 3 orphan quotes, 0 failed" "$T/last.err"
[ "$(grep -c '^GET /data/q.csv' "$T/www/requests.log")" = 1 ] || { echo "FAIL: want one request"; cat "$T/www/requests.log"; exit 1; }
"$PY" - "$T/csv.h5" "$T/mpi.h5" <<'EOF2'
import sys, h5py, numpy as np
a, b = (h5py.File(p, "r") for p in sys.argv[1:])
assert np.array_equal(a["signals"][:], b["signals"][:])
for k in ("joined", "unquoted", "orphan_quotes", "failed", "selected", "trades"):
    assert a.attrs[k] == b.attrs[k], k
EOF2
CHECKS=$((CHECKS + 1))
expect_rc 11 MPIRUN -np 2 "$F" screen --store "$T/trades.h5" --quotes "$URL/fail/q.csv" "${PRICING[@]}" --http-retries 0

# an output that cannot be written is refused before anything is fetched
: > "$T/www/requests.log"
expect_rc 6 "$F" screen --store "$T/trades.h5" --quotes "$URL/data/q.csv" --output "$T/no/such/dir/s.h5"
expect_grep "cannot write in $T/no/such/dir" "$T/last.err"
! grep -q '/data/q.csv' "$T/www/requests.log" || { echo "FAIL: fetched quotes before checking the output"; exit 1; }

# ---- bad market data: a one-line error and exit 11 ----
printf 'trade_id,quote\n1,2.5\n1,2.6\n' > "$T/dup.csv"
expect_rc 11 "$F" screen --store "$T/trades.h5" --quotes "$T/dup.csv" "${PRICING[@]}"
expect_grep "trade 1 is quoted more than once" "$T/last.err"
printf 'trade_id,quote\n1,-2.5\n' > "$T/neg.csv"
expect_rc 11 "$F" screen --store "$T/trades.h5" --quotes "$T/neg.csv" "${PRICING[@]}"
expect_grep "neg.csv:2: quote for trade 1 must be a finite number > 0" "$T/last.err"
printf 'id,price\n1,2.5\n' > "$T/hdr.csv"
expect_rc 11 "$F" screen --store "$T/trades.h5" --quotes "$T/hdr.csv" "${PRICING[@]}"
printf '[{"trade_id": 1, "quote": }]' > "$T/bad.json"
expect_rc 11 "$F" screen --store "$T/trades.h5" --quotes "$T/bad.json" "${PRICING[@]}"
expect_grep "bad.json:1:.*JSON" "$T/last.err"
expect_rc 11 "$F" screen --store "$T/trades.h5" --quotes "$T/missing.csv" "${PRICING[@]}"

# ---- market data overrides fx1 and sigma1: same value as the edited trade priced directly ----
{ echo 'trade_id,currency_pair,quote'; tail -n +2 "$T/all.csv" | head -n 10 | awk -F, '{ print $1 ",EURUSD," $2 }';
  tail -n +12 "$T/all.csv" | head -n 5 | awk -F, '{ print $1 ",," $2 }'; } > "$T/qp.csv"
printf 'currency_pair,spot,vol\nEURUSD,0.93,0.09\nGBPUSD,1.2,0.1\n' > "$T/mkt.csv"
expect_rc 0 "$F" screen --store "$T/trades.h5" --quotes "$T/qp.csv" --market "$T/mkt.csv" "${PRICING[@]}" \
    --min-edge -1e9 --min-z -1e300 --csv "$T/mkt.out.csv" --output "$T/mkt.h5"
expect_grep "15 joined, 25 unquoted, 0 orphan quotes, 0 failed, 10 changed by market data" "$T/last.err"
expect_rc 0 "$F" generate --trades $N --seed 11 --eyxml "$T/trades.xml"
sed -E '/>000000000[0-9]</ { s/fx1="[^"]*"/fx1="0.93"/; s/sigma1="[^"]*"/sigma1="0.09"/ }' "$T/trades.xml" > "$T/edited.xml"
expect_rc 0 "$F" price "${PRICING_PLAIN[@]}" "$T/edited.xml"
cp "$T/last.out" "$T/price.csv"
"$PY" - "$T/mkt.h5" "$T/price.csv" "$T/edited.xml" <<'EOF'
import csv, re, sys, h5py
sig = h5py.File(sys.argv[1], "r")["signals"][:]
pv = {int(r["trade_id"]): (float(r["pv"]), float(r["pv_stderr"])) for r in csv.DictReader(open(sys.argv[2]))}
wn = {int(m.group(2)): int(m.group(1)) for m in re.finditer(r'warrantsNo="(\d+)".*?>(\d+)</trade>', open(sys.argv[3]).read())}
assert sorted(sig["trade_id"]) == list(range(15))
for r in sig:
    i = int(r["trade_id"])
    assert r["model_value"] == pv[i][0] / wn[i], (i, r["model_value"], pv[i][0] / wn[i])
    assert r["model_stderr"] == pv[i][1] / wn[i]
print("market overrides: 15 values match finsim price / warrantsNo")
EOF
CHECKS=$((CHECKS + 1))
# --make-quotes --pair tags every quote; the market data then reprices all of them
expect_rc 0 "$F" screen --make-quotes "$T/pair.csv" --pair EURUSD --store "$T/trades.h5" "${PRICING[@]}"
expect_grep "^0,[0-9.e+-]+,EURUSD$" "$T/pair.csv"
expect_rc 0 "$F" screen --store "$T/trades.h5" --quotes "$T/pair.csv" --market "$T/mkt.csv" "${PRICING[@]}"
expect_grep "40 joined, 0 unquoted, 0 orphan quotes, 0 failed, 40 changed by market data" "$T/last.err"
# a JSON object carrying quotes and market data together gives the same rows
"$PY" - "$T/qp.csv" "$T/both.json" <<'EOF'
import csv, json, sys
q = []
for r in csv.DictReader(open(sys.argv[1])):
    o = {"trade_id": int(r["trade_id"]), "quote": float(r["quote"])}
    if r["currency_pair"]:
        o["currency_pair"] = r["currency_pair"]
    q.append(o)
json.dump({"quotes": q, "market": [{"currency_pair": "EURUSD", "spot": 0.93, "vol": 0.09}]}, open(sys.argv[2], "w"))
EOF
expect_rc 0 "$F" screen --store "$T/trades.h5" --quotes "$T/both.json" "${PRICING[@]}" --min-edge -1e9 --min-z -1e300 \
    --csv "$T/both.csv"
cmp "$T/mkt.out.csv" "$T/both.csv"

# ---- Redis: the sorted set holds the same ranking ----
redis_start
add_cleanup redis_stop
expect_rc 0 "$F" generate --trades $N --seed 11 --store "$REDIS_URL"
expect_rc 0 "$F" screen --store "$REDIS_URL" --quotes "$URL/data/q.csv" "${PRICING[@]}" "${TH[@]}" --csv "$T/redis.csv"
cmp "$T/csv.csv" "$T/redis.csv"
expect_grep "signals in the sorted set finsim:signals" "$T/last.err"
redis_cli ZREVRANGE finsim:signals 0 -1 WITHSCORES > "$T/zset"
"$PY" - "$T/zset" "$T/csv.csv" <<'EOF'
import csv, sys
z = open(sys.argv[1]).read().split()
members, scores = z[0::2], [float(s) for s in z[1::2]]
rows = list(csv.DictReader(open(sys.argv[2])))
assert members == [r["trade_id"] for r in rows], (members, [r["trade_id"] for r in rows])
assert scores == [float(r["edge"]) for r in rows]
print("redis: %d signals ranked as the CSV" % len(members))
EOF
CHECKS=$((CHECKS + 1))
# a later run replaces the set (here: stricter thresholds), and --signals-redis
# publishes for a file store, under the key prefix
expect_rc 0 "$F" screen --store "$REDIS_URL" --quotes "$T/q.csv" "${PRICING[@]}" --min-edge 0.03 --min-z 3 --csv "$T/strict.csv"
[ "$(redis_cli ZCARD finsim:signals)" = "$(($(wc -l < "$T/strict.csv") - 1))" ] || { echo "FAIL: set not replaced"; exit 1; }
expect_rc 0 "$F" screen --store "$T/trades.h5" --quotes "$T/q.csv" "${PRICING[@]}" "${TH[@]}" \
    --signals-redis "$REDIS_URL" --key-prefix desk1:
[ "$(redis_cli ZCARD desk1:finsim:signals)" = "$(($(wc -l < "$T/csv.csv") - 1))" ] || { echo "FAIL: prefixed set"; exit 1; }
CHECKS=$((CHECKS + 2))

# two ranks, every trade of the store (listed by rank 0): the same set
expect_rc 0 redis_cli DEL finsim:signals
expect_rc 0 MPIRUN -np 2 "$F" screen --store "$REDIS_URL" --quotes "$T/q.csv" "${PRICING[@]}" "${TH[@]}" --csv "$T/redis-mpi.csv"
cmp "$T/csv.csv" "$T/redis-mpi.csv"
redis_cli ZREVRANGE finsim:signals 0 -1 WITHSCORES | cmp - "$T/zset"

# a quoted trade that cannot be priced is named and counted (exit 1); the
# others are still screened and published
redis_cli SET ey0000003.xml '<AZFINSIM><trade fx1="0.9" drift' >/dev/null
expect_rc 1 "$F" screen --store "$REDIS_URL" --quotes "$T/q.csv" "${PRICING[@]}" "${TH[@]}" --csv "$T/bad3.csv"
expect_grep "trade 3: .*\(parse\)" "$T/last.err"
expect_grep "30 joined, 10 unquoted, 3 orphan quotes, 1 failed" "$T/last.err"
grep -v '^3,' "$T/csv.csv" | cmp - "$T/bad3.csv"
expect_rc 1 MPIRUN -np 2 "$F" screen --store "$REDIS_URL" --quotes "$T/q.csv" "${PRICING[@]}" "${TH[@]}" --csv "$T/bad3-mpi.csv"
cmp "$T/bad3.csv" "$T/bad3-mpi.csv"

# signals over TLS with a password (rediss://, as Azure Cache for Redis)
if "$F" version | grep -q 'TLS yes'; then
    redis_stop
    PW="pw-$(od -An -tx8 -N8 /dev/urandom | tr -d ' ')"
    redis_start_tls optional --requirepass "$PW"
    expect_rc 0 env FINSIM_TLS_CA="$REDIS_CA" FINSIM_REDIS_PASSWORD="$PW" "$F" generate --trades $N --seed 11 --store "$REDIS_TLS_URL"
    expect_rc 0 env FINSIM_TLS_CA="$REDIS_CA" FINSIM_REDIS_PASSWORD="$PW" "$F" screen --store "$REDIS_TLS_URL" \
        --quotes "$T/q.csv" "${PRICING[@]}" "${TH[@]}" --csv "$T/tls.csv"
    cmp "$T/csv.csv" "$T/tls.csv"
    [ "$(redis_cli ZCARD finsim:signals)" = "$(($(wc -l < "$T/csv.csv") - 1))" ] || { echo "FAIL: TLS set"; exit 1; }
    # the signals connection checks the server and the password like the store does
    expect_rc 4 env FINSIM_TLS_CA="$REDIS_CA" FINSIM_REDIS_PASSWORD=wrong "$F" screen --store "$T/trades.h5" \
        --quotes "$T/q.csv" "${PRICING[@]}" --signals-redis "$REDIS_TLS_URL"
    expect_no_grep "wrong|$PW" "$T/last.err"
    expect_rc 5 env FINSIM_TLS_CA="$REDIS_OTHER_CA" FINSIM_REDIS_PASSWORD="$PW" "$F" screen --store "$T/trades.h5" \
        --quotes "$T/q.csv" "${PRICING[@]}" --signals-redis "$REDIS_TLS_URL"
    expect_grep "TLS" "$T/last.err"
    CHECKS=$((CHECKS + 1))
fi

# ---- configuration layers: INI file < FINSIM_* environment < command line ----
printf '[store]\nstore = %s\n[screen]\nquotes = %s\nmin_edge = 0.01\nmin_z = 3\npaths = 1000\nseed = 5\n' \
    "$T/trades.h5" "$T/q.csv" > "$T/screen.ini"
expect_rc 0 "$F" screen --config "$T/screen.ini" --csv "$T/ini.csv"
cmp "$T/csv.csv" "$T/ini.csv"
# the environment overrides the file, the command line both; FINSIM_OUTPUT
# (a 'finsim run' setting) never redirects the signals
expect_rc 0 env FINSIM_CONFIG="$T/screen.ini" FINSIM_MIN_Z=1e9 FINSIM_OUTPUT="$T/run-output.h5" "$F" screen --csv "$T/env.csv"
[ "$(wc -l < "$T/env.csv")" = 1 ] || { echo "FAIL: FINSIM_MIN_Z not applied"; exit 1; }
[ ! -e "$T/run-output.h5" ] || { echo "FAIL: FINSIM_OUTPUT used by screen"; exit 1; }
expect_rc 0 env FINSIM_CONFIG="$T/screen.ini" FINSIM_MIN_Z=1e9 "$F" screen --min-z 3 --csv "$T/cli.csv"
cmp "$T/csv.csv" "$T/cli.csv"
# --market on the command line replaces FINSIM_MARKET rather than adding to it
expect_rc 0 env FINSIM_MARKET="$T/mkt.csv" "$F" screen --store "$T/trades.h5" --quotes "$T/qp.csv" --market "$T/mkt.csv" \
    "${PRICING[@]}" --min-edge -1e9 --min-z -1e300 --csv "$T/mkt2.csv"
cmp "$T/mkt.out.csv" "$T/mkt2.csv"
# no secrets in the file
printf '[screen]\napi_key_file = %s\n' "$T/keyfile" > "$T/secret.ini"
expect_rc 2 "$F" screen --config "$T/secret.ini" --store "$T/trades.h5" --quotes "$T/q.csv"
CHECKS=$((CHECKS + 2))

# ---- usage ----
expect_rc 0 "$F" screen --help
expect_grep "model_value  = pv / warrantsNo" "$T/last.out"
expect_rc 2 "$F" screen --store "$T/trades.h5"
expect_rc 2 "$F" screen --store "$T/trades.h5" --quotes "$T/q.csv" --algorithm synthetic
expect_rc 2 MPIRUN -np 2 "$F" screen --make-quotes "$T/mpi-q.csv" --store "$T/trades.h5"
finish
