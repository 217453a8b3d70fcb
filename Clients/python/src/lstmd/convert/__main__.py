"""python -m lstmd.convert: Keras / TensorFlow 1 LSTM classifiers to lstmd's model file.

    python -m lstmd.convert keras model.keras -o model.safetensors      # Keras 3 .keras, or .h5 (Keras 2 / TF 2)
    python -m lstmd.convert tf1 weights.npz -o model.safetensors --forget-bias 1.0

For `tf1`, the .npz holds the checkpoint's variables under their names (rnn/basic_lstm_cell/kernel, …,
dense/kernel); make it with TensorFlow:

    reader = tf.train.load_checkpoint("model.ckpt")
    np.savez("weights.npz", **{n: reader.get_tensor(n) for n in reader.get_variable_to_shape_map()})
"""
from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path
from typing import List, Optional

from ..model import ModelFileError
from .common import ConversionError
from .keras import convert_keras
from .tf1 import convert_tf1_checkpoint


def _scale(text: str) -> float:
    try:
        numerator, _, denominator = text.partition("/")
        return float(numerator) / float(denominator or 1)
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"input scale {text!r} is not a number or a fraction like 1/255") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lstmd.convert", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="source", required=True)
    keras = sub.add_parser("keras", help="a Keras 3 .keras file or a legacy .h5 file (Keras 2, tf.keras)")
    tf1 = sub.add_parser("tf1", help="TF 1 BasicLSTMCell / LSTMCell checkpoint variables in an .npz")
    for command in (keras, tf1):
        command.add_argument("input", type=Path, help="the source file")
        command.add_argument("-o", "--output", type=Path, required=True, help="the lstmd model file to write")
        command.add_argument("--input-scale", type=_scale, default=1 / 255,
                             help="factor lstmd applies to uint8 rows: the model's input = pixel × scale "
                                  "(default 1/255, for a model trained on pixels / 255)")
        command.add_argument("--sequence-length", type=int,
                             help="rows per sequence (default: the Keras model's input length, else 28)")
        command.add_argument("--labels", help="comma-separated class labels (default 0, 1, …)")
    tf1.add_argument("--forget-bias", type=float, default=1.0,
                     help="the forget_bias the cells were built with (TF's default 1.0); added to the f gate's bias")
    tf1.add_argument("--dense-kernel", help="name of the classifier's kernel [H x C] (default: the one dense/kernel)")
    tf1.add_argument("--dense-bias", help="name of the classifier's bias [C] (default: beside the kernel)")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = _parser().parse_args(argv)
    labels = args.labels.split(",") if args.labels else None
    try:
        if args.source == "keras":
            model = convert_keras(args.input, input_scale=args.input_scale,
                                  sequence_length=args.sequence_length, labels=labels)
        else:
            import numpy as np
            data = args.input.read_bytes()
            with np.load(args.input) as arrays:
                variables = {name: arrays[name] for name in arrays.files}
            model = convert_tf1_checkpoint(variables, forget_bias=args.forget_bias, dense_kernel=args.dense_kernel,
                                           dense_bias=args.dense_bias, input_scale=args.input_scale,
                                           sequence_length=28 if args.sequence_length is None else args.sequence_length,
                                           labels=labels, source=args.input, source_bytes=data)
        output = model.to_bytes()
        args.output.write_bytes(output)
    except (ConversionError, ModelFileError, OSError, ValueError) as error:
        print(f"lstmd.convert: error: {error}", file=sys.stderr)
        return 1
    print(f"wrote {args.output}: {model.layers} layer(s), hidden {model.hidden_size}, input {model.input_size}, "
          f"{model.classes} classes, input scale {model.metadata['input_scale']}, "
          f"sequence length {model.metadata.get('sequence_length', 'none')}; sha256 {hashlib.sha256(output).hexdigest()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
