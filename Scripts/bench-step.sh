#!/usr/bin/env bash
# Row-step throughput of lstmd's LSTMStepper (its own kernels) beside the same step through
# OpenBLAS (the path lstmd used before, measured in step-bench only) and PyTorch, all on one
# thread, for the peer's model shape (I=28, H=128, C=10). Runs Benchmarks' step-bench (release) and
# ../shared/peers/torch_lstm_stream.py alternately, ROUNDS times each, and prints a Markdown table
# of median rows/s per batch size with the ratios, the OpenBLAS kernel the machine picked
# (openblas_get_corename; OPENBLAS_CORETYPE decides it when set) and one core's measured FP32 peak.
#
#   Scripts/bench-step.sh            ROUNDS=2 BATCHES=1,8,64,256,1024 MIN_TIME=1.0 REPS=5
# Builds with Scripts/build-release.sh (for this machine's CPU); TARGET_CPU=x86-64 measures the
# portable build.
# Needs the peers venv (VENV, default /tmp/peers-venv) with torch. Results: $OUT (a temp dir).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PEER="${PEER:-$ROOT/../shared/peers/torch_lstm_stream.py}"
VENV="${VENV:-/tmp/peers-venv}"
ROUNDS="${ROUNDS:-2}"
BATCHES="${BATCHES:-1,8,64,256,1024}"
MIN_TIME="${MIN_TIME:-1.0}"
REPS="${REPS:-5}"
OUT="${OUT:-$(mktemp -d /tmp/lstmd-bench-step.XXXXXX)}"
mkdir -p "$OUT"

[[ -f "$PEER" ]] || { echo "peer script not found: $PEER" >&2; exit 1; }
[[ -x "$VENV/bin/python" ]] || { echo "python venv not found: $VENV" >&2; exit 1; }

"$ROOT/Scripts/build-release.sh" --package-path "$ROOT/Benchmarks" --product step-bench >&2
BENCH="$("$ROOT/Scripts/build-release.sh" --package-path "$ROOT/Benchmarks" --show-bin-path)/step-bench"

for round in $(seq 1 "$ROUNDS"); do
    echo "round $round/$ROUNDS: lstmd step-bench" >&2
    "$BENCH" --batches "$BATCHES" --min-time "$MIN_TIME" --reps "$REPS" --json > "$OUT/lstmd-$round.json"
    echo "round $round/$ROUNDS: PyTorch peer" >&2
    # The peer also measures latency and whole-image runs; keep those short, they are not compared.
    PEERS_OUT="$OUT" "$VENV/bin/python" "$PEER" --threads 1 --batches "$BATCHES" --min-time "$MIN_TIME" \
        --reps "$REPS" --lat-steps 2000 --b1-images 200 --out "$OUT/torch-$round.json" > "$OUT/torch-$round.log"
done

"$VENV/bin/python" - "$OUT" "$ROUNDS" <<'PY'
import json, os, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
ours, blas, theirs, peaks, cores = {}, {}, {}, [], set()
for r in range(1, rounds + 1):
    report = json.load(open(f"{out}/lstmd-{r}.json"))
    peaks.append(report["peak_gflops"])
    cores.add(report["openblas_corename"])
    for row in report["results"]:
        (ours if row["path"] == "kernels" else blas).setdefault(row["batch"], []).append(row)
    for row in json.load(open(f"{out}/torch-{r}.json"))["by_threads"]["1"]["b_batched_steps"]:
        theirs.setdefault(row["batch"], []).append(row)
flops = json.load(open(f"{out}/lstmd-1.json"))["flops_per_row_step"]
peak = statistics.median(peaks)
med = lambda rows, key: statistics.median(row[key] for row in rows) if rows else float("nan")
print(f"Row steps, I=28 H=128 C=10, one thread, median of {rounds} alternating rounds (results in {out}),")
print(f"lstmd built by Scripts/build-release.sh for target CPU {os.environ.get('TARGET_CPU', 'native')}.")
print(f"OpenBLAS kernel: {', '.join(sorted(cores))} (OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'unset')}); "
      f"one core's FP32 peak with separate multiply and add: {peak:.1f} GFLOP/s (step-bench's register loop, CPU time).")
print("% peak: the kernels' GFLOP/s per CPU-second of the step-bench thread against that peak.")
print("Foreign CPU: share of the 2 cores other processes used during the runs (0 = quiet).\n")
print("| B | lstmd rows/s | lstmd GFLOP/s | % peak | OpenBLAS path rows/s | lstmd / OpenBLAS | PyTorch rows/s | lstmd / PyTorch | foreign CPU lstmd / PyTorch |")
print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for b in sorted(ours):
    o, t = med(ours[b], "rows_per_s_median"), med(theirs.get(b), "rows_per_s_median")
    ob = med(blas.get(b), "rows_per_s_median")
    cpu = med(ours[b], "rows_per_cpu_s_median")
    fo, ft = med(ours[b], "foreign_cpu_share"), med(theirs.get(b), "foreign_cpu_share")
    print(f"| {b} | {o:,.0f} | {o * flops / 1e9:.1f} | {100 * cpu * flops / 1e9 / peak:.0f} % | {ob:,.0f} | {o / ob:.2f}× | "
          f"{t:,.0f} | {o / t:.2f}× | {fo:.2f} / {ft:.2f} |")
PY
