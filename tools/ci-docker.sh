#!/usr/bin/env bash
# CI step: the tests in Docker (make docker-test), with what that needs on a
# Debian machine. Installs docker.io when there is no Docker (and
# docker-compose when there is no compose either); starts dockerd when no
# engine answers, waits (bounded) until `docker info` answers; builds the
# base image when it is absent (tools/docker-base-image.sh); runs
# `make docker-test`, then `make run` in a bare container of the base image
# (tools/ci-make-run.sh: packages installed by make run itself, a curl and a
# redis-cli GET through the proxy, then stopped); stops the dockerd it
# started, by PID, also on failure.
# Installing and starting dockerd need root; otherwise it says what to run.
# Usage: tools/ci-docker.sh
set -euo pipefail
cd "$(dirname "$0")/.."
say() { echo "ci-docker: $*"; }
t0=$SECONDS
lap() { say "$1 ($((SECONDS - t0)) s so far)"; }

engine() {
    command -v docker >/dev/null 2>&1 && timeout 30 docker info >/dev/null 2>&1
}
have_compose() {
    { command -v docker >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; } ||
        command -v docker-compose >/dev/null 2>&1
}
need_root() {
    [ "$(id -u)" -eq 0 ] && return 0
    say "$1 needs root; as root: $2" >&2
    exit 1
}

pkgs=()
if ! command -v docker >/dev/null 2>&1 ||
    { ! command -v dockerd >/dev/null 2>&1 && ! engine; }; then
    pkgs+=(docker.io)
fi
have_compose || pkgs+=(docker-compose)
if [ ${#pkgs[@]} -gt 0 ]; then
    need_root "installing ${pkgs[*]}" \
        "apt-get update && apt-get install -y --no-install-recommends ${pkgs[*]}"
    say "installing ${pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
    lap "installed"
fi

# A dockerd of our own when no engine answers; stopped on the way out.
dockerd_pid=
children=
stop_dockerd() {
    local rc=$? i
    # Interrupted or failed before `make docker-test` took its containers
    # down: take them down now, while the engine is still there.
    if [ "$rc" -ne 0 ] && engine; then
        timeout 60 bash tools/compose.sh down >/dev/null 2>&1 || true
    fi
    if [ -n "$dockerd_pid" ] && kill -0 "$dockerd_pid" 2>/dev/null; then
        # The containerd it runs as its child, if any: gone when it is.
        children=$(pgrep -P "$dockerd_pid" 2>/dev/null | paste -sd ' ' -) || true
        say "stopping the dockerd it started (pid $dockerd_pid)"
        kill -TERM "$dockerd_pid" 2>/dev/null || true
        for i in $(seq 60); do
            kill -0 "$dockerd_pid" 2>/dev/null || break
            sleep 0.5
        done
        if kill -0 "$dockerd_pid" 2>/dev/null; then
            say "dockerd (pid $dockerd_pid) still running after 30 s: SIGKILL"
            kill -KILL "$dockerd_pid" 2>/dev/null || true
        fi
        wait "$dockerd_pid" 2>/dev/null || true
        for i in $children; do
            kill -0 "$i" 2>/dev/null && kill -TERM "$i" 2>/dev/null || true
        done
    fi
    say "done in $((SECONDS - t0)) s, exit $rc"
    exit "$rc"
}
trap stop_dockerd EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if engine; then
    say "a Docker engine answers; using it"
else
    need_root "starting dockerd" "dockerd &"
    mkdir -p build/ci-docker
    log=build/ci-docker/dockerd.log
    say "no Docker engine answers: starting dockerd (log: $log)"
    dockerd >"$log" 2>&1 &
    dockerd_pid=$!
    for i in $(seq 60); do
        engine && break
        if ! kill -0 "$dockerd_pid" 2>/dev/null; then
            say "dockerd exited before answering; the end of $log:" >&2
            tail -20 "$log" >&2
            exit 1
        fi
        sleep 1
    done
    if ! engine; then
        say "dockerd (pid $dockerd_pid) did not answer within 60 s; the end of $log:" >&2
        tail -20 "$log" >&2
        exit 1
    fi
    lap "dockerd (pid $dockerd_pid) answers"
fi

bash tools/docker-base-image.sh
lap "base image ready"
make --no-print-directory docker-test
lap "make docker-test passed"
bash tools/ci-make-run.sh
lap "make run in a bare container passed"
