"""The converter against real Keras files and TF 1's formula: the converted model's probabilities after
every row (numpy reference of lstmd's step) equal the source framework's within 1e-5; refusals name
what they refuse; the committed converted fixtures are what the converter produces."""
from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest

from conftest import FIXTURES, ROOT, expected
from lstmd.convert import ConversionError, convert_keras, convert_tf1_cells, convert_tf1_checkpoint
from lstmd.convert.__main__ import main as convert_main
from lstmd.model import Model, write_safetensors

h5py = pytest.importorskip("h5py")
TOLERANCE = 1e-5
KERAS_MODELS = ["keras-lstm1-h20", "keras-lstm2-h18"]
TF1_MODELS = {"tf1-basic-h11": [], "tf1-multi-h9": ["--dense-kernel", "Variable", "--dense-bias", "Variable_1"]}


def worst_difference(model: Model, name: str) -> float:
    worst = 0.0
    for digit in expected(name)["digits"]:
        rows = np.array(digit["pixels"], np.float32).reshape(28, 28) * np.float32(model.input_scale)
        worst = max(worst, float(np.abs(model.probabilities(rows) - np.array(digit["probabilities"])).max()))
    return worst


def tf1_variables(name: str) -> dict:
    with np.load(FIXTURES / f"{name}.npz") as arrays:
        return {key: arrays[key] for key in arrays.files}


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
@pytest.mark.parametrize("name", KERAS_MODELS)
def test_keras_model_gives_keras_probabilities_after_every_row(name: str, suffix: str) -> None:
    model = convert_keras(FIXTURES / f"{name}{suffix}")
    assert worst_difference(model, name) <= TOLERANCE
    source = (FIXTURES / f"{name}{suffix}").read_bytes()
    assert model.metadata["source_sha256"] == hashlib.sha256(source).hexdigest()
    assert model.metadata["source_file"] == f"{name}{suffix}"
    assert model.metadata["source_format"] == ("keras3" if suffix == ".keras" else "keras-h5")
    assert model.metadata["sequence_length"] == "28"
    assert "i,f,c,o" in model.metadata["gate_mapping"]


@pytest.mark.parametrize("name", KERAS_MODELS)
def test_keras_and_h5_files_of_one_model_give_the_same_tensors(name: str) -> None:
    a, b = convert_keras(FIXTURES / f"{name}.keras"), convert_keras(FIXTURES / f"{name}.h5")
    for key, tensor in a.tensors().items():
        assert np.array_equal(tensor, b.tensors()[key]), key


def test_tf1_basic_cell_with_forget_bias_1_matches_tf_formula() -> None:
    model = convert_tf1_checkpoint(tf1_variables("tf1-basic-h11"), forget_bias=1.0)
    assert expected("tf1-basic-h11")["forget_bias"] == 1.0
    assert worst_difference(model, "tf1-basic-h11") <= TOLERANCE
    assert model.metadata["forget_bias"] == "1.0"


def test_tf1_multi_rnn_cell_with_forget_bias_0_matches_tf_formula() -> None:
    model = convert_tf1_checkpoint(tf1_variables("tf1-multi-h9"), forget_bias=0.0,
                                   dense_kernel="Variable", dense_bias="Variable_1")
    assert model.layers == 2 and model.hidden_size == 9
    assert worst_difference(model, "tf1-multi-h9") <= TOLERANCE


def test_tf1_forget_bias_and_gate_order_matter() -> None:
    """The checks above would catch a converter that forgot forget_bias or kept TF's gate order."""
    variables = tf1_variables("tf1-basic-h11")
    assert worst_difference(convert_tf1_checkpoint(variables, forget_bias=0.0), "tf1-basic-h11") > 1e-3
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


def test_committed_conversions_are_what_the_converter_writes(tmp_path: Path) -> None:
    """Tests/Fixtures/*.safetensors (run by the Swift tests) come from Tests/Fixtures/convert-fixtures.sh."""
    jobs = {f"{name}.safetensors": ["keras", str(FIXTURES / f"{name}.keras")] for name in KERAS_MODELS}
    for name, extra in TF1_MODELS.items():
        forget_bias = str(expected(name)["forget_bias"])
        jobs[f"{name}.safetensors"] = ["tf1", str(FIXTURES / f"{name}.npz"), "--forget-bias", forget_bias, *extra]
    script = (FIXTURES / "convert-fixtures.sh").read_text()
    for output, args in jobs.items():
        assert f"-o {output}" in script
        assert convert_main([*args, "-o", str(tmp_path / output)]) == 0
        assert (tmp_path / output).read_bytes() == (FIXTURES / output).read_bytes(), output


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


def test_cli_reports_errors_without_a_traceback(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert convert_main(["tf1", str(FIXTURES / "tf1-multi-h9.npz"), "-o", str(tmp_path / "m")]) == 1
    assert re.search(r"lstmd.convert: error: cannot tell the classifier's kernel", capsys.readouterr().err)
    assert not (tmp_path / "m").exists()


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


def test_dropout_layers_are_identity_at_inference(tmp_path: Path) -> None:
    dropout = {"module": "keras.layers", "class_name": "Dropout", "config": {"name": "dropout", "rate": 0.5}}
    path = rewritten_keras(tmp_path, lambda layers: layers.insert(len(layers) - 1, dropout))
    assert worst_difference(convert_keras(path), "keras-lstm2-h18") <= TOLERANCE
