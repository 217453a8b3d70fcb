#!/usr/bin/env bash
# The release build of lstmd: `swift build -c release` for this machine's CPU and without Swift's
# dynamic exclusivity checks. Debug builds, and so the tests, keep the checks; see README,
# "The release build". Arguments go on to swift build (--product, --package-path, --show-bin-path,
# --static-swift-stdlib, ...).
#
#   TARGET_CPU   LLVM CPU to build for: native (default), x86-64 for a binary that runs on any
#                x86-64 machine, or a name such as znver4.
#   EXCLUSIVITY  unchecked (default) or checked.
set -euo pipefail
exec swift build -c release -Xswiftc -target-cpu -Xswiftc "${TARGET_CPU:-native}" \
    -Xswiftc "-enforce-exclusivity=${EXCLUSIVITY:-unchecked}" "$@"
