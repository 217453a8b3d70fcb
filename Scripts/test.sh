#!/usr/bin/env bash
# The whole test suite, as CI runs it (after Scripts/setup-debian.sh): the Swift tests, the DocC
# documentation of the embedder's libraries (no warnings), the kernels built with the other register
# block, the Python package's tests against a real lstmd, the embedding example (a separate package
# using only the public API), and a short run of every fuzz target from its committed seeds.
# Runs with whatever OPENBLAS_CORETYPE the machine sets: the inference kernels do not depend on it.
#
#   Scripts/test.sh            everything (FUZZ_SECONDS=10 per fuzz target; 0 skips fuzzing)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"

swift build --build-tests
swift test --skip-build
Scripts/build-docs.sh
# The AVX-512 register block (what Scripts/build-release.sh selects on such CPUs) must give the
# same bits as the default one: its invariance and fixture tests, built with it.
swift build --build-tests -Xswiftc -DLSTMD_AVX512_REGISTER_BLOCK --scratch-path .build-wide
swift test --skip-build --scratch-path .build-wide --filter 'BatchInvarianceTests|StepperTests|ConvertedModelTests'
python3 -m pytest -q Clients/python/tests
swift run --package-path Examples/embed
if [[ ${FUZZ_SECONDS:-10} -gt 0 ]]; then
    Scripts/fuzz.sh all "${FUZZ_SECONDS:-10}"
fi
