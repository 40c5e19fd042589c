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
bin=$1; shift
base=${CLUSTER_PORT:-7101}
nodes=6

for tool in redis-server redis-cli; do
    command -v "$tool" >/dev/null ||
        { echo "run-cluster: $tool is not installed (Debian: redis-server, redis-tools)" >&2; exit 1; }
done
case $base in
    ''|*[!0-9]*) echo "run-cluster: CLUSTER_PORT='$base' is not a port" >&2; exit 2 ;;
esac
if [ "$base" -lt 1 ] || [ $((base + nodes - 1 + 10000)) -gt 65535 ]; then
    echo "run-cluster: CLUSTER_PORT=$base: ports $base..$((base + nodes - 1)) and their bus ports (+10000) must be below 65536" >&2
    exit 2
fi
ports=(); seeds=
for i in $(seq 0 $((nodes - 1))); do
    p=$((base + i)); ports+=("$p")
    for q in "$p" $((p + 10000)); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$q") 2>/dev/null; then
            echo "run-cluster: something already listens on 127.0.0.1:$q (set CLUSTER_PORT to use other ports)" >&2
            exit 1
        fi
    done
    [ "$i" -gt 0 ] && seeds+="${seeds:+,}127.0.0.1:$p"
done
proxy_args=(-s redis.host=127.0.0.1 -s "redis.port=$base" -s redis.cluster=on
            -s "redis.seeds=$seeds" "$@")
settings=$("$bin" -t "${proxy_args[@]}") || exit $?
get() { awk -v s="[$1]" -v k="$2" '/^\[/{sec=$1} sec==s && $1==k {print $3; exit}' <<<"$settings"; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/redis-proxy-cluster.XXXXXX") || exit 1
pids=(); proxy_pid=
cleanup() {
    [ -n "$proxy_pid" ] && kill -TERM "$proxy_pid" 2>/dev/null && wait "$proxy_pid" 2>/dev/null
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
    rm -rf "$dir"
    echo "run-cluster: stopped the cluster and removed $dir"
}
trap cleanup EXIT
# Ctrl-C: the proxy is stopped (and exits 0, as with `make run`); before
# it runs, the script just ends. Either way cleanup follows.
trap '[ -n "$proxy_pid" ] && kill -TERM "$proxy_pid" 2>/dev/null || exit 130' INT TERM

echo "run-cluster: starting ${#ports[@]} redis-servers on 127.0.0.1:${ports[0]}..${ports[-1]} (data and logs in $dir)"
for p in "${ports[@]}"; do
    redis-server --port "$p" --bind 127.0.0.1 --cluster-enabled yes \
        --cluster-config-file "$dir/nodes-$p.conf" --cluster-node-timeout 2000 \
        --save '' --appendonly no --dir "$dir" --dbfilename "dump-$p.rdb" \
        --repl-diskless-sync-delay 0 --logfile "$dir/redis-$p.log" \
        --daemonize no &
    pids+=($!)
done
for p in "${ports[@]}"; do
    for _ in $(seq 50); do
        redis-cli -p "$p" PING >/dev/null 2>&1 && continue 2
        sleep 0.1
    done
    echo "run-cluster: redis-server on port $p did not start; its log:" >&2
    cat "$dir/redis-$p.log" >&2
    exit 1
done
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
"$bin" "${proxy_args[@]}" &
proxy_pid=$!
echo "run-cluster: the proxy (pid $proxy_pid) fronts the cluster; try:"
try() { printf '  %-50s # %s\n' "$1" "$2"; }
try "redis-cli -p $resp SET user:1 alice" "to the master owning user:1's slot"
try "curl -i http://$bind:$http/user:1" "X-Cache: MISS, then HIT"
try "redis-cli -p $resp MGET user:1 a b" "split per slot, merged in order"
try "redis-cli -c -p $base SET user:1 bob" "straight to the cluster: ..."
try "curl http://$bind:$http/user:1" "... seen at once (invalidation)"
[ "${admin:-0}" != 0 ] && try "curl http://$bind:$admin/readyz" "one line per master"
echo "run-cluster: Ctrl-C stops the proxy and the cluster"
wait "$proxy_pid"; rc=$?
# A signal interrupts the first wait; wait again for the real exit status.
kill -0 "$proxy_pid" 2>/dev/null && { wait "$proxy_pid"; rc=$?; }
proxy_pid=
exit $rc
