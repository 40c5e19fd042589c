#!/usr/bin/env bash
# `make test`: picks where the tests run and says which in its first line.
#   docker: a Docker engine answers and build dependencies are missing, so
#           the tests run in containers (make docker-test) and nothing on the
#           host changes outside the project directory;
#   native: otherwise (make test-native: tools/deps.sh installs what is
#           missing as root, else prints the apt-get command and fails).
# Inside the tests container the dependencies are present: native.
# Usage: tools/test.sh [auto|native|docker]   (make test TEST_IN=...)
set -euo pipefail
cd "$(dirname "$0")/.."
make=${MAKE:-make}
engine() {
    command -v docker >/dev/null 2>&1 && timeout 30 docker info >/dev/null 2>&1
}
case ${1:-auto} in
auto)
    missing=$(bash tools/deps.sh --missing | paste -sd " " -)
    if [ -z "$missing" ]; then
        where=native why="build dependencies present"
    elif engine; then
        where=docker why="build dependencies missing, engine answers"
    else
        where=native why="build dependencies missing, no Docker engine answers"
    fi ;;
native) where=native why="TEST_IN=native" ;;
docker) where=docker why="TEST_IN=docker" ;;
*) echo "make test: TEST_IN must be auto, native or docker, not '$1'" >&2; exit 2 ;;
esac
if [ "$where" = docker ]; then
    echo "make test: in Docker ($why)"
    [ -z "${missing:-}" ] || echo "make test: missing on this host: $missing"
    exec $make --no-print-directory docker-test
fi
echo "make test: native ($why)"
exec $make --no-print-directory test-native
