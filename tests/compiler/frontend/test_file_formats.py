"""The traps of Keras' file formats, each checked on files written by Keras itself (and, for older
layouts Keras 3 no longer writes, on Keras 3 files rewritten into that layout)."""
from __future__ import annotations

import io
import json
import zipfile

import h5py
import numpy as np
import pytest

from support.keras_models import (assert_matches_keras, assert_params_are_keras_weights, compile_graph,
                           keras, keras_layer, randomize, save, sequential)
from kerasdml.compiler.frontend import read_graph
from kerasdml.compiler.frontend.sources import open_model
from kerasdml.compiler.frontend.weights import (KerasZipWeights, counter_keys,
                                                read_attribute_list, snake_case)

L = keras.layers


def _every_class_model():
    x = keras.Input((8, 8, 3), name="img")
    y = L.ZeroPadding2D(1)(x)
    y = L.Conv2D(4, 3, name="first")(y)
    y = L.ReLU()(y)
    y = L.LeakyReLU()(y)
    y = L.DepthwiseConv2D(3, padding="same")(y)
    y = L.SeparableConv2D(4, 3, padding="same")(y)
    y = L.Conv2DTranspose(4, 2, padding="same")(y)
    y = L.BatchNormalization()(y)
    y = L.MaxPooling2D()(y)
    y = L.UpSampling2D()(y)
    y = L.AveragePooling2D(2)(y)
    y = L.Conv2D(4, 1)(y)
    y = L.GlobalAveragePooling2D()(y)
    z = L.Reshape((4, 1))(y)
    z = L.Conv1D(3, 2, padding="same")(z)
    z = L.SimpleRNN(3, return_sequences=True)(z)
    z = L.LSTM(3, return_sequences=True)(z)
    z = L.GRU(3)(z)
    y = L.Concatenate()([y, z])
    y = L.Dense(6, name="zzz")(y)
    y = L.Dense(6, name="dense")(y)
    y = L.LayerNormalization()(y)
    return keras.Model(x, L.Softmax()(L.Dense(2, name="out")(y)), name="every_class")


@pytest.fixture(scope="module")
def every_class(tmp_path_factory):
    keras.utils.set_random_seed(0)
    model = randomize(_every_class_model(), seed=2)
    return model, save(model, tmp_path_factory.mktemp("every"))


def _weights_file(path) -> h5py.File:
    return h5py.File(io.BytesIO(zipfile.ZipFile(path).read("model.weights.h5")), "r")


def test_snake_case_counters_match_the_keys_keras_writes(every_class):
    model, path = every_class
    config = json.loads(zipfile.ZipFile(path).read("config.json"))
    expected = counter_keys(config["config"]["layers"])
    with _weights_file(path) as h5:
        written = {g["vars"].attrs["name"]: key for key, g in h5["layers"].items()}
    assert written == expected
    assert expected["zzz"] == "dense" and expected["dense"] == "dense_1"  # not the layer's name


@pytest.mark.parametrize("name, key", [("Conv2DTranspose", "conv2d_transpose"), ("ReLU", "re_lu"),
                                       ("LeakyReLU", "leaky_re_lu"), ("SimpleRNN", "simple_rnn"),
                                       ("GlobalAveragePooling2D", "global_average_pooling2d"),
                                       ("LSTM", "lstm"), ("PReLU", "p_re_lu"),
                                       ("UpSampling2D", "up_sampling2d")])
def test_snake_case(name, key):
    assert snake_case(name) == key


def _rewrite_weights(path, out, edit):
    """Copies a .keras archive, letting `edit(h5file)` change model.weights.h5."""
    with zipfile.ZipFile(path) as source:
        members = {n: source.read(n) for n in source.namelist()}
    buffer = io.BytesIO(members["model.weights.h5"])
    with h5py.File(buffer, "r+") as h5:
        edit(h5)
    members["model.weights.h5"] = buffer.getvalue()
    with zipfile.ZipFile(out, "w") as target:
        for name, data in members.items():
            target.writestr(name, data)
    return str(out)


def _drop_name_attributes(h5):
    def visit(name, item):
        if isinstance(item, h5py.Group) and "name" in item.attrs:
            del item.attrs["name"]
    h5.visititems(visit)


def _branchy_model():
    """Layers created in another order than the graph uses them, two branches, a shared layer."""
    late, early, side = L.Dense(4, name="late"), L.Dense(4, name="early"), L.Dense(4, name="side")
    shared = L.Dense(4, name="shared")
    x = keras.Input((4,), name="x")
    a = late(shared(early(x)))
    b = shared(side(x))
    return keras.Model(x, L.Concatenate(name="cat")([b, a]), name="branchy")


def test_files_without_name_attributes_use_the_counters(every_class, tmp_path):
    keras.utils.set_random_seed(0)
    branchy = randomize(_branchy_model())
    for model, path in (every_class, (branchy, save(branchy, tmp_path))):
        old_style = _rewrite_weights(path, tmp_path / "old.keras", _drop_name_attributes)
        graph = compile_graph(old_style)
        assert_params_are_keras_weights(graph, model)
        assert_matches_keras(graph, model)


