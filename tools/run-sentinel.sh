#!/usr/bin/env bash
# `make run-sentinel`: a throwaway Redis master, two replicas and three
# Sentinels, and the proxy in front of them. Starts the master on
# SENTINEL_PORT (default 7301), the replicas on the next two ports and the
# sentinels on the three after (7304..7306), data in a fresh mktemp dir;
# the sentinels watch the master as "mymaster" (quorum 2,
# down-after-milliseconds 2000). Then runs the proxy with ./proxy.ini (as
# `make run` does) and -s overrides pointing it at the sentinels
# ([redis] sentinels, master_name); arguments after the binary go to the
# proxy after those (e.g. -s redis.read_from=prefer_replica). Prints how to
# try a failover. On Ctrl-C, or when the proxy exits, stops everything it
# started and removes the dir.
# Usage: tools/run-sentinel.sh PATH/TO/redis-proxy [proxy args...]
set -u
me=run-sentinel
bin=$1; shift
base=${SENTINEL_PORT:-7301}
name=mymaster
. "$(dirname "$0")/run-lib.sh"

run_need "redis-server, redis-tools, redis-sentinel" \
    redis-server redis-cli redis-sentinel
run_check_base SENTINEL_PORT "$base" 5
for p in $(seq "$base" $((base + 5))); do run_port_free SENTINEL_PORT "$p"; done
redis_ports=("$base" $((base + 1)) $((base + 2)))
sentinel_ports=($((base + 3)) $((base + 4)) $((base + 5)))
list=
for p in "${sentinel_ports[@]}"; do list+="${list:+,}127.0.0.1:$p"; done
proxy_args=(-s "redis.sentinels=$list" -s "redis.master_name=$name" "$@")
run_settings
run_dir sentinel "Redis and the sentinels"

echo "run-sentinel: starting a master and two replicas on 127.0.0.1:${redis_ports[0]}..${redis_ports[2]} (data and logs in $dir)"
for p in "${redis_ports[@]}"; do
    of=()
    [ "$p" != "${redis_ports[0]}" ] && of=(--replicaof 127.0.0.1 "${redis_ports[0]}")
    redis-server --port "$p" --bind 127.0.0.1 --save '' --appendonly no \
        --dir "$dir" --dbfilename "dump-$p.rdb" --repl-diskless-sync yes \
        --repl-diskless-sync-delay 0 --logfile "$dir/redis-$p.log" \
        --daemonize no "${of[@]}" &
    pids+=($!)
    run_wait_ping "$p" "$dir/redis-$p.log"
done
echo "run-sentinel: starting three sentinels on 127.0.0.1:${sentinel_ports[0]}..${sentinel_ports[2]}"
for p in "${sentinel_ports[@]}"; do
    cat >"$dir/sentinel-$p.conf" <<EOF
port $p
bind 127.0.0.1
dir $dir
sentinel monitor $name 127.0.0.1 ${redis_ports[0]} 2
sentinel down-after-milliseconds $name 2000
sentinel failover-timeout $name 10000
EOF
    redis-sentinel "$dir/sentinel-$p.conf" --logfile "$dir/sentinel-$p.log" &
    pids+=($!)
    run_wait_ping "$p" "$dir/sentinel-$p.log"
done
# Settled: every sentinel sees the two replicas and the two other sentinels.
for _ in $(seq 100); do
    ok=0
    for p in "${sentinel_ports[@]}"; do
        info=$(redis-cli -p "$p" SENTINEL master "$name" 2>/dev/null | paste - -)
        grep -q $'^num-slaves\t2$' <<<"$info" &&
            grep -q $'^num-other-sentinels\t2$' <<<"$info" && ok=$((ok + 1))
    done
    [ "$ok" -eq 3 ] && break
    sleep 0.2
done
[ "$ok" -eq 3 ] || echo "run-sentinel: the sentinels have not found each other yet; going on" >&2

bind=$(get server bind); resp=$(get server resp_port); admin=$(get admin port)
run_proxy
echo "run-sentinel: the proxy (pid $proxy_pid) follows the sentinels' master; try:"
try() { printf '  %-58s # %s\n' "$1" "$2"; }
try "redis-cli -p $resp SET user:1 alice" "to the master"
try "redis-cli -p ${sentinel_ports[0]} SENTINEL FAILOVER $name" "a failover: a replica promoted"
try "redis-cli -p $resp SET user:1 bob" "to the new master, no step of yours"
try "redis-cli -p ${sentinel_ports[0]} SENTINEL get-master-addr-by-name $name" "who the master is now"
[ "${admin:-0}" != 0 ] && try "curl http://$bind:$admin/readyz" "the master, the sentinels, failovers"
echo "run-sentinel: replica reads: add -s redis.read_from=prefer_replica (make run-sentinel ARGS=...)"
echo "run-sentinel: Ctrl-C stops the proxy, Redis and the sentinels"
run_proxy_wait
