#!/usr/bin/env python3
"""Stream one 28x28 digit to lstmd row by row and print its predictions (protocol LSP/1).

    stream_digit.py                          # built-in synthetic "7", PUSH rows + SUB predictions
    stream_digit.py --data DIR --index 0     # MNIST test image 0 from DIR/t10k-images-idx3-ubyte.gz
    stream_digit.py --router                 # lossless path: DEALER to the daemon's ROUTER
    stream_digit.py --server-key lstmd.pub --key alice.key   # CurveZMQ (keys from lstm-client keygen)
    stream_digit.py --selftest               # check the codec against ../stream-protocol.md

Needs only the standard library and pyzmq. The spec: ../stream-protocol.md.
"""
import argparse, gzip, json, os, re, socket, struct, sys, time
from pathlib import Path

VERSION = 1
ROW, END = 0, 1                      # ingest kinds
UINT8, FLOAT32 = 0, 1                # row dtypes
LAST = 0x01                          # ingest flag
PARTIAL, FINAL, ERROR = 0, 1, 2      # prediction kinds
KINDS = {PARTIAL: "PARTIAL", FINAL: "FINAL", ERROR: "ERROR"}
HEADER = struct.Struct("<BBBBI")     # version, kind, dtype|argmax, flags|reserved, row index (LE)


def encode_row(stream_id, row, values, dtype=UINT8, last=False):
    """The three frames of a ROW: stream id, 8-byte header, row values (uint8, or float32 LE)."""
    body = bytes(values) if dtype == UINT8 else struct.pack(f"<{len(values)}f", *values)
    return [stream_id.encode(), HEADER.pack(VERSION, ROW, dtype, LAST if last else 0, row), body]


def encode_end(stream_id, next_row=0):
    """The two frames of an END (abandon the stream)."""
    return [stream_id.encode(), HEADER.pack(VERSION, END, UINT8, 0, next_row)]


def decode_prediction(frames):
    """(topic, kind, argmax, row, body): body is a list of probabilities, or a dict for ERROR."""
    topic, header, body = frames
    version, kind, argmax, _reserved, row = HEADER.unpack(header)
    if version != VERSION:
        raise ValueError(f"prediction has protocol version {version}, expected {VERSION}")
    if kind == ERROR:
        return topic.decode(), kind, argmax, row, json.loads(body)
    return topic.decode(), kind, argmax, row, list(struct.unpack(f"<{len(body) // 4}f", body))


def load_mnist(directory, index):
    """Image `index` (28x28 uint8 rows) and its label from the MNIST test set (gzip IDX)."""
    with gzip.open(os.path.join(directory, "t10k-images-idx3-ubyte.gz"), "rb") as f:
        magic, count, rows, cols = struct.unpack(">IIII", f.read(16))
        assert magic == 0x803 and 0 <= index < count, f"bad IDX file or index {index} of {count}"
        f.seek(16 + index * rows * cols)
        pixels = f.read(rows * cols)
    label = None
    labels = os.path.join(directory, "t10k-labels-idx1-ubyte.gz")
    if os.path.exists(labels):
        with gzip.open(labels, "rb") as f:
            f.seek(8 + index)
            label = f.read(1)[0]
    return [list(pixels[r * cols:(r + 1) * cols]) for r in range(rows)], label


def synthetic_seven():
    """A hand-drawn 7: a bar across the top and a diagonal stroke down to the left."""
    image = [[0] * 28 for _ in range(28)]
    for c in range(6, 22):
        image[6][c] = image[7][c] = 255
    for r in range(8, 24):
        c = 21 - (r - 8) * 9 // 16
        image[r][c] = image[r][c - 1] = 255
    return image


def show(frames, stream_id):
    """Prints one prediction; returns True when it ends the stream (FINAL or ERROR)."""
    topic, kind, argmax, row, body = decode_prediction(frames)
    if topic != stream_id and topic != "$errors":
        return False                 # a subscription is a prefix: "7" also matches "70"
    if kind == ERROR:
        print(f"ERROR   row {row}: {body['code']}: {body['message']}")
        return topic == stream_id
    print(f"{KINDS[kind]:7} row {row:2}: argmax {argmax}  p={body[argmax]:.3f}")
    if kind == FINAL:
        print("        " + " ".join(f"{i}:{p:.3f}" for i, p in enumerate(body)))
    return kind == FINAL


def read_key(path):
    """The one Z85 key of a key file (lstm-client keygen's format: '#' comments, text after the key)."""
    keys = [line.split()[0] for line in Path(path).read_text().splitlines()
            if line.strip() and not line.lstrip().startswith("#")]
    if len(keys) != 1 or len(keys[0]) != 40:
        raise SystemExit(f"{path}: expected one 40-character Z85 key")
    return keys[0].encode()


def secure(sock, args):
    """CurveZMQ on `sock` when --server-key and --key are given (before connect)."""
    if args.server_key:
        import zmq
        server = args.server_key.encode() if len(args.server_key) == 40 else read_key(args.server_key)
        secret = read_key(args.key)
        sock.curve_serverkey = server
        sock.curve_secretkey = secret
        sock.curve_publickey = zmq.curve_public(secret)
    return sock


