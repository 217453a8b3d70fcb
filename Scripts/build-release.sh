#!/usr/bin/env bash
# The release build of lstmd: `swift build -c release` for this machine's CPU; see README, "The
# release build". Runs from the repository root wherever it is called from; arguments go on to
# swift build (--product, --package-path relative to the root, --show-bin-path, ...).
#
#   TARGET_CPU   LLVM CPU to build for: native (default), x86-64 for a binary that runs on any
#                x86-64 machine, or a name such as znver4.
#
# For a CPU with AVX-512 (native: avx512f in /proc/cpuinfo; a named CPU: one of the AVX-512 names
# below) it also passes -DLSTMD_AVX512_REGISTER_BLOCK, the row-step kernels' register block for 32
# vector registers (README, "The kernels"); any other build keeps the 16-register block. Both give
# the same bits.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cpu="${TARGET_CPU:-native}"

has_avx512() {
    case "$1" in
        native) grep -qw avx512f /proc/cpuinfo 2>/dev/null ;;
        x86-64-v4|skylake-avx512|cascadelake|cooperlake|cannonlake|icelake-client|icelake-server|\
        tigerlake|rocketlake|sapphirerapids|emeraldrapids|graniterapids|graniterapids-d|\
        znver4|znver5|knl|knm) true ;;
        *) false ;;
    esac
}

flags=(-Xswiftc -target-cpu -Xswiftc "$cpu")
if has_avx512 "$cpu"; then flags+=(-Xswiftc -DLSTMD_AVX512_REGISTER_BLOCK); fi
exec swift build -c release "${flags[@]}" "$@"
