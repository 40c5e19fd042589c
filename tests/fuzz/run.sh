#!/usr/bin/env bash
# Runs each libFuzzer harness for a bounded time on a scratch copy of its
# seed corpus, prints libFuzzer's last status line per target and fails if
# any harness crashed, leaked, timed out or tripped a check.
# Usage: tests/fuzz/run.sh SECONDS BUILD_DIR TARGET...
#   BUILD_DIR holds fuzz_TARGET binaries; BUILD_DIR/corpus/TARGET is the
#   working corpus (seeds from tests/fuzz/corpus/TARGET are copied in, and
#   what the fuzzer adds is kept between runs); crash inputs land in
#   BUILD_DIR/artifacts/, full logs in BUILD_DIR/TARGET.log.
set -u
seconds=$1; dir=$2; shift 2
here=$(cd "$(dirname "$0")" && pwd)
status=0

# N copies of character C.
rep() { head -c "$2" /dev/zero | tr '\0' "$1"; }

# Seeds at the size limits in src/ (and fuzz_resp's max_request), written
# into the working corpus only: the fuzzer grows inputs slowly and would take
# long to reach 8-16 KB, and the committed corpus stays a few KB. An array
# at RESP_MAX_ARGS is 7 MB, past max_len: its seed is the count line and the
# first arguments.
limit_seeds() {
    local c=$2 line='\r\nHost: h\r\n'
    case $1 in
    http)
        printf "GET /%s HTTP/1.1$line\r\n" "$(rep a 8191)" \
            >"$c/limit-target-8192"
        printf "GET /%s HTTP/1.1$line\r\n" "$(rep a 8192)" \
            >"$c/limit-target-8193"
        printf "GET / HTTP/1.1${line}X: %s\r\n\r\n" "$(rep v 16352)" \
            >"$c/limit-head-16384"
        { printf "GET / HTTP/1.1$line"
          for _ in $(seq 100); do printf 'X: y\r\n'; done
          printf '\r\n'; } >"$c/limit-fields-101" ;;
    resp)
        # fuzz_resp's max_request is 8192: one bulk, two summing, and two
        # commands at it back to back (the sum is per command). Those over
        # it carry their payload, so a broken limit would accept them.
        printf '*1\r\n$8192\r\n%s\r\n' "$(rep x 8192)" >"$c/limit-bulk-8192"
        printf '*1\r\n$8193\r\n%s\r\n' "$(rep x 8193)" >"$c/limit-bulk-8193"
        printf '*2\r\n$4096\r\n%s\r\n$4096\r\n%s\r\n' "$(rep x 4096)" \
            "$(rep y 4096)" >"$c/limit-sum-8192"
        printf '*2\r\n$4096\r\n%s\r\n$4097\r\n%s\r\n' "$(rep x 4096)" \
            "$(rep y 4097)" >"$c/limit-sum-8193"
        printf '*1\r\n$8192\r\n%s\r\n*1\r\n$8192\r\n%s\r\n' \
            "$(rep x 8192)" "$(rep y 8192)" >"$c/limit-sum-pipelined"
        # The pre-auth reading's bulk limit (16 KiB) at and over it.
        printf '*2\r\n$4\r\nAUTH\r\n$16384\r\n%s\r\n' "$(rep p 16384)" \
            >"$c/limit-preauth-bulk-16384"
        printf '*2\r\n$4\r\nAUTH\r\n$16385\r\n%s\r\n' "$(rep p 16385)" \
            >"$c/limit-preauth-bulk-16385"
        printf 'GET %s\n' "$(rep k 16380)" >"$c/limit-inline-16384"
        printf 'GET %s' "$(rep k 16390)" >"$c/limit-inline-over"
        printf '%s\r\n' "$(rep a 1023 | sed 's/a/a /g')a" \
            >"$c/limit-inline-words-1024"
        printf '%s\r\n' "$(rep a 1024 | sed 's/a/a /g')a" \
            >"$c/limit-inline-words-1025"
        { printf '*1048576\r\n'
          for _ in $(seq 1024); do printf '$1\r\na\r\n'; done
        } >"$c/limit-args-1048576"
        printf '*1048577\r\n' >"$c/limit-args-1048577" ;;
    esac
}

for t in "$@"; do
    corpus="$dir/corpus/$t"
    mkdir -p "$corpus" "$dir/artifacts"
    cp "$here/corpus/$t/"* "$corpus/"
    limit_seeds "$t" "$corpus"
    # Inputs may reach every size limit in src/ (16 KB heads and lines).
    case $t in
    config) max_len=8192 ;;
    *) max_len=20000 ;;
    esac
    echo "fuzz: $t for ${seconds}s"
    "$dir/fuzz_$t" -max_total_time="$seconds" -max_len="$max_len" \
        -timeout=25 -dict="$here/$t.dict" -print_final_stats=1 \
        -artifact_prefix="$dir/artifacts/$t-" "$corpus" >"$dir/$t.log" 2>&1
    rc=$?
    grep -aE '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE)' "$dir/$t.log" |
        tail -1 | sed "s/^/fuzz: $t: /"
    grep -aE '^stat::(number_of_executed_units|average_exec_per_sec)' \
        "$dir/$t.log" | sed "s/^/fuzz: $t: /"
    if [ "$rc" -ne 0 ]; then
        echo "fuzz: $t FAILED (exit $rc), see $dir/$t.log:" >&2
        grep -aE 'check failed|ERROR:|SUMMARY:|Test unit written' \
            "$dir/$t.log" | head -8 >&2
        echo "fuzz: reproduce with: $dir/fuzz_$t <crash file>" >&2
        status=1
    fi
done
exit $status
