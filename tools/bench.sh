#!/usr/bin/env bash
# tools/bench.sh: the benchmark behind `make bench`.
#
# Measures redis-proxy on 127.0.0.1 next to what a user would otherwise
# deploy, on the same keys and values, and writes results.md and its charts
# to docs/bench/ (QUICK=1: build/bench/):
#   - HTTP cache hits (wrk, keys uniform at random, all cached) against the
#     limit server (tools/bench/limit.c: one thread, epoll, a fixed reply of
#     the proxy's hit size), nginx serving the values as static files,
#     webdis, and Varnish hits in front of webdis; HTTP misses (a proxy with
#     capacity 0) against webdis (which reads Redis for every request);
#   - RESP GET cache hits, -P 1 and -P 16 (redis-benchmark), against the
#     limit server, redis-server and twemproxy in front of it;
#   - forwarded SET, -P 1 and -P 16, against twemproxy, redis-server, limit;
#   - RESP GET of absent keys (miss:<12 digits>, which nobody sets; the
#     proxy caches no absent key, so each is a fill, or joins the fill of
#     the same key in flight), -P 1 and -P 16, against twemproxy in front
#     of the same Redis;
#   - far Redis: the same Redis behind tools/delay_relay.c, holding bytes
#     RELAY_US each way, the proxy and twemproxy both pointed at the
#     relay: forwarded SET and GET of absent keys, -P 1 and -P 16;
#   - over TLS (the test certificate of tools/tls-certs.sh, TLS 1.3, both
#     sides OpenSSL's default cipher): RESP GET cache hits on the proxy's
#     tls_port against redis-server's own tls-port (redis-benchmark --tls),
#     and HTTPS cache hits against nginx serving the same files over HTTPS;
#   - a 3-master + 3-replica Redis Cluster: GET hits and SETs through the
#     proxy against redis-benchmark --cluster straight to the nodes;
#   - HTTP hits as the cache holds more keys (1k .. 1M) and with 10 and 1,000
#     connections; memory per entry at the largest size;
#   - then, servers stopped, tools/bench/syscalls.sh (system calls and
#     context switches per request) and tools/bench/callgrind.sh
#     (instructions per hit).
#
# Pinning: every server runs on CPU 0 and every load generator on CPU 1
# (taskset; tools/bench/lib.sh), so each system gets the same single core.
# The far Redis's relay stands for the network and runs on CPU 1 with the
# load generators (servers.sh, relay_start).
# Every point runs ROUNDS times, interleaved (round 1: every system, round
# 2: every system, ...); the report gives per row the median, the spread
# and the median of the per-round ratios, and a goals table. A goal missed
# gets a profile (perf record and the system calls of the proxy under that
# load) in the report.
#
# Keys are key:000000000000 .. key:<N-1>, 12-digit zero-padded, which is what
# redis-benchmark -r N asks for (`GET key:__rand_int__`), so every system
# reads the same keys and the RESP runs are hits. Every server runs from a
# throwaway directory under /tmp on free loopback ports and is stopped by
# PID on exit; every load is bounded in time. A peer that cannot start is
# reported as n/a and the rest is still measured.
#
# Environment (default):
#   BENCH_SECONDS (10)  each point of the main table and the keys rows
#   SCALE_SECONDS (5)   each connections point
#   ROUNDS (3)          interleaved repetitions of every point
#   N (10000) keys   V (100) value bytes   C (50) connections per load
#   SCALE_KEYS ("1000 10000 100000 1000000")   cached-keys rows; the largest
#                       is also the memory figure
#   SCALE_CONNS ("10 1000")   connection rows besides C
#   RELAY_US (250)      the far Redis's delay each way, in microseconds
#   PROFILE_SECONDS (5) each perf record of a missed goal's load
#   SYSCALL_SECONDS (5) each load of syscalls.sh
#   CG_REQUESTS (10000) requests per callgrind run
#   RETRY_OTHER (30)    a point during which other work on the machine
#                       took this % of a CPU or more is measured once more
#   MAX_RETRIES (10)    such retries at most per run
#   PIN (1 on 2+ CPUs)  0: no taskset
#   QUICK=1             1-second points, fewer rows, output to build/bench/
#   BENCH_OUT           output directory
#   SKIP_DEPS=1         do not run tools/deps.sh
#   BENCH_GROUPS        only the points of these groups (e.g. "tls-get
#                       https-hit"; default: every group): http-hit
#                       http-miss get-p1 get-p16 set-p1 set-p16 miss-p1
#                       miss-p16 far-set-p1 far-set-p16 far-miss-p1
#                       far-miss-p16 tls-get https-hit cluster keys conns;
#                       a group brings the peers its goals compare with
#                       (http-miss brings webdis), and only its profiles
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
# shellcheck source=tools/bench/lib.sh
. "$ROOT/tools/bench/lib.sh"
# shellcheck source=tools/bench/servers.sh
. "$ROOT/tools/bench/servers.sh"

QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then
    D=${BENCH_SECONDS:-1}
    SD=${SCALE_SECONDS:-1}
    SCALE_KEYS=${SCALE_KEYS:-"1000 100000"}
    PROFILE_SECONDS=${PROFILE_SECONDS:-2}
    SYSCALL_SECONDS=${SYSCALL_SECONDS:-2}
    CG_REQUESTS=${CG_REQUESTS:-2000}
    OUT=${BENCH_OUT:-build/bench}
else
    D=${BENCH_SECONDS:-10}
    SD=${SCALE_SECONDS:-5}
    SCALE_KEYS=${SCALE_KEYS:-"1000 10000 100000 1000000"}
    PROFILE_SECONDS=${PROFILE_SECONDS:-5}
    SYSCALL_SECONDS=${SYSCALL_SECONDS:-5}
    CG_REQUESTS=${CG_REQUESTS:-10000}
    OUT=${BENCH_OUT:-docs/bench}
fi
SCALE_CONNS=${SCALE_CONNS:-"10 1000"}
RETRY_OTHER=${RETRY_OTHER:-30}
MAX_RETRIES=${MAX_RETRIES:-10}
ROUNDS=${ROUNDS:-3}
RELAY_US=${RELAY_US:-250}
N=${N:-10000}
V=${V:-100}
C=${C:-50}
TTL=1h
export N V C TTL PIN

require_positive N V C D SD ROUNDS PROFILE_SECONDS SYSCALL_SECONDS CG_REQUESTS \
    RETRY_OTHER RELAY_US
MEM_KEYS=0
for k in $SCALE_KEYS; do
    [[ $k =~ ^[1-9][0-9]*$ ]] || die "SCALE_KEYS: '$k' is not a positive integer"
    [ "$k" -gt "$MEM_KEYS" ] && MEM_KEYS=$k
done
for c in $SCALE_CONNS; do
    [[ $c =~ ^[1-9][0-9]*$ ]] || die "SCALE_CONNS: '$c' is not a positive integer"
done
[ "$N" -le 999999999999 ] || die "N must fit in 12 digits"

# --- setup -----------------------------------------------------------------

if [ "${SKIP_DEPS:-0}" != 1 ]; then
    bash tools/deps.sh nginx webdis varnish nutcracker wrk gnuplot-nox \
        redis-server redis-tools linux-perf valgrind curl ||
        die "tools/deps.sh failed"
fi
for t in redis-server redis-cli redis-benchmark wrk python3 curl timeout; do
    command -v "$t" >/dev/null || die "$t not found (run as root to install)"
done

bench_init bench
build_tools
VAL=$(head -c "$V" /dev/zero | tr '\0' v)
T_START=$SECONDS
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
say "pinning: $([ "$PIN" = 1 ] && echo "servers on CPU $SERVER_CPU, load generators on CPU $CLIENT_CPU" || echo off)"

start_redis
ensure_keys $((N > MEM_KEYS ? N : MEM_KEYS))
TLS_DIR=$W/tls
if bash tools/tls-certs.sh "$TLS_DIR" >"$W/tls-certs.log" 2>&1; then
    redis_tls_start
else
    say "tools/tls-certs.sh failed: no TLS rows"
    TLS_DIR=
    WHY[redis-tls]=no_certificates
fi

say "starting the proxies"
if start_proxy hit && fill_proxy hit 0 "$N"; then
    HIT_SIZE=$(curl -s -o /dev/null -w '%{size_header} %{size_download}' \
        "http://127.0.0.1:${PX_HTTP[hit]}/key:000000000000")
else
    WHY[hit]=proxy_failed
    HIT_SIZE="340 $V"
fi
read -r HIT_HEAD HIT_BODY <<<"$HIT_SIZE"
curl -s --max-time 5 "http://127.0.0.1:${PX_ADMIN[hit]:-1}/stats.json" 2>/dev/null |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["config"]["workers"])' \
    >"$W/workers" 2>/dev/null
start_proxy miss cache.capacity=0 || WHY[miss]=proxy_failed
# RESP over TLS on tls_port, HTTPS on http_port; the same keys, all cached
if [ -n "$TLS_DIR" ]; then
    read -r PX_TLS < <(free_ports 1)
    start_proxy tls "server.tls_port=$PX_TLS" \
        "server.tls_cert_file=$TLS_DIR/server.crt" \
        "server.tls_key_file=$TLS_DIR/server.key" http.tls=on &&
        fill_proxy tls 0 "$N" || WHY[tls]=proxy_failed
