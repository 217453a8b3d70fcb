#!/usr/bin/env bash
# Training benchmark: lstm-train against PyTorch (nn.LSTM on CPU) on the same machine, in the same
# session, at the same settings: 128 units, batch 128, Adam 1e-3, 2 threads, EPOCHS epochs.
# Prints a Markdown table of seconds per epoch (and their ratio) and test accuracy per epoch.
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
    swift build -c release --product lstm-train >&2
fi

echo "lstm-train: $EPOCHS epochs, 128 units, batch 128, lr 1e-3, 2 threads" >&2
.build/release/lstm-train train --data "$DATA" --hidden-units 128 --epochs "$EPOCHS" --batch-size 128 \
    --lr 1e-3 --seed 1 --threads 2 --out "$WORK/bench.safetensors" | grep '^epoch [0-9]*:' | tee "$WORK/ours.txt" >&2

echo "PyTorch: torch_lstm_train.py --threads 2 --min-epochs $EPOCHS --max-epochs $EPOCHS --sweep ''" >&2
# shellcheck disable=SC1091
. "$VENV/bin/activate"
mkdir -p "$PEERS_OUT"
MNIST_DIR="$DATA" python3 "$PEERS/torch_lstm_train.py" --threads 2 --min-epochs "$EPOCHS" --max-epochs "$EPOCHS" \
    --sweep '' --quiet-wait-s 0 --save-state '' --out "$WORK/torch.json" > /dev/null

python3 - "$WORK/ours.txt" "$WORK/torch.json" <<'PY'
import json, re, statistics, sys
ours = []
for line in open(sys.argv[1]):
    m = re.match(r"epoch (\d+): ([\d.]+) s, .*test accuracy ([\d.]+) %", line)
    if m:
        ours.append((int(m.group(1)), float(m.group(2)), float(m.group(3))))
torch = json.load(open(sys.argv[2]))["main_h128"]["epochs"]
print("| epoch | lstm-train (s) | PyTorch (s) | lstm-train / PyTorch | lstm-train test acc | PyTorch test acc | other load during PyTorch epoch |")
print("|---:|---:|---:|---:|---:|---:|---:|")
for (epoch, seconds, accuracy), t in zip(ours, torch):
    print(f"| {epoch} | {seconds:.2f} | {t['train_s']:.2f} | {seconds / t['train_s']:.2f} | {accuracy:.2f} % | {100 * t['test_acc']:.2f} % | {100 * t['foreign_cpu_share']:.0f} % |")
mo = statistics.median(s for _, s, _ in ours)
mt = statistics.median(t["train_s"] for t in torch)
print(f"| median | {mo:.2f} | {mt:.2f} | {mo / mt:.2f} | | | |")
PY
