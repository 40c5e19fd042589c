#!/usr/bin/env bash
# Installs the Debian packages the build and the tests need, if missing.
# As root: apt-get installs them. Otherwise: prints the exact command, fails.
# Usage: tools/deps.sh [extra-package...]
#        tools/deps.sh --missing    only lists the missing ones, one a line
set -euo pipefail
list_only=
[ "${1:-}" = --missing ] && { list_only=1; shift; }
# OpenSSL 3 (libssl-dev) is linked for TLS; the openssl command makes the
# tests' certificates (tools/tls-certs.sh). The tests also use redis-py
# (python3-redis), groff and man (the man page) and systemd-analyze with
# /bin/kill (the unit); without them those three tests skip or fail.
pkgs=(build-essential libhiredis-dev libcriterion-dev libinih-dev libssl-dev
      openssl redis-server redis-tools python3-redis groff-base man-db systemd
      procps "$@")
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
