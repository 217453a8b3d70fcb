"""The converter against real Keras files and TF 1's formula: the converted model's probabilities after
every row (numpy reference of lstmd's step) equal the source framework's within 1e-5; refusals name
what they refuse, models lstmd would not load among them; the committed converted fixtures are what
the converter produces; the README's TF 1 lines run as written; model-format.md lists every key written."""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from conftest import CONVERTED_FIXTURES, FIXTURES, KERAS_FIXTURES, ROOT, TF1_FIXTURES, expected, lstm_train_binary
from lstmd.convert import ConversionError, convert_keras, convert_tf1_cells, convert_tf1_checkpoint
from lstmd.convert.__main__ import main as convert_main
from lstmd.model import (MAX_CLASSES, MAX_LAYERS, MAX_SEQUENCE_LENGTH, MAX_WIDTH, Model, ModelFileError,
                         write_safetensors)

try:
    import h5py
except ImportError:   # Keras files are HDF5: those tests need h5py, the TF 1 ones numpy only
    h5py = None
needs_h5py = pytest.mark.skipif(h5py is None, reason="reading Keras files needs h5py")
TOLERANCE = 1e-5


def worst_difference(model: Model, name: str) -> float:
    worst = 0.0
    for digit in expected(name)["digits"]:
        rows = np.array(digit["pixels"], np.float32).reshape(28, 28) * np.float32(model.input_scale)
        worst = max(worst, float(np.abs(model.probabilities(rows) - np.array(digit["probabilities"])).max()))
    return worst


def tf1_variables(name: str) -> dict:
    with np.load(FIXTURES / f"{name}.npz") as arrays:
        return {key: arrays[key] for key in arrays.files}


def tf1_options(name: str) -> dict:
    """How the TF 1 fixture's cells were built and its classifier named, as its expectation records them."""
    recorded = expected(name)
    kernel, bias = recorded["classifier"]
    return {"forget_bias": recorded["forget_bias"], "dense_kernel": kernel, "dense_bias": bias}


@needs_h5py
@pytest.mark.parametrize("suffix", [".keras", ".h5"])
@pytest.mark.parametrize("name", KERAS_FIXTURES)
def test_keras_model_gives_keras_probabilities_after_every_row(name: str, suffix: str) -> None:
    model = convert_keras(FIXTURES / f"{name}{suffix}")
    assert worst_difference(model, name) <= TOLERANCE
    source = (FIXTURES / f"{name}{suffix}").read_bytes()
    assert model.metadata["source_sha256"] == hashlib.sha256(source).hexdigest()
    assert model.metadata["source_file"] == f"{name}{suffix}"
    assert model.metadata["source_format"] == ("keras3" if suffix == ".keras" else "keras-h5")
    assert model.metadata["sequence_length"] == "28"
    assert "i,f,c,o" in model.metadata["gate_mapping"]


@needs_h5py
@pytest.mark.parametrize("name", KERAS_FIXTURES)
def test_keras_and_h5_files_of_one_model_give_the_same_tensors(name: str) -> None:
    a, b = convert_keras(FIXTURES / f"{name}.keras"), convert_keras(FIXTURES / f"{name}.h5")
    for key, tensor in a.tensors().items():
        assert np.array_equal(tensor, b.tensors()[key]), key


@pytest.mark.parametrize("name", TF1_FIXTURES)
def test_tf1_model_gives_tf_formula_probabilities_after_every_row(name: str) -> None:
    options = tf1_options(name)
    model = convert_tf1_checkpoint(tf1_variables(name), **options)
    assert worst_difference(model, name) <= TOLERANCE
    assert model.hidden_size == int(re.search(r"-h(\d+)$", name)[1])
    assert model.metadata["forget_bias"] == repr(float(options["forget_bias"]))


def test_tf1_fixtures_cover_both_forget_biases_on_a_basic_lstm_cell() -> None:
    biases = {expected(name)["forget_bias"] for name in TF1_FIXTURES if name.startswith("tf1-basic-")}
    assert biases == {0.0, 1.0}


