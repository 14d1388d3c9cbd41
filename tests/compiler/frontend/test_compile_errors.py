"""Every way a model can be refused gives one CompileError that says what and where."""
from __future__ import annotations

import io
import json
import zipfile

import h5py
import pytest

from support.keras_models import compile_graph, keras, save, sequential
from kerasdml.compiler.errors import (CompileError, InvalidModelError, ModelFileError,
                                      UnsupportedAttributeError, UnsupportedLayerError)
from kerasdml.compiler.frontend import read_graph, supported_classes

L = keras.layers


@keras.saving.register_keras_serializable(package="mine")
class Twice(L.Layer):
    def call(self, x):
        return 2 * x


class Plain(L.Layer):
    def call(self, x):
        return 3 * x


def test_all_unsupported_layers_in_one_error(tmp_path):
    x = keras.Input((6, 4), name="x")
    y = L.Hashing(4, output_mode="count", name="bins")(x)
    y = L.Lambda(lambda t: t * 2.0, name="scaled")(y)
    y = L.Dense(3, name="fine")(y)
    y = L.Softmax(name="masked")(L.Masking()(y))   # Softmax would use the mask
    path = save(keras.Model(x, y, name="many"), tmp_path)
    with pytest.raises(UnsupportedLayerError) as caught:
        read_graph(path)
    error = caught.value
    assert [(u.name, u.class_name) for u in error.layers] == \
        [("bins", "Hashing"), ("scaled", "Lambda"),
         ("masked", "Softmax")]
    assert error.supported == supported_classes()
    message = str(error)
    assert "'scaled' (Lambda)" in message and "Conv2D" in message and "'fine'" not in message


@pytest.mark.parametrize("layer, attribute, value", [
    (L.LayerNormalization(axis=[1, 2], name="bad"), "axis", [1, 2]),
    (L.Conv1D(2, 3, groups=2, name="bad"), "groups", 2),
    (L.Dense(2, activation="sparsemax", name="bad"), "activation", "sparsemax"),
    (L.UpSampling2D(interpolation="bicubic", name="bad"), "interpolation", "bicubic"),
    (L.Conv2DTranspose(2, 3, dilation_rate=2, name="bad"), "dilation_rate", [2, 2]),
], ids=["several_axes", "groups", "activation", "bicubic", "transpose_dilation"])
def test_unsupported_attribute_names_layer_attribute_value_and_accepted(layer, attribute, value,
                                                                        tmp_path):
    shape = (6, 4) if isinstance(layer, L.Conv1D) else (6, 6, 4)
    path = save(sequential(shape, layer, name="attr"), tmp_path)
    with pytest.raises(UnsupportedAttributeError) as caught:
        read_graph(path)
    problem, = caught.value.problems
    assert (problem.layer, problem.attribute, problem.value) == ("bad", attribute, value)
    assert problem.accepted and "accepted:" in str(caught.value)


@keras.saving.register_keras_serializable(package="mine")
def cube(x):
    return x ** 3


def test_custom_activation_function_is_refused(tmp_path):
    model = sequential((3,), L.Dense(2, activation=cube, name="d"), name="cubed")
    with pytest.raises(UnsupportedAttributeError) as caught:
        read_graph(save(model, tmp_path))
    problem, = caught.value.problems
    assert (problem.layer, problem.attribute) == ("d", "activation")


def test_recurrent_options_that_change_the_output_are_refused(tmp_path):
    """A Bidirectional layer's returned states: its tensors are wired up, so the layer's own
    refusal is what the user reads (not a dangling tensor reference)."""
    x = keras.Input((5, 3))
    out, *states = L.Bidirectional(L.LSTM(2, return_state=True), name="states")(x)
    y = L.GRU(2, activation="softmax", name="soft")(L.RepeatVector(2)(states[1]))
    model = keras.Model(x, L.Concatenate()([out, states[0], y]), name="rnn")
    with pytest.raises(UnsupportedAttributeError) as caught:
        read_graph(save(model, tmp_path))
    assert [(p.layer, p.attribute) for p in caught.value.problems] == \
        [("states", "return_state"), ("soft", "activation")]


def test_a_constant_array_divided_by_a_tensor_is_refused_by_name(tmp_path):
    """A layer called on keras.ops.arange while building runs at once: its result is stored in
    the file as a constant array operand. Added, subtracted, multiplied or divided by, it is a
    constant factor or offset; divided by the tensor, it is refused."""
    tokens = keras.Input((4,), dtype="int32")
    positions = L.Embedding(4, 3)(keras.ops.arange(0, 4, 1))
    model = keras.Model(tokens, positions / L.Embedding(9, 3)(tokens), name="positions")
    with pytest.raises(UnsupportedAttributeError, match="constant array") as caught:
        read_graph(save(model, tmp_path))
    assert "model Input" in str(caught.value)


