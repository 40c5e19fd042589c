#!/usr/bin/env bash
# Builds the base image the Dockerfile starts from, debian:bookworm-slim,
# locally, for hosts that cannot pull it (no image registry): debootstrap
# (minbase) of bookworm from the Debian mirror configured for apt on this
# host, then `docker import`. Idempotent: does nothing if the image exists.
# As root (debootstrap needs it; it is installed with apt-get if missing).
#
# Usage: tools/docker-base-image.sh [MIRROR]   build it if absent; MIRROR
#            (e.g. http://deb.debian.org/debian) overrides the apt sources
#        tools/docker-base-image.sh --check    (make docker-test) succeed if
#            the image exists or can be pulled, else say how to build it
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE=debian:bookworm-slim
SUITE=bookworm
me=tools/docker-base-image.sh

engine() { timeout 30 docker info >/dev/null 2>&1; }
present() { docker image inspect "$IMAGE" >/dev/null 2>&1; }

if ! command -v docker >/dev/null 2>&1 || ! engine; then
    echo "$me: no Docker engine answers (docker info failed)" >&2
    exit 1
fi

if [ "${1:-}" = --check ]; then
    present && exit 0
    echo "$me: $IMAGE is not here; trying docker pull $IMAGE"
    err=$(timeout 120 docker pull -q "$IMAGE" 2>&1 >/dev/null) && present && exit 0
    cat >&2 <<EOF
$me: cannot pull $IMAGE: ${err:-timed out}
$me: build it locally from your Debian mirror (debootstrap + docker import),
$me: as root:  $me
EOF
    exit 1
fi

if present; then
    echo "$me: $IMAGE already present, nothing to do"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "$me: debootstrap needs root; run as root: $me" >&2
    exit 1
fi

# The host's apt sources, one "URI SUITE COMPONENTS..." line per binary (deb)
# URI and suite, from one-line .list files and deb822 .sources files.
apt_sources() {
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" |
            awk '$1 == "deb" && NF >= 3 { $1 = ""; sub(/^ /, ""); print }'
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk '
            function flush(  i, j, nu, ns, u, s) {
                if (tolower(f["types"]) ~ /(^| )deb( |$)/ &&
                    tolower(f["enabled"]) !~ /^no/) {
                    nu = split(f["uris"], u, " ")
                    ns = split(f["suites"], s, " ")
                    for (i = 1; i <= nu; i++)
                        for (j = 1; j <= ns; j++)
                            print u[i], s[j], f["components"]
                }
                delete f
            }
            /^[ \t]*#/ { next }
            /^[ \t]*$/ { flush(); next }
            /^[ \t]/ { if (key != "") f[key] = f[key] " " $0; next }
            {
                key = tolower(substr($0, 1, index($0, ":") - 1))
                f[key] = substr($0, index($0, ":") + 1)
            }
            END { flush() }' "$f" | tr -s ' \t' '  ' | sed 's/^ //'
    done
}

# The URI configured for suite $1 with the main component, if any.
uri_for() { awk -v s="$1" '$2 == s && / main( |$)/ { print $1; exit }' <<<"$sources"; }

sources=$(apt_sources)
host=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
mirror=${1:-}
[ -n "$mirror" ] || mirror=$(uri_for $SUITE)
# A host on another Debian release: its archive also serves bookworm.
[ -n "$mirror" ] || { [ -n "$host" ] && mirror=$(uri_for "$host"); }
if [ -z "$mirror" ]; then
    echo "$me: no Debian mirror for $SUITE in the apt sources" \
         "(/etc/apt/sources.list, /etc/apt/sources.list.d/); name one:" \
         "$me http://deb.debian.org/debian" >&2
    exit 1
fi
updates=$(uri_for $SUITE-updates)
[ -n "$updates" ] || { [ -n "$host" ] && updates=$(uri_for "$host-updates"); }
security=$(uri_for $SUITE-security)
[ -n "$security" ] || { [ -n "$host" ] && security=$(uri_for "$host-security"); }
mirror=${mirror%/}

if ! command -v debootstrap >/dev/null 2>&1; then
    echo "$me: installing debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        debootstrap >/dev/null
fi

root=$(mkdir -p build && mktemp -d "$PWD/build/docker-base.XXXXXX")
trap 'rm -rf "$root"' EXIT
echo "$me: debootstrap --variant=minbase $SUITE from $mirror"
debootstrap --variant=minbase --components=main "$SUITE" "$root" "$mirror" \
    >"$root.log" 2>&1 || { tail -20 "$root.log" >&2; rm -f "$root.log"; exit 1; }
rm -f "$root.log"

# apt sources inside the image: the same archives as on this host.
rm -f "$root/etc/apt/sources.list"
{
    echo "Types: deb"
    echo "URIs: $mirror"
    echo "Suites: $SUITE${updates:+ $SUITE-updates}"
    echo "Components: main"
    echo "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"
    if [ -n "$security" ]; then
        echo
        echo "Types: deb"
        echo "URIs: ${security%/}"
        echo "Suites: $SUITE-security"
        echo "Components: main"
        echo "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"
    fi
} >"$root/etc/apt/sources.list.d/debian.sources"

# "slim", as Debian's official images: no docs, man pages or translations
# (now or in packages installed later), no apt caches kept in layers.
cat >"$root/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
force-unsafe-io
EOF
cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'EOF'
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
Acquire::Languages "none";
Acquire::GzipIndexes "true";
Apt::AutoRemove::SuggestsImportant "false";
EOF
find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$root"/usr/share/{man,groff,info,lintian,linda,locale}/* \
       "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
       "$root"/var/lib/apt/lists/* "$root"/var/log/*.log "$root"/tmp/*

echo "$me: docker import as $IMAGE"
tar --numeric-owner -C "$root" -c . |
    docker import -m "$me: debootstrap minbase $SUITE from $mirror" \
        --change 'CMD ["bash"]' - "$IMAGE" >/dev/null
docker image ls "$IMAGE"
