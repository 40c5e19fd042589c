#!/usr/bin/env bash
# `make run-cluster`: a throwaway local Redis Cluster and the proxy in front
# of it. Starts six redis-servers on 127.0.0.1 (ports CLUSTER_PORT ..
# CLUSTER_PORT+5, default 7101..7106; cluster bus ports 10000 above each),
# data in a fresh mktemp dir, makes them three masters with one replica
# each (redis-cli --cluster create), then runs the proxy with ./proxy.ini
# (as `make run` does) and -s overrides pointing it at the cluster
# ([redis] host/port = the first node, cluster = on, seeds = the others);
# arguments after the binary go to the proxy after those, so they can
# override them. Prints how to try it. On Ctrl-C, or when the proxy exits,
# stops everything it started and removes the dir.
# Usage: tools/run-cluster.sh PATH/TO/redis-proxy [proxy args...]
set -u
me=run-cluster
bin=$1; shift
base=${CLUSTER_PORT:-7101}
nodes=6
. "$(dirname "$0")/run-lib.sh"

run_need "redis-server, redis-tools" redis-server redis-cli
run_check_base CLUSTER_PORT "$base" $((nodes - 1)) bus
ports=(); seeds=
for i in $(seq 0 $((nodes - 1))); do
    p=$((base + i)); ports+=("$p")
    run_port_free CLUSTER_PORT "$p"
    run_port_free CLUSTER_PORT $((p + 10000))
    [ "$i" -gt 0 ] && seeds+="${seeds:+,}127.0.0.1:$p"
done
proxy_args=(-s redis.host=127.0.0.1 -s "redis.port=$base" -s redis.cluster=on
            -s "redis.seeds=$seeds" "$@")
run_settings
run_dir cluster "the cluster"

echo "run-cluster: starting ${#ports[@]} redis-servers on 127.0.0.1:${ports[0]}..${ports[-1]} (data and logs in $dir)"
for p in "${ports[@]}"; do
    redis-server --port "$p" --bind 127.0.0.1 --cluster-enabled yes \
        --cluster-config-file "$dir/nodes-$p.conf" --cluster-node-timeout 2000 \
        --save '' --appendonly no --dir "$dir" --dbfilename "dump-$p.rdb" \
        --repl-diskless-sync-delay 0 --logfile "$dir/redis-$p.log" \
        --daemonize no &
    pids+=($!)
done
for p in "${ports[@]}"; do run_wait_ping "$p" "$dir/redis-$p.log"; done
addrs=(); for p in "${ports[@]}"; do addrs+=("127.0.0.1:$p"); done
if ! redis-cli --cluster create "${addrs[@]}" --cluster-replicas 1 \
        --cluster-yes >"$dir/create.log" 2>&1; then
    echo "run-cluster: redis-cli --cluster create failed:" >&2
    cat "$dir/create.log" >&2
    exit 1
fi
# Settled: every node is ok and sees the three replicas (right after the
# create, every node is still a master in the others' eyes).
for _ in $(seq 100); do
    ok=0
    for p in "${ports[@]}"; do
        redis-cli -p "$p" CLUSTER INFO 2>/dev/null | grep -q '^cluster_state:ok' &&
            [ "$(redis-cli -p "$p" CLUSTER NODES 2>/dev/null | grep -cE '[ ,]slave ')" -eq $((nodes / 2)) ] &&
            ok=$((ok + 1))
    done
    [ "$ok" -eq "${#ports[@]}" ] && break
    sleep 0.2
done
if [ "$ok" -ne "${#ports[@]}" ]; then
    echo "run-cluster: the cluster did not settle (cluster_state:ok, three replicas)" >&2
    exit 1
fi
redis-cli -p "$base" CLUSTER NODES | awk '{split($2, a, "@"); printf "  %-16s %-14s %s\n", a[1], $3 ~ /master/ ? "master" : "replica", $9}'

bind=$(get server bind); http=$(get server http_port); resp=$(get server resp_port)
admin=$(get admin port)
run_proxy
echo "run-cluster: the proxy (pid $proxy_pid) fronts the cluster; try:"
try() { printf '  %-50s # %s\n' "$1" "$2"; }
try "redis-cli -p $resp SET user:1 alice" "to the master owning user:1's slot"
try "curl -i http://$bind:$http/user:1" "X-Cache: MISS, then HIT"
try "redis-cli -p $resp MGET user:1 a b" "split per slot, merged in order"
try "redis-cli -c -p $base SET user:1 bob" "straight to the cluster: ..."
try "curl http://$bind:$http/user:1" "... seen at once (invalidation)"
[ "${admin:-0}" != 0 ] && try "curl http://$bind:$admin/readyz" "one line per master"
echo "run-cluster: Ctrl-C stops the proxy and the cluster"
run_proxy_wait
