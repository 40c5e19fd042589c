#!/usr/bin/env bash
# tools/bench.sh: the benchmark harness behind `make bench`.
#
# One run on 127.0.0.1 measures redis-proxy side by side with what a user
# would otherwise deploy, on the same keys and values, and writes
# results.md, ratios.png and scaling.png to docs/bench/:
#   - proxy HTTP hits (wrk, keys uniform at random, every key cached first),
#     proxy HTTP misses (a second proxy with [cache] capacity = 0), proxy RESP
#     GET (redis-benchmark -P 1 and -P 16);
#   - nginx serving the values as static files (the practical HTTP limit),
#     webdis (HTTP to Redis, no cache), Varnish in front of webdis (hits),
#     twemproxy in front of Redis and redis-server itself (-P 1 and -P 16);
#   - proxy HTTP hits as the cache, the workers and the connections grow;
#   - proxy RSS per cached entry beyond its key and value.
# Every server runs from a throwaway directory under /tmp on free loopback
# ports and is stopped on exit; every load is bounded in time. A peer that
# cannot start is reported as n/a and the rest is still measured.
#
# Keys are key:000000000000 .. key:<N-1>, 12-digit zero-padded, which is what
# redis-benchmark -r N asks for (`GET key:__rand_int__`), so every system
# reads the same keys and the RESP runs are hits.
#
# Environment (default):
#   N (10000) keys   V (100) value bytes   C (50) connections per load
#   BENCH_SECONDS (10)   each main-table load
#   SCALE_SECONDS (5)    each scaling load
#   SCALE_KEYS ("1000 10000 100000 1000000")   SCALE_WORKERS ("1 2 4 8 16 32")
#   SCALE_CONNS ("10 100 1000")   MEM_KEYS (1000000) entries for the RSS figure
#   WORKERS (nproc)      proxy workers, except in the workers scan: one per
#                        core, as the peers run (nginx worker_processes auto,
#                        webdis threads = nproc)
#   QUICK=1              2 s loads, fewer scaling points, 100k-entry memory
#                        run, results to build/bench/ (not docs/bench/)
#   BENCH_OUT            output directory
#   SKIP_DEPS=1          do not run tools/deps.sh
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HELP=$ROOT/tools/bench
cd "$ROOT" || exit 1

QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then
    D=${BENCH_SECONDS:-2}
    SD=${SCALE_SECONDS:-2}
    SCALE_KEYS=${SCALE_KEYS:-"1000 10000 100000"}
    SCALE_WORKERS=${SCALE_WORKERS:-"1 8"}
    SCALE_CONNS=${SCALE_CONNS:-"10 1000"}
    MEM_KEYS=${MEM_KEYS:-100000}
    OUT=${BENCH_OUT:-build/bench}
else
    D=${BENCH_SECONDS:-10}
    SD=${SCALE_SECONDS:-5}
    SCALE_KEYS=${SCALE_KEYS:-"1000 10000 100000 1000000"}
    SCALE_WORKERS=${SCALE_WORKERS:-"1 2 4 8 16 32"}
    SCALE_CONNS=${SCALE_CONNS:-"10 100 1000"}
    MEM_KEYS=${MEM_KEYS:-1000000}
    OUT=${BENCH_OUT:-docs/bench}
fi
N=${N:-10000}
V=${V:-100}
C=${C:-50}
WORKERS=${WORKERS:-$(nproc)}
TTL=1h

