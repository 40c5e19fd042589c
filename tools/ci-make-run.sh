#!/usr/bin/env bash
# CI step (in tools/ci-docker.sh): `make run` on a bare machine. In a
# container of the base image (debian:bookworm-slim, as
# tools/docker-base-image.sh builds it: no compiler, no libraries, no Redis)
# holding the repository's files, with only `make` (to type the command)
# and `curl` (to try it) installed, it runs `make run` in the background as
# root, waits for the proxy, sets a key through its Redis-protocol port,
# GETs it with curl and with redis-cli, then stops `make run` as Ctrl-C
# does (SIGINT to its process group) and checks that the proxy exited 0
# and that no redis-server or redis-proxy is left. Fails, printing what
# `make run` said, if any step does not happen. The container is removed
# on the way out. Needs a Docker engine and the base image.
# Usage: tools/ci-make-run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE=debian:bookworm-slim
name=redis-proxy-make-run-$$
say() { echo "ci-make-run: $*"; }
t0=$SECONDS

docker image inspect "$IMAGE" >/dev/null 2>&1 ||
    { say "no $IMAGE image (tools/docker-base-image.sh builds it)" >&2; exit 1; }
trap 'docker rm -f "$name" >/dev/null 2>&1 || true' EXIT
docker run -d --name "$name" "$IMAGE" sleep 3600 >/dev/null

# The tracked files as they are in the work tree (a fresh clone in CI);
# without git metadata, every file but build/, .git and node_modules.
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git ls-files -z | tar --null -T - -cf -
else
    tar --exclude=./build --exclude=./.git --exclude=node_modules -cf - .
fi | docker exec -i "$name" sh -c 'mkdir -p /src && tar -xf - -C /src'

# What runs in the container, as root.
check=$(
    cat <<'EOF'
set -euo pipefail
cd /src
say() { echo "ci-make-run: $*"; }
export DEBIAN_FRONTEND=noninteractive
fail() {
    say "$*" >&2
    say "what make run printed:" >&2
    cat /tmp/make-run.log >&2 2>/dev/null || true
    exit 1
}
# A process named $1 still running (no procps in the bare image).
running() { cat /proc/[0-9]*/comm 2>/dev/null | grep -qx "$1"; }

missing=$(bash tools/deps.sh --run --missing | paste -sd ' ' -)
[ -n "$missing" ] || fail "the image is not bare: nothing for make run to install"
say "missing in the bare image: $missing"
apt-get update -qq
apt-get install -y -qq --no-install-recommends make curl >/dev/null
say "installed make and curl only; starting make run"

t=$SECONDS
set -m # make run in a process group of its own, as in a terminal
make run </dev/null >/tmp/make-run.log 2>&1 &
pid=$!
set +m
up=
for _ in $(seq 900); do
    kill -0 "$pid" 2>/dev/null || fail "make run exited before the proxy answered"
    if curl -s -o /dev/null --max-time 5 http://127.0.0.1:8080/ &&
        running redis-proxy; then
        up=1
        break
    fi
    sleep 1
done
[ -n "$up" ] || fail "no proxy answered on 127.0.0.1:8080 within 900 s"
say "the proxy answers after $((SECONDS - t)) s; make run's first line:"
head -1 /tmp/make-run.log
head -1 /tmp/make-run.log | grep -q '^make run: native' ||
    fail "make run did not say first which path it took"

got=$(redis-cli -p 6380 SET greeting hello) || fail "redis-cli SET failed"
[ "$got" = OK ] || fail "SET through the proxy: '$got'"
got=$(curl -sS --max-time 5 http://127.0.0.1:8080/greeting) || fail "curl failed"
[ "$got" = hello ] || fail "curl GET /greeting: '$got'"
say "curl http://127.0.0.1:8080/greeting: $got"
got=$(redis-cli -p 6380 GET greeting) || fail "redis-cli GET failed"
[ "$got" = hello ] || fail "redis-cli -p 6380 GET greeting: '$got'"
say "redis-cli -p 6380 GET greeting: $got"

kill -INT -- "-$pid"
wait "$pid" || true
for _ in $(seq 50); do
    running redis-proxy || running redis-server || break
    sleep 0.1
done
! running redis-proxy || fail "a redis-proxy is still running"
! running redis-server || fail "the throwaway redis-server is still running"
grep -q '^run: the proxy exited with status 0$' /tmp/make-run.log ||
    fail "the proxy did not exit 0"
say "stopped: the proxy exited 0, nothing left running"
say "what make run printed (the compiler's lines counted, not shown):"
grep -v '^cc \|^ar \|^bash tools/embed' /tmp/make-run.log | sed 's/^/    /'
say "    and $(grep -c '^cc \|^ar \|^bash tools/embed' /tmp/make-run.log) lines of the build"
EOF
)
docker exec "$name" bash -c "$check" </dev/null
say "passed in $((SECONDS - t0)) s"
