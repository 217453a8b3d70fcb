#!/usr/bin/env bash
# The release build of lstmd: `swift build -c release` for this machine's CPU; see README, "The
# release build". Runs from the repository root wherever it is called from; arguments go on to
# swift build (--product, --package-path relative to the root, --show-bin-path, ...).
#
#   TARGET_CPU   LLVM CPU to build for: native (default), x86-64 for a binary that runs on any
#                x86-64 machine, or a name such as znver4.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec swift build -c release -Xswiftc -target-cpu -Xswiftc "${TARGET_CPU:-native}" "$@"
