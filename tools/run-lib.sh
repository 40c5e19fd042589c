#!/usr/bin/env bash
# tools/run-lib.sh: what tools/run-cluster.sh and tools/run-sentinel.sh
# share, sourced by both after they set `me` (their name in messages) and
# `bin` (the proxy binary): the checks before anything starts, the proxy's
# settings as -t prints them, a throwaway directory with the cleanup that
# stops everything started (the proxy first, then every pid in `pids`)
# and removes it, and the proxy's run to its exit status.

run_need() { # HINT TOOL...: exit 1 unless every TOOL is installed
    local hint=$1 tool
    shift
    for tool; do
        command -v "$tool" >/dev/null ||
            { echo "$me: $tool is not installed (Debian: $hint)" >&2; exit 1; }
    done
}

# VAR BASE SPAN [bus]: exit 2 unless BASE..BASE+SPAN (with bus: and each
# port + 10000, a cluster node's bus port) are ports
run_check_base() {
    local bus=0 what
    case $2 in
        ''|*[!0-9]*) echo "$me: $1='$2' is not a port" >&2; exit 2 ;;
    esac
    what="ports $2..$(($2 + $3))"
    [ "${4:-}" = bus ] && { bus=10000; what+=" and their bus ports (+10000)"; }
    if [ "$2" -lt 1 ] || [ $(($2 + $3 + bus)) -gt 65535 ]; then
        echo "$me: $1=$2: $what must be below 65536" >&2
        exit 2
    fi
}

run_port_free() { # VAR PORT: exit 1 if something listens on 127.0.0.1:PORT
    if (exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null; then
        echo "$me: something already listens on 127.0.0.1:$2 (set $1 to use other ports)" >&2
        exit 1
    fi
}

run_settings() { # the settings of "$bin" -t "${proxy_args[@]}", for get
    settings=$("$bin" -t "${proxy_args[@]}") || exit $?
}
get() { awk -v s="[$1]" -v k="$2" '/^\[/{sec=$1} sec==s && $1==k {print $3; exit}' <<<"$settings"; }

run_dir() { # NAME WHAT: $dir made; on exit, WHAT is stopped and $dir removed
    dir=$(mktemp -d "${TMPDIR:-/tmp}/redis-proxy-$1.XXXXXX") || exit 1
    run_what=$2
    pids=(); proxy_pid=
    trap run_cleanup EXIT
    # Ctrl-C: the proxy is stopped (and exits 0, as with `make run`); before
    # it runs, the script just ends. Either way cleanup follows.
    trap '[ -n "$proxy_pid" ] && kill -TERM "$proxy_pid" 2>/dev/null || exit 130' INT TERM
}
run_cleanup() {
    [ -n "$proxy_pid" ] && kill -TERM "$proxy_pid" 2>/dev/null && wait "$proxy_pid" 2>/dev/null
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
    rm -rf "$dir"
    echo "$me: stopped $run_what and removed $dir"
}

run_wait_ping() { # PORT LOG: exit 1, showing LOG, unless PORT answers PING in 5 s
    for _ in $(seq 50); do
        redis-cli -p "$1" PING >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "$me: nothing answers on port $1; its log:" >&2
    cat "$2" >&2
    exit 1
}

run_proxy() { # starts "$bin" "${proxy_args[@]}" in the background
    "$bin" "${proxy_args[@]}" &
    proxy_pid=$!
}

run_proxy_wait() { # waits for the proxy and exits with its status
    local rc
    wait "$proxy_pid"; rc=$?
    # A signal interrupts the first wait; wait again for the real exit status.
    kill -0 "$proxy_pid" 2>/dev/null && { wait "$proxy_pid"; rc=$?; }
    proxy_pid=
    exit $rc
}
