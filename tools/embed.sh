#!/usr/bin/env bash
# Turns a file into a C source defining `const char NAME[]` (NUL-terminated)
# and `const unsigned long NAME_len`, so the binary carries it.
# Usage: tools/embed.sh FILE NAME > OUT.c
set -euo pipefail
file=$1; name=$2
echo "/* Generated from $file by tools/embed.sh; do not edit. */"
echo "const char ${name}[] = {"
# Bytes over 0x7f are cast: a plain char may be signed.
od -An -v -tx1 "$file" | sed -E 's/ ([0-9a-f]{2})/(char)0x\1,/g'
echo "0x00};"
echo "const unsigned long ${name}_len = sizeof(${name}) - 1;"
