#!/usr/bin/env bash
# Removes exactly what Scripts/install.sh installed, as listed in its manifest
# ($PREFIX/share/lstmd/install-manifest.txt). The config in /etc/lstmd stays unless --purge.
# Stream snapshots live in systemd's state directory; `systemctl clean --what=state lstmd` removes
# them (before uninstalling).
#
#   Scripts/uninstall.sh [--prefix /usr] [--destdir DIR] [--purge]
set -euo pipefail

usage() {
    cat <<'EOF'
usage: Scripts/uninstall.sh [options]

  --prefix PATH   the prefix given to install.sh (default: $PREFIX or /usr)
  --destdir DIR   the staging directory given to install.sh (default: $DESTDIR or none)
  --purge         also remove /etc/lstmd/lstmd.toml (and /etc/lstmd when it is then empty)
  -h, --help      this text
EOF
}

prefix="${PREFIX:-/usr}"
destdir="${DESTDIR:-}"
purge=0
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) prefix="${2:?--prefix needs a path}"; shift 2 ;;
        --destdir) destdir="${2:?--destdir needs a directory}"; shift 2 ;;
        --purge) purge=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "uninstall.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
    esac
done
prefix="${prefix%/}"
destdir="${destdir%/}"
manifest="$prefix/share/lstmd/install-manifest.txt"
if [ ! -f "$destdir$manifest" ]; then
    echo "uninstall.sh: no install manifest at $destdir$manifest (wrong --prefix or --destdir?)" >&2
    exit 1
fi

live=0
if [ -z "$destdir" ] && [ -d /run/systemd/system ]; then
    live=1
    systemctl disable --now lstmd.service 2>/dev/null || true
    systemctl stop 'lstmd@*.service' 2>/dev/null || true
fi

dirs=()
while read -r kind path; do
    case "$kind" in
        file) rm -f "$destdir$path" ;;
        config) if [ "$purge" = 1 ]; then rm -f "$destdir$path"; fi ;;
        dir) dirs+=("$path") ;;
        config-dir) if [ "$purge" = 1 ]; then dirs+=("$path"); fi ;;
        *) echo "uninstall.sh: ignoring unknown manifest entry '$kind $path'" >&2 ;;
    esac
done < "$destdir$manifest"
rm -f "$destdir$manifest"
for dir in "${dirs[@]}"; do
    if [ -d "$destdir$dir" ]; then rmdir --ignore-fail-on-non-empty "$destdir$dir"; fi
done

if [ "$live" = 1 ]; then systemctl daemon-reload; fi
echo "uninstalled lstmd from $destdir$prefix$( [ "$purge" = 1 ] && echo ' (config purged)')"
