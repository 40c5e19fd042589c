#!/usr/bin/env bash
# Installs the Debian packages the build and the tests need, if missing.
# As root: apt-get installs them. Otherwise: prints the exact command, fails.
# Usage: tools/deps.sh [--run] [--missing] [extra-package...]
#        --run      only what `make run` needs: the build, redis-server (the
#                   throwaway Redis) and redis-cli, none of the test tools
#        --missing  only lists the missing ones, one a line
set -euo pipefail
list_only= run_only=
while [ $# -gt 0 ]; do
    case $1 in
    --missing) list_only=1 ;;
    --run) run_only=1 ;;
    *) break ;;
    esac
    shift
done
# OpenSSL 3 (libssl-dev) is linked for TLS; the openssl command makes the
# tests' certificates (tools/tls-certs.sh). The tests also use redis-py
# (python3-redis), groff and man (the man page), systemd-analyze with
# /bin/kill (the unit), redis-sentinel (the Sentinel suites) and curl
# (HTTPS against the proxy's listeners); without them those tests skip or
# fail.
pkgs=(build-essential libhiredis-dev libinih-dev libssl-dev redis-server
      redis-tools)
[ -n "$run_only" ] ||
    pkgs+=(libcriterion-dev openssl python3-redis groff-base man-db systemd
           procps redis-sentinel curl)
pkgs+=("$@")
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
        || missing+=("$p")
done
if [ -n "$list_only" ]; then
    [ ${#missing[@]} -eq 0 ] || printf '%s\n' "${missing[@]}"
    exit 0
fi
[ ${#missing[@]} -eq 0 ] && exit 0
cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
    echo "deps: missing Debian packages: ${missing[*]}" >&2
    echo "deps: run as root: apt-get update && $cmd" >&2
    exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