else
    WHY[tls]=no_certificates
fi

bench_memory() { # the largest keys proxy: RSS before and after its fill
    local name=keys-$MEM_KEYS before after t0 stats
    before=$(rss_kb "${PX_PIDS[$name]}")
    t0=$SECONDS
    # small batches: the fill's own buffers stay small next to the cache
    KEYS_BATCH=1000 fill_proxy "$name" 0 "$MEM_KEYS" || return 1
    sleep 1 # the fill's connections closed and freed
    after=$(rss_kb "${PX_PIDS[$name]}")
    stats=$(curl -s --max-time 5 "http://127.0.0.1:${PX_ADMIN[$name]}/metrics")
    m() { awk -v m="redis_proxy_$1" '$1 == m {print $2; exit}' <<<"$stats"; }
    {
        printf 'keys\t%s\n' "$MEM_KEYS"
        printf 'fill_seconds\t%s\n' "$((SECONDS - t0))"
        printf 'rss_before_kb\t%s\n' "$before"
        printf 'rss_after_kb\t%s\n' "$after"
        printf 'entries\t%s\n' "$(m cache_entries)"
        printf 'kv_bytes\t%s\n' "$(m cache_bytes)"
        printf 'memory_bytes\t%s\n' "$(m cache_memory_bytes)"
        printf 'evictions\t%s\n' "$(m 'cache_evictions_total{reason="capacity"}')"
        printf 'invalidations\t%s\n' "$(m cache_invalidations_total)"
    } >"$W/memory.tsv"
    say "memory: RSS $before kB -> $after kB for $MEM_KEYS entries"
}

for k in $SCALE_KEYS; do
    # max_memory 0: the entry count alone bounds these caches
    if start_proxy "keys-$k" "cache.capacity=$k" cache.max_memory=0; then
        if [ "$k" = "$MEM_KEYS" ]; then
            bench_memory || WHY[keys-$k]=fill_failed
        else
            fill_proxy "keys-$k" 0 "$k" || WHY[keys-$k]=fill_failed
        fi
    else
        WHY[keys-$k]=proxy_failed
    fi
done

say "starting the limit servers ($HIT_HEAD + $HIT_BODY B HTTP replies, $V B bulks)"
limit_start limit-http http "$((HIT_HEAD + HIT_BODY))" "$HIT_BODY"
limit_start limit-resp resp "$V"
say "starting the peers"
nginx_start
webdis_start
varnish_start
twemproxy_start
say "starting the far Redis (a relay, $RELAY_US us each way) and, in front of it, a proxy and twemproxy"
ping_p50() { # port: p50 ms of 2,000 PINGs on one connection
    RB_CONNS=1 rb_csv "$1" 1 1 2000 60 PING | awk -F'"' '{print $10}'
}
if relay_start relay "$RP" "$RELAY_US"; then
    RELAY_RTT=$(ping_p50 "${PORT[relay]}")
    REDIS_RTT=$(ping_p50 "$RP")
    say "round trip (PING p50): ${RELAY_RTT:-?} ms through the relay, ${REDIS_RTT:-?} ms to Redis"
    start_proxy far "redis.port=${PORT[relay]}" || WHY[far]=proxy_failed
    twemproxy_start twemproxy-far "${PORT[relay]}"
else
    WHY[far]=${WHY[relay]} WHY[twemproxy-far]=${WHY[relay]}
fi
say "starting a Redis Cluster (3 masters, 3 replicas) and a proxy in front of it"
if cluster_start; then
    start_proxy cluster "redis.port=${CLUSTER_PORTS[0]}" redis.cluster=on \
        "redis.seeds=127.0.0.1:${CLUSTER_PORTS[1]},127.0.0.1:${CLUSTER_PORTS[2]}" &&
        fill_proxy cluster 0 "$N" || WHY[cluster-proxy]=proxy_failed
else
    WHY[cluster-proxy]=${WHY[cluster]}
fi

# --- the points ----------------------------------------------------------------

