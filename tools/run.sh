#!/usr/bin/env bash
# `make run`: picks where the proxy runs and says which in its first line,
# by the rule `make test` follows (tools/test.sh), for what running needs
# (tools/deps.sh --run: the build, redis-server and redis-cli):
#   docker: a Docker engine answers and some of it is missing: the compose
#           stack's redis and proxy services (the proxy's ports 8080, 6380
#           and 8081 published on the host), so nothing is installed on the
#           host; Ctrl-C stops them, and they are taken down;
#   native: otherwise (make run-native: tools/deps.sh --run installs what is
#           missing as root, else prints the apt-get command and fails; then
#           the build; then tools/run-proxy.sh starts the proxy with
#           ./proxy.ini, and a throwaway redis-server first if no Redis
#           answers at its [redis] address).
# Usage: tools/run.sh [auto|native|docker]   (make run RUN_IN=...)
set -euo pipefail
cd "$(dirname "$0")/.."
make=${MAKE:-make}
engine() {
    command -v docker >/dev/null 2>&1 && timeout 30 docker info >/dev/null 2>&1
}
case ${1:-auto} in
auto)
    missing=$(bash tools/deps.sh --run --missing | paste -sd " " -)
    if [ -z "$missing" ]; then
        where=native why="what it needs is installed"
    elif engine; then
        where=docker why="packages missing, engine answers"
    else
        where=native why="packages missing, no Docker engine answers"
    fi ;;
native) where=native why="RUN_IN=native" ;;
docker) where=docker why="RUN_IN=docker" ;;
*) echo "make run: RUN_IN must be auto, native or docker, not '$1'" >&2; exit 2 ;;
esac
if [ "$where" = docker ]; then
    echo "make run: in Docker, the compose stack's redis and proxy ($why)"
    [ -z "${missing:-}" ] || echo "make run: missing on this host: $missing"
    bash tools/docker-base-image.sh --check
    trap 'bash tools/compose.sh down' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    bash tools/compose.sh up --build redis proxy
    exit
fi
echo "make run: native ($why)"
[ -z "${missing:-}" ] || echo "make run: missing on this host: $missing"
exec $make --no-print-directory run-native