@pytest.mark.parametrize("name", [name for name in TF1_FIXTURES if name.startswith("tf1-basic-")])
def test_tf1_forget_bias_matters(name: str) -> None:
    """The check above would catch a converter that ignored forget_bias or always added 1.0."""
    options = tf1_options(name)
    options["forget_bias"] = 1.0 - options["forget_bias"]
    assert worst_difference(convert_tf1_checkpoint(tf1_variables(name), **options), name) > 1e-3


def test_tf1_gate_order_matters() -> None:
    """The checks above would catch a converter that kept TF's gate order."""
    variables = tf1_variables("tf1-basic-h11")
    kernel, bias = variables["rnn/basic_lstm_cell/kernel"], variables["rnn/basic_lstm_cell/bias"]
    h = bias.shape[0] // 4
    naive = Model([kernel[:28].T], [kernel[28:].T], [bias + np.r_[np.zeros(h), np.ones(h), np.zeros(2 * h)]],
                  [np.zeros(4 * h)], variables["dense/kernel"].T, variables["dense/bias"])
    assert worst_difference(naive, "tf1-basic-h11") > 1e-3


def test_tf1_cells_api_equals_checkpoint_api() -> None:
    variables = tf1_variables("tf1-multi-h9")
    cells = [(variables[f"rnn/multi_rnn_cell/cell_{k}/lstm_cell/kernel"],
              variables[f"rnn/multi_rnn_cell/cell_{k}/lstm_cell/bias"]) for k in range(2)]
    direct = convert_tf1_cells(cells, variables["Variable"], variables["Variable_1"], forget_bias=0.0,
                               cell="lstm_cell")
    found = convert_tf1_checkpoint(variables, forget_bias=0.0, dense_kernel="Variable", dense_bias="Variable_1")
    assert direct.to_bytes() == found.to_bytes()


@pytest.mark.parametrize("name", [pytest.param(name, marks=needs_h5py) if name in KERAS_FIXTURES else name
                                  for name in CONVERTED_FIXTURES])
def test_committed_conversions_are_what_the_converter_writes(tmp_path: Path, name: str) -> None:
    """Tests/Fixtures/*.safetensors (run by the Swift tests) come from Tests/Fixtures/convert-fixtures.sh."""
    if name in KERAS_FIXTURES:
        args = ["keras", str(FIXTURES / f"{name}.keras")]
    else:
        options = tf1_options(name)
        args = ["tf1", str(FIXTURES / f"{name}.npz"), "--forget-bias", str(options["forget_bias"]),
                "--dense-kernel", options["dense_kernel"], "--dense-bias", options["dense_bias"]]
    output = tmp_path / f"{name}.safetensors"
    assert convert_main([*args, "-o", str(output)]) == 0
    assert output.read_bytes() == (FIXTURES / output.name).read_bytes()


