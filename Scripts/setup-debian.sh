#!/usr/bin/env bash
# Installs what lstmd needs on a fresh Debian 12 machine: the C libraries it links (libzmq,
# OpenBLAS, zlib), systemd-analyze for the unit-file tests, and the Python package (Clients/python)
# with its test dependencies.
# Skips apt when everything is already there. Uses sudo only when not root.
set -euo pipefail

packages=(libzmq3-dev libopenblas-dev zlib1g-dev pkg-config systemd)
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The Python package (Clients/python: client and Keras/TF converter) with its test dependencies
# (pyzmq, numpy, h5py, pytest): CI runs `python3 -m pytest Clients/python/tests` after `swift build`.
if ! python3 -c 'import zmq, numpy, h5py, pytest, lstmd' 2>/dev/null; then
  echo "setup: installing the lstmd Python package and its test dependencies"
  package="$(cd "$(dirname "$0")/.." && pwd)/Clients/python[test]"
  python3 -m pip --version >/dev/null 2>&1 || { $sudo apt-get update -qq; DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-pip >/dev/null; }
  python3 -m pip install -q "$package" 2>/dev/null || python3 -m pip install -q --break-system-packages "$package"
fi
