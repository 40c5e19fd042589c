#!/usr/bin/env bash
# `make run`, natively (after tools/run.sh chose it, tools/deps.sh --run
# installed what was missing and make built the binary): starts the proxy
# with ./proxy.ini. If nothing answers at the configured Redis address and
# redis-server is installed, starts a throwaway local one first (data under
# build/run-redis/), stopped when the proxy exits. Ctrl-C (SIGINT) or
# SIGTERM stops both.
# Usage: tools/run-proxy.sh PATH/TO/redis-proxy [proxy args...]
set -u
bin=$1; shift
settings=$("$bin" -t "$@") || exit $?
get() { awk -v s="[$1]" -v k="$2" '/^\[/{sec=$1} sec==s && $1==k {print $3; exit}' <<<"$settings"; }
host=$(get redis host); port=$(get redis port)
redis_pid=
if ! redis-cli -h "$host" -p "$port" PING >/dev/null 2>&1; then
    if command -v redis-server >/dev/null; then
        dir=build/run-redis; mkdir -p "$dir"
        echo "run: no Redis at $host:$port; starting a throwaway one (data in $dir)"
        redis-server --bind "$host" --port "$port" --save '' --appendonly no \
            --dir "$dir" --logfile "$PWD/$dir/redis.log" &
        redis_pid=$!
        for _ in $(seq 50); do
            redis-cli -h "$host" -p "$port" PING >/dev/null 2>&1 && break
            sleep 0.1
        done
    else
        echo "run: no Redis at $host:$port and redis-server is not installed" >&2
    fi
fi
cleanup() { [ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null && wait "$redis_pid" 2>/dev/null; }
trap cleanup EXIT
trap 'kill -TERM $proxy_pid 2>/dev/null' INT TERM
"$bin" "$@" &
proxy_pid=$!
wait $proxy_pid; rc=$?
# A signal interrupts the first wait; wait again for the real exit status.
kill -0 $proxy_pid 2>/dev/null && { wait $proxy_pid; rc=$?; }
echo "run: the proxy exited with status $rc"
exit $rc
