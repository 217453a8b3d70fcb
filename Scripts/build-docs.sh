#!/usr/bin/env bash
# DocC documentation of the engine (LSTMStreaming: its API and the "Embedding the engine" article)
# with the toolchain's own docc, no swift-docc-plugin: builds, extracts the module's public symbols,
# converts the catalog, and fails on any warning (e.g. a link to a symbol that does not exist).
#
#   Scripts/build-docs.sh [OUTPUT_DIR]     (default .build/docs/LSTMStreaming.doccarchive)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
output="${1:-.build/docs/LSTMStreaming.doccarchive}"
mkdir -p "$(dirname "$output")"
symbols="$(mktemp -d)"
trap 'rm -rf "$symbols"' EXIT
swift build --target LSTMStreaming
modules="$(swift build --show-bin-path)/Modules"
swift-symbolgraph-extract -module-name LSTMStreaming -I "$modules" \
    -Xcc -fmodule-map-file=Sources/CBLAS/module.modulemap -Xcc -fmodule-map-file=Sources/CZlib/module.modulemap \
    -target "$(uname -m)-unknown-linux-gnu" -minimum-access-level public -output-dir "$symbols"
log="$(docc convert Sources/LSTMStreaming/LSTMStreaming.docc --additional-symbol-graph-dir "$symbols" \
    --fallback-display-name LSTMStreaming --fallback-bundle-identifier lstmd.LSTMStreaming \
    --output-path "$output" --analyze 2>&1)" || { echo "$log" >&2; exit 1; }
if grep -q "warning\|error" <<<"$log"; then echo "$log" >&2; exit 1; fi
echo "documentation in $output"
