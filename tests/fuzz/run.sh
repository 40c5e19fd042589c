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
mkdir -p "$dir/artifacts"
for t in "$@"; do
    corpus="$dir/corpus/$t"
    mkdir -p "$corpus"
    cp "$here/corpus/$t/"* "$corpus/"
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