def test_name_attributes_win_over_the_counters(tmp_path):
    model = randomize(sequential((3,), L.Dense(4, name="a"), L.Dense(4, name="b"), name="two"))
    def swap(h5):  # swap the groups, keep each one's name attribute: only names can tell
        h5["layers"].move("dense", "tmp")
        h5["layers"].move("dense_1", "dense")
        h5["layers"].move("tmp", "dense_1")
    swapped = _rewrite_weights(save(model, tmp_path), tmp_path / "swapped.keras", swap)
    assert_params_are_keras_weights(compile_graph(swapped), model)


def test_vars_are_sorted_as_numbers():
    h5 = h5py.File(io.BytesIO(), "w")
    group = h5.create_group("layers/dense/vars")
    for i in range(12):
        group[str(i)] = np.full(1, i)
    store = KerasZipWeights(h5, {"config": {"layers": [{"class_name": "Dense", "name": "d"}]}},
                            "m.keras")
    assert [int(a.value[0]) for a in store.arrays(("d",))] == list(range(12))


def _nested_model():
    inner = keras.Sequential([L.Dense(3, name="in_a"), L.Dense(2, name="in_b")], name="inner")
    i = keras.Input((2,), name="fi")
    inner_fn = keras.Model(i, L.Dense(2, name="fn_d")(i), name="inner_fn")
    return sequential((6, 4), L.Bidirectional(L.LSTM(3, return_sequences=True), name="bi"),
                      L.TimeDistributed(L.Dense(2), name="td"), L.GRU(2, name="gru"),
                      inner, inner_fn, name="nesting")


@pytest.mark.parametrize("fmt", ["keras", "h5", "memory"])
@pytest.mark.parametrize("path", [("bi",), ("td",), ("gru",), ("inner", "in_a"),
                                  ("inner", "in_b"), ("inner_fn", "fn_d")],
                         ids=lambda p: "/".join(p))
def test_nested_weight_paths(fmt, path, tmp_path):
    keras.utils.set_random_seed(0)
    model = randomize(_nested_model())
    source = model if fmt == "memory" else save(model, tmp_path, fmt)
    with open_model(source) as opened:
        arrays = [a.value for a in opened.weights.arrays(path)]
    expected = keras_layer(model, "/".join(path)).get_weights()
    assert len(arrays) == len(expected)
    for got, want in zip(arrays, expected):
        np.testing.assert_array_equal(got, want)


def test_legacy_h5_split_layer_names(tmp_path):
    """Keras splits attributes over 64 KiB into layer_names0, layer_names1, ..."""
    layers = [L.Dense(2, name=f"{i:03d}_" + "x" * 3000) for i in range(24)]
    model = randomize(sequential((2,), *layers, name="long_names"))
    path = save(model, tmp_path, "h5")
    with h5py.File(path, "r") as h5:
        assert "layer_names" not in h5["model_weights"].attrs
        assert "layer_names1" in h5["model_weights"].attrs
        assert len(read_attribute_list(h5["model_weights"], "layer_names")) == 24
    assert_matches_keras(compile_graph(path), model)


def test_legacy_h5_split_weight_names(tmp_path):
    model = randomize(sequential((3,), L.Dense(2, name="d"), name="split"))
    path = save(model, tmp_path, "h5")
    with h5py.File(path, "r+") as h5:
        group = h5["model_weights/d"]
        names = list(group.attrs["weight_names"])
        del group.attrs["weight_names"]
        group.attrs["weight_names0"], group.attrs["weight_names1"] = names[:1], names[1:]
    assert_params_are_keras_weights(compile_graph(path), model)


# --- Keras 2 layouts, rewritten from Keras 3 files ----------------------------------------------

def _keras2_entry(entry):
    entry = {k: v for k, v in entry.items() if k not in ("module", "registered_name",
                                                          "build_config")}
    config = dict(entry["config"])
    if "batch_shape" in config:
        config["batch_input_shape"] = config.pop("batch_shape")
    config.pop("dtype", None)
    entry["config"] = config
    if "inbound_nodes" in entry:
        entry["inbound_nodes"] = [[[*ref, {}] for ref in _keras3_refs(node["args"])]
                                  for node in entry["inbound_nodes"]]
    return entry


def _keras3_refs(value):
    if isinstance(value, dict):
        return [value["config"]["keras_history"]] if value.get("class_name") == \
            "__keras_tensor__" else []
    return [r for v in value for r in _keras3_refs(v)] if isinstance(value, list) else []


