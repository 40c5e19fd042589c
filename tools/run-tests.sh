#!/usr/bin/env bash
# Runs Criterion test binaries one after another, prints each one's
# synthesis line and a total, and fails if any test failed or crashed.
# Usage: tools/run-tests.sh LABEL BINARY...
set -u
label=$1; shift
tested=0; passed=0; failed=0; status=0
# End-to-end runs: the harness records every proxy that did not exit 0 here.
export E2E_PROXY_FAILURES=${E2E_PROXY_FAILURES:-$(mktemp)}
: > "$E2E_PROXY_FAILURES"
for bin in "$@"; do
    out=$(mktemp)
    "$bin" --jobs "${TEST_JOBS:-2}" 2>&1 | tee "$out"
    rc=${PIPESTATUS[0]}
    line=$(grep -a 'Synthesis:' "$out" | tail -1)
    if [ -z "$line" ]; then
        echo "$label: $bin printed no synthesis line (exit $rc)" >&2
        status=1
    else
        t=$(sed -E 's/.*Tested: ([0-9]+).*/\1/' <<<"$line")
        p=$(sed -E 's/.*Passing: ([0-9]+).*/\1/' <<<"$line")
        tested=$((tested + t)); passed=$((passed + p)); failed=$((failed + t - p))
    fi
    [ "$rc" -ne 0 ] && status=1
    # A sanitizer report inside a Criterion test does not fail the test.
    if grep -aqE 'ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error:' "$out"; then
        echo "$label: $bin printed a sanitizer report" >&2
        status=1
    fi
    rm -f "$out"
done
if [ -s "$E2E_PROXY_FAILURES" ]; then
    echo "$label: a proxy under test exited badly (crash, hang or sanitizer report):" >&2
    cat "$E2E_PROXY_FAILURES" >&2
    status=1
fi
rm -f "$E2E_PROXY_FAILURES"
echo "$label: $passed passed, $failed failed"
exit $status
