#!/usr/bin/env bash
# tools/tls-certs.sh DIR: test certificates for TLS, made with the openssl
# command into DIR (created if missing). EC P-256 keys (fast to make), PEM.
# Used by the unit, end-to-end and node tests, the benchmark, and to try
# TLS out (docs/tls.md). Never for production: the keys are unencrypted.
#
#   ca.crt ca.key              "redis-proxy test CA"
#   server.crt server.key      localhost, 127.0.0.1, ::1 (server and client use)
#   server2.crt server2.key    the same names, another key and serial (reloads)
#   client.crt client.key      "redis-proxy test client" (client certificates)
#   expired.crt expired.key    localhost, 127.0.0.1, valid 2020-01-01..02 only
#   other-name.crt .key        "other.example" only (a name mismatch)
#   other-ca.crt other-ca.key  a second CA, which nothing here trusts...
#   stranger.crt stranger.key  ...and a localhost certificate it signed
#   stranger-client.crt .key   a client certificate it signed
#   mismatch.key               a key that belongs to no certificate
#
# Exits non-zero, with openssl's message, if anything fails.
set -euo pipefail
dir=${1:?usage: tools/tls-certs.sh DIR}
mkdir -p "$dir"
cd "$dir"
export OPENSSL_CONF=/dev/null # no system defaults leak into the certificates

key() { openssl ecparam -genkey -name prime256v1 -noout -out "$1" 2>/dev/null
        chmod 600 "$1"; }

ca() { # name subject
    key "$1.key"
    openssl req -new -x509 -key "$1.key" -out "$1.crt" -days 3650 \
        -subj "/CN=$2" -addext basicConstraints=critical,CA:TRUE \
        -addext keyUsage=critical,keyCertSign,cRLSign
}

# An extensions file for one leaf certificate.
ext() { # san usage
    printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n'
    printf 'extendedKeyUsage=%s\n' "$2"
    [ -n "$1" ] && printf 'subjectAltName=%s\n' "$1"
    return 0
}

leaf() { # name ca subject san usage [startdate enddate]
    local name=$1 issuer=$2 subj=$3 san=$4 usage=$5
    key "$name.key"
    openssl req -new -key "$name.key" -out "$name.csr" -subj "/CN=$subj"
    ext "$san" "$usage" >"$name.ext"
    if [ $# -ge 7 ]; then
        # openssl ca is the one command of OpenSSL 3.0 that takes explicit
        # dates: a database and a config of its own, in a subdirectory.
        mkdir -p "ca-$name"
        : >"ca-$name/index.txt"
        printf '[ca]\ndefault_ca=d\n[d]\ndatabase=%s/index.txt\nnew_certs_dir=%s\nserial=%s/serial\ndefault_md=sha256\npolicy=p\nunique_subject=no\n[p]\ncommonName=supplied\n' \
            "ca-$name" "ca-$name" "ca-$name" >"ca-$name/ca.cnf"
        echo 01 >"ca-$name/serial"
        openssl ca -batch -notext -config "ca-$name/ca.cnf" -cert "$issuer.crt" \
            -keyfile "$issuer.key" -in "$name.csr" -out "$name.crt" \
            -startdate "$6" -enddate "$7" -extfile "$name.ext" 2>/dev/null
        rm -rf "ca-$name"
    else
        openssl x509 -req -in "$name.csr" -CA "$issuer.crt" -CAkey "$issuer.key" \
            -CAcreateserial -out "$name.crt" -days 825 -sha256 \
            -extfile "$name.ext" 2>/dev/null
    fi
    rm -f "$name.csr" "$name.ext"
}

names=DNS:localhost,IP:127.0.0.1,IP:::1
ca ca "redis-proxy test CA"
leaf server ca localhost "$names" serverAuth,clientAuth
leaf server2 ca localhost "$names" serverAuth,clientAuth
leaf client ca "redis-proxy test client" "" clientAuth
leaf expired ca localhost "$names" serverAuth,clientAuth \
    20200101000000Z 20200102000000Z
leaf other-name ca other.example DNS:other.example serverAuth
ca other-ca "redis-proxy other CA"
leaf stranger other-ca localhost "$names" serverAuth
leaf stranger-client other-ca "redis-proxy stranger" "" clientAuth
key mismatch.key
rm -f ./*.srl
