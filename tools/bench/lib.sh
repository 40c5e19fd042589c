# tools/bench/lib.sh: what tools/bench.sh, tools/bench/syscalls.sh and
# shellcheck shell=bash
# tools/bench/callgrind.sh share, sourced by each: a throwaway work
# directory, servers started in the background and stopped by PID on exit,
# CPU pinning, and the loads (wrk, redis-benchmark) with their parsing.
#
# Pinning (PIN=1, the default on a machine with 2 or more CPUs): every
# server runs under `taskset -c $SERVER_CPU` (0), every load generator under
# `taskset -c $CLIENT_CPU` (1), so each system measured gets the same single
# core and the load generator the other one. PIN=0 runs everything unpinned.
#
# The caller sets ROOT (the repository) before sourcing; after it, it calls
# bench_init, which makes $W and the exit trap.

HELP=$ROOT/tools/bench

say() { printf 'bench: [%02d:%02d] %s\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*" >&2; }
die() { say "error: $*"; exit 1; }
require_positive() { # VAR...: each must hold a positive integer
    local v
    for v in "$@"; do
        [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, got '${!v}'"
    done
}
# What the section scripts (callgrind.sh, syscalls.sh) share: N keys of V
# bytes, C connections (bench.sh's defaults), TTL; OUT is SECTION_OUT when
# bench.sh runs them, else build/bench (STANDALONE=1). VAR... are their own
# numeric settings, checked with these.
section_settings() {
    N=${N:-10000}
    V=${V:-100}
    C=${C:-50}
    TTL=1h
    STANDALONE=0
    [ -z "${SECTION_OUT:-}" ] && STANDALONE=1
    OUT=${SECTION_OUT:-build/bench}
    require_positive "$@" N V C
}

SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
if [ -z "${PIN:-}" ]; then
    if [ "$(nproc --all)" -ge 2 ] && command -v taskset >/dev/null; then
        PIN=1
    else
        PIN=0
    fi
fi
if [ "$PIN" = 1 ]; then
    SRV=(taskset -c "$SERVER_CPU")
    CLI=(taskset -c "$CLIENT_CPU")
else
    SRV=()
    CLI=()
fi

PIDS=()
bench_init() { # prefix: makes $W, the exit trap, more descriptors
    W=$(mktemp -d "/tmp/redis-proxy-$1.XXXXXX") || die "mktemp failed"
    chmod 755 "$W" # nginx workers run as nobody and read $W/www
    trap bench_cleanup EXIT
    trap 'say "interrupted"; exit 130' INT TERM
    # More descriptors for wrk -c1000 and the servers it talks to.
    ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null
}

stop_pid() { # pid: TERM, up to 5 s, then KILL; reap it
    local pid=$1 i
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
    for i in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 0
}

bench_cleanup() {
    local i
    trap - EXIT INT TERM
    # newest first: a proxy goes before the Redis it reads
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[i]}"; done
    [ -n "${W:-}" ] && rm -rf "$W"
}

build_tools() { # the proxy, the limit server and the delay relay, copied
    # into $W so that a rebuild by someone else mid-run cannot swap them
    local log=$W/make.log
    say "building the proxy, the limit server and the delay relay (make)"
    make -C "$ROOT" --no-print-directory build/redis-proxy build/tools/limit \
        build/tools/delay_relay >"$log" 2>&1 ||
        { tail -20 "$log" >&2; die "make failed"; }
    cp "$ROOT/build/redis-proxy" "$W/redis-proxy" || die "no build/redis-proxy"
    cp "$ROOT/build/tools/limit" "$W/limit" || die "no build/tools/limit"
    cp "$ROOT/build/tools/delay_relay" "$W/delay_relay" ||
        die "no build/tools/delay_relay"
    PROXY=$W/redis-proxy
    LIMIT=$W/limit
    RELAY=$W/delay_relay
}

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

spawn() { # log cmd...: start a server pinned to the server CPU in the
    # background; its pid in LAST (and in PIDS, for the exit trap)
    local log=$1
    shift
    "${SRV[@]}" "$@" >"$log" 2>&1 &
    LAST=$!
    PIDS+=("$LAST")
}

spawn_client_cpu() { # log cmd...: as spawn, pinned to the load generators'
    # CPU instead (what stands for the network, not for a server)
    local log=$1
    shift
    "${CLI[@]}" "$@" >"$log" 2>&1 &
    LAST=$!
    PIDS+=("$LAST")
}

started() { # name port pid [secs]: wait for the listener; complain with the log
    if wait_port "$2" "$3" "${4:-10}"; then return 0; fi
    say "$1 did not start; last lines of its log:"
    tail -5 "$W/$1.log" 2>/dev/null | sed 's/^/    /' >&2
    stop_pid "$3"
    return 1
}

# --- Redis -----------------------------------------------------------------

start_redis() { # sets RP, REDIS_PID
    read -r RP < <(free_ports 1)
    # tracking-table-max-keys 0: no limit, else past 1M tracked keys Redis
    # invalidates keys on its own and the proxy's cache could never hold 1M.
    spawn "$W/redis.log" redis-server --bind 127.0.0.1 --port "$RP" --save '' \
        --appendonly no --dir "$W" --tracking-table-max-keys 0
    REDIS_PID=$LAST
    started redis "$RP" "$REDIS_PID" || die "redis-server did not start"
    LOADED=0
}

ensure_keys() { # count: keys 0 .. count-1 exist in the Redis at $RP
    [ "$1" -le "$LOADED" ] && return 0
    local t0=$SECONDS
    timeout -k 5 600 python3 "$HELP/keys.py" load "$RP" "$LOADED" "$1" "$V" ||
        die "loading keys into Redis failed"
    say "loaded keys $LOADED..$(($1 - 1)) ($V B values) in $((SECONDS - t0)) s"
    LOADED=$1
}

redis_info() { # port field: one INFO field
    redis-cli -h 127.0.0.1 -p "$1" INFO all 2>/dev/null | tr -d '\r' |
        awk -F: -v f="$2" '$1 == f {print $2; exit}'
}

# --- the proxy ---------------------------------------------------------------

declare -A PX_HTTP PX_RESP PX_ADMIN PX_PIDS
PROXY_WRAP=() # e.g. (valgrind --tool=callgrind ...): what the proxy runs under

start_proxy() { # name -s-settings...: a proxy in front of the Redis at $RP,
    # pinned like every server; fills PX_*[name] and PX_PID
    local name=$1 i args=()
    shift
    read -r PX_HTTP[$name] PX_RESP[$name] PX_ADMIN[$name] < <(free_ports 3)
    # workers is not set: the proxy's own default, and its standby gate runs
    # as many at once as the CPUs it may use (it counts its affinity mask).
    cat >"$W/$name.ini" <<EOF
[server]
bind = 127.0.0.1
http_port = ${PX_HTTP[$name]}
resp_port = ${PX_RESP[$name]}
max_clients = 4096
[redis]
host = 127.0.0.1
port = $RP
[cache]
ttl = $TTL
capacity = $N
tracking = on
[admin]
port = ${PX_ADMIN[$name]}
[log]
level = warn
EOF
    for i in "$@"; do args+=(-s "$i"); done
    spawn "$W/$name.log" "${PROXY_WRAP[@]}" "$PROXY" -c "$W/$name.ini" "${args[@]}"
    PX_PID=$LAST
    PX_PIDS[$name]=$LAST
    started "$name" "${PX_ADMIN[$name]}" "$PX_PID" "${PROXY_START_SECS:-10}" ||
        return 1
    for i in $(seq $((${PROXY_START_SECS:-10} * 10))); do # Redis answers,
        # invalidation stream up
        [ "$(curl -s --max-time 2 -o /dev/null -w '%{http_code}' \
            "http://127.0.0.1:${PX_ADMIN[$name]}/readyz")" = 200 ] && return 0
        sleep 0.1
    done
    say "$name never became ready"
    return 1
}

metric() { # admin-port name: one Prometheus sample
    curl -s --max-time 5 "http://127.0.0.1:$1/metrics" |
        awk -v m="redis_proxy_$2" '$1 == m {print $2; exit}'
}

fill_proxy() { # name first end: GET keys first..end-1 once through its RESP port
    local got want=$(($3 - $2)) entries
    got=$(timeout -k 5 900 python3 "$HELP/keys.py" resp-get \
        "${PX_RESP[$1]}" "$2" "$3")
    [ "$got" = "$want 0 0" ] || {
        say "$1: filling: expected '$want 0 0' (values nils errors), got '$got'"
        return 1
    }
    entries=$(metric "${PX_ADMIN[$1]}" cache_entries)
    [ "${entries:-0}" -ge "$want" ] || {
        say "$1: filling: $want keys read, but cache_entries = ${entries:-?}"
        return 1
    }
}

# --- loads -----------------------------------------------------------------
# Each prints one line "rps p50_ms p99_ms requests note" (note "-" if none)
# or "n/a n/a n/a n/a why".

NA="n/a n/a n/a n/a"

wrk_load() { # port prefix suffix keys conns secs (WRK_SCHEME=https: TLS)
    local out line
    out=$(BENCH_PREFIX=$2 BENCH_SUFFIX=$3 BENCH_KEYS=$4 \
        timeout -k 5 $(($6 + 60)) "${CLI[@]}" wrk -t1 -c"$5" -d"$6"s \
        --latency --timeout 5s -s "$HELP/rand.lua" \
        "${WRK_SCHEME:-http}://127.0.0.1:$1" 2>&1)
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
           printf "%s %.3f %.3f %s %s\n", v["rps"], v["p50_us"] / 1000,
                  v["p99_us"] / 1000, v["requests"],
                  (note == "" ? "-" : substr(note, 2)) }' <<<"$line"
}

rb_csv() { # port pipeline keys requests timeout cmd...: the CSV result line
    local port=$1 p=$2 k=$3 n=$4 t=$5
    shift 5
    timeout -k 5 "$t" "${CLI[@]}" redis-benchmark -h 127.0.0.1 -p "$port" \
        -c "${RB_CONNS:-$C}" -P "$p" -r "$k" -n "$n" --csv "$@" 2>/dev/null |
        grep -a '^"' | grep -av '^"test"' | tail -1
}

rb_load() { # port pipeline keys secs cmd...: redis-benchmark counts
    # requests, not seconds: a short calibration run (also the warm-up)
    # sizes the real one to last about secs; RB_RPS=rate sizes it from that
    # rate instead, with no calibration run (a load whose every request
    # must be counted). cmd: "-t get", or a custom command such as
    # "SET bench:set:__rand_int__ VALUE".
    local port=$1 p=$2 k=$3 s=$4 cal rps=${RB_RPS:-} n line
    shift 4
    if [ -z "$rps" ]; then
        cal=$(rb_csv "$port" "$p" "$k" $((p > 1 ? 200000 : 30000)) 60 "$@")
        rps=$(awk -F'"' '{printf "%d", $4}' <<<"$cal")
    fi
    if [ -z "$rps" ] || [ "$rps" -le 0 ]; then
        echo "$NA redis-benchmark_failed"
        return 1
    fi
    n=$((rps * s))
    line=$(rb_csv "$port" "$p" "$k" "$n" $((s * 3 + 30)) "$@")
    if [ -z "$line" ]; then
        echo "$NA redis-benchmark_timed_out"
        return 1
    fi
    awk -F'"' -v n="$n" '{printf "%s %s %s %s -\n", $4, $10, $14, n}' <<<"$line"
}

add_note() { # "rps p50 p99 requests note" extra: extra joined to the note
    local r
    read -r -a r <<<"$1"
    [ "${r[4]:--}" = - ] && r[4]= || r[4]="${r[4]};"
    echo "${r[0]} ${r[1]} ${r[2]} ${r[3]} ${r[4]}${2// /_}"
}

pct_note() { # label hits0 misses0 hits1 misses1: "label hits X%" over a load
    local h=$(($4 - $2)) m=$(($5 - $3))
    [ $((h + m)) -gt 0 ] || { echo "$1 no lookups"; return; }
    awk -v l="$1" -v h=$h -v m=$m 'BEGIN {printf "%s hits %.2f%%", l, 100 * h / (h + m)}'
}

ctxsw() { # pid: "voluntary nonvoluntary" context switches, all its threads
    cat /proc/"$1"/task/*/status 2>/dev/null |
        awk '/^voluntary_ctxt_switches/ {v += $2}
             /^nonvoluntary_ctxt_switches/ {n += $2} END {print v + 0, n + 0}'
}

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# The system calls perf_syscalls names one by one; raw_syscalls:sys_enter
# counts them all, and what the list misses is reported as "other".
# SYSCALL_EVENTS=all counts every syscalls:sys_enter_* tracepoint instead
# (the same total, every call named; perf then takes ~15 s to detach from a
# proxy's dozen threads).
SYSCALL_LIST="read write readv writev recvfrom sendto recvmsg sendmsg
    recvmmsg sendmmsg epoll_wait epoll_pwait epoll_pwait2 epoll_ctl futex
    accept4 accept close shutdown poll ppoll select pselect6 clock_nanosleep
    nanosleep getsockopt setsockopt getpeername getsockname fcntl ioctl
    openat mmap munmap mprotect brk madvise timerfd_settime eventfd2
    sched_yield rt_sigprocmask clock_gettime getrandom socket connect"

perf_syscalls() { # pid out cmd...: counts pid's system calls (all its
    # threads) and context switches while cmd (a command or a shell
    # function, run here) runs; out gets "event count" lines, most frequent
    # first, "total" being every system call; cmd's output goes to stdout.
    # perf attaches first, so the window is the load plus a second or so of
    # idle, whose few system calls (timer ticks) are noise next to the load.
    local pid=$1 out=$2 pp rc ev=raw_syscalls:sys_enter s
    shift 2
    if [ "${SYSCALL_EVENTS:-list}" = all ]; then
        ev="$ev,syscalls:sys_enter_*"
    else
        for s in $SYSCALL_LIST; do ev="$ev,syscalls:sys_enter_$s"; done
    fi
    perf stat -x, -o "$out.raw" -p "$pid" -e "$ev" \
        -e context-switches,cpu-migrations &
    pp=$!
    sleep "${PERF_ATTACH_SECONDS:-1}"
    "$@"
    rc=$?
    kill -INT "$pp" 2>/dev/null
    wait "$pp" 2>/dev/null
    awk -F, '$1 ~ /^[0-9]+$/ && $1 > 0 {
             sub(/^syscalls:sys_enter_/, "", $3)
             sub(/^raw_syscalls:sys_enter$/, "total", $3)
             print $3, $1}' "$out.raw" | sort -k2,2nr >"$out"
    rm -f "$out.raw"
    return $rc
}

cpu_mark() { # "ns busy steal ours": now, then jiffies (USER_HZ) of every
    # CPU's user + nice + system time and steal time (/proc/stat), and the
    # CPU time of this shell, its reaped children and every live descendant
    local kids
    kids=$(ps -e -o pid=,ppid= | awk -v root=$$ '
        { parent[$1] = $2 }
        END { for (p in parent) { q = p; while (q in parent && q != root && q > 1) q = parent[q]
              if (q == root && p != root) print p } }')
    # shellcheck disable=SC2086 # a list of pids
    printf '%s %s %s\n' "$(date +%s%N)" \
        "$(awk '$1 == "cpu" {print $2 + $3 + $4, $9; exit}' /proc/stat)" \
        "$(cd /proc && cat $$/stat $(printf '%s/stat ' $kids) 2>/dev/null |
            sed 's/^.*) //' | awk -v self=1 '
            NR == 1 {t += $12 + $13 + $14 + $15; next} {t += $12 + $13} END {print t}')"
}

foreign_pct() { # "mark0" "mark1": CPU time of everything else on the
    # machine between the two marks, in % of one CPU (at least 0), and steal
    awk -v a="$1" -v b="$2" 'BEGIN {
        split(a, x, " "); split(b, y, " ")
        secs = (y[1] - x[1]) / 1e9
        if (secs <= 0) { print "0 0"; exit }
        other = (y[2] - x[2]) - (y[4] - x[4])
        if (other < 0) other = 0
        printf "%.1f %.1f\n", other / secs, (y[3] - x[3]) / secs }'
}

perf_ok() { # 0 when perf can count syscall tracepoints here
    command -v perf >/dev/null &&
        perf stat -x, -e syscalls:sys_enter_getpid -- true >/dev/null 2>&1
}