def readme_tf1_snippet() -> str:
    section = (ROOT / "README.md").read_text().split("## Models from Keras and TensorFlow", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    [snippet] = [block for block in blocks if "convert_tf1_checkpoint" in block]
    return snippet


TF_STAND_IN = '''"""Stands in for TensorFlow in the README's snippet: a checkpoint reader over a fixture's arrays."""
import os
import types

import numpy as np


class CheckpointReader:
    def __init__(self, prefix):
        with np.load(os.environ["STAND_IN_CHECKPOINT"]) as arrays:
            self.arrays = {name: arrays[name] for name in arrays.files}

    def get_variable_to_shape_map(self):
        return {name: list(array.shape) for name, array in self.arrays.items()}

    def get_tensor(self, name):
        return self.arrays[name]


train = types.SimpleNamespace(load_checkpoint=CheckpointReader)
'''


def test_readme_tf1_snippet_runs_as_written(tmp_path: Path) -> None:
    """The README's TensorFlow 1 lines, verbatim, in a fresh interpreter (so nothing imported here helps),
    with a stand-in `tensorflow` whose checkpoint reader serves the tf1-basic-h11 fixture's arrays."""
    (tmp_path / "tensorflow.py").write_text(TF_STAND_IN)
    work = tmp_path / "work"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT / "Clients" / "python" / "src")]),
           "STAND_IN_CHECKPOINT": str(FIXTURES / "tf1-basic-h11.npz")}
    result = subprocess.run([sys.executable, "-c", readme_tf1_snippet()], cwd=work, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    model = Model.load(work / "model.safetensors")
    assert worst_difference(model, "tf1-basic-h11") <= TOLERANCE
    assert model.metadata["source_file"] == "model.ckpt"
    assert model.metadata["forget_bias"] == repr(float(expected("tf1-basic-h11")["forget_bias"]))


def test_lstmd_convert_is_reachable_from_import_lstmd() -> None:
    """The package docstring's `lstmd.convert` after a bare `import lstmd`, in a fresh interpreter."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "Clients" / "python" / "src")}
    code = "import lstmd; print(lstmd.convert.convert_tf1_cells.__name__)"
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "convert_tf1_cells"


@pytest.mark.parametrize("source", [*(pytest.param(f"{name}{suffix}", marks=needs_h5py) for name in KERAS_FIXTURES
                                      for suffix in (".keras", ".h5")), *(f"{name}.npz" for name in TF1_FIXTURES)])
def test_model_format_documents_every_key_and_value_the_converter_writes(source: str) -> None:
    """Protocols/model-format.md §3 lists each key the converter writes, with its exact values."""
    path = FIXTURES / source
    if path.suffix == ".npz":
        metadata = convert_tf1_checkpoint(tf1_variables(path.stem), **tf1_options(path.stem), source=path,
                                          source_bytes=path.read_bytes()).metadata
    else:
        metadata = convert_keras(path).metadata
    section = (ROOT / "Protocols" / "model-format.md").read_text().split("## 3. Metadata", 1)[1].split("## 4.", 1)[0]
    assert set(metadata) <= set(re.findall(r"^\| `(\w+)` \|", section, re.M))
    for key in ("source_format", "classifier_activation", "forget_bias"):
        if key in metadata:
            assert f"`{metadata[key]}`" in section, key
    assert "`lstmd.convert <package version> (converted from <source_format>)`" in section
    assert re.fullmatch(rf"lstmd\.convert \S+ \(converted from {metadata['source_format']}\)", metadata["trainer"])
    forms = {"keras3": "keras <version>", "keras-h5": "keras <version> (<backend> backend), HDF5"}
    form = forms.get(metadata["source_format"], metadata["source_framework"])
    assert f"`{form}`" in section
    pattern = re.escape(form).replace("<version>", r"\S+").replace("<backend>", r"\w+")
    assert re.fullmatch(pattern, metadata["source_framework"])
    cell = metadata["source_format"][len("tf1-"):].replace("-", "_")
    mappings = [block.replace("<cell>", cell).replace("<forget_bias>", metadata.get("forget_bias", ""))
                for block in re.findall(r"```\n(.*?)\n```", section, re.S)]
    assert metadata["gate_mapping"] in mappings
    assert metadata["source_file"] == path.name
    assert metadata["source_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


def test_writer_reproduces_the_model_format_example() -> None:
    """Protocols/model-format.md §4: the 672 bytes of its xxd dump, from its tensors and metadata."""
    spec = (ROOT / "Protocols" / "model-format.md").read_text()
    dump = spec.split("## 4. Example", 1)[1].split("```", 2)[1]
    data = b"".join(bytes.fromhex(line[10:49].replace(" ", "")) for line in dump.strip().splitlines())
    tensors = {
        "fc.weight": np.array([[1], [-1]]), "fc.bias": np.array([0, 0.125]),
        "lstm.bias_hh_l0": np.array([0.5, 1, 0, 0]), "lstm.bias_ih_l0": np.zeros(4),
        "lstm.weight_hh_l0": np.array([[1], [0.5], [-0.5], [0]]),
        "lstm.weight_ih_l0": np.array([[0.5, -0.5], [1, 0], [0.25, 0.25], [-1, 2]]),
    }
    metadata = {"dataset": "mnist", "format": "lstmd-lstm", "format_version": "1", "input_scale": "0.003921569",
                "labels": '["no","yes"]', "sequence_length": "28"}
    assert len(data) == 672
    assert write_safetensors(tensors, metadata) == data
    assert Model.from_bytes(data).metadata == metadata


@needs_h5py
def test_cli_options_set_metadata(tmp_path: Path) -> None:
    out = tmp_path / "m.safetensors"
    labels = "zero,one,two,three,four,five,six,seven,eight,nine"
    assert convert_main(["keras", str(FIXTURES / "keras-lstm1-h20.h5"), "-o", str(out), "--input-scale", "1/127.5",
                         "--sequence-length", "14", "--labels", labels]) == 0
    metadata = Model.load(out).metadata
    assert float(metadata["input_scale"]) == pytest.approx(1 / 127.5)
    assert metadata["sequence_length"] == "14"
    assert json.loads(metadata["labels"]) == labels.split(",")


# -- refusals, each with a message naming what is refused --

def rewritten_keras(tmp_path: Path, edit) -> Path:
    """A copy of the 2-layer .keras fixture whose config.json `edit` changed."""
    source = zipfile.ZipFile(FIXTURES / "keras-lstm2-h18.keras")
    config = json.loads(source.read("config.json"))
    edit(config["config"]["layers"])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as target:
        for item in source.namelist():
            target.writestr(item, json.dumps(config) if item == "config.json" else source.read(item))
    path = tmp_path / "edited.keras"
    path.write_bytes(buffer.getvalue())
    return path


def lstm(layers):
    return [layer for layer in layers if layer["class_name"] == "LSTM"]


@needs_h5py
@pytest.mark.parametrize("edit, message", [
    (lambda layers: lstm(layers)[0]["config"].update(recurrent_activation="hard_sigmoid"),
     r"recurrent_activation='hard_sigmoid'.*'sigmoid' only"),
    (lambda layers: lstm(layers)[1]["config"].update(activation="relu"), r"activation='relu'"),
    (lambda layers: lstm(layers)[0]["config"].update(return_sequences=False), r"'lstm\w*' feeds another LSTM"),
    (lambda layers: lstm(layers)[1]["config"].update(go_backwards=True), r"go_backwards=True"),
    (lambda layers: layers[-1]["config"].update(activation="relu"), r"Dense layer 'dense\w*' has activation 'relu'"),
    (lambda layers: layers.insert(2, {"class_name": "Conv1D", "config": {"name": "conv"}}), r"conv \(Conv1D\)"),
    (lambda layers: lstm(layers)[1].update(class_name="GRU"), r"\(GRU\)"),
    (lambda layers: layers.pop(), r"one or more LSTM layers and then one Dense layer; the model is LSTM -> LSTM"),
])
def test_unsupported_keras_models_are_refused_by_name(tmp_path: Path, edit, message: str) -> None:
    with pytest.raises(ConversionError, match=message):
        convert_keras(rewritten_keras(tmp_path, edit))


@needs_h5py
def test_functional_models_and_other_files_are_refused(tmp_path: Path) -> None:
    source = zipfile.ZipFile(FIXTURES / "keras-lstm1-h20.keras")
    config = json.loads(source.read("config.json"))
    config["class_name"] = "Functional"
    path = tmp_path / "f.keras"
    with zipfile.ZipFile(path, "w") as target:
        for item in source.namelist():
            target.writestr(item, json.dumps(config) if item == "config.json" else source.read(item))
    with pytest.raises(ConversionError, match="is a Functional; the converter reads Sequential"):
        convert_keras(path)
    (tmp_path / "x.bin").write_bytes(b"not a model")
    with pytest.raises(ConversionError, match="neither a Keras 3 .keras file"):
        convert_keras(tmp_path / "x.bin")
    with h5py.File(tmp_path / "weights.h5", "w") as f:
        f.create_dataset("lstm/kernel", data=np.zeros((28, 80)))
    with pytest.raises(ConversionError, match="weights-only file"):
        convert_keras(tmp_path / "weights.h5")


@needs_h5py
def test_keras_layers_of_different_widths_are_refused(tmp_path: Path) -> None:
    path = rewritten_keras(tmp_path, lambda layers: lstm(layers)[1]["config"].update(units=12))
    with pytest.raises(ConversionError, match=r"same number of units; this model has lstm\w*: 18, lstm\w*: 12"):
        convert_keras(path)


def test_tf1_refusals_name_the_problem() -> None:
    variables = tf1_variables("tf1-basic-h11")
    with pytest.raises(ConversionError, match="peepholes or a projection"):
        convert_tf1_checkpoint({**variables, "rnn/lstm_cell/w_f_diag": np.zeros(11)})
    with pytest.raises(ConversionError, match="no TF 1 LSTM cell variables found"):
        convert_tf1_checkpoint({"dense/kernel": variables["dense/kernel"]})
    with pytest.raises(ConversionError, match=r"0 variables named dense/kernel"):
        convert_tf1_checkpoint(tf1_variables("tf1-multi-h9"))
    with pytest.raises(ConversionError, match=r"bias has shape \[40\]; expected \[44\]"):
        convert_tf1_cells([(variables["rnn/basic_lstm_cell/kernel"], np.zeros(40))],
                          variables["dense/kernel"], variables["dense/bias"])


# -- lstmd's limits: the converter refuses what lstmd would refuse to load --

def tf1_basic_h11() -> tuple:
    variables = tf1_variables("tf1-basic-h11")
    return [(variables["rnn/basic_lstm_cell/kernel"], variables["rnn/basic_lstm_cell/bias"])], variables["dense/kernel"]


def test_more_classes_than_lstmd_serves_are_refused() -> None:
    cells, dense = tf1_basic_h11()
    widest = np.zeros((dense.shape[0], MAX_CLASSES), np.float32)
    assert convert_tf1_cells(cells, widest, np.zeros(MAX_CLASSES)).classes == 255
    wider = np.zeros((dense.shape[0], MAX_CLASSES + 1), np.float32)
    with pytest.raises(ConversionError, match=r"class count C = 256 exceeds lstmd's limit of 255: a prediction "
                                              r"carries its class in one byte"):
        convert_tf1_cells(cells, wider, np.zeros(MAX_CLASSES + 1))


@pytest.mark.parametrize("option, value, message", [
    ("--input-scale", "9e-10", r"input_scale 9e-10 is outside lstmd's range 1e-09 … 1e\+09"),
    ("--input-scale", "1/2000000000", r"input_scale 5e-10 is outside lstmd's range 1e-09 … 1e\+09"),
    ("--input-scale", "1.0001e9", r"input_scale 1000100000.0 is outside lstmd's range 1e-09 … 1e\+09"),
    ("--input-scale", "inf", r"input_scale inf is outside lstmd's range"),
    ("--sequence-length", str(MAX_SEQUENCE_LENGTH + 1), r"sequence_length '4294967297' is not an integer in "
                                                        r"lstmd's range 1 … 4294967296"),
    ("--sequence-length", "0", r"sequence_length '0' is not an integer in lstmd's range"),
])
def test_metadata_lstmd_refuses_is_refused_by_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture, option: str,
                                                      value: str, message: str) -> None:
    out = tmp_path / "m.safetensors"
    assert convert_main(["tf1", str(FIXTURES / "tf1-basic-h11.npz"), "-o", str(out), option, value]) == 1
    assert re.search(r"lstmd.convert: error: " + message, capsys.readouterr().err)
    assert not out.exists()


@pytest.mark.parametrize("option, value", [("--input-scale", "1e-9"), ("--input-scale", "1e9"),
                                           ("--sequence-length", str(MAX_SEQUENCE_LENGTH))])
def test_metadata_at_lstmds_limits_is_accepted(tmp_path: Path, option: str, value: str) -> None:
    assert convert_main(["tf1", str(FIXTURES / "tf1-basic-h11.npz"), "-o", str(tmp_path / "m"), option, value]) == 0


@needs_h5py
def test_keras_sequence_length_0_is_refused_not_replaced() -> None:
    with pytest.raises(ConversionError, match=r"sequence_length '0' is not an integer in lstmd's range"):
        convert_keras(FIXTURES / "keras-lstm1-h20.keras", sequence_length=0)


def test_wider_or_deeper_models_than_lstmd_loads_are_refused() -> None:
    cells, dense = tf1_basic_h11()
    h = MAX_WIDTH + 1   # a kernel of that width is 16 TB: broadcast views that hold one value
    wide = np.broadcast_to(np.float32(0), (28 + h, 4 * h))
    with pytest.raises(ConversionError, match=r"hidden size H = 1048577 exceeds lstmd's limit of 1048576"):
        convert_tf1_cells([(wide, np.broadcast_to(np.float32(0), (4 * h,)))], np.zeros((h, 10)), np.zeros(10))
    tall = np.broadcast_to(np.float32(0), (MAX_WIDTH + 1 + 4, 16))
    with pytest.raises(ConversionError, match=r"input size I = 1048577 exceeds lstmd's limit of 1048576"):
        convert_tf1_cells([(tall, np.zeros(16))], np.zeros((4, 10)), np.zeros(10))
    kernel, bias = np.zeros((1 + 1, 4), np.float32), np.zeros(4, np.float32)
    deep = [(np.zeros((28 + 1, 4), np.float32), bias)] + [(kernel, bias)] * MAX_LAYERS
    with pytest.raises(ConversionError, match=r"layer count L = 1025 exceeds lstmd's limit of 1024"):
        convert_tf1_cells(deep, np.zeros((1, 10)), np.zeros(10))
    assert convert_tf1_cells(deep[:MAX_LAYERS], np.zeros((1, 10)), np.zeros(10)).layers == MAX_LAYERS


def tiny_file(tmp_path: Path, name: str, layers: int = 1, classes: int = 2, **metadata: str) -> Path:
    """A model file written without the Python checks: I = H = 1."""
    tensors = {"fc.weight": np.zeros((classes, 1)), "fc.bias": np.zeros(classes)}
    for k in range(layers):
        tensors.update({f"lstm.weight_ih_l{k}": np.zeros((4, 1)), f"lstm.weight_hh_l{k}": np.zeros((4, 1)),
                        f"lstm.bias_ih_l{k}": np.zeros(4), f"lstm.bias_hh_l{k}": np.zeros(4)})
    path = tmp_path / f"{name}.safetensors"
    path.write_bytes(write_safetensors(tensors, metadata))
    return path


@pytest.mark.parametrize("case, accepted", [
    ({"input_scale": "1e-09"}, True), ({"input_scale": "9.9e-10"}, False),
    ({"input_scale": "1000000000.0"}, True), ({"input_scale": "1000000100.0"}, False),
    ({"input_scale": "nan"}, False), ({"input_scale": "1e39"}, False),
    ({"sequence_length": "4294967296"}, True), ({"sequence_length": "4294967297"}, False),
    ({"sequence_length": "0"}, False),
    ({"classes": 255}, True), ({"classes": 256}, False),
    ({"layers": 1024}, True), ({"layers": 1025}, False),
], ids=lambda value: "-".join(f"{k}={v}" for k, v in value.items()) if isinstance(value, dict) else str(value))
def test_python_limits_are_lstmds(tmp_path: Path, case: dict, accepted: bool) -> None:
    """lstmd.model's checks (which the converter's output passes) accept exactly what lstmd loads,
    asked of the built `lstm-train info`, which loads a model as lstmd does."""
    sizes = {key: case[key] for key in ("layers", "classes") if key in case}
    path = tiny_file(tmp_path, "m", **sizes, **{k: v for k, v in case.items() if k not in sizes})
    info = subprocess.run([str(lstm_train_binary()), "info", str(path)], capture_output=True, text=True, timeout=60)
    assert (info.returncode == 0) == accepted, info.stderr
    if accepted:
        Model.load(path)
    else:
        with pytest.raises(ModelFileError, match="lstmd's (limit|range)"):
            Model.load(path)


def test_cli_reports_errors_without_a_traceback(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert convert_main(["tf1", str(FIXTURES / "tf1-multi-h9.npz"), "-o", str(tmp_path / "m")]) == 1
    assert re.search(r"lstmd.convert: error: cannot tell the classifier's kernel", capsys.readouterr().err)
    assert not (tmp_path / "m").exists()


@needs_h5py
def test_tf_keras_2_h5_layout(tmp_path: Path) -> None:
    """An .h5 in the layout tf.keras 2 writes (weight names ending in ':0', Keras 2 config keys such as
    batch_input_shape and time_major), built here from the 1-layer fixture's weights (no TF installed)."""
    reference = convert_keras(FIXTURES / "keras-lstm1-h20.keras")
    config = {"class_name": "Sequential", "config": {"name": "sequential", "layers": [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 28, 28], "dtype": "float32",
                                                "name": "lstm_input"}},
        {"class_name": "LSTM", "config": {"name": "lstm", "units": 20, "activation": "tanh",
                                          "recurrent_activation": "sigmoid", "use_bias": True,
                                          "return_sequences": False, "go_backwards": False, "time_major": False,
                                          "unit_forget_bias": True, "implementation": 2}},
        {"class_name": "Dense", "config": {"name": "dense", "units": 10, "activation": "softmax", "use_bias": True}},
    ]}}
    path = tmp_path / "tf2.h5"
    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = json.dumps(config)
        f.attrs["keras_version"] = "2.11.0"
        f.attrs["backend"] = "tensorflow"
        weights = f.create_group("model_weights")
        weights.attrs["layer_names"] = [b"lstm", b"dense"]
        layer = weights.create_group("lstm")
        names = ["lstm/lstm_cell/kernel:0", "lstm/lstm_cell/recurrent_kernel:0", "lstm/lstm_cell/bias:0"]
        layer.attrs["weight_names"] = [n.encode() for n in names]
        for name, array in zip(names, (reference.weight_ih[0].T, reference.weight_hh[0].T, reference.bias_ih[0])):
            layer.create_dataset(name, data=array)
        layer = weights.create_group("dense")
        layer.attrs["weight_names"] = [b"dense/kernel:0", b"dense/bias:0"]
        layer.create_dataset("dense/kernel:0", data=reference.fc_weight.T)
        layer.create_dataset("dense/bias:0", data=reference.fc_bias)
    model = convert_keras(path)
    for key, tensor in reference.tensors().items():
        assert np.array_equal(tensor, model.tensors()[key]), key
    assert model.metadata["source_framework"] == "keras 2.11.0 (tensorflow backend), HDF5"
    assert worst_difference(model, "keras-lstm1-h20") <= TOLERANCE


@needs_h5py
def test_dropout_layers_are_identity_at_inference(tmp_path: Path) -> None:
    dropout = {"module": "keras.layers", "class_name": "Dropout", "config": {"name": "dropout", "rate": 0.5}}
    path = rewritten_keras(tmp_path, lambda layers: layers.insert(len(layers) - 1, dropout))
    assert worst_difference(convert_keras(path), "keras-lstm2-h18") <= TOLERANCE
