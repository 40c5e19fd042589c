#!/usr/bin/env bash
# tools/bench/syscalls.sh: system calls and context switches per request
# under the standard load (C = 50 connections), pinned as in tools/bench.sh
# (servers on CPU 0, load generators on CPU 1), for:
#   proxy-http   redis-proxy HTTP cache hits (wrk)
#   proxy-resp   redis-proxy RESP GET cache hits (redis-benchmark -P 1)
#   redis-resp   redis-server GET (redis-benchmark -P 1)
#   limit-http, limit-resp   the limit server (tools/bench/limit.c)
#   proxy-set-p1, proxy-set-p16, twemproxy-set-p1, twemproxy-set-p16
#                forwarded SET (bench.sh's command, keys nobody reads),
#                redis-proxy and twemproxy in front of the same Redis
#   proxy-miss-p1, proxy-miss-p16, twemproxy-miss-p1, twemproxy-miss-p16
#                GET of absent keys (miss:<12 digits>; every one a fill
#                for the proxy)
# The proxy's and twemproxy's counts are their own, both sides (clients
# and Redis); Redis's are not in them.
# Each server's system calls are counted by `perf stat` attached to its pid
# (every thread): raw_syscalls:sys_enter for all of them, and the
# syscalls:sys_enter_<call> tracepoints of the calls lib.sh lists to name
# them (SYSCALL_EVENTS=all: every syscalls:sys_enter_*); its context
# switches by perf's context-switches event and by the voluntary and
# nonvoluntary counts in /proc/PID/task/*/status; per request = count over
# the requests the load generator completed.
#
# Run on its own (make bench-syscalls) before and after a change; tools/
# bench.sh runs it too. Writes SECTION_OUT/syscalls.tsv and, on its own,
# prints the Markdown section (default SECTION_OUT: build/bench).
#
# Environment (default): SECONDS_PER_LOAD (5), N (10000), V (100), C (50),
#   PIN, SYSCALL_EVENTS; SKIP_BUILD=1 with PROXY_BIN and LIMIT_BIN: use
#   those binaries.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT" || exit 1
# shellcheck source=tools/bench/lib.sh
. "$ROOT/tools/bench/lib.sh"
# shellcheck source=tools/bench/servers.sh
. "$ROOT/tools/bench/servers.sh"

S=${SECONDS_PER_LOAD:-5}
section_settings S
perf_ok || die "perf cannot count syscall tracepoints here (apt-get install linux-perf; run as root)"

bench_init syscalls
if [ "${SKIP_BUILD:-0}" = 1 ]; then
    { cp "${PROXY_BIN:?}" "$W/redis-proxy" && cp "${LIMIT_BIN:?}" "$W/limit"; } ||
        die "cannot copy PROXY_BIN / LIMIT_BIN"
    PROXY=$W/redis-proxy
    LIMIT=$W/limit
else
    build_tools
fi

start_redis
ensure_keys "$N"
start_proxy hit && fill_proxy hit 0 "$N" || die "the proxy did not start"
read -r head body < <(curl -s -o /dev/null -w '%{size_header} %{size_download}\n' \
    "http://127.0.0.1:${PX_HTTP[hit]}/key:000000000000")
limit_start limit-http http "$((head + body))" "$body" || die "limit did not start"
limit_start limit-resp resp "$V" || die "limit did not start"
twemproxy_start twemproxy "$RP" || say "no twemproxy rows: ${WHY[twemproxy]}"

SET_CMD=(SET bench:set:__rand_int__ "$(head -c "$V" /dev/zero | tr '\0' v)")
MISS_CMD=(GET miss:__rand_int__)

rb_fixed() { # port pipeline requests cmd...: redis-benchmark, exactly that
    # many requests
    local port=$1 p=$2 n=$3 line
    shift 3
    line=$(rb_csv "$port" "$p" "$N" "$n" $((S * 3 + 30)) "$@")
    [ -n "$line" ] || { echo "$NA redis-benchmark_failed"; return 1; }
    awk -F'"' -v n="$n" '{printf "%s %s %s %s -\n", $4, $10, $14, n}' <<<"$line"
}

measure() { # name pid http|resp port [pipeline cmd...]: RESP loads are
    # GET -P 1 (-t get) unless a pipeline and a command are given
    local name=$1 pid=$2 kind=$3 port=$4 p=${5:-1} c0 c1 n rps res cmd
    shift 4
    [ $# -gt 0 ] && shift
    cmd=("$@")
    [ ${#cmd[@]} -gt 0 ] || cmd=(-t get)
    if [ "$kind" = http ]; then
        wrk_load "$port" / "" "$N" "$C" 1 >/dev/null # warm-up
        c0=$(ctxsw "$pid")
        res=$(perf_syscalls "$pid" "$W/sys-$name" wrk_load "$port" / "" "$N" "$C" "$S")
    else
        rps=$(rb_load "$port" "$p" "$N" 1 "${cmd[@]}" | awk '{printf "%d", $1}')
        [ "${rps:-0}" -gt 0 ] || { say "$name: calibration failed"; return 1; }
        n=$((rps * S))
        c0=$(ctxsw "$pid")
        res=$(perf_syscalls "$pid" "$W/sys-$name" rb_fixed "$port" "$p" "$n" \
            "${cmd[@]}")
    fi
    c1=$(ctxsw "$pid")
    read -r rps _ _ n _ <<<"$res"
    [[ $n =~ ^[0-9]+$ ]] && [ "$n" -gt 0 ] || { say "$name: load failed: $res"; return 1; }
    # name requests rps ctx-before ctx-after "event count" pairs, seconds
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$n" "$rps" "$c0" "$c1" \
        "$(tr '\n' ' ' <"$W/sys-$name")" "$S" >>"$W/syscalls.tsv"
    say "$name: $n requests, $(awk -v n="$n" '$1 == "total" {s = $2}
        END {printf "%.2f", s / n}' "$W/sys-$name") syscalls per request"
}

say "syscalls: ${S} s loads, $C connections"
: >"$W/syscalls.tsv"
measure proxy-http "${PX_PIDS[hit]}" http "${PX_HTTP[hit]}"
measure limit-http "${SPID[limit-http]}" http "${PORT[limit-http]}"
measure proxy-resp "${PX_PIDS[hit]}" resp "${PX_RESP[hit]}"
measure redis-resp "$REDIS_PID" resp "$RP"
measure limit-resp "${SPID[limit-resp]}" resp "${PORT[limit-resp]}"
for p in 1 16; do
    measure "proxy-set-p$p" "${PX_PIDS[hit]}" resp "${PX_RESP[hit]}" "$p" \
        "${SET_CMD[@]}"
    [ -n "${PORT[twemproxy]:-}" ] &&
        measure "twemproxy-set-p$p" "${SPID[twemproxy]}" resp \
            "${PORT[twemproxy]}" "$p" "${SET_CMD[@]}"
done
for p in 1 16; do
    measure "proxy-miss-p$p" "${PX_PIDS[hit]}" resp "${PX_RESP[hit]}" "$p" \
        "${MISS_CMD[@]}"
    [ -n "${PORT[twemproxy]:-}" ] &&
        measure "twemproxy-miss-p$p" "${SPID[twemproxy]}" resp \
            "${PORT[twemproxy]}" "$p" "${MISS_CMD[@]}"
done

mkdir -p "$OUT" || die "cannot create $OUT"
[ "$OUT" -ef "$W" ] || cp "$W/syscalls.tsv" "$OUT/syscalls.tsv"
if [ "$STANDALONE" = 1 ]; then
    python3 "$HELP/report.py" syscalls "$OUT"
fi