POINTS=()
declare -A GROUP SYSTEM PROTO NEEDS
selected() { # group...: 0 when BENCH_GROUPS takes one of them
    local g
    [ -z "${BENCH_GROUPS:-}" ] && return 0
    for g in "$@"; do
        [[ " $BENCH_GROUPS " == *" $g "* ]] && return 0
    done
    return 1
}
point() { # id group system protocol needs [groups]: needs names what must
    # be up; groups, other groups whose goals compare with this point (it
    # runs when any of them is selected; its row stays in group)
    # shellcheck disable=SC2086 # a list of groups
    selected "$2" ${6:-} || return 0
    POINTS+=("$1")
    GROUP[$1]=$2 SYSTEM[$1]=$3 PROTO[$1]=$4 NEEDS[$1]=$5
}
point proxy-http-hit http-hit "redis-proxy (cache hit)" HTTP hit
point limit-http http-hit "limit (fixed reply)" HTTP limit-http
point nginx http-hit "nginx (static files)" HTTP nginx
point webdis http-hit "webdis (no cache)" HTTP webdis http-miss
point varnish http-hit "Varnish -> webdis (cache hit)" HTTP varnish
point proxy-http-miss http-miss "redis-proxy (cache off)" HTTP miss
for p in 1 16; do
    point "proxy-get-p$p" "get-p$p" "redis-proxy (cache hit)" "RESP GET -P $p" hit
    point "limit-get-p$p" "get-p$p" "limit (fixed reply)" "RESP GET -P $p" limit-resp
    point "redis-get-p$p" "get-p$p" "redis-server" "RESP GET -P $p" redis
    point "twemproxy-get-p$p" "get-p$p" "twemproxy -> Redis" "RESP GET -P $p" twemproxy
done
for p in 1 16; do
    point "proxy-set-p$p" "set-p$p" "redis-proxy (forwarded)" "RESP SET -P $p" hit
    point "twemproxy-set-p$p" "set-p$p" "twemproxy -> Redis" "RESP SET -P $p" twemproxy
    point "redis-set-p$p" "set-p$p" "redis-server" "RESP SET -P $p" redis
    point "limit-set-p$p" "set-p$p" "limit (fixed reply)" "RESP SET -P $p" limit-resp
done
for p in 1 16; do
    point "proxy-miss-p$p" "miss-p$p" "redis-proxy (absent keys: fills)" \
        "RESP GET miss -P $p" hit
    point "twemproxy-miss-p$p" "miss-p$p" "twemproxy -> Redis" \
        "RESP GET miss -P $p" twemproxy
done
for p in 1 16; do
    point "proxy-far-set-p$p" "far-set-p$p" "redis-proxy -> far Redis (forwarded)" \
        "RESP SET -P $p, far" far
    point "twemproxy-far-set-p$p" "far-set-p$p" "twemproxy -> far Redis" \
        "RESP SET -P $p, far" twemproxy-far
done
for p in 1 16; do
    point "proxy-far-miss-p$p" "far-miss-p$p" \
        "redis-proxy -> far Redis (absent keys: fills)" "RESP GET miss -P $p, far" far
    point "twemproxy-far-miss-p$p" "far-miss-p$p" "twemproxy -> far Redis" \
        "RESP GET miss -P $p, far" twemproxy-far
done
point proxy-tls-get-p1 tls-get "redis-proxy (cache hit, tls_port)" "RESP GET -P 1, TLS" tls
point redis-tls-get-p1 tls-get "redis-server (tls-port)" "RESP GET -P 1, TLS" redis-tls
point proxy-https-hit https-hit "redis-proxy (cache hit, HTTPS)" HTTPS tls
point nginx-https https-hit "nginx (static files, HTTPS)" HTTPS nginx-https
point proxy-cluster-get cluster "redis-proxy -> cluster (cache hit)" "RESP GET -P 1" cluster-proxy
point direct-cluster-get cluster "redis-benchmark --cluster (direct)" "RESP GET -P 1" cluster
point proxy-cluster-set cluster "redis-proxy -> cluster (forwarded)" "RESP SET -P 1" cluster-proxy
point direct-cluster-set cluster "redis-benchmark --cluster (direct)" "RESP SET -P 1" cluster
for k in $SCALE_KEYS; do
    point "proxy-keys-$k" keys "redis-proxy, $k keys cached" HTTP "keys-$k"
done
for c in $SCALE_CONNS; do
    point "proxy-conns-$c" conns "redis-proxy, $c connections" HTTP hit
done

up() { # name: 0 when that server is running
    case $1 in
    hit | miss | tls | far | cluster-proxy | keys-*) [ -z "${WHY[$1]:-}" ] ;;
    redis) true ;;
    redis-tls) [ -n "${RTP:-}" ] ;;
    *) [ -n "${PORT[$1]:-}" ] ;;
    esac
}

proxy_counts() { # name: "hits misses" of that proxy
    echo "$(metric "${PX_ADMIN[$1]}" cache_hits_total)" \
        "$(metric "${PX_ADMIN[$1]}" cache_misses_total)"
}

counted() { # label "counter cmd" load-cmd...: the load's result with the
    # hit ratio that the counter ("hits misses") saw over it
    local label=$1 fn=$2 before after r
    shift 2
    before=$($fn)
    r=$("$@")
    after=$($fn)
    # shellcheck disable=SC2086 # two numbers each
    add_note "$r" "$(pct_note "$label" $before $after)"
}

