#!/usr/bin/env bash
# tools/bench/callgrind.sh: instructions per cache hit. Runs the proxy under
# `valgrind --tool=callgrind` (pinned to the server CPU), fills its cache,
# zeroes the counters, then sends REQUESTS HTTP hits (keys.py http-get:
# keep-alive, one request at a time per connection) and dumps, then
# REQUESTS RESP GET hits (redis-benchmark -P 1) and dumps again. Each dump
# covers exactly one load, every thread of the proxy: Ir per request is its
# total over REQUESTS; callgrind_annotate gives the functions.
#
# Run on its own (make bench-callgrind) before and after a change; tools/
# bench.sh runs it too. Writes SECTION_OUT/callgrind.tsv and
# SECTION_OUT/callgrind-{http,resp}.txt (the annotations) and, on its own,
# prints the Markdown section (default SECTION_OUT: build/bench).
#
# Environment (default): REQUESTS (10000), N (10000, at least REQUESTS),
#   V (100), C (50), PIN; SKIP_BUILD=1 with PROXY_BIN: use that binary.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT" || exit 1
# shellcheck source=tools/bench/lib.sh
. "$ROOT/tools/bench/lib.sh"

REQUESTS=${REQUESTS:-10000}
section_settings REQUESTS
[ "$N" -ge "$REQUESTS" ] || N=$REQUESTS # every HTTP request a distinct hit
for t in valgrind callgrind_control callgrind_annotate; do
    command -v "$t" >/dev/null || die "$t not found (apt-get install valgrind)"
done

bench_init callgrind
if [ "${SKIP_BUILD:-0}" = 1 ]; then
    cp "${PROXY_BIN:?}" "$W/redis-proxy" || die "cannot copy PROXY_BIN"
    PROXY=$W/redis-proxy
else
    build_tools
fi

start_redis
ensure_keys "$N"
PROXY_WRAP=(valgrind --tool=callgrind --callgrind-out-file="$W/cg.out")
PROXY_START_SECS=60 start_proxy cg || die "the proxy did not start under valgrind"
pid=${PX_PIDS[cg]}
say "callgrind: filling the cache ($N keys, under valgrind)"
fill_proxy cg 0 "$N" || die "filling the cache failed"

cg() { callgrind_control "$@" "$pid" >/dev/null || die "callgrind_control $* failed"; }
wait_dump() { # n: until cg.out.n is complete
    local i
    for i in $(seq 300); do
        [ -s "$W/cg.out.$1" ] && grep -q '^totals:' "$W/cg.out.$1" && return 0
        sleep 0.1
    done
    die "callgrind wrote no dump $1"
}

cg -z
say "callgrind: $REQUESTS HTTP hits"
got=$(KEYS_CONNS=8 timeout -k 5 600 "${CLI[@]}" python3 "$HELP/keys.py" \
    http-get "${PX_HTTP[cg]}" / "" 0 "$REQUESTS")
[ "$got" = "$REQUESTS 0" ] || say "HTTP: expected '$REQUESTS 0' (200s others), got '$got'"
cg -d
wait_dump 1
say "callgrind: $REQUESTS RESP GET hits"
timeout -k 5 600 "${CLI[@]}" redis-benchmark -h 127.0.0.1 -p "${PX_RESP[cg]}" \
    -c "$C" -P 1 -r "$N" -n "$REQUESTS" -t get --csv >"$W/rb.csv" 2>/dev/null ||
    say "RESP: redis-benchmark failed"
cg -d
wait_dump 2

annotate() { # dump kind: the annotation file, one "kind requests Ir" row
    callgrind_annotate --inclusive=yes --threshold=100 "$W/cg.out.$1" \
        2>/dev/null >"$W/callgrind-$2-inclusive.txt"
    callgrind_annotate --threshold=100 "$W/cg.out.$1" \
        2>/dev/null >"$W/callgrind-$2-self.txt"
    printf '%s\t%s\t%s\n' "$2" "$REQUESTS" "$(awk '/PROGRAM TOTALS/ {
        gsub(",", "", $1); print $1; exit}' "$W/callgrind-$2-inclusive.txt")" \
        >>"$W/callgrind.tsv"
}
: >"$W/callgrind.tsv"
annotate 1 http
annotate 2 resp
awk -F'\t' '{printf "bench: callgrind: %s %d Ir per request\n", $1, $3 / $2}' \
    "$W/callgrind.tsv" >&2

mkdir -p "$OUT" || die "cannot create $OUT"
[ "$OUT" -ef "$W" ] || cp "$W/callgrind.tsv" "$W"/callgrind-*.txt "$OUT/"
if [ "$STANDALONE" = 1 ]; then
    python3 "$HELP/report.py" callgrind "$OUT"
fi
