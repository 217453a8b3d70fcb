#!/usr/bin/env bash
# Training benchmark: lstm-train against PyTorch (nn.LSTM on CPU) on the same machine, in the same
# session, at the same settings: 128 units, batch 128, Adam 1e-3, 2 threads, EPOCHS epochs.
# Prints a Markdown table of seconds per epoch (and their ratio) and test accuracy per epoch, with how
# much of the machine other processes used meanwhile. Runs: lstm-train, PyTorch, lstm-train again.
#
# Usage: Scripts/bench-train.sh            (from the repository root)
# Environment: LSTMD_MNIST_DIR (default ../shared/data/mnist), EPOCHS (default 3),
#              PEERS (default ../shared/peers), VENV (default /tmp/peers-venv),
#              PEERS_OUT (default /tmp/peers-results), SKIP_BUILD=1 to reuse .build/release.
set -euo pipefail

cd "$(dirname "$0")/.."
DATA="${LSTMD_MNIST_DIR:-$(pwd)/../shared/data/mnist}"
EPOCHS="${EPOCHS:-3}"
PEERS="${PEERS:-$(pwd)/../shared/peers}"
VENV="${VENV:-/tmp/peers-venv}"
export PEERS_OUT="${PEERS_OUT:-/tmp/peers-results}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

[ -f "$DATA/train-images-idx3-ubyte.gz" ] || { echo "MNIST not found in $DATA (set LSTMD_MNIST_DIR)" >&2; exit 1; }
[ -f "$PEERS/torch_lstm_train.py" ] || { echo "torch_lstm_train.py not found in $PEERS (set PEERS)" >&2; exit 1; }
[ -f "$VENV/bin/activate" ] || { echo "Python venv with torch not found at $VENV (set VENV)" >&2; exit 1; }

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    Scripts/build-release.sh --product lstm-train >&2
fi

# shellcheck disable=SC1091
. "$VENV/bin/activate"
mkdir -p "$PEERS_OUT"

# lstm-train runs under the peers' CpuMonitor too, so both sides report how busy the machine was.
run_ours() {
    echo "lstm-train: $EPOCHS epochs, 128 units, batch 128, lr 1e-3, 2 threads" >&2
    PYTHONPATH="$PEERS" python3 - "$1" "$DATA" "$EPOCHS" "$WORK/bench.safetensors" <<'PY'
import subprocess, sys
import anchors_common as common
log, data, epochs, out = sys.argv[1:]
with common.CpuMonitor() as monitor, open(log, "w") as f:
    subprocess.run([".build/release/lstm-train", "train", "--data", data, "--hidden-units", "128", "--epochs", epochs,
                    "--batch-size", "128", "--lr", "1e-3", "--seed", "1", "--threads", "2", "--out", out],
                   stdout=f, check=True)
with open(log, "a") as f:
    f.write(f"foreign_cpu_share {monitor.result['foreign_cpu_share']}\n")
PY
    grep -E '^epoch [0-9]*:|^foreign' "$1" >&2
}

# Alternate: ours, PyTorch, ours again (the machine is shared; medians over both of our runs).
run_ours "$WORK/ours1.txt"
echo "PyTorch: torch_lstm_train.py --threads 2 --min-epochs $EPOCHS --max-epochs $EPOCHS --sweep ''" >&2
MNIST_DIR="$DATA" python3 "$PEERS/torch_lstm_train.py" --threads 2 --min-epochs "$EPOCHS" --max-epochs "$EPOCHS" \
    --sweep '' --quiet-wait-s 0 --save-state '' --out "$WORK/torch.json" > /dev/null
run_ours "$WORK/ours2.txt"

python3 - "$WORK/ours1.txt" "$WORK/ours2.txt" "$WORK/torch.json" <<'PY'
import json, re, statistics, sys

def ours(path):
    epochs, foreign = [], None
    for line in open(path):
        m = re.match(r"epoch (\d+): ([\d.]+) s, .*test accuracy ([\d.]+) %", line)
        if m:
            epochs.append((int(m.group(1)), float(m.group(2)), float(m.group(3))))
        if line.startswith("foreign_cpu_share"):
            foreign = float(line.split()[1])
    return epochs, foreign

(first, load1), (second, load2) = ours(sys.argv[1]), ours(sys.argv[2])
torch = json.load(open(sys.argv[3]))["main_h128"]["epochs"]
print(f"Other processes' share of the machine: lstm-train run 1 {100 * load1:.0f} %, run 2 {100 * load2:.0f} %; PyTorch per epoch below.")
print()
print("| epoch | lstm-train run 1 (s) | lstm-train run 2 (s) | PyTorch (s) | lstm-train (mean of runs) / PyTorch | lstm-train test acc | PyTorch test acc | other load, PyTorch epoch |")
print("|---:|---:|---:|---:|---:|---:|---:|---:|")
for (epoch, s1, accuracy), (_, s2, _), t in zip(first, second, torch):
    print(f"| {epoch} | {s1:.2f} | {s2:.2f} | {t['train_s']:.2f} | {(s1 + s2) / 2 / t['train_s']:.2f} | {accuracy:.2f} % "
          f"| {100 * t['test_acc']:.2f} % | {100 * t['foreign_cpu_share']:.0f} % |")
mo = statistics.median([s for _, s, _ in first] + [s for _, s, _ in second])
mt = statistics.median(t["train_s"] for t in torch)
print(f"| median | {mo:.2f} (both runs) | | {mt:.2f} | {mo / mt:.2f} | | | |")
PY