# Writes go to other keys than the cached ones (they invalidate nothing);
# misses read keys nobody sets.
SET_CMD=(SET bench:set:__rand_int__ "$VAL")
MISS_CMD=(GET miss:__rand_int__)

run_point() { # id secs: the load of that point, one result line
    local id=$1 s=$2 p=${1##*-p} set=("${SET_CMD[@]}") miss=("${MISS_CMD[@]}")
    case $id in
    proxy-http-hit) counted cache "proxy_counts hit" \
        wrk_load "${PX_HTTP[hit]}" / "" "$N" "$C" "$s" ;;
    limit-http) wrk_load "${PORT[limit-http]}" / "" "$N" "$C" "$s" ;;
    nginx) wrk_load "${PORT[nginx]}" / "" "$N" "$C" "$s" ;;
    webdis) counted Redis "redis_counts_at $RP" \
        wrk_load "${PORT[webdis]}" /GET/ .txt "$N" "$C" "$s" ;;
    varnish) counted Varnish varnish_counts \
        wrk_load "${PORT[varnish]}" /GET/ .txt "$N" "$C" "$s" ;;
    proxy-http-miss) counted cache "proxy_counts miss" \
        wrk_load "${PX_HTTP[miss]}" / "" "$N" "$C" "$s" ;;
    proxy-get-p*) counted cache "proxy_counts hit" \
        rb_load "${PX_RESP[hit]}" "$p" "$N" "$s" -t get ;;
    limit-get-p*) rb_load "${PORT[limit-resp]}" "$p" "$N" "$s" -t get ;;
    redis-get-p*) counted Redis "redis_counts_at $RP" \
        rb_load "$RP" "$p" "$N" "$s" -t get ;;
    twemproxy-get-p*) counted Redis "redis_counts_at $RP" \
        rb_load "${PORT[twemproxy]}" "$p" "$N" "$s" -t get ;;
    proxy-set-p*) rb_load "${PX_RESP[hit]}" "$p" "$N" "$s" "${set[@]}" ;;
    twemproxy-set-p*) rb_load "${PORT[twemproxy]}" "$p" "$N" "$s" "${set[@]}" ;;
    redis-set-p*) rb_load "$RP" "$p" "$N" "$s" "${set[@]}" ;;
    limit-set-p*) rb_load "${PORT[limit-resp]}" "$p" "$N" "$s" "${set[@]}" ;;
    proxy-miss-p*) counted cache "proxy_counts hit" \
        rb_load "${PX_RESP[hit]}" "$p" "$N" "$s" "${miss[@]}" ;;
    twemproxy-miss-p*) counted Redis "redis_counts_at $RP" \
        rb_load "${PORT[twemproxy]}" "$p" "$N" "$s" "${miss[@]}" ;;
    proxy-far-set-p*) rb_load "${PX_RESP[far]}" "$p" "$N" "$s" "${set[@]}" ;;
    twemproxy-far-set-p*) rb_load "${PORT[twemproxy-far]}" "$p" "$N" "$s" \
        "${set[@]}" ;;
    proxy-far-miss-p*) counted cache "proxy_counts far" \
        rb_load "${PX_RESP[far]}" "$p" "$N" "$s" "${miss[@]}" ;;
    twemproxy-far-miss-p*) counted Redis "redis_counts_at $RP" \
        rb_load "${PORT[twemproxy-far]}" "$p" "$N" "$s" "${miss[@]}" ;;
    proxy-tls-get-p1) counted cache "proxy_counts tls" \
        rb_load "$PX_TLS" 1 "$N" "$s" --tls --cacert "$TLS_DIR/ca.crt" -t get ;;
    redis-tls-get-p1) counted Redis "redis_counts_at $RP" \
        rb_load "$RTP" 1 "$N" "$s" --tls --cacert "$TLS_DIR/ca.crt" -t get ;;
    proxy-https-hit) WRK_SCHEME=https counted cache "proxy_counts tls" \
        wrk_load "${PX_HTTP[tls]}" / "" "$N" "$C" "$s" ;;
    nginx-https) WRK_SCHEME=https wrk_load "${PORT[nginx-https]}" / "" "$N" \
        "$C" "$s" ;;
    proxy-cluster-get) counted cache "proxy_counts cluster" \
        rb_load "${PX_RESP[cluster]}" 1 "$N" "$s" -t get ;;
    direct-cluster-get) counted Redis cluster_counts \
        rb_load "${PORT[cluster]}" 1 "$N" "$s" --cluster -t get ;;
    proxy-cluster-set) rb_load "${PX_RESP[cluster]}" 1 "$N" "$s" "${set[@]}" ;;
    direct-cluster-set) rb_load "${PORT[cluster]}" 1 "$N" "$s" --cluster \
        SET 'bench:{tag}:__rand_int__' "$VAL" ;;
    proxy-keys-*) counted cache "proxy_counts keys-${id#proxy-keys-}" \
        wrk_load "${PX_HTTP[keys-${id#proxy-keys-}]}" / "" \
        "${id#proxy-keys-}" "$C" "$s" ;;
    proxy-conns-*) counted cache "proxy_counts hit" \
        wrk_load "${PX_HTTP[hit]}" / "" "$N" "${id#proxy-conns-}" "$s" ;;
    *) echo "$NA unknown_point" ;;
    esac
}