@pytest.mark.parametrize("pick", [lambda t: t[:, ::2], lambda t: t[0], lambda t: t[:, 1:1]],
                         ids=["strided", "batch", "empty"])
def test_other_indexes_are_refused_by_name(pick, tmp_path):
    x = keras.Input((5, 3))
    model = keras.Model(x, L.Flatten()(pick(L.Dense(4)(x))), name="indexes")
    with pytest.raises(UnsupportedAttributeError, match="index") as caught:
        read_graph(save(model, tmp_path))
    assert "[:, a:b]" in str(caught.value)


def test_an_unsupported_call_with_several_outputs_is_refused_by_name(tmp_path):
    """keras.ops.split returns a list: its later outputs are read as its own, and the call is
    refused by its class, not as a tensor that no layer produces."""
    x = keras.Input((6,))
    halves = keras.ops.split(L.Dense(4)(x), 2, axis=-1)
    model = keras.Model(x, L.Concatenate()([halves[1], halves[0]]), name="halves")
    with pytest.raises(UnsupportedLayerError, match=r"'split' \(ops.Split\)"):
        read_graph(save(model, tmp_path))


def test_normalization_over_several_axes_is_refused(tmp_path):
    model = sequential((4, 4, 3), L.LayerNormalization(axis=[1, 2], name="bn"), name="axis")
    with pytest.raises(UnsupportedAttributeError) as caught:
        compile_graph(save(model, tmp_path))
    assert (caught.value.problems[0].layer, caught.value.problems[0].attribute) == ("bn", "axis")


@pytest.mark.parametrize("fmt", ["keras", "h5"])
def test_lambda_is_refused_with_the_reason(fmt, tmp_path):
    model = sequential((3,), L.Lambda(lambda t: t + 1, name="code"), L.Dense(2), name="lam")
    with pytest.raises(UnsupportedLayerError) as caught:
        read_graph(save(model, tmp_path, fmt))
    problem, = caught.value.layers
    assert problem.name == "code" and "never runs code" in problem.reason


@pytest.mark.parametrize("fmt", ["keras", "h5"])
def test_custom_classes_are_refused_with_the_reason(fmt, tmp_path):
    model = sequential((3,), Twice(name="twice"), Plain(name="plain"), name="custom")
    with pytest.raises(UnsupportedLayerError) as caught:
        read_graph(save(model, tmp_path, fmt))
    by_name = {u.name: u for u in caught.value.layers}
    assert "custom class" in by_name["twice"].reason and "mine>Twice" in by_name["twice"].reason
    assert set(by_name) == {"twice", "plain"}
    if fmt == "keras":  # .h5 does not record where Plain comes from
        assert "custom class" in by_name["plain"].reason


@pytest.fixture
def good_file(tmp_path):
    model = sequential((4,), L.Dense(3, name="d1"), L.Dense(2, name="d2"), name="good")
    return save(model, tmp_path), save(model, tmp_path, "h5")


def _rewrite_archive(path, out, drop=(), replace=None):
    with zipfile.ZipFile(path) as source:
        members = {n: source.read(n) for n in source.namelist() if n not in drop}
    members.update(replace or {})
    with zipfile.ZipFile(out, "w") as target:
        for name, data in members.items():
            target.writestr(name, data)
    return str(out)


def _expect_file_error(path, *fragments):
    with pytest.raises(ModelFileError) as caught:
        read_graph(path)
    assert caught.value.path == str(path)
    for fragment in fragments:
        assert fragment in str(caught.value)
    return caught.value


def test_missing_file(tmp_path):
    _expect_file_error(str(tmp_path / "nope.keras"), "no such file")


def test_directory(tmp_path):
    _expect_file_error(str(tmp_path), "directory")


@pytest.mark.parametrize("content", [b"", b"not a model at all", b"PK\x03\x04truncated"],
                         ids=["empty", "text", "truncated_zip"])
def test_not_a_model_file(content, tmp_path):
    path = tmp_path / "bad.keras"
    path.write_bytes(content)
    _expect_file_error(str(path))


