#!/usr/bin/env bash
# Soak test of a release lstmd: mixed traffic over every socket for MINUTES (default 30) from
# Scripts/soak.py — valid closed-loop streams over PUB and DEALER whose FINALs are checked bit for bit,
# malformed messages, slow subscribers and DEALERs, drops, reloads, SIGHUPs — with lstmd's RSS, the
# latency percentiles and the error counts sampled every 10 s into OUT/samples.csv, drawn in
# OUT/soak.svg, summed up in OUT/summary.json. Exits 1 when a FINAL was wrong or lost, a valid stream
# got an ERROR, lstmd died, or its RSS kept growing (last fifth of the run against the middle fifth).
#
#   Scripts/soak.sh [MINUTES]          OUT=/tmp/lstmd-soak.XXXXXX STREAMS=48 (per path)
# Needs pyzmq (Scripts/setup-debian.sh installs it). Builds with Scripts/build-release.sh.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MINUTES="${1:-30}"
STREAMS="${STREAMS:-48}"
OUT="${OUT:-$(mktemp -d /tmp/lstmd-soak.XXXXXX)}"
mkdir -p "$OUT/models" "$OUT/state"

"$ROOT/Scripts/build-release.sh" --package-path "$ROOT" >&2
BIN="$("$ROOT/Scripts/build-release.sh" --package-path "$ROOT" --show-bin-path)"

# Two files with the default model's weights and different SHA-256 (another `created` stamp): a
# reload between them starts new streams on a new generation whose predictions must not differ.
python3 - "$ROOT/Sources/LSTMDefaultModel/Resources/default-model.safetensors" "$OUT/models" <<'EOF'
import json, shutil, struct, sys
source, directory = sys.argv[1], sys.argv[2]
shutil.copyfile(source, f"{directory}/a.safetensors")
data = open(source, "rb").read()
length = struct.unpack("<Q", data[:8])[0]
header = json.loads(data[8:8 + length])
header["__metadata__"]["created"] = "2000-01-01T00:00:00Z"
encoded = json.dumps(header, separators=(",", ":")).encode()
encoded += b" " * (-len(encoded) % 8)
open(f"{directory}/b.safetensors", "wb").write(struct.pack("<Q", len(encoded)) + encoded + data[8 + length:])
EOF

endpoints=(--ingest "ipc://$OUT/ingest" --predictions "ipc://$OUT/predictions"
           --control "ipc://$OUT/control" --results "ipc://$OUT/results")
"$BIN/lstmd" "${endpoints[@]}" --model "$OUT/models/a.safetensors" --model-dir "$OUT/models" \
  --state-dir "$OUT/state" --snapshot-interval 5 --idle-timeout 60 2> "$OUT/lstmd.log" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do "$BIN/lstm-client" ping --control "ipc://$OUT/control" >/dev/null 2>&1 && break; sleep 0.1; done

status=0
python3 "$ROOT/Scripts/soak.py" --pid "$pid" --ingest "ipc://$OUT/ingest" --predictions "ipc://$OUT/predictions" \
  --control "ipc://$OUT/control" --results "ipc://$OUT/results" \
  --models "$OUT/models/a.safetensors" "$OUT/models/b.safetensors" \
  --seconds "$((MINUTES * 60))" --streams "$STREAMS" --out "$OUT" || status=$?
kill -TERM "$pid" 2>/dev/null && wait "$pid" || true
trap - EXIT
echo "soak results in $OUT (lstmd's log: $OUT/lstmd.log)" >&2
exit "$status"
