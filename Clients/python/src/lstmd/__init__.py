"""lstmd: a Python client for the lstmd streaming LSTM daemon, and converters of Keras and TensorFlow
LSTM classifiers to its model file (`python -m lstmd.convert`)."""
__version__ = "0.1.0"
