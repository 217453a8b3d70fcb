#!/usr/bin/env python3
"""Writes the small seed corpora of the fuzz targets into Fuzz/corpus/TARGET/ (committed).

Each seed is a valid input of its parser, so the fuzzer starts past the first checks: a tiny
model (I=3, H=2, L=1, C=2), a snapshot of two streams for it, ingest and prediction frames in the
frame encoding of Fuzz/Sources/FuzzSupport/Frames.swift, control requests and replies, the
daemon's TOML config, IDX label and image files raw and gzipped. Deterministic.
"""
import gzip, hashlib, json, os, re, struct, sys

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")

def write(target, name, data):
    directory = os.path.join(root, target)
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data)

def safetensors(tensors, metadata):
    """tensors: name -> (shape, list of floats); F32, names sorted, header padded to 8 bytes."""
    header, data = {}, b""
    for name in sorted(tensors):
        shape, values = tensors[name]
        blob = struct.pack("<%df" % len(values), *values)
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [len(data), len(data) + len(blob)]}
        data += blob
    if metadata:
        header["__metadata__"] = metadata
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + data

def values(n, offset):
    return [((i % 7) * 0.1 - 0.3 + offset) for i in range(n)]

# --- model -----------------------------------------------------------------------------------------
model = {
    "lstm.weight_ih_l0": ([8, 3], values(24, 0)), "lstm.weight_hh_l0": ([8, 2], values(16, 0.01)),
    "lstm.bias_ih_l0": ([8], values(8, 0.02)), "lstm.bias_hh_l0": ([8], values(8, 0.03)),
    "fc.weight": ([2, 2], values(4, 0.04)), "fc.bias": ([2], values(2, 0.05)),
}
write("model", "tiny-with-metadata", safetensors(model, {
    "format": "lstmd-lstm", "format_version": "1", "sequence_length": "5", "input_scale": "0.5",
    "labels": '["no","yes"]', "trainer": "seed"}))
write("model", "tiny-bare", safetensors(model, {}))
two = dict(model)
two.update({"lstm.weight_ih_l1": ([8, 2], values(16, 0.06)), "lstm.weight_hh_l1": ([8, 2], values(16, 0.07)),
            "lstm.bias_ih_l1": ([8], values(8, 0.08)), "lstm.bias_hh_l1": ([8], values(8, 0.09))})
write("model", "tiny-two-layers", safetensors(two, {"sequence_length": "3"}))

# --- snapshot (state 2·L·H = 4, classes 2): version 3 (sections), and version 2 -------------------------
def floats(values):
    return struct.pack("<%df" % len(values), *values)

def snapshot_v3(sections):
    """sections: list of (model_sha256, model_path or None, ids, sequences, next_rows, state rows, last rows)."""
    records, tensors, hashed = [], {}, b""
    for i, (sha, path, ids, sequences, rows, state, last) in enumerate(sections):
        record = {"model_sha256": sha, "stream_ids": ids, "sequences": sequences, "next_rows": rows}
        if path is not None:
            record["model_path"] = path
        records.append(record)
        tensors["state.%d" % i] = ([len(ids), 4], state)
        tensors["last_probabilities.%d" % i] = ([len(ids), 2], last)
        hashed += floats(state) + floats(last)
    text = json.dumps(records, sort_keys=True, separators=(",", ":"))
    return safetensors(tensors, {
        "format": "lstmd-snapshot", "format_version": "3", "sections": text,
        "contents_sha256": hashlib.sha256((text + "\n").encode() + hashed).hexdigest(),
        "created": "2026-11-30T00:00:00Z"})

write("snapshot", "two-sections", snapshot_v3([
    ("0" * 64, "/models/current.safetensors", ["a", "b"], [7, 8], [1, 4],
     [0.1, -0.2, 0.3, -0.4, 0.5, 0.6, -0.7, 0.8], [0.25, 0.75, 0.5, 0.5]),
    ("f" * 64, "/models/older.safetensors", ["c"], [9], [2], [0.2, 0.1, -0.3, 0.4], [0.5, 0.5]),
]))
write("snapshot", "empty", snapshot_v3([]))
ids, sequences, rows = '["a","b"]', "[7,8]", "[1,4]"
state, last = [0.1, -0.2, 0.3, -0.4, 0.5, 0.6, -0.7, 0.8], [0.25, 0.75, 0.5, 0.5]
write("snapshot", "version-2", safetensors({"state": ([2, 4], state), "last_probabilities": ([2, 2], last)}, {
    "format": "lstmd-snapshot", "format_version": "2", "model_sha256": "0" * 64,
    "stream_ids": ids, "sequences": sequences, "next_rows": rows,
    "contents_sha256": hashlib.sha256("".join(t + "\n" for t in ["0" * 64, ids, sequences, rows]).encode()
                                      + floats(state) + floats(last)).hexdigest(),
    "created": "2026-11-30T00:00:00Z"}))

