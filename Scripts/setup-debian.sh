#!/usr/bin/env bash
# Installs what lstmd needs on a fresh Debian 12 machine: the C libraries it links (libzmq,
# OpenBLAS, zlib), systemd-analyze for the unit-file tests, and pyzmq for the Python example client.
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

if ! python3 -c 'import zmq' 2>/dev/null; then
  echo "setup: installing pyzmq for the Python example client"
  python3 -m pip install -q pyzmq 2>/dev/null || python3 -m pip install -q --break-system-packages pyzmq
fi
