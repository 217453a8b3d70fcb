#!/usr/bin/env bash
# Converts the Keras and TF 1 fixtures (made by keras-make-fixtures.py and tf1-make-fixtures.py) to
# lstmd model files with the Python package's converter. The outputs are committed: the Swift tests
# run lstmd's engine on them, and Clients/python/tests checks they are what the converter produces.
# The `-o` outputs below are the list of converted fixtures the Python and Swift tests run.
# Usage, from the repository root, with numpy and h5py installed: Tests/Fixtures/convert-fixtures.sh
set -euo pipefail
cd "$(dirname "$0")"
convert() { PYTHONPATH=../../Clients/python/src python3 -m lstmd.convert "$@"; }
convert keras keras-lstm1-h20.keras -o keras-lstm1-h20.safetensors
convert keras keras-lstm2-h18.keras -o keras-lstm2-h18.safetensors
convert tf1 tf1-basic-h11.npz -o tf1-basic-h11.safetensors --forget-bias 1.0
convert tf1 tf1-basic-fb0-h13.npz -o tf1-basic-fb0-h13.safetensors --forget-bias 0.0
convert tf1 tf1-multi-h9.npz -o tf1-multi-h9.safetensors --forget-bias 0.0 --dense-kernel Variable --dense-bias Variable_1