def stream(args, image):
    import zmq                       # only needed when talking to a daemon
    context = zmq.Context()
    stream_id = args.stream or f"{socket.gethostname()}/{os.getpid()}/digit"
    rows = [encode_row(stream_id, r, image[r], last=(r == len(image) - 1)) for r in range(len(image))]
    deadline = time.monotonic() + args.timeout
    if args.router:
        dealer = secure(context.socket(zmq.DEALER), args)
        dealer.connect(args.router)
        poller = zmq.Poller()
        poller.register(dealer, zmq.POLLIN)
        done = False
        for frames in rows:          # read predictions while sending (the spec requires it)
            dealer.send_multipart(frames)
            while not done and poller.poll(0):
                done = show(dealer.recv_multipart(), stream_id)
        while not done and time.monotonic() < deadline:
            if poller.poll(100):
                done = show(dealer.recv_multipart(), stream_id)
    else:
        sub = secure(context.socket(zmq.SUB), args)
        sub.connect(args.predictions)
        sub.setsockopt(zmq.SUBSCRIBE, stream_id.encode())
        sub.setsockopt(zmq.SUBSCRIBE, b"$errors")
        push = secure(context.socket(zmq.PUSH), args)
        push.connect(args.ingest)
        time.sleep(0.2)              # let the subscription reach the daemon (slow joiner)
        for frames in rows:
            push.send_multipart(frames)
        done = False
        while not done and time.monotonic() < deadline:
            if sub.poll(100):
                done = show(sub.recv_multipart(), stream_id)
    if not done:
        print(f"no FINAL within {args.timeout} s", file=sys.stderr)
    context.destroy(linger=0)
    return 0 if done else 1


def selftest():
    """Encodes and decodes the examples of ../stream-protocol.md and compares bytes."""
    spec = (Path(__file__).resolve().parent.parent / "stream-protocol.md").read_text()
    examples = {}
    for block in re.findall(r"```wire\n(.*?)```", spec, re.S):
        lines = block.splitlines()
        frames = []
        for line in lines[1:]:
            text = line.split("] ", 1)[1]
            frames.append(text[5:].encode() if text.startswith("json ") else bytes.fromhex(text.split(";")[0]))
        examples[lines[0].split()[0]] = frames
    seven = "digit-7"
    assert encode_row(seven, 0, [0, 128, 255, 16]) == examples["E1"]
    assert encode_row(seven, 14, [0] * 12 + [64, 255, 255, 64] + [0] * 12) == examples["E2"]
    assert encode_row(seven, 27, [0.0, 0.5, 1.0, -2.0], dtype=FLOAT32, last=True) == examples["E3"]
    assert encode_end(seven, 3) == examples["E6"]
    probabilities = [0, 0, 0.125, 0, 0, 0, 0, 0.75, 0.125, 0]
    assert decode_prediction(examples["E4"]) == (seven, PARTIAL, 7, 14, probabilities)
    assert decode_prediction(examples["E5"]) == (seven, FINAL, 7, 27, probabilities)
    assert decode_prediction(examples["E8"])[1:4] == (ERROR, 255, 3)
    assert decode_prediction(examples["E10"])[0] == "$errors"
    assert decode_prediction(examples["E10"])[3] == 0xFFFFFFFF
    assert decode_prediction(examples["E11"])[4]["code"] == "gap"
    image = synthetic_seven()
    assert len(image) == 28 and all(len(r) == 28 for r in image)
    print(f"selftest ok: {len(examples)} examples of stream-protocol.md checked")
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ingest", default="tcp://127.0.0.1:5555", help="daemon's PULL endpoint")
    parser.add_argument("--predictions", default="tcp://127.0.0.1:5556", help="daemon's PUB endpoint")
    parser.add_argument("--router", nargs="?", const="tcp://127.0.0.1:5558",
                        help="use the lossless DEALER/ROUTER path (endpoint optional)")
    parser.add_argument("--data", help="directory holding t10k-images-idx3-ubyte.gz (default: synthetic 7)")
    parser.add_argument("--index", type=int, default=0, help="test image index (with --data)")
    parser.add_argument("--stream", help="stream id (default: host/pid/digit)")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the FINAL")
    parser.add_argument("--server-key", help="the daemon's CURVE public key: its .pub file or 40 Z85 characters")
    parser.add_argument("--key", help="this client's CURVE secret key file (with --server-key)")
    parser.add_argument("--selftest", action="store_true", help="check the codec against the spec and exit")
    args = parser.parse_args()
    if bool(args.server_key) != bool(args.key):
        parser.error("--server-key and --key go together")
    if args.selftest:
        return selftest()
    if args.data:
        image, label = load_mnist(args.data, args.index)
        print(f"MNIST test image {args.index}, label {label}")
    else:
        image = synthetic_seven()
        print("synthetic 7")
    return stream(args, image)


if __name__ == "__main__":
    sys.exit(main())
