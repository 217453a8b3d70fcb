#!/usr/bin/env python3
"""Stream one 28x28 digit to lstmd row by row and print its predictions, with the `lstmd` package.

    stream_digit.py                          # built-in synthetic "7", PUSH rows + SUB predictions
    stream_digit.py --data DIR --index 0     # MNIST test image 0 from DIR/t10k-images-idx3-ubyte.gz
    stream_digit.py --router                 # lossless path: DEALER to the daemon's ROUTER
    stream_digit.py --server-key lstmd.pub --key client   # CURVE: the daemon's public key, client.key/.pub
    stream_digit.py --selftest               # check the package's codec against ../stream-protocol.md

Needs pyzmq and the package (`pip install ./Clients/python`); run from a checkout, it uses the
checkout's copy (Clients/python/src). The spec: ../stream-protocol.md.
"""
import argparse, gzip, os, struct, sys
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[2] / "Clients" / "python" / "src"
if CHECKOUT.is_dir():   # in a checkout, its own copy of the package, installed or not
    sys.path.insert(0, str(CHECKOUT))
import lstmd
from lstmd import wire_examples


def load_mnist(directory, index):
    """Image `index` (28 rows of 28 uint8 pixels) and its label from the MNIST test set (gzip IDX)."""
    with gzip.open(os.path.join(directory, "t10k-images-idx3-ubyte.gz"), "rb") as f:
        magic, count, rows, cols = struct.unpack(">IIII", f.read(16))
        assert magic == 0x803 and 0 <= index < count, f"bad IDX file or index {index} of {count}"
        f.seek(16 + index * rows * cols)
        pixels = f.read(rows * cols)
    with gzip.open(os.path.join(directory, "t10k-labels-idx1-ubyte.gz"), "rb") as f:
        f.seek(8 + index)
        label = f.read(1)[0]
    return [pixels[r * cols:(r + 1) * cols] for r in range(rows)], label


def synthetic_seven():
    """A hand-drawn 7: a bar across the top and a diagonal stroke down to the left."""
    image = [bytearray(28) for _ in range(28)]
    for c in range(6, 22):
        image[6][c] = image[7][c] = 255
    for r in range(8, 24):
        c = 21 - (r - 8) * 9 // 16
        image[r][c] = image[r][c - 1] = 255
    return image


def stream(args, image):
    endpoints = lstmd.Endpoints(ingest=args.ingest, predictions=args.predictions, results=args.router or "none")
    keys = {}
    if args.key:
        keys = {"secret_key": args.key + ".key", "public_key": args.key + ".pub"}
    with lstmd.Client(endpoints, lossless=bool(args.router), timeout=args.timeout, server_key=args.server_key,
                      **keys) as client:
        digit = client.stream(args.stream)
        digit.send_rows(image)
        try:
            for p in digit:
                if isinstance(p, lstmd.StreamError):
                    print(f"ERROR   row {p.row}: {p.code}: {p.message}")
                    return 1
                print(f"{p.kind.name:7} row {p.row:2}: argmax {p.argmax}  p={p.probabilities[p.argmax]:.3f}")
            print("        " + " ".join(f"{i}:{q:.3f}" for i, q in enumerate(p.probabilities)))
            return 0
        except TimeoutError as error:
            print(error, file=sys.stderr)
            return 1


def selftest():
    """Encodes and decodes every example of ../stream-protocol.md (LSP/1 and LSP/2) with lstmd.wire."""
    spec = (Path(__file__).resolve().parent.parent / "stream-protocol.md").read_text()
    names = wire_examples.check_spec_examples(spec)
    print(f"selftest ok: {len(names)} examples of stream-protocol.md checked ({names[0]}–{names[-1]})")
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ingest", default="tcp://127.0.0.1:5555", help="daemon's PULL endpoint")
    parser.add_argument("--predictions", default="tcp://127.0.0.1:5556", help="daemon's PUB endpoint")
    parser.add_argument("--router", nargs="?", const="tcp://127.0.0.1:5558",
                        help="use the lossless DEALER/ROUTER path (endpoint optional)")
    parser.add_argument("--data", help="directory holding t10k-images-idx3-ubyte.gz (default: synthetic 7)")
    parser.add_argument("--index", type=int, default=0, help="test image index (with --data)")
    parser.add_argument("--stream", help="stream id (default: host/pid/…)")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for each prediction")
    parser.add_argument("--server-key", metavar="FILE",
                        help="use CURVE: the daemon's public key (a .pub file or a Z85 key)")
    parser.add_argument("--key", metavar="PREFIX",
                        help="with --server-key: the client's key pair PREFIX.key and PREFIX.pub "
                             "(as `lstm-client keygen` writes; default: a fresh pair)")
    parser.add_argument("--selftest", action="store_true", help="check the codec against the spec and exit")
    args = parser.parse_args()
    if args.key and not args.server_key:
        parser.error("--key needs --server-key")
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