# --- frames: count byte, then a length byte before each frame but the last -------------------------
def frames(parts):
    out = bytes([len(parts)])
    for part in parts[:-1]:
        out += bytes([len(part)]) + part
    return out + parts[-1]

def ingest_header(kind, dtype, flags, row):
    return bytes([1, kind, dtype, flags]) + struct.pack("<I", row)

write("ingest", "row-uint8", frames([b"digit-1", ingest_header(0, 0, 0, 0), bytes(range(0, 28 * 9, 9))]))
write("ingest", "row-float32-last", frames([b"s", ingest_header(0, 1, 1, 27), struct.pack("<28f", *[i / 28 for i in range(28)])]))
write("ingest", "end", frames([b"s", ingest_header(1, 0, 0, 3), b""]))

def prediction_header(kind, argmax, row):
    return bytes([1, kind, argmax, 0]) + struct.pack("<I", row)

write("prediction", "partial", frames([b"digit-1", prediction_header(0, 1, 3), struct.pack("<3f", 0.2, 0.7, 0.1)]))
write("prediction", "final", frames([b"s", prediction_header(1, 0, 27), struct.pack("<2f", 0.9, 0.1)]))
write("prediction", "error", frames([b"$errors", prediction_header(2, 255, 0),
    b'{"code":"bad_version","message":"protocol version 2 is not supported","stream":null,"row":0}']))

# --- control --------------------------------------------------------------------------------------
for name, text in [
    ("status", '{"command":"status"}'), ("drop", '{"command":"drop","stream":"digit-1"}'),
    ("reload", '{"command":"reload","model":"/tmp/m.safetensors"}'), ("ping", '{"command":"ping"}'),
    ("streams", '{"command":"streams"}'), ("metrics", '{"command":"metrics"}'),
]:
    write("control", name, text.encode())

# A control-reply input is one byte that picks the request (its index in fuzz-control-reply's
# list: status, streams, streams page, drop, ping, reload, metrics), then the reply.
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Protocols", "control-protocol.md")) as f:
    status_example = json.dumps(json.loads(re.search(r"```json C6\n(.*?)```", f.read(), re.S).group(1)),
                                separators=(",", ":"))
for name, request, text in [
    ("reply-status", 0, status_example),
    ("reply-streams", 2, '{"cursor":3,"ok":true,"streams":[{"id":"a","next_row":2,"sequence":7,"model":"abc",'
                         '"idle_seconds":0.5},{"id":"v1","next_row":1,"model":"abc","idle_seconds":1}]}'),
    ("reply-drop", 3, '{"ok":true,"stream":"digit-1","next_row":4}'),
    ("reply-ping", 4, '{"ok":true,"protocol_version":1,"uptime_seconds":3.5}'),
    ("reply-error", 0, '{"ok":false,"error":{"code":"unknown_stream","message":"no stream a"}}'),
]:
    write("control-reply", name, bytes([request]) + text.encode())

# --- config ---------------------------------------------------------------------------------------
here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "..", "Systemd", "lstmd.toml"), "rb") as f:
    write("config", "lstmd.toml", f.read())
write("config", "small", b'publish = "final"\nmax-batch = 64\nidle-timeout = 30.5\nmetrics = "127.0.0.1:9464"\n')

# --- idx ------------------------------------------------------------------------------------------
labels = struct.pack(">II", 0x801, 5) + bytes([3, 1, 4, 1, 5])
images = struct.pack(">IIII", 0x803, 1, 28, 28) + bytes((i * 7) % 256 for i in range(784))
write("idx", "labels", labels)
write("idx", "labels.gz", gzip.compress(labels, mtime=0))
write("idx", "images.gz", gzip.compress(images, mtime=0))
write("idx", "two-members.gz", gzip.compress(labels[:6], mtime=0) + gzip.compress(labels[6:], mtime=0))
print("seeds written to", root)
