#!/usr/bin/env bash
# End-to-end benchmark of lstmd over tcp on 127.0.0.1, beside the engine alone and raw ZeroMQ, in
# one run: for 1, 64 and 1,024 concurrent streams (closed loop: a stream sends its next row when the
# previous row's prediction arrived), rows/s and the row-to-prediction latency from lstm-client
# bench; the engine-only rate at the same stream counts (Benchmarks' engine-bench); and PUSH→PULL
# msg/s and the REQ↔REP round trip from ../shared/peers/zmq_loopback.py. Prints a Markdown table.
#
#   Scripts/bench-daemon.sh            DURATION=5 STREAMS="1 64 1024" VENV=/tmp/peers-venv
# Builds with Scripts/build-release.sh (TARGET_CPU passes through).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PEER="${PEER:-$ROOT/../shared/peers/zmq_loopback.py}"
VENV="${VENV:-/tmp/peers-venv}"
DURATION="${DURATION:-5}"
STREAMS="${STREAMS:-1 64 1024}"
OUT="${OUT:-$(mktemp -d /tmp/lstmd-bench-daemon.XXXXXX)}"
PORT_BASE="${PORT_BASE:-25555}"
mkdir -p "$OUT"

[[ -f "$PEER" ]] || { echo "peer script not found: $PEER" >&2; exit 1; }
[[ -x "$VENV/bin/python" ]] || { echo "python venv with pyzmq not found: $VENV" >&2; exit 1; }

"$ROOT/Scripts/build-release.sh" --package-path "$ROOT" >&2
BIN="$("$ROOT/Scripts/build-release.sh" --package-path "$ROOT" --show-bin-path)"
"$ROOT/Scripts/build-release.sh" --package-path "$ROOT/Benchmarks" --product engine-bench >&2
ENGINE="$("$ROOT/Scripts/build-release.sh" --package-path "$ROOT/Benchmarks" --show-bin-path)/engine-bench"

ingest="tcp://127.0.0.1:$PORT_BASE"
predictions="tcp://127.0.0.1:$((PORT_BASE + 1))"
control="tcp://127.0.0.1:$((PORT_BASE + 2))"
results="tcp://127.0.0.1:$((PORT_BASE + 3))"
endpoints=(--ingest "$ingest" --predictions "$predictions" --control "$control" --results "$results")

echo "raw ZeroMQ peer (pyzmq)" >&2
PEERS_OUT="$OUT" "$VENV/bin/python" "$PEER" --n 300000 --reps 3 --trips 5000 --out "$OUT/zmq.json" > "$OUT/zmq.log"

echo "engine alone" >&2
"$ENGINE" rate --streams "$(echo $STREAMS | tr ' ' ',')" --seconds 3 > "$OUT/engine.json"

"$BIN/lstmd" "${endpoints[@]}" --log-level warning 2> "$OUT/lstmd.log" &
daemon=$!
trap 'kill $daemon 2>/dev/null || true' EXIT
"$BIN/lstm-client" ping "${endpoints[@]}" --timeout 10 > /dev/null
for n in $STREAMS; do
    connections=$(( n >= 64 ? 2 : 1 ))
    echo "lstmd end to end: $n streams" >&2
    "$BIN/lstm-client" bench "${endpoints[@]}" --streams "$n" --connections "$connections" \
        --duration "$DURATION" --json > "$OUT/daemon-$n.json"
done
kill -TERM $daemon
wait $daemon || true
# The single stream again with --busy-poll-us 0: the loop always sleeps in poll.
"$BIN/lstmd" "${endpoints[@]}" --log-level warning --busy-poll-us 0 2>> "$OUT/lstmd.log" &
daemon=$!
"$BIN/lstm-client" ping "${endpoints[@]}" --timeout 10 > /dev/null
echo "lstmd end to end: 1 stream, --busy-poll-us 0" >&2
"$BIN/lstm-client" bench "${endpoints[@]}" --streams 1 --duration "$DURATION" --json > "$OUT/daemon-1-busy.json"
kill -TERM $daemon
wait $daemon || true
trap - EXIT

"$VENV/bin/python" - "$OUT" $STREAMS <<'PY'
import json, sys
out, counts = sys.argv[1], [int(n) for n in sys.argv[2:]]
zmq = json.load(open(f"{out}/zmq.json"))["results"]["tcp"]
rtt_us = zmq["req_rep"]["median_us_median"]
push = zmq["push_pull"]["recv_msgs_per_s_median"]
engine_report = json.load(open(f"{out}/engine.json"))
engine = {r["streams"]: r for r in engine_report["results"]}
print(f"lstmd end to end over tcp 127.0.0.1, default model (H=128), closed loop; results in {out}")
print(f"OpenBLAS kernel picked on this machine: {engine_report['openblas_corename']} "
      "(lstmd's row steps do not use BLAS; named for comparison with other runs)\n")
print("| streams | lstmd rows/s | images/s | p50 ms | p99 ms | engine-only rows/s | lstmd / engine | p50 / REQ-REP RTT |")
print("|---:|---:|---:|---:|---:|---:|---:|---:|")
for n in counts:
    d = json.load(open(f"{out}/daemon-{n}.json"))
    lat = d["latency_ms"] if "latency_ms" in d else d["latency_milliseconds"]
    e = engine[n]["rows_per_s"]
    print(f"| {n} | {d['rows_per_second']:,.0f} | {d['rows_per_second'] / 28:,.0f} | {lat['p50']:.3f} | {lat['p99']:.3f} | "
          f"{e:,.0f} | {d['rows_per_second'] / e:.2f} | {lat['p50'] * 1000 / rtt_us:.2f} |")
    assert d["accounting_holds"] and d["lost"] == 0, f"{n} streams: losses or accounting mismatch: {d}"
busy = json.load(open(f"{out}/daemon-1-busy.json"))
lat = busy["latency_ms"]
print(f"| 1, `--busy-poll-us 0` | {busy['rows_per_second']:,.0f} | {busy['rows_per_second'] / 28:,.0f} | {lat['p50']:.3f} | "
      f"{lat['p99']:.3f} | | | {lat['p50'] * 1000 / rtt_us:.2f} |")
print(f"\nRaw ZeroMQ in the same run (pyzmq peer): PUSH→PULL {push:,.0f} msg/s (64 B, tcp); "
      f"REQ↔REP round trip median {rtt_us:.0f} µs.")
PY
