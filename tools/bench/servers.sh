# tools/bench/servers.sh: the peers tools/bench.sh measures the proxy
# shellcheck shell=bash
# against, sourced after lib.sh. Each start_* function starts one server
# pinned to the server CPU (spawn; the delay relay of the far Redis on the
# load generators' CPU, see relay_start), waits for it, and on success sets
# PORT[name] and SPID[name]; on failure it sets WHY[name] (not installed,
# did not start) and returns 1, and the bench reports that system as n/a.
# Every server runs from $W, on free loopback ports, in the foreground (its
# pid is ours, stopped by the exit trap).

declare -A PORT SPID WHY

limit_start() { # name mode args...: the limit server (tools/bench/limit.c)
    local name=$1 mode=$2 port
    shift 2
    read -r port < <(free_ports 1)
    spawn "$W/$name.log" "$LIMIT" "$mode" "$port" "$@"
    started "$name" "$port" "$LAST" || { WHY[$name]=did_not_start; return 1; }
    PORT[$name]=$port
    SPID[$name]=$LAST
}

http_warm() { # name port prefix suffix count: GET every key once, all 200
    local got
    got=$(KEYS_CONNS=4 timeout -k 5 300 python3 "$HELP/keys.py" http-get \
        "$2" "$3" "$4" 0 "$5")
    [ "$got" = "$5 0" ] || say "$1: warming: expected '$5 0' (200s others), got '$got'"
}

nginx_start() { # one worker: it gets one core, as every server here does;
    # the same files over HTTPS on a second port (PORT[nginx-https]) with
    # the bench's test certificate, when TLS_DIR is set
    local port sport https=
    command -v nginx >/dev/null || { WHY[nginx]=not_installed; return 1; }
    read -r port sport < <(free_ports 2)
    [ -n "${TLS_DIR:-}" ] && https="
    server {
        listen 127.0.0.1:$sport ssl;
        ssl_certificate $TLS_DIR/server.crt;
        ssl_certificate_key $TLS_DIR/server.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        root $W/www;
        default_type application/octet-stream;
    }"
    mkdir -p "$W/www" "$W/nginx-tmp"
    python3 "$HELP/keys.py" files "$W/www" 0 "$N" "$V"
    chmod -R a+rX "$W/www"
    cat >"$W/nginx.conf" <<EOF
worker_processes 1;
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
    }$https
}
EOF
    spawn "$W/nginx.log" nginx -e "$W/nginx.err" -c "$W/nginx.conf"
    started nginx "$port" "$LAST" || { WHY[nginx]=did_not_start; return 1; }
    PORT[nginx]=$port
    SPID[nginx]=$LAST
    if [ -n "$https" ]; then
        if wait_port "$sport" "$LAST" 5; then
            PORT[nginx-https]=$sport
        else
            WHY[nginx-https]=did_not_start
        fi
    else
        WHY[nginx-https]=no_certificates
    fi
    http_warm nginx "$port" / "" "$N"
}

webdis_start() { # threads = 1: one core
    local port
    command -v webdis >/dev/null || { WHY[webdis]=not_installed; return 1; }
    read -r port < <(free_ports 1)
    cat >"$W/webdis.json" <<EOF
{"redis_host": "127.0.0.1", "redis_port": $RP,
 "http_host": "127.0.0.1", "http_port": $port,
 "threads": 1, "pool_size": 20, "daemonize": false,
 "database": 0, "verbosity": 0, "logfile": "$W/webdis.out"}
EOF
    spawn "$W/webdis.log" webdis "$W/webdis.json"
    started webdis "$port" "$LAST" || { WHY[webdis]=did_not_start; return 1; }
    PORT[webdis]=$port
    SPID[webdis]=$LAST
    # /GET/<key>.txt answers the raw value as text/plain
    http_warm webdis "$port" /GET/ .txt "$N"
}

