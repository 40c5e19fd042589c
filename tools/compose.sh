#!/usr/bin/env bash
# Runs Docker Compose with the arguments given, whichever is installed: the
# `docker compose` plugin (v2) or the standalone `docker-compose` (v1, the
# Debian bookworm package). Run from the project directory, so the project
# is this repository's docker-compose.yml.
# Usage: tools/compose.sh COMPOSE-ARGS...
set -euo pipefail
cd "$(dirname "$0")/.."
if command -v docker >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
    exec docker compose "$@"
elif command -v docker-compose >/dev/null 2>&1; then
    exec docker-compose "$@"
fi
echo "compose: neither \`docker compose\` nor \`docker-compose\` is installed" >&2
echo "compose: on Debian, as root: apt-get install docker-compose" >&2
exit 127
