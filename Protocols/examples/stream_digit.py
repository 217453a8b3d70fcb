#!/usr/bin/env python3
"""Stream one 28x28 digit to lstmd row by row with the `lstmd` package and print its predictions.
The options are lstm-client's (`lstm-client classify --help`):

    stream_digit.py                                   # a drawn 7; rows over PUSH, predictions over SUB
    stream_digit.py --data DIR --index 3              # MNIST test digit 3 (DIR/t10k-*-ubyte, or .gz)
    stream_digit.py --images IMAGES --labels LABELS   # any IDX pair, raw or gzip
    stream_digit.py --router                          # the lossless DEALER/ROUTER path (--results)
    stream_digit.py --server-key lstmd.pub --key alice.key   # CURVE, with `lstm-client keygen`'s files

Needs `pip install ./Clients/python`; run from a checkout, it uses the checkout's copy.
"""
import argparse, gzip, os, sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent / "Clients" / "python" / "src"))
import lstmd


def idx_items(path):
    """The items of an IDX file (raw or gzip): the bytes after its header."""
    data = Path(path).read_bytes()
    data = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
    if len(data) < 4 or data[:3] != b"\0\0\x08" or len(data) < 4 + 4 * data[3]:
        raise ValueError(f"{path} is not an IDX file of uint8 items")
    return data[4 + 4 * data[3]:]


def mnist(directory, name):
    """DIR/NAME, or DIR/NAME.gz where there is no raw file."""
    raw = os.path.join(directory, name)
    return raw if os.path.exists(raw) else raw + ".gz"


def drawn_seven():
    """A 7: a bar across rows 6 and 7, then a stroke two pixels wide down to the left."""
    image = bytearray(28 * 28)
    for c in range(6, 22):
        image[6 * 28 + c] = image[7 * 28 + c] = 255
    for r in range(8, 24):
        c = 21 - (r - 8) * 9 // 16
        image[r * 28 + c - 1:r * 28 + c + 1] = b"\xff\xff"
    return bytes(image)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for name, default in vars(lstmd.Endpoints()).items():
        parser.add_argument(f"--{name}", default=default, metavar="endpoint", help=f"the daemon's {name} endpoint")
    parser.add_argument("--router", action="store_true", help="use the lossless DEALER/ROUTER path (--results)")
    parser.add_argument("--data", default=os.environ.get("LSTMD_MNIST_DIR"), metavar="dir",
                        help="MNIST directory whose test set to use (default: $LSTMD_MNIST_DIR, else a drawn 7)")
    parser.add_argument("--images", metavar="file", help="an IDX image file (raw or gzip) instead of --data")
    parser.add_argument("--labels", metavar="file", help="the IDX label file that goes with --images")
    parser.add_argument("--index", type=int, default=0, metavar="n", help="which digit of the set, from 0")
    parser.add_argument("--stream", metavar="id", help="stream id (default: HOST/PID/…)")
    parser.add_argument("--timeout", type=float, default=5, metavar="seconds", help="seconds to wait for each prediction")
    parser.add_argument("--server-key", metavar="key", help="the daemon's CURVE public key: its .pub file or 40 Z85 characters")
    parser.add_argument("--key", metavar="path", help="this client's CURVE secret key file (its public key is derived)")
    args = parser.parse_args()
    if (args.server_key is None) != (args.key is None):
        parser.error("--server-key and --key go together")
    if (args.images is None) != (args.labels is None):
        parser.error("--images and --labels go together")
    if args.data and not args.images:
        args.images, args.labels = mnist(args.data, "t10k-images-idx3-ubyte"), mnist(args.data, "t10k-labels-idx1-ubyte")
    try:
        if args.images:
            pixels, labels = idx_items(args.images), idx_items(args.labels)
            if not 0 <= args.index < min(len(pixels) // 784, len(labels)):
                parser.error(f"--index {args.index}: {args.images} holds {len(pixels) // 784} digits")
            pixels = pixels[args.index * 784:(args.index + 1) * 784]
            print(f"digit {args.index} of {args.images}, label {labels[args.index]}")
        else:
            pixels = drawn_seven()
            print("a drawn 7")
        endpoints = lstmd.Endpoints(args.ingest, args.predictions, args.control, args.results)
        with lstmd.Client(endpoints, lossless=args.router, timeout=args.timeout, server_key=args.server_key,
                          secret_key=args.key) as client:
            print(f"model {client.status()['model']['sha256'][:12]}")
            stream = client.stream(args.stream)
            stream.send_rows(pixels[r * 28:(r + 1) * 28] for r in range(28))
            for p in stream:
                if isinstance(p, lstmd.StreamError):
                    sys.exit(f"ERROR   row {p.row}: {p.code}: {p.message}")
                print(f"{p.kind.name:7} row {p.row:2}  argmax {p.argmax}  p {p.probabilities[p.argmax]:.3f}")
    except (OSError, ValueError, RuntimeError) as error:   # timeouts, files, keys, control errors
        sys.exit(f"stream_digit.py: {error}")


if __name__ == "__main__":
    main()