secs_of() { [ "${GROUP[$1]}" = conns ] && echo "$SD" || echo "$D"; }

record() { # round id "rps p50 p99 requests note" "other% steal%" tries
    local r o
    read -r -a r <<<"$3"
    read -r -a o <<<"$4"
    r[4]=${r[4]:--}
    r[4]=${r[4]//_/ }
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" \
        "${r[0]}" "${r[1]}" "${r[2]}" "${r[3]}" "${r[4]}" "${o[0]}" "${o[1]}" \
        "$5" >>"$W/runs.tsv"
    say "$(printf '  %-20s %-16s %10s req/s  p99 %7s ms  other CPU %5s%%  %s' \
        "$2" "${PROTO[$2]}" "${r[0]%.*}" "${r[2]}" "${o[0]}" "${r[4]}")"
}

# A point during which other work on the machine (not this bench, its
# servers or its load generators) took more than RETRY_OTHER % of a CPU is
# measured once more, a few seconds later, at most MAX_RETRIES times a run;
# the figures kept are the last ones, with the other work they saw.
RETRIES_LEFT=$MAX_RETRIES
measure_point() { # round id
    local tries=0 m0 m1 res other
    while :; do
        m0=$(cpu_mark)
        res=$(run_point "$2" "$(secs_of "$2")")
        m1=$(cpu_mark)
        other=$(foreign_pct "$m0" "$m1")
        if [ "${other%%.*}" -ge "$RETRY_OTHER" ] && [ "$tries" -lt 1 ] &&
            [ "$RETRIES_LEFT" -gt 0 ]; then
            say "  $2: other work took ${other%% *}% of a CPU; again in 3 s"
            tries=$((tries + 1))
            RETRIES_LEFT=$((RETRIES_LEFT - 1))
            sleep 3
            continue
        fi
        record "$1" "$2" "$res" "$other" "$tries"
        return
    done
}

{
    for id in "${POINTS[@]}"; do
        printf '%s\t%s\t%s\t%s\t%s\n' "$id" "${GROUP[$id]}" "${SYSTEM[$id]}" \
            "${PROTO[$id]}" "$(secs_of "$id")"
    done
} >"$W/points.tsv"

T_ROUNDS=$SECONDS
npoints=${#POINTS[@]}
say "$npoints points x $ROUNDS rounds, ${D} s each (connections rows ${SD} s)"
for ((round = 1; round <= ROUNDS; round++)); do
    say "round $round of $ROUNDS (load average $(cut -d' ' -f1-3 /proc/loadavg))"
    printf '%s\t%s\t%s\n' "$round" "$(cut -d' ' -f1-3 /proc/loadavg)" \
        "$((SECONDS - T_ROUNDS))" >>"$W/rounds.tsv"
    for id in "${POINTS[@]}"; do
        need=${NEEDS[$id]}
        if up "$need"; then
            measure_point "$round" "$id"
        else
            record "$round" "$id" "$NA ${WHY[$need]:-down}" "n/a n/a" 0
        fi
    done
done
ROUNDS_SECONDS=$((SECONDS - T_ROUNDS))

write_meta() { # meta.tsv: the machine, the versions, the parameters
    {
        printf 'date\t%s\n' "$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
        printf 'cpu\t%s\n' "$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
        printf 'nproc\t%s\n' "$(nproc --all)"
        printf 'kernel\t%s\n' "$(uname -sr)"
        printf 'os\t%s\n' "$(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")"
        printf 'memory\t%s\n' "$(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
        printf 'load_start\t%s\n' "$LOAD_START"
        printf 'load_end\t%s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
        printf 'elapsed\t%s\n' "$((SECONDS - T_START))"
        printf 'rounds_seconds\t%s\n' "$ROUNDS_SECONDS"
        printf 'tree\t%s\n' "$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
        printf 'cflags\t%s\n' "$(make -s --no-print-directory -p -n 2>/dev/null |
            awk -F' [?:]?= ' '$1 == "CFLAGS" {print $2; exit}')"
        printf 'quick\t%s\n' "$QUICK"
        printf 'pin\t%s\n' "$PIN"
        printf 'server_cpu\t%s\nclient_cpu\t%s\n' "$SERVER_CPU" "$CLIENT_CPU"
        printf 'N\t%s\nV\t%s\nC\t%s\nD\t%s\nSD\t%s\nROUNDS\t%s\nTTL\t%s\n' \
            "$N" "$V" "$C" "$D" "$SD" "$ROUNDS" "$TTL"
        printf 'SCALE_KEYS\t%s\nSCALE_CONNS\t%s\nMEM_KEYS\t%s\n' \
            "$SCALE_KEYS" "$SCALE_CONNS" "$MEM_KEYS"
        printf 'RELAY_US\t%s\nrelay_rtt_ms\t%s\nredis_rtt_ms\t%s\n' \
            "$RELAY_US" "${RELAY_RTT:-n/a}" "${REDIS_RTT:-n/a}"
        printf 'PROFILE_SECONDS\t%s\nSYSCALL_SECONDS\t%s\nCG_REQUESTS\t%s\n' \
            "$PROFILE_SECONDS" "$SYSCALL_SECONDS" "$CG_REQUESTS"
        printf 'RETRY_OTHER\t%s\nMAX_RETRIES\t%s\nretries_used\t%s\n' \
            "$RETRY_OTHER" "$MAX_RETRIES" "$((MAX_RETRIES - RETRIES_LEFT))"
        printf 'hit_reply\t%s + %s\n' "$HIT_HEAD" "$HIT_BODY"
        printf 'proxy_workers\t%s\n' "$(cat "$W/workers" 2>/dev/null || echo default)"
        printf 'cluster_tags\t%s\n' "${CLUSTER_TAGS[*]:-}"
        printf 'software\t%s\n' "$(dpkg-query -W -f='${Package} ${Version}, ' \
            redis-server redis-tools nginx webdis varnish nutcracker wrk \
            linux-perf valgrind gnuplot-nox 2>/dev/null | sed 's/, $//')"
    } >"$W/meta.tsv"
}

