#!/usr/bin/env bash
# Builds lstmd, lstm-train and lstm-client and installs them with the systemd units, the default
# config and the docs. Every installed file is listed in $PREFIX/share/lstmd/install-manifest.txt,
# which Scripts/uninstall.sh reads.
#
#   Scripts/install.sh [--prefix /usr] [--destdir DIR] [--no-build [--build-dir DIR]]
#
# PREFIX and DESTDIR may also come from the environment (as with make install).
set -euo pipefail

usage() {
    cat <<'EOF'
usage: Scripts/install.sh [options]

  --prefix PATH      install under PATH (default: $PREFIX or /usr): PATH/bin, PATH/share/lstmd,
                     PATH/share/lstm-client, PATH/share/doc/lstmd, PATH/lib/systemd/system
  --destdir DIR      stage the install under DIR (default: $DESTDIR or none), for packaging
  --no-build         do not build; install the binaries found in the build directory
  --build-dir DIR    where the built binaries are (default: the release build directory)
  -h, --help         this text

The config goes to /etc/lstmd/lstmd.toml and is never overwritten. Without --no-build the binaries
are built by Scripts/build-release.sh with --static-swift-stdlib, so they need only libzmq5,
libopenblas0 and zlib1g at run time, not the Swift toolchain. That build is for this machine's
CPU: set TARGET_CPU=x86-64 for binaries that run on any x86-64 machine.
EOF
}

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
prefix="${PREFIX:-/usr}"
destdir="${DESTDIR:-}"
build=1
build_dir=""
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) prefix="${2:?--prefix needs a path}"; shift 2 ;;
        --destdir) destdir="${2:?--destdir needs a directory}"; shift 2 ;;
        --no-build) build=0; shift ;;
        --build-dir) build_dir="${2:?--build-dir needs a directory}"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "install.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
    esac
done
case "$prefix" in
    /*) prefix="${prefix%/}" ;;
    *) echo "install.sh: --prefix must be an absolute path, got '$prefix'" >&2; exit 2 ;;
esac
destdir="${destdir%/}"

if [ "$build" = 1 ]; then
    (cd "$root" && Scripts/build-release.sh --static-swift-stdlib)
    build_dir="$(cd "$root" && Scripts/build-release.sh --static-swift-stdlib --show-bin-path)"
elif [ -z "$build_dir" ]; then
    build_dir="$root/.build/release"
fi
for binary in lstmd lstm-train lstm-client; do
    if [ ! -x "$build_dir/$binary" ]; then
        echo "install.sh: $build_dir/$binary is missing; build first or pass --build-dir" >&2
        exit 1
    fi
done

bindir="$prefix/bin"
datadir="$prefix/share/lstmd"
docdir="$prefix/share/doc/lstmd"
unitdir="$prefix/lib/systemd/system"
# systemd's ConfigurationDirectory= is always under /etc, whatever the prefix.
confdir="/etc/lstmd"
manifest="$datadir/install-manifest.txt"
entries=()

# install_file MODE SOURCE TARGET [KIND]: copies SOURCE to $DESTDIR/TARGET and records TARGET.
install_file() {
    install -D -m "$1" "$2" "$destdir$3"
    entries+=("${4:-file} $3")
}

# Unit files and docs name the /usr paths; point them at the chosen prefix.
relocate() {
    sed -e "s|/usr/bin/lstmd|$bindir/lstmd|g" \
        -e "s|/usr/share/doc/lstmd|$docdir|g" \
        -e "s|/usr/share/lstmd|$datadir|g" "$1"
}
staged="$(mktemp -d)"
trap 'rm -rf "$staged"' EXIT

for binary in lstmd lstm-train lstm-client; do
    install_file 0755 "$build_dir/$binary" "$bindir/$binary"
done

# The default model: from the build's resource bundle, else from the source tree; none yet is fine.
model=""
for candidate in "$build_dir/lstmd_LSTMDefaultModel.resources/default-model.safetensors" \
                 "$root/Sources/LSTMDefaultModel/Resources/default-model.safetensors"; do
    if [ -f "$candidate" ]; then model="$candidate"; break; fi
done
if [ -n "$model" ]; then
    install_file 0644 "$model" "$datadir/default-model.safetensors"
else
    echo "install.sh: no default model found; set 'model' in $confdir/lstmd.toml" >&2
fi

# lstm-client's 50 built-in MNIST digits, where it looks for them ($PREFIX/share/lstm-client).
clientdir="$prefix/share/lstm-client"
for digits in mnist-t10k-50-images-idx3-ubyte.gz mnist-t10k-50-labels-idx1-ubyte.gz; do
    source_file="$build_dir/lstmd_lstm-client.resources/$digits"
    [ -f "$source_file" ] || source_file="$root/Sources/lstm-client/Resources/$digits"
    install_file 0644 "$source_file" "$clientdir/$digits"
done

for unit in lstmd.service lstmd@.service; do
    relocate "$root/Systemd/$unit" > "$staged/$unit"
    install_file 0644 "$staged/$unit" "$unitdir/$unit"
done

relocate "$root/Systemd/README.md" > "$staged/README.md"
install_file 0644 "$staged/README.md" "$docdir/README.md"
for doc in control-protocol.md stream-protocol.md; do
    install_file 0644 "$root/Protocols/$doc" "$docdir/$doc"
done

# The config belongs to the operator: install it only when there is none.
relocate "$root/Systemd/lstmd.toml" > "$staged/lstmd.toml"
if [ -e "$destdir$confdir/lstmd.toml" ]; then
    echo "install.sh: keeping the existing $confdir/lstmd.toml (the new default is in $docdir/lstmd.toml.default)"
else
    install -D -m 0644 "$staged/lstmd.toml" "$destdir$confdir/lstmd.toml"
fi
entries+=("config $confdir/lstmd.toml")
install_file 0644 "$staged/lstmd.toml" "$docdir/lstmd.toml.default"

# Directories that are lstmd's own, removed by uninstall.sh when empty.
entries+=("dir $docdir" "dir $clientdir" "dir $datadir" "config-dir $confdir")
mkdir -p "$destdir$datadir"
printf '%s\n' "${entries[@]}" > "$destdir$manifest"

echo "installed lstmd under $destdir$prefix (manifest: $destdir$manifest)"
if [ -z "$destdir" ] && [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    echo "next: edit $confdir/lstmd.toml, then: systemctl enable --now lstmd"
fi
