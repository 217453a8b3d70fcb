"""lstmd: a Python client for the lstmd streaming LSTM daemon (`lstmd.Client`), rendezvous routing of
streams over several daemons (`lstmd.ShardedClient`), and converters of Keras and TensorFlow LSTM
classifiers to its model file (`python -m lstmd.convert`, `lstmd.convert`)."""
import importlib

__version__ = "0.1.0"

from .wire import Kind, Prediction, ProtocolError, StreamError  # noqa: E402

__all__ = ["Client", "ControlError", "Endpoints", "Kind", "Prediction", "ProtocolError", "ShardedClient", "Stream",
           "StreamError", "__version__", "gather"]


def __getattr__(name: str):   # the client needs pyzmq, the converter numpy: each is imported on first use
    if name == "convert":   # `from . import convert` would ask this function again before importing
        return importlib.import_module(".convert", __name__)
    if name in ("Client", "ControlError", "Endpoints", "Stream", "gather"):
        from . import client
        return getattr(client, name)
    if name == "ShardedClient":
        from .sharded import ShardedClient
        return ShardedClient
    raise AttributeError(f"module 'lstmd' has no attribute {name!r}")