# --- profiles of the goals missed ------------------------------------------

profile_load() { # name secs: the load a profile runs, in the foreground
    case $1 in
    http-hit) wrk_load "${PX_HTTP[hit]}" / "" "$N" "$C" "$2" ;;
    get-p1 | get-p16) rb_load "${PX_RESP[hit]}" "${1#get-p}" "$N" "$2" -t get ;;
    set-p1 | set-p16) rb_load "${PX_RESP[hit]}" "${1#set-p}" "$N" "$2" \
        "${SET_CMD[@]}" ;;
    miss-p1 | miss-p16) rb_load "${PX_RESP[hit]}" "${1#miss-p}" "$N" "$2" \
        "${MISS_CMD[@]}" ;;
    far-set-p1 | far-set-p16) rb_load "${PX_RESP[far]}" "${1#far-set-p}" \
        "$N" "$2" "${SET_CMD[@]}" ;;
    far-miss-p1 | far-miss-p16) rb_load "${PX_RESP[far]}" "${1#far-miss-p}" \
        "$N" "$2" "${MISS_CMD[@]}" ;;
    http-miss) wrk_load "${PX_HTTP[miss]}" / "" "$N" "$C" "$2" ;;
    cluster-set) rb_load "${PX_RESP[cluster]}" 1 "$N" "$2" "${SET_CMD[@]}" ;;
    keys-max) wrk_load "${PX_HTTP[keys-$MEM_KEYS]}" / "" "$MEM_KEYS" "$C" "$2" ;;
    cluster-get) rb_load "${PX_RESP[cluster]}" 1 "$N" "$2" -t get ;;
    tls-get) rb_load "$PX_TLS" 1 "$N" "$2" --tls --cacert "$TLS_DIR/ca.crt" \
        -t get ;;
    https-hit) WRK_SCHEME=https wrk_load "${PX_HTTP[tls]}" / "" "$N" "$C" \
        "$2" ;;
    esac
}

profile_pid() { # name: the proxy that profile_load name loads
    case $1 in
    keys-max) echo "${PX_PIDS[keys-$MEM_KEYS]:-}" ;;
    cluster-get | cluster-set) echo "${PX_PIDS[cluster]:-}" ;;
    far-*) echo "${PX_PIDS[far]:-}" ;;
    http-miss) echo "${PX_PIDS[miss]:-}" ;;
    tls-get | https-hit) echo "${PX_PIDS[tls]:-}" ;;
    *) echo "${PX_PIDS[hit]:-}" ;;
    esac
}