def test_truncated_keras_archive(good_file, tmp_path):
    data = open(good_file[0], "rb").read()
    path = tmp_path / "cut.keras"
    path.write_bytes(data[: len(data) // 2])
    _expect_file_error(str(path), "not a valid .keras archive")


def test_corrupt_config_json(good_file, tmp_path):
    path = _rewrite_archive(good_file[0], tmp_path / "json.keras",
                            replace={"config.json": b"{not json"})
    _expect_file_error(path, "config.json is not valid JSON")


def test_archive_without_weights(good_file, tmp_path):
    path = _rewrite_archive(good_file[0], tmp_path / "noweights.keras", drop=("model.weights.h5",))
    _expect_file_error(path, "no model.weights.h5", "weights are missing")


def test_archive_without_config(good_file, tmp_path):
    path = _rewrite_archive(good_file[0], tmp_path / "noconfig.keras", drop=("config.json",))
    _expect_file_error(path, "no config.json")


def test_corrupt_weights_file_in_archive(good_file, tmp_path):
    path = _rewrite_archive(good_file[0], tmp_path / "garbage.keras",
                            replace={"model.weights.h5": b"\x89HDF\r\n\x1a\n" + b"\0" * 64})
    _expect_file_error(path, "model.weights.h5", "not a readable HDF5 file")


def test_missing_layer_weights_in_archive(good_file, tmp_path):
    with zipfile.ZipFile(good_file[0]) as archive:
        buffer = io.BytesIO(archive.read("model.weights.h5"))
    with h5py.File(buffer, "r+") as h5:
        del h5["layers/dense_1"]
    path = _rewrite_archive(good_file[0], tmp_path / "lost.keras",
                            replace={"model.weights.h5": buffer.getvalue()})
    _expect_file_error(path, "no weights for layer 'd2'")


def test_missing_array_in_archive(good_file, tmp_path):
    with zipfile.ZipFile(good_file[0]) as archive:
        buffer = io.BytesIO(archive.read("model.weights.h5"))
    with h5py.File(buffer, "r+") as h5:
        del h5["layers/dense/vars/1"]
    path = _rewrite_archive(good_file[0], tmp_path / "half.keras",
                            replace={"model.weights.h5": buffer.getvalue()})
    _expect_file_error(path, "layer 'd1' (Dense) has 1 weight arrays", "expected 2 (kernel, bias)")


def test_wrong_weight_shape(good_file, tmp_path):
    with zipfile.ZipFile(good_file[0]) as archive:
        buffer = io.BytesIO(archive.read("model.weights.h5"))
    with h5py.File(buffer, "r+") as h5:
        del h5["layers/dense/vars/0"]
        h5["layers/dense/vars/0"] = [[1.0, 2.0]]
    path = _rewrite_archive(good_file[0], tmp_path / "shape.keras",
                            replace={"model.weights.h5": buffer.getvalue()})
    _expect_file_error(path, "'kernel' has shape (1, 2)", "d1")


def test_legacy_h5_missing_layer_group(good_file, tmp_path):
    path = good_file[1]
    with h5py.File(path, "r+") as h5:
        del h5["model_weights/d2"]
    _expect_file_error(path, "no weights for layer 'd2'")


def test_legacy_h5_listed_weight_missing(good_file):
    path = good_file[1]
    with h5py.File(path, "r+") as h5:
        group = h5["model_weights/d1"]
        bias = next(n for n in group.attrs["weight_names"] if n.endswith("bias"))
        del group[bias]
    _expect_file_error(path, "listed but missing")


def test_weights_only_h5(tmp_path):
    model = sequential((4,), L.Dense(3), name="w")
    path = str(tmp_path / "only.weights.h5")
    model.save_weights(path)
    _expect_file_error(path, "holds only weights")


def test_legacy_h5_corrupt_config(good_file):
    path = good_file[1]
    with h5py.File(path, "r+") as h5:
        h5.attrs["model_config"] = "[1, 2"
    _expect_file_error(path, "model_config is not valid JSON")


def test_config_with_a_dangling_input(good_file, tmp_path):
    x = keras.Input((3,), name="x")
    model = keras.Model(x, L.Dense(2, name="d")(x), name="dangling")
    path = save(model, tmp_path)
    config = json.loads(zipfile.ZipFile(path).read("config.json"))
    config["config"]["layers"][1]["inbound_nodes"][0]["args"][0]["config"]["keras_history"][0] = \
        "ghost"
    broken = _rewrite_archive(path, tmp_path / "ghost.keras",
                              replace={"config.json": json.dumps(config).encode()})
    _expect_file_error(broken, "'d'", "ghost")


def test_reshape_that_does_not_fit(tmp_path):
    path = save(sequential((6,), L.Reshape((2, 3), name="r"), name="fit"), tmp_path)
    config = json.loads(zipfile.ZipFile(path).read("config.json"))
    config["config"]["layers"][1]["config"]["target_shape"] = [4, 2]
    broken = _rewrite_archive(path, tmp_path / "fit2.keras",
                              replace={"config.json": json.dumps(config).encode()})
    with pytest.raises(InvalidModelError, match="layer 'r': cannot reshape"):
        compile_graph(broken)


def test_subclassed_model_in_memory():
    class Mine(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = L.Dense(2)

        def call(self, x):
            return self.dense(x)
    model = Mine()
    model(keras.ops.ones((1, 3)))
    with pytest.raises(CompileError, match="not a Sequential or functional model"):
        read_graph(model)


def test_a_file_holding_a_single_layer_is_not_a_model(good_file, tmp_path):
    single = {"module": "keras.layers", "class_name": "Dense", "config": {"name": "lonely"}}
    path = _rewrite_archive(good_file[0], tmp_path / "single.keras",
                            replace={"config.json": json.dumps(single).encode()})
    with pytest.raises(UnsupportedLayerError, match="'lonely' \\(Dense\\): not a Sequential"):
        read_graph(path)


def test_problems_of_every_kind_come_in_one_message_and_inspect_says_the_same(tmp_path):
    """An unknown class, an unsupported attribute and shapes that cannot merge, together."""
    from kerasdml.compiler.compile import compile_model
    from kerasdml.compiler.errors import ModelProblemsError
    from kerasdml.compiler.layer_table import inspect_model
    x = keras.Input((6, 4), name="x")
    a = L.Lambda(lambda t: t * 2.0, name="scaled")(x)
    b = L.Dense(3, activation="sparsemax", name="sparse")(x)
    c = L.LayerNormalization(rms_scaling=True, name="bad_axis")(L.Dense(5, name="five")(x))
    path = save(keras.Model(x, [a, b, c], name="many_kinds"), tmp_path)
    with pytest.raises(ModelProblemsError) as caught:
        compile_model(path)
    message = str(caught.value)
    assert "'scaled' (Lambda)" in message and "activation='sparsemax'" in message
    assert "layer 'bad_axis' (LayerNormalization): rms_scaling=True" in message
    rows, refusal = inspect_model(path)
    assert refusal == message
    status = {row.name: row.status for row in rows}
    assert status["five"] == "yes" and all(status[n].startswith("no:")
                                           for n in ("scaled", "sparse", "bad_axis"))


def test_dot_of_a_vector_and_a_sequence_is_refused(tmp_path):
    a, b = keras.Input((3,)), keras.Input((4, 3))
    model = keras.Model([a, b], L.Dot(axes=(1, 2), name="mixed")([a, b]), name="mixed_dot")
    with pytest.raises(UnsupportedAttributeError, match="'mixed' \\(Dot\\): input ranks"):
        read_graph(save(model, tmp_path))


def test_center_crop_of_a_smaller_image_is_refused(tmp_path):
    model = sequential((4, 6, 3), L.CenterCrop(5, 5, name="crop"), name="small")
    with pytest.raises(InvalidModelError, match="'crop'.*at least that large"):
        compile_graph(save(model, tmp_path))


def test_attention_returning_its_scores_is_refused(tmp_path):
    q, v = keras.Input((3, 4)), keras.Input((5, 4))
    model = keras.Model([q, v], L.Attention(name="attend")([q, v], return_attention_scores=True),
                        name="attention")
    with pytest.raises(UnsupportedAttributeError) as caught:
        read_graph(save(model, tmp_path))
    assert [(p.layer, p.attribute) for p in caught.value.problems] == [
        ("attend", "return_attention_scores")]


@pytest.mark.parametrize("layer, attribute", [
    (L.EinsumDense("abc,dc->abd", output_shape=(3, 2), name="project"), "equation"),
    (L.EinsumDense("abc,cd->adb", output_shape=(2, 3), name="project"), "equation"),
    (L.EinsumDense("abc,cde->abde", output_shape=(3, 2, 2), bias_axes="e", name="project"),
     "bias_axes"),
])
def test_einsum_dense_beyond_a_dense_is_refused(layer, attribute, tmp_path):
    x = keras.Input((3, 4))
    model = keras.Model(x, layer(x), name="einsum")
    with pytest.raises(UnsupportedAttributeError) as caught:
        read_graph(save(model, tmp_path))
    assert [(p.layer, p.attribute) for p in caught.value.problems] == [("project", attribute)]


def test_well_known_unsupported_classes_say_why(tmp_path):
    x = keras.Input((4, 4, 4, 1))
    y = L.Conv3DTranspose(2, 2, name="volume")(x)
    z = L.ConvLSTM3D(2, 2, name="recurrent")(L.Reshape((5, 5, 5, 2, 1))(y))
    with pytest.raises(UnsupportedLayerError) as caught:
        read_graph(save(keras.Model(x, z, name="why"), tmp_path))
    reasons = {u.name: u.reason for u in caught.value.layers}
    assert "recurrent" in reasons and "volume" not in reasons   # Conv3DTranspose is supported
    assert "3-D" in reasons["recurrent"] and "Conv3DTranspose" in reasons["recurrent"]