varnish_start() { # in front of webdis; one thread pool
    local port
    command -v varnishd >/dev/null || { WHY[varnish]=not_installed; return 1; }
    [ -n "${PORT[webdis]:-}" ] || { WHY[varnish]=webdis_down; return 1; }
    read -r port < <(free_ports 1)
    cat >"$W/varnish.vcl" <<EOF
vcl 4.1;
backend webdis { .host = "127.0.0.1"; .port = "${PORT[webdis]}"; }
sub vcl_backend_response { set beresp.ttl = 1h; }
EOF
    # -F: foreground (the pid is ours), -j none: no privilege separation
    # (runs from /tmp as whoever runs the bench), -T none: no admin CLI port.
    spawn "$W/varnish.log" varnishd -F -j none -T none -n "$W/varnish" \
        -a "127.0.0.1:$port" -f "$W/varnish.vcl" -s malloc,256m \
        -p thread_pools=1
    started varnish "$port" "$LAST" || { WHY[varnish]=did_not_start; return 1; }
    PORT[varnish]=$port
    SPID[varnish]=$LAST
    http_warm varnish "$port" /GET/ .txt "$N"
}

varnish_counts() { # "cache_hit cache_miss" of the bench's varnishd
    varnishstat -n "$W/varnish" -1 -f MAIN.cache_hit -f MAIN.cache_miss 2>/dev/null |
        awk '$1 == "MAIN.cache_hit" {h = $2} $1 == "MAIN.cache_miss" {m = $2}
             END {print h + 0, m + 0}'
}

twemproxy_start() { # [name [redis-port]]: twemproxy (default name
    # twemproxy) in front of the Redis on that port (default the bench's)
    local name=${1:-twemproxy} rport=${2:-$RP} port stats
    command -v nutcracker >/dev/null || { WHY[$name]=not_installed; return 1; }
    read -r port stats < <(free_ports 2)
    cat >"$W/$name.yml" <<EOF
bench:
  listen: 127.0.0.1:$port
  redis: true
  hash: fnv1a_64
  distribution: ketama
  servers:
    - 127.0.0.1:$rport:1
EOF
    spawn "$W/$name.log" nutcracker -c "$W/$name.yml" \
        -s "$stats" -a 127.0.0.1 -o "$W/$name.out"
    started "$name" "$port" "$LAST" || { WHY[$name]=did_not_start; return 1; }
    PORT[$name]=$port
    SPID[$name]=$LAST
}

relay_start() { # name target-port delay-us: tools/delay_relay (RELAY, from
    # build_tools) in front of 127.0.0.1:target-port, holding bytes
    # delay-us each way: a far server. It stands for the network, not for a
    # server, so it runs on the load generators' CPU: on the server CPU it
    # would take from the core of the system measured, and take more from
    # whoever sends Redis more, smaller writes.
    local name=$1 port
    [ -x "${RELAY:-}" ] || { WHY[$name]=not_built; return 1; }
    read -r port < <(free_ports 1)
    spawn_client_cpu "$W/$name.log" "$RELAY" "$port" "127.0.0.1:$2" "$3"
    started "$name" "$port" "$LAST" || { WHY[$name]=did_not_start; return 1; }
    PORT[$name]=$port
    SPID[$name]=$LAST
}

# --- the Redis Cluster -----------------------------------------------------