profile() { # name: perf record of the proxy under that load, then its
    # system calls per request under the same load
    local name=$1 pid lp base=$W/profile-$1
    pid=$(profile_pid "$name")
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
    say "profile: $name (proxy pid $pid, ${PROFILE_SECONDS} s)"
    profile_load "$name" $((PROFILE_SECONDS + 2)) >"$base.load0" &
    lp=$!
    sleep 1
    perf record -q -F 1999 -e cpu-clock -g -p "$pid" -o "$base.data" \
        -- sleep "$PROFILE_SECONDS" >/dev/null 2>&1
    wait "$lp"
    perf report -i "$base.data" --stdio --no-children --sort sym \
        --percent-limit 0.7 -g none 2>/dev/null | grep -v '^#' | grep -v '^$' |
        head -25 >"$base.self"
    perf report -i "$base.data" --stdio --children --sort sym \
        --percent-limit 3 -g none 2>/dev/null | grep -v '^#' | grep -v '^$' |
        head -25 >"$base.children"
    perf report -i "$base.data" --stdio --no-children --sort dso -g none \
        2>/dev/null | grep -v '^#' | grep -v '^$' | head -8 >"$base.dso"
    rm -f "$base.data" "$base.data.old"
    # the perf record load's rate sizes this one: no calibration run, whose
    # system calls perf would count and whose requests the load would not
    RB_RPS=$(awk '$1 ~ /^[0-9.]+$/ {printf "%d", $1}' "$base.load0") \
        perf_syscalls "$pid" "$base.sys" profile_load "$name" "$PROFILE_SECONDS" \
        >"$base.load"
}

if perf_ok; then
    write_meta
    missed=$(python3 "$HELP/report.py" profiles "$W") || missed=
    # the two hit paths and the cluster's hits always (when their groups
    # run); then every other goal missed
    first=() last=()
    selected http-hit && first+=(http-hit)
    selected get-p1 && first+=(get-p1)
    selected cluster && last+=(cluster-get)
    for name in $(printf '%s\n' "${first[@]}" $missed "${last[@]}" |
        awk 'NF && !seen[$0]++'); do
        profile "$name"
    done
else
    say "perf cannot count syscall tracepoints here: no profiles"
fi

say "stopping the servers"
for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[i]}"; done
PIDS=()

# --- system calls and instructions per request ---------------------------

SECTION_OUT=$W SECONDS_PER_LOAD=$SYSCALL_SECONDS SKIP_BUILD=1 PROXY_BIN=$PROXY \
    LIMIT_BIN=$LIMIT bash "$HELP/syscalls.sh" || say "syscalls.sh failed"
SECTION_OUT=$W REQUESTS=$CG_REQUESTS SKIP_BUILD=1 PROXY_BIN=$PROXY \
    bash "$HELP/callgrind.sh" || say "callgrind.sh failed"

# --- report ------------------------------------------------------------------

write_meta

mkdir -p "$OUT/data" || die "cannot create $OUT/data"
python3 "$HELP/report.py" report "$W" "$OUT" || die "report.py failed"
if command -v gnuplot >/dev/null; then
    drawable() { # chart: 0 when each of its data files has a row
        local f files=("$W/$1.dat")
        [ "$1" = scaling ] && files=("$W/scale-keys.dat" "$W/scale-conns.dat")
        for f in "${files[@]}"; do grep -q . "$f" 2>/dev/null || return 1; done
    }
    for chart in ratios throughput scaling; do
        drawable "$chart" ||
            { say "no rows for $chart.png (BENCH_GROUPS): not drawn"; continue; }
        gnuplot -e "dir='$W'; out='$OUT/$chart.png'" "$HELP/$chart.gp" ||
            say "gnuplot $chart.png failed"
    done
else
    say "gnuplot not installed: no charts"
fi
# The measurements behind results.md go next to it; everything else (the
# profiles' and callgrind's full output) stays in build/bench-data/
# (git-ignored) for a second look.
rm -f "$OUT"/data/*.tsv
cp "$W"/{meta,points,rounds,runs,memory,syscalls,callgrind}.tsv "$OUT/data/" 2>/dev/null
rm -rf build/bench-data && mkdir -p build/bench-data &&
    cp "$W"/*.tsv "$W"/*.dat "$W"/profile-* "$W"/callgrind-* build/bench-data/ 2>/dev/null
awk '/^## Goals/ {on = 1} /^## / && !/^## Goals/ {on = 0} on' "$OUT/results.md" >&2
say "wrote $OUT/results.md, its charts and data/ in $((SECONDS - T_START)) s"