say() { printf 'bench: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

for v in N V C D SD MEM_KEYS WORKERS; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, got '${!v}'"
done

# --- setup -----------------------------------------------------------------

if [ "${SKIP_DEPS:-0}" != 1 ]; then
    bash tools/deps.sh nginx webdis varnish nutcracker wrk gnuplot-nox \
        redis-server redis-tools || die "tools/deps.sh failed"
fi
for t in redis-server redis-cli redis-benchmark wrk python3 curl timeout; do
    command -v "$t" >/dev/null || die "$t not found (run as root to install)"
done

say "building the proxy (make)"
make --no-print-directory >"/tmp/bench-make.$$.log" 2>&1 || {
    tail -20 "/tmp/bench-make.$$.log" >&2
    rm -f "/tmp/bench-make.$$.log"
    die "make failed"
}
rm -f "/tmp/bench-make.$$.log"

W=$(mktemp -d /tmp/redis-proxy-bench.XXXXXX) || die "mktemp failed"
chmod 755 "$W" # nginx workers run as nobody and read $W/www
PIDS=()

stop_pid() { # pid: TERM, up to 5 s, then KILL; reap it
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
    for i in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 0
}
cleanup() {
    local pid
    trap - EXIT INT TERM
    for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
    rm -rf "$W"
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT TERM

# The binary is copied so a rebuild by someone else mid-run cannot swap it.
cp build/redis-proxy "$W/redis-proxy" || die "no build/redis-proxy"
PROXY=$W/redis-proxy

# More descriptors for wrk -c1000 and the servers it talks to.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null

free_ports() { python3 "$HELP/keys.py" ports "$1"; }

wait_port() { # port pid seconds: 0 once something accepts on port
    local i
    for i in $(seq $(($3 * 10))); do
        kill -0 "$2" 2>/dev/null || return 1
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

spawn() { # log cmd...: start in the background, remember the pid in LAST
    local log=$1
    shift
    "$@" >"$log" 2>&1 &
    LAST=$!
    PIDS+=("$LAST")
}

started() { # name port pid: wait for the listener; complain with the log
    if wait_port "$2" "$3" 10; then return 0; fi
    say "$1 did not start; last lines of its log:"
    tail -5 "$W/$1.log" 2>/dev/null | sed 's/^/    /' >&2
    stop_pid "$3"
    return 1
}

# --- Redis and the keys ----------------------------------------------------

read -r RP < <(free_ports 1)
# tracking-table-max-keys 0: no limit, else past 1M tracked keys Redis
# invalidates keys on its own and the proxy's cache could never hold 1M.
spawn "$W/redis.log" redis-server --bind 127.0.0.1 --port "$RP" --save '' \
    --appendonly no --dir "$W" --tracking-table-max-keys 0
REDIS_PID=$LAST
started redis "$RP" "$REDIS_PID" || die "redis-server did not start"
LOADED=0
ensure_keys() { # count: keys 0 .. count-1 exist in Redis
    [ "$1" -le "$LOADED" ] && return 0
    local t0=$SECONDS
    timeout -k 5 300 python3 "$HELP/keys.py" load "$RP" "$LOADED" "$1" "$V" ||
        die "loading keys into Redis failed"
    say "loaded keys $LOADED..$(($1 - 1)) ($V B values) in $((SECONDS - t0)) s"
    LOADED=$1
}
ensure_keys "$N"

# --- measuring -------------------------------------------------------------

NA="n/a n/a n/a"

wrk_load() { # port prefix suffix keys conns secs -> "rps p50_ms p99_ms note"
    local out line
    out=$(BENCH_PREFIX=$2 BENCH_SUFFIX=$3 BENCH_KEYS=$4 \
        timeout -k 5 $(($6 + 60)) wrk -t1 -c"$5" -d"$6"s --timeout 5s \
        -s "$HELP/rand.lua" "http://127.0.0.1:$1" 2>&1)
    line=$(grep -a '^BENCH ' <<<"$out")
    if [ -z "$line" ]; then
        printf '%s\n' "$out" | tail -3 | sed 's/^/    wrk: /' >&2
        echo "$NA wrk_failed"
        return 1
    fi
    awk '{ for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
           note = ""
           if (v["errors"] > 0) note = note ";socket_errors_" v["errors"]
           if (v["non2xx"] > 0) note = note ";non-2xx_" v["non2xx"]
           printf "%s %.3f %.3f %s\n", v["rps"], v["p50_us"] / 1000,
                  v["p99_us"] / 1000, (note == "" ? "-" : substr(note, 2)) }' <<<"$line"
}

rb_csv() { # port pipeline keys requests timeout -> the CSV GET line
    timeout -k 5 "$5" redis-benchmark -h 127.0.0.1 -p "$1" -c "$C" -P "$2" \
        -r "$3" -n "$4" -t get --csv 2>/dev/null | grep -a '^"GET"'
}

rb_load() { # port pipeline keys secs -> "rps p50_ms p99_ms note"
    # redis-benchmark counts requests, not seconds: a short calibration run
    # (also a warm-up) sizes the real one to last about secs.
    local cal rps n line
    cal=$(rb_csv "$1" "$2" "$3" $(($2 > 1 ? 100000 : 20000)) 60)
    rps=$(awk -F'"' '{printf "%d", $4}' <<<"$cal")
    if [ -z "$rps" ] || [ "$rps" -le 0 ]; then
        echo "$NA redis-benchmark_failed"
        return 1
    fi
    n=$((rps * $4))
    line=$(rb_csv "$1" "$2" "$3" "$n" $(($4 * 3 + 30)))
    if [ -z "$line" ]; then
        echo "$NA redis-benchmark_timed_out"
        return 1
    fi
    awk -F'"' '{printf "%s %s %s -\n", $4, $10, $14}' <<<"$line"
}

metric() { # admin-port name: one Prometheus sample
    curl -s --max-time 5 "http://127.0.0.1:$1/metrics" |
        awk -v m="redis_proxy_$2" '$1 == m {print $2; exit}'
}

pct_note() { # label hits0 misses0 hits1 misses1: "label hits X%" over the load
    local h=$(($4 - $2)) m=$(($5 - $3))
    [ $((h + m)) -gt 0 ] || { echo "$1 no lookups"; return; }
    awk -v l="$1" -v h=$h -v m=$m 'BEGIN {printf "%s hits %.2f%%", l, 100 * h / (h + m)}'
}

add_note() { # "rps p50 p99 note" extra: the result with extra in its note
    local r
    read -r -a r <<<"$1"
    [ "${r[3]:--}" = - ] && r[3]= || r[3]="${r[3]};"
    echo "${r[0]} ${r[1]} ${r[2]} ${r[3]}${2// /_}"
}

redis_counts() { # "keyspace_hits keyspace_misses" of the bench's Redis
    redis-cli -h 127.0.0.1 -p "$RP" INFO stats 2>/dev/null | tr -d '\r' |
        awk -F: '$1 == "keyspace_hits" {h = $2} $1 == "keyspace_misses" {m = $2}
                 END {print h + 0, m + 0}'
}

proxy_counts() { # "hits misses" of the proxy on admin port PX_ADMIN
    echo "$(metric "$PX_ADMIN" cache_hits_total) $(metric "$PX_ADMIN" cache_misses_total)"
}

# Main table rows: id system protocol rps p50_ms p99_ms note (tab separated).
row() { # id system protocol "rps p50 p99 note"
    local r
    read -r -a r <<<"$4"
    r[3]=${r[3]:--}
    r[3]=${r[3]//_/ }
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" \
        "${r[0]}" "${r[1]}" "${r[2]}" "${r[3]}" >>"$W/main.tsv"
    say "$(printf '%-30s %-10s %10s req/s  p50 %7s ms  p99 %7s ms  %s' \
        "$2" "$3" "${r[0]%.*}" "${r[1]}" "${r[2]}" "${r[3]}")"
}

# --- the proxy ---------------------------------------------------------------

start_proxy() { # name -s-settings...: sets PX_PID PX_HTTP PX_RESP PX_ADMIN
    local name=$1 i
    shift
    read -r PX_HTTP PX_RESP PX_ADMIN < <(free_ports 3)
    cat >"$W/$name.ini" <<EOF
[server]
bind = 127.0.0.1
http_port = $PX_HTTP
resp_port = $PX_RESP
workers = $WORKERS
max_clients = 4096
[redis]
host = 127.0.0.1
port = $RP
[cache]
ttl = $TTL
capacity = $N
tracking = on
[admin]
port = $PX_ADMIN
[log]
level = warn
EOF
    local args=()
    for i in "$@"; do args+=(-s "$i"); done
    spawn "$W/$name.log" "$PROXY" -c "$W/$name.ini" "${args[@]}"
    PX_PID=$LAST
    started "$name" "$PX_ADMIN" "$PX_PID" || return 1
    for i in $(seq 100); do # ready: Redis answers, invalidation stream up
        [ "$(curl -s --max-time 2 -o /dev/null -w '%{http_code}' \
            "http://127.0.0.1:$PX_ADMIN/readyz")" = 200 ] && return 0
        sleep 0.1
    done
    say "$name never became ready"
    return 1
}

fill_proxy() { # count: GET keys 0..count-1 once through the RESP port
    local got
    got=$(timeout -k 5 600 python3 "$HELP/keys.py" resp-get "$PX_RESP" 0 "$1")
    [ "$got" = "$1 0 0" ] || {
        say "filling the cache: expected '$1 0 0' (values nils errors), got '$got'"
        return 1
    }
    local entries
    entries=$(metric "$PX_ADMIN" cache_entries)
    [ "${entries:-0}" -ge "$1" ] || {
        say "filling the cache: $1 keys read, but cache_entries = ${entries:-?}"
        return 1
    }
}

counted() { # label counter-fn load-cmd...: the load's result, noting the
    # hit ratio that counter-fn ("hits misses") saw over it
    local label=$1 fn=$2 before after r
    shift 2
    before=$($fn)
    r=$("$@")
    after=$($fn)
    # shellcheck disable=SC2086 # two numbers each
    add_note "$r" "$(pct_note "$label" $before $after)"
}

proxy_hits() { # conns keys secs: wrk against the proxy's HTTP port
    counted cache proxy_counts wrk_load "$PX_HTTP" / "" "$2" "$1" "$3"
}

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

bench_proxy() {
    local p
    say "proxy: cache hits (HTTP and RESP)"
    if start_proxy proxy-hit && fill_proxy "$N"; then
        row proxy-http-hit "redis-proxy (cache hit)" HTTP "$(proxy_hits "$C" "$N" "$D")"
        for p in 1 16; do
            row "proxy-resp-p$p" "redis-proxy (cache hit)" "RESP -P $p" \
                "$(counted cache proxy_counts rb_load "$PX_RESP" "$p" "$N" "$D")"
        done
    else
        row proxy-http-hit "redis-proxy (cache hit)" HTTP "$NA proxy_failed"
        for p in 1 16; do
            row "proxy-resp-p$p" "redis-proxy (cache hit)" "RESP -P $p" "$NA proxy_failed"
        done
    fi
    stop_pid "$PX_PID"

    say "proxy: cache off (every request goes to Redis)"
    if start_proxy proxy-miss cache.capacity=0; then
        row proxy-http-miss "redis-proxy (cache off)" HTTP \
            "$(counted cache proxy_counts wrk_load "$PX_HTTP" / "" "$N" "$C" "$D")"
    else
        row proxy-http-miss "redis-proxy (cache off)" HTTP "$NA proxy_failed"
    fi
    stop_pid "$PX_PID"
}

# --- the peers -------------------------------------------------------------

http_warm() { # name port prefix suffix: GET every key once, all must be 200
    local got
    got=$(KEYS_CONNS=4 timeout -k 5 300 python3 "$HELP/keys.py" http-get \
        "$2" "$3" "$4" 0 "$N")
    [ "$got" = "$N 0" ] || say "$1: warming: expected '$N 0' (200s others), got '$got'"
}

bench_nginx() {
    local port
    command -v nginx >/dev/null || { row nginx "nginx (static files)" HTTP "$NA not_installed"; return; }
    read -r port < <(free_ports 1)
    mkdir -p "$W/www" "$W/nginx-tmp"
    python3 "$HELP/keys.py" files "$W/www" 0 "$N" "$V"
    chmod -R a+rX "$W/www"
    cat >"$W/nginx.conf" <<EOF
worker_processes auto;
pid $W/nginx.pid;
error_log $W/nginx.err warn;
daemon off;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $W/nginx-tmp/body;
    proxy_temp_path $W/nginx-tmp/proxy;
    fastcgi_temp_path $W/nginx-tmp/fastcgi;
    uwsgi_temp_path $W/nginx-tmp/uwsgi;
    scgi_temp_path $W/nginx-tmp/scgi;
    open_file_cache max=$((N + 1000)) inactive=10m;
    keepalive_requests 100000000;
    server {
        listen 127.0.0.1:$port;
        root $W/www;
        default_type application/octet-stream;
    }
}
EOF
    spawn "$W/nginx.log" nginx -e "$W/nginx.err" -c "$W/nginx.conf"
    if started nginx "$port" "$LAST"; then
        http_warm nginx "$port" / ""
        row nginx "nginx (static files)" HTTP "$(wrk_load "$port" / "" "$N" "$C" "$D")"
        stop_pid "$LAST"
    else
        row nginx "nginx (static files)" HTTP "$NA did_not_start"
    fi
}

WEBDIS_PORT=
bench_webdis() {
    command -v webdis >/dev/null || { row webdis "webdis (no cache)" HTTP "$NA not_installed"; return; }
    read -r WEBDIS_PORT < <(free_ports 1)
    cat >"$W/webdis.json" <<EOF
{"redis_host": "127.0.0.1", "redis_port": $RP,
 "http_host": "127.0.0.1", "http_port": $WEBDIS_PORT,
 "threads": $(nproc), "pool_size": 20, "daemonize": false,
 "database": 0, "verbosity": 0, "logfile": "$W/webdis.out"}
EOF
    spawn "$W/webdis.log" webdis "$W/webdis.json"
    WEBDIS_PID=$LAST
    if started webdis "$WEBDIS_PORT" "$WEBDIS_PID"; then
        # /GET/<key>.txt answers the raw value as text/plain
        http_warm webdis "$WEBDIS_PORT" /GET/ .txt
        row webdis "webdis (no cache)" HTTP "$(counted Redis redis_counts \
            wrk_load "$WEBDIS_PORT" /GET/ .txt "$N" "$C" "$D")"
    else
        row webdis "webdis (no cache)" HTTP "$NA did_not_start"
        WEBDIS_PORT=
    fi
}

varnish_counts() { # "cache_hit cache_miss" of the bench's varnishd
    varnishstat -n "$VARNISH_DIR" -1 -f MAIN.cache_hit -f MAIN.cache_miss 2>/dev/null |
        awk '$1 == "MAIN.cache_hit" {h = $2} $1 == "MAIN.cache_miss" {m = $2}
             END {print h + 0, m + 0}'
}

bench_varnish() { # needs webdis running
    local port
    if ! command -v varnishd >/dev/null; then
        row varnish "Varnish -> webdis (cache hit)" HTTP "$NA not_installed"
        return
    fi
    if [ -z "$WEBDIS_PORT" ]; then
        row varnish "Varnish -> webdis (cache hit)" HTTP "$NA webdis_down"
        return
    fi
    read -r port < <(free_ports 1)
    cat >"$W/varnish.vcl" <<EOF
vcl 4.1;
backend webdis { .host = "127.0.0.1"; .port = "$WEBDIS_PORT"; }
sub vcl_backend_response { set beresp.ttl = 1h; }
EOF
    # -F: foreground (the pid is ours), -j none: no privilege separation
    # (runs from /tmp as whoever runs the bench), -T none: no admin CLI port.
    spawn "$W/varnish.log" varnishd -F -j none -T none -n "$W/varnish" \
        -a "127.0.0.1:$port" -f "$W/varnish.vcl" -s malloc,256m
    if started varnish "$port" "$LAST"; then
        http_warm varnish "$port" /GET/ .txt
        VARNISH_DIR=$W/varnish
        row varnish "Varnish -> webdis (cache hit)" HTTP "$(counted Varnish \
            varnish_counts wrk_load "$port" /GET/ .txt "$N" "$C" "$D")"
        stop_pid "$LAST"
    else
        row varnish "Varnish -> webdis (cache hit)" HTTP "$NA did_not_start"
    fi
}

bench_twemproxy() {
    local port stats p
    if ! command -v nutcracker >/dev/null; then
        for p in 1 16; do row "twemproxy-p$p" "twemproxy -> Redis" "RESP -P $p" "$NA not_installed"; done
        return
    fi
    read -r port stats < <(free_ports 2)
    cat >"$W/nutcracker.yml" <<EOF
bench:
  listen: 127.0.0.1:$port
  redis: true
  hash: fnv1a_64
  distribution: ketama
  servers:
    - 127.0.0.1:$RP:1
EOF
    spawn "$W/twemproxy.log" nutcracker -c "$W/nutcracker.yml" \
        -s "$stats" -a 127.0.0.1 -o "$W/nutcracker.out"
    if started twemproxy "$port" "$LAST"; then
        for p in 1 16; do
            row "twemproxy-p$p" "twemproxy -> Redis" "RESP -P $p" \
                "$(counted Redis redis_counts rb_load "$port" "$p" "$N" "$D")"
        done
        stop_pid "$LAST"
    else
        for p in 1 16; do row "twemproxy-p$p" "twemproxy -> Redis" "RESP -P $p" "$NA did_not_start"; done
    fi
}

bench_redis() {
    local p
    for p in 1 16; do
        row "redis-p$p" "redis-server" "RESP -P $p" \
            "$(counted Redis redis_counts rb_load "$RP" "$p" "$N" "$D")"
    done
}

# --- scaling and memory ------------------------------------------------------

scale_row() { # file x "rps p50 p99 note"
    local r
    read -r -a r <<<"$3"
    r[3]=${r[3]:--}
    r[3]=${r[3]//_/ }
    printf '%s\t%s\t%s\t%s\t%s\n' "$2" "${r[0]}" "${r[1]}" "${r[2]}" "${r[3]}" >>"$W/$1.tsv"
    say "$(printf '  %-8s %8s %10s req/s  p50 %7s ms  p99 %7s ms  %s' \
        "${1#scale-}" "$2" "${r[0]%.*}" "${r[1]}" "${r[2]}" "${r[3]}")"
}

bench_scale_workers() {
    local w
    say "scaling: workers ($SCALE_WORKERS), $C connections, $N keys"
    for w in $SCALE_WORKERS; do
        if start_proxy "proxy-w$w" "server.workers=$w" && fill_proxy "$N"; then
            scale_row scale-workers "$w" "$(proxy_hits "$C" "$N" "$SD")"
        else
            scale_row scale-workers "$w" "$NA proxy_failed"
        fi
        stop_pid "$PX_PID"
    done
}

bench_scale_conns() {
    local c max=0
    for c in $SCALE_CONNS; do [ "$c" -gt "$max" ] && max=$c; done
    say "scaling: connections ($SCALE_CONNS), $WORKERS workers, $N keys"
    if start_proxy proxy-conns "server.max_clients=$((max * 2 + 100))" &&
        fill_proxy "$N"; then
        for c in $SCALE_CONNS; do
            scale_row scale-conns "$c" "$(proxy_hits "$c" "$N" "$SD")"
        done
    else
        for c in $SCALE_CONNS; do scale_row scale-conns "$c" "$NA proxy_failed"; done
    fi
    stop_pid "$PX_PID"
}

bench_scale_keys() { # one proxy whose cache grows through the sizes
    local k max=0 filled=0 got
    for k in $SCALE_KEYS; do [ "$k" -gt "$max" ] && max=$k; done
    ensure_keys "$max"
    say "scaling: cached keys ($SCALE_KEYS), $WORKERS workers, $C connections"
    if ! start_proxy proxy-keys "cache.capacity=$max"; then
        for k in $SCALE_KEYS; do scale_row scale-keys "$k" "$NA proxy_failed"; done
        stop_pid "$PX_PID"
        return
    fi
    for k in $SCALE_KEYS; do
        if [ "$k" -gt "$filled" ]; then
            got=$(timeout -k 5 600 python3 "$HELP/keys.py" resp-get "$PX_RESP" "$filled" "$k")
            [ "$got" = "$((k - filled)) 0 0" ] || say "filling $filled..$k: got '$got'"
            filled=$k
        fi
        scale_row scale-keys "$k" "$(proxy_hits "$C" "$k" "$SD")"
    done
    stop_pid "$PX_PID"
}

bench_memory() {
    local before after entries bytes t0
    ensure_keys "$MEM_KEYS"
    say "memory: RSS of a proxy holding $MEM_KEYS entries of $V B values"
    start_proxy proxy-mem "cache.capacity=$MEM_KEYS" || { stop_pid "$PX_PID"; return; }
    sleep 0.5
    before=$(rss_kb "$PX_PID")
    t0=$SECONDS
    fill_proxy "$MEM_KEYS" || say "memory: fill incomplete"
    after=$(rss_kb "$PX_PID")
    entries=$(curl -s --max-time 5 "http://127.0.0.1:$PX_ADMIN/stats.json" |
        python3 -c 'import json,sys; c=json.load(sys.stdin)["cache"]; print(c["entries"], c["bytes"])')
    read -r entries bytes <<<"$entries"
    {
        printf 'keys\t%s\n' "$MEM_KEYS"
        printf 'fill_seconds\t%s\n' "$((SECONDS - t0))"
        printf 'rss_before_kb\t%s\n' "$before"
        printf 'rss_after_kb\t%s\n' "$after"
        printf 'entries\t%s\n' "$entries"
        printf 'kv_bytes\t%s\n' "$bytes"
        printf 'evictions\t%s\n' "$(metric "$PX_ADMIN" 'cache_evictions_total{reason="capacity"}')"
        printf 'invalidations\t%s\n' "$(metric "$PX_ADMIN" cache_invalidations_total)"
    } >"$W/memory.tsv"
    say "memory: RSS $before kB -> $after kB, $entries entries, $bytes key+value bytes"
    stop_pid "$PX_PID"
}

# --- run ---------------------------------------------------------------------

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
T_START=$SECONDS
say "main table: $N keys, $V B values, ${D} s per load, $C connections"
bench_proxy
bench_nginx
bench_webdis
bench_varnish
[ -n "${WEBDIS_PID:-}" ] && stop_pid "$WEBDIS_PID"
bench_twemproxy
bench_redis
bench_scale_workers
bench_scale_conns
bench_scale_keys
bench_memory

# --- report ------------------------------------------------------------------

{
    printf 'date\t%s\n' "$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    printf 'cpu\t%s\n' "$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
    printf 'nproc\t%s\n' "$(nproc)"
    printf 'kernel\t%s\n' "$(uname -sr)"
    printf 'memory\t%s\n' "$(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
    printf 'load_start\t%s\n' "$LOAD_START"
    printf 'load_end\t%s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
    printf 'elapsed\t%s\n' "$((SECONDS - T_START))"
    printf 'tree\t%s\n' "$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
    printf 'cflags\t%s\n' "$(make -s --no-print-directory -p -n 2>/dev/null | awk -F' [?:]?= ' '$1 == "OPT" {print $2; exit}')"
    printf 'quick\t%s\n' "$QUICK"
    printf 'N\t%s\nV\t%s\nC\t%s\nD\t%s\nSD\t%s\nWORKERS\t%s\nTTL\t%s\n' \
        "$N" "$V" "$C" "$D" "$SD" "$WORKERS" "$TTL"
    printf 'SCALE_KEYS\t%s\nSCALE_WORKERS\t%s\nSCALE_CONNS\t%s\nMEM_KEYS\t%s\n' \
        "$SCALE_KEYS" "$SCALE_WORKERS" "$SCALE_CONNS" "$MEM_KEYS"
    printf 'software\t%s\n' "$(dpkg-query -W -f='${Package} ${Version}, ' \
        redis-server redis-tools nginx webdis varnish nutcracker wrk \
        2>/dev/null | sed 's/, $//')"
} >"$W/meta.tsv"

mkdir -p "$OUT" || die "cannot create $OUT"
# The raw measurements stay in build/ (git-ignored) for a second look.
rm -rf build/bench-data && mkdir -p build/bench-data &&
    cp "$W"/*.tsv build/bench-data/ 2>/dev/null
python3 "$HELP/report.py" "$W" "$OUT" || die "report.py failed"
cp "$W/ratios.dat" build/bench-data/ 2>/dev/null
if command -v gnuplot >/dev/null; then
    gnuplot -e "dir='$W'; out='$OUT/ratios.png'" "$HELP/ratios.gp" ||
        say "gnuplot ratios.png failed"
    gnuplot -e "dir='$W'; out='$OUT/scaling.png'" "$HELP/scaling.gp" ||
        say "gnuplot scaling.png failed"
else
    say "gnuplot not installed: no charts"
fi
cat "$OUT/results.md"
say "wrote $OUT/results.md, $OUT/ratios.png, $OUT/scaling.png in $((SECONDS - T_START)) s"
