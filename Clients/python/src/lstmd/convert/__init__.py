"""Converters of Keras and TensorFlow 1 LSTM classifiers to lstmd's model file (`python -m lstmd.convert`).

    from lstmd.convert import convert_keras
    convert_keras("model.keras").save("model.safetensors")

Needs numpy, and h5py for Keras files (`pip install 'lstmd[convert]'`).
"""
try:
    import numpy  # noqa: F401
except ImportError:
    raise ImportError("lstmd.convert needs numpy (and h5py for Keras files): "
                      "pip install numpy h5py, or pip install 'lstmd[convert]'") from None

from .common import ConversionError
from .keras import convert_keras
from .tf1 import convert_tf1_cells, convert_tf1_checkpoint

__all__ = ["ConversionError", "convert_keras", "convert_tf1_cells", "convert_tf1_checkpoint"]