CLUSTER_PORTS=()
CLUSTER_TAGS=()
cluster_start() { # 3 masters + 3 replicas; sets CLUSTER_PORTS, PORT[cluster]
    local p i ok=0 nodes=()
    read -r -a CLUSTER_PORTS < <(python3 "$HELP/keys.py" cluster-ports 6)
    [ ${#CLUSTER_PORTS[@]} = 6 ] || { WHY[cluster]=no_ports; return 1; }
    for p in "${CLUSTER_PORTS[@]}"; do
        mkdir -p "$W/cluster-$p"
        spawn "$W/cluster-$p.log" redis-server --bind 127.0.0.1 --port "$p" \
            --save '' --appendonly no --dir "$W/cluster-$p" \
            --cluster-enabled yes --cluster-config-file nodes.conf \
            --tracking-table-max-keys 0
        SPID[cluster-$p]=$LAST
        nodes+=("127.0.0.1:$p")
    done
    for p in "${CLUSTER_PORTS[@]}"; do
        started "cluster-$p" "$p" "${SPID[cluster-$p]}" ||
            { WHY[cluster]=did_not_start; return 1; }
    done
    timeout -k 5 60 redis-cli --cluster create "${nodes[@]}" \
        --cluster-replicas 1 --cluster-yes >"$W/cluster-create.log" 2>&1 ||
        { WHY[cluster]=create_failed; return 1; }
    for i in $(seq 200); do # every node sees the cluster up
        ok=0
        for p in "${CLUSTER_PORTS[@]}"; do
            redis-cli -h 127.0.0.1 -p "$p" CLUSTER INFO 2>/dev/null |
                grep -q '^cluster_state:ok' && ok=$((ok + 1))
        done
        [ "$ok" = 6 ] && break
        sleep 0.1
    done
    [ "$ok" = 6 ] || { WHY[cluster]=state_not_ok; return 1; }
    PORT[cluster]=${CLUSTER_PORTS[0]}
    timeout -k 5 300 python3 "$HELP/keys.py" cluster-load "${PORT[cluster]}" \
        0 "$N" "$V" || { WHY[cluster]=load_failed; return 1; }
    cluster_tag_keys
}

cluster_masters() { # the ports of the masters
    redis-cli -h 127.0.0.1 -p "${PORT[cluster]}" CLUSTER NODES 2>/dev/null |
        awk '$3 ~ /master/ {split($2, a, "[:@]"); print a[2]}'
}

cluster_tag_keys() {
    # redis-benchmark --cluster names its keys key:{TAG}:<12 digits>, one
    # TAG per master (a name whose slot is that master's; it may hold a "}",
    # as in key:{8M}}:...): a one-key SET run shows the tags, then every key
    # 0..N-1 is loaded under each tag, so the direct GETs read values as the
    # proxy's do.
    local p tags
    timeout -k 5 60 "${CLI[@]}" redis-benchmark -h 127.0.0.1 \
        -p "${PORT[cluster]}" --cluster -c 12 -n 120 -r 1 -t set -d "$V" \
        >/dev/null 2>&1
    tags=$(for p in $(cluster_masters); do
        redis-cli -h 127.0.0.1 -p "$p" --scan --pattern 'key:{*' 2>/dev/null
    done | sed -n 's/^key:{\(.*\)}:[0-9]*$/\1/p' | sort -u)
    read -r -a CLUSTER_TAGS <<<"${tags//$'\n'/ }"
    [ ${#CLUSTER_TAGS[@]} -gt 0 ] || { say "cluster: found no redis-benchmark tags"; return 0; }
    timeout -k 5 300 python3 "$HELP/keys.py" cluster-load "${PORT[cluster]}" \
        0 "$N" "$V" "${CLUSTER_TAGS[@]}" || say "cluster: loading tagged keys failed"
}

cluster_counts() { # "keyspace_hits keyspace_misses" summed over the masters
    local p h m th=0 tm=0
    for p in $(cluster_masters); do
        read -r h m < <(redis_counts_at "$p")
        th=$((th + h)) tm=$((tm + m))
    done
    echo "$th $tm"
}

redis_tls_start() { # a TLS port on the bench's Redis (RP), added live
    # (CONFIG SET), with the test certificate: RTP
    local port
    read -r port < <(free_ports 1)
    redis-cli -h 127.0.0.1 -p "$RP" CONFIG SET tls-cert-file "$TLS_DIR/server.crt" \
        tls-key-file "$TLS_DIR/server.key" tls-ca-cert-file "$TLS_DIR/ca.crt" \
        tls-auth-clients no tls-port "$port" >"$W/redis-tls.log" 2>&1 &&
        grep -q '^OK' "$W/redis-tls.log" ||
        { WHY[redis-tls]=config_set_failed; return 1; }
    RTP=$port
}

redis_counts_at() { # port: "keyspace_hits keyspace_misses"
    redis-cli -h 127.0.0.1 -p "$1" INFO stats 2>/dev/null | tr -d '\r' |
        awk -F: '$1 == "keyspace_hits" {h = $2} $1 == "keyspace_misses" {m = $2}
                 END {print h + 0, m + 0}'
}
