#!/usr/bin/env bash
# Coverage-guided fuzzing (libFuzzer + AddressSanitizer) of every lstmd parser of outside bytes.
#
#   Scripts/fuzz.sh TARGET SECONDS [libFuzzer flags…]   one target: model snapshot ingest prediction
#                                                        control control-reply config idx
#   Scripts/fuzz.sh all SECONDS                          each target in turn, SECONDS each
#
# Builds Fuzz/ (a separate package; release, -sanitize=fuzzer,address), then runs each target from
# its committed seeds (Fuzz/corpus/TARGET, read only) plus a working corpus in
# Fuzz/.build/corpus/TARGET that grows across runs. A crash, leak, timeout (10 s an input) or out of
# memory (2 GiB) stops the target, leaves the input in Fuzz/.build/crashes/ and fails the script;
# make it a regression test in Tests/ before fixing it. Prints each target's executions and
# coverage from libFuzzer's final lines.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"

targets=(model snapshot ingest prediction control control-reply config idx)
if [[ $# -lt 2 ]]; then
    echo "usage: $0 TARGET|all SECONDS [libFuzzer flags…]   (targets: ${targets[*]})" >&2
    exit 2
fi
which=$1 seconds=$2
shift 2
if [[ $which == all ]]; then
    selected=("${targets[@]}")
elif [[ " ${targets[*]} " == *" $which "* ]]; then
    selected=("$which")
else
    echo "unknown target '$which' (targets: ${targets[*]})" >&2
    exit 2
fi

# SwiftPM passes the two sanitizers to swiftc as two -sanitize= flags in no fixed order, and swiftc
# keeps only the last: built "fuzzer, address" the Swift code had no coverage instrumentation (libFuzzer
# said "Is the code instrumented for coverage?"). One combined flag after them keeps both.
build=(swift build --package-path Fuzz -c release --sanitize fuzzer --sanitize address -Xswiftc -sanitize=fuzzer,address)
"${build[@]}" >&2
bin=$("${build[@]}" --show-bin-path)

failed=()
for target in "${selected[@]}"; do
    work=Fuzz/.build/corpus/$target crashes=Fuzz/.build/crashes
    mkdir -p "$work" "$crashes"
    log=Fuzz/.build/fuzz-$target.log
    echo "== fuzz-$target for ${seconds}s" >&2
    # Leak checks stay on except for config: Foundation's String(contentsOfFile:) and TOMLKit's
    # parser each leak a few hundred bytes on some malformed files (once per config load, not ours).
    leaks=1
    [[ $target == config ]] && leaks=0
    status=0
    # Swift's backtracer would read the crashed stack and trip AddressSanitizer over the real report.
    SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=$leaks "$bin/fuzz-$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$crashes/$target-" "$@" "$work" "Fuzz/corpus/$target" \
        > "$log" 2>&1 || status=$?
    # The last status line (#N … cov: … ft: …) and the run's totals.
    grep -E '^#[0-9]+' "$log" | tail -1 >&2 || true
    grep -E '^stat::(number_of_executed_units|peak_rss_mb)' "$log" >&2 || true
    if [[ $status -ne 0 ]]; then
        echo "fuzz-$target FAILED (exit $status); see $log and $crashes" >&2
        grep -E 'ERROR|Fatal error|fuzz property violated|SUMMARY' "$log" | head -5 >&2 || true
        failed+=("$target")
    fi
done
if [[ ${#failed[@]} -gt 0 ]]; then
    echo "crashes in: ${failed[*]}" >&2
    exit 1
fi