def _as_keras2(config):
    config = dict(config)
    body = dict(config["config"])
    layers = [_keras2_entry(e) for e in body["layers"]]
    if config["class_name"] == "Sequential":  # no InputLayer: the shape sits on the first layer
        shape = layers.pop(0)["config"]["batch_input_shape"]
        layers[0]["config"]["batch_input_shape"] = shape
    else:
        config["class_name"] = "Model"
        for key in ("input_layers", "output_layers"):
            refs = body[key]
            body[key] = [refs] if isinstance(refs[0], str) else refs
    body["layers"] = layers
    config["config"] = body
    return config


def _keras2_weight_names(h5):
    """TF-Keras 2 names: "dense/kernel:0"; DepthwiseConv2D's kernel was depthwise_kernel."""
    for group in h5["model_weights"].values():
        names = [n.decode() if isinstance(n, bytes) else n for n in group.attrs["weight_names"]]
        renamed = []
        for name in names:
            new = name.replace("depthwise_conv2d/kernel", "depthwise_conv2d/depthwise_kernel")
            group.move(name, new + ":0")
            renamed.append((new + ":0").encode())
        group.attrs["weight_names"] = np.array(renamed, dtype=object) if renamed else \
            np.zeros(0, dtype="S1")


@pytest.mark.parametrize("kind", ["functional", "sequential"])
def test_keras2_configs_and_weight_names(kind, tmp_path):
    keras.utils.set_random_seed(0)
    if kind == "sequential":
        model = sequential((6, 6, 2), L.Conv2D(3, 3, activation="relu"),
                           L.DepthwiseConv2D(2, name="depthwise_conv2d"), L.Flatten(),
                           L.Dense(2), name="seq2")
    else:
        x = keras.Input((5,), name="x")
        a = L.Dense(5, name="a")(x)
        model = keras.Model(x, [L.Add(name="add")([x, a]), L.Dense(1, name="b")(a)], name="fn2")
    model = randomize(model)
    path = save(model, tmp_path, "h5")
    with h5py.File(path, "r+") as h5:
        config = json.loads(h5.attrs["model_config"])
        h5.attrs["model_config"] = json.dumps(_as_keras2(config))
        _keras2_weight_names(h5)
    graph = compile_graph(path)
    assert_matches_keras(graph, model)
    if kind == "sequential":
        assert graph.node("depthwise_conv2d").params[0].weight == "depthwise_kernel"


def test_in_memory_model_never_needs_a_file(tmp_path):
    keras.utils.set_random_seed(0)
    model = randomize(sequential((4,), L.Dense(3, activation="relu"), L.Dense(1), name="mem"))
    from_memory = read_graph(model)
    from_file = read_graph(save(model, tmp_path))
    assert [(n.name, n.op, n.attrs) for n in from_memory.nodes] == \
        [(n.name, n.op, n.attrs) for n in from_file.nodes]
    assert from_memory.source == "<in-memory model 'mem'>"


def test_compiling_a_file_imports_no_tensorflow(every_class, tmp_path):
    import subprocess
    import sys
    _, path = every_class
    code = ("import sys; from kerasdml.compiler import frontend; frontend.load(sys.argv[1]); "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'jax')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    done = subprocess.run([sys.executable, "-c", code, path], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_sequential_built_without_an_input_layer(tmp_path):
    model = keras.Sequential([L.Dense(3, name="a"), L.Dense(2, name="b")], name="built")
    model.build((None, 4))
    model = randomize(model)
    for source in (save(model, tmp_path), save(model, tmp_path, "h5"), model):
        graph = compile_graph(source)
        assert graph.shape(graph.inputs[0]) == (4,)
        assert_matches_keras(graph, model)


def test_frozen_layers_keep_their_weight_order(tmp_path):
    keras.utils.set_random_seed(0)
    model = sequential((4, 4, 2), L.Conv2D(3, 2, name="c"), L.BatchNormalization(name="bn"),
                       L.Flatten(), L.Dense(2, name="d"), name="frozen")
    for name in ("bn", "d"):
        model.get_layer(name).trainable = False
    model = randomize(model)
    for fmt in ("keras", "h5"):
        graph = compile_graph(save(model, tmp_path, fmt))
        assert_params_are_keras_weights(graph, model)
        assert_matches_keras(graph, model)


def test_legacy_h5_follows_weight_names_order_not_dataset_order(tmp_path):
    """HDF5 lists datasets alphabetically; only the weight_names attribute gives Keras' order."""
    keras.utils.set_random_seed(0)
    model = randomize(sequential((4, 3), L.GRU(2, name="gru"), name="ordered"))
    path = save(model, tmp_path, "h5")
    with h5py.File(path, "r+") as h5:
        group = h5["model_weights/gru"]
        names = [n.decode() if isinstance(n, bytes) else n for n in group.attrs["weight_names"]]
        renamed = []
        for name, new in zip(names, ("z", "y", "x")):  # reverse-alphabetical in Keras' order
            target = name.rsplit("/", 1)[0] + "/" + new
            group.move(name, target)
            renamed.append(target.encode())
        group.attrs["weight_names"] = np.array(renamed, dtype=object)
    assert_matches_keras(compile_graph(path), model)
