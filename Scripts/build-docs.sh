#!/usr/bin/env bash
# DocC documentation of the library products an embedder uses (the engine LSTMStreaming with its
# "Embedding the engine" article, WireProtocol, which ships with it, LSTMCore, MNIST and
# LSTMDefaultModel), with the toolchain's own docc, no swift-docc-plugin: builds, extracts each
# module's public symbols, converts its catalog, and fails on any warning (e.g. a link to a symbol
# that does not exist).
#
#   Scripts/build-docs.sh [OUTPUT_DIR]     (default .build/docs: one MODULE.doccarchive per module)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
modules=(LSTMStreaming WireProtocol LSTMCore MNIST LSTMDefaultModel)
output="${1:-.build/docs}"
mkdir -p "$output"
symbols="$(mktemp -d)"
trap 'rm -rf "$symbols"' EXIT
# LSTMStreaming's build includes WireProtocol and LSTMCore.
for target in LSTMStreaming MNIST LSTMDefaultModel; do
    log="$(swift build --target "$target" 2>&1)" || { echo "$log" >&2; exit 1; }
done
built="$(swift build --show-bin-path)/Modules"
for module in "${modules[@]}"; do
    mkdir -p "$symbols/$module"
    # MNIST's module imports the zlib shim's clang module, so its map must be found.
    swift-symbolgraph-extract -module-name "$module" -I "$built" \
        -Xcc -fmodule-map-file=Sources/CZlib/module.modulemap \
        -target "$(uname -m)-unknown-linux-gnu" -minimum-access-level public -output-dir "$symbols/$module"
done
# docc spends most of its 2 s per module waiting, not computing: the five run at once.
declare -A conversions
for module in "${modules[@]}"; do
    docc convert "Sources/$module/$module.docc" --additional-symbol-graph-dir "$symbols/$module" \
        --fallback-display-name "$module" --fallback-bundle-identifier "lstmd.$module" \
        --output-path "$output/$module.doccarchive" --warnings-as-errors >"$symbols/$module.log" 2>&1 &
    conversions[$module]=$!
done
failed=0
for module in "${modules[@]}"; do
    if ! wait "${conversions[$module]}" || grep -q "warning\|error" "$symbols/$module.log"; then
        cat "$symbols/$module.log" >&2
        failed=1
    fi
done
[[ $failed == 0 ]] || exit 1
echo "documentation in $output: ${modules[*]/%/.doccarchive}"
