"""Building, randomising and saving real Keras models for the compiler tests, and comparing a
compiled graph with the model it came from."""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import logging  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

keras = pytest.importorskip("keras")
logging.getLogger("absl").setLevel(logging.ERROR)  # Keras warns that .h5 is a legacy format

from support import ir_reference  # noqa: E402
from kerasdml.compiler import frontend, passes  # noqa: E402


def sequential(input_shape, *layers, name=None, dtype="float32"):
    return keras.Sequential([keras.Input(input_shape, dtype=dtype), *layers], name=name)


def encoder_block(attention, name: str):
    """A transformer encoder block on (6, 8) sequences and its classifier: `attention(x)` (the
    sequence attending to itself), residual and LayerNormalization, a gelu feed-forward with its
    residual and LayerNormalization, averaged over the steps, a softmax over 3 classes."""
    layers = keras.layers
    x = keras.Input((6, 8))
    attended = attention(x)
    y = layers.LayerNormalization()(layers.Add()([x, attended]))
    hidden = layers.Dense(16, activation="gelu")(y)
    y = layers.LayerNormalization()(layers.Add()([y, layers.Dense(8)(hidden)]))
    y = layers.GlobalAveragePooling1D()(y)
    return keras.Model(x, layers.Dense(3, activation="softmax")(y), name=name)


def ct_scan_classifier(shape=(8, 16, 16, 1), filters=(4, 4, 8), dropout=0.3):
    """keras.io's "3D image classification from CT scans" at a small size: blocks of Conv3D
    (relu; the first "valid", the rest "same"), MaxPool3D(2) (all but the last block) and
    BatchNormalization, then GlobalAveragePooling3D, Dense(relu), Dropout, Dense(1, sigmoid)."""
    x = keras.Input(shape)
    y = x
    for block, count in enumerate(filters):
        y = keras.layers.Conv3D(count, 3, activation="relu",
                                padding="same" if block else "valid")(y)
        if block < len(filters) - 1:
            y = keras.layers.MaxPool3D(2)(y)
        y = keras.layers.BatchNormalization()(y)
    y = keras.layers.Dense(16, activation="relu")(keras.layers.GlobalAveragePooling3D()(y))
    if dropout:
        y = keras.layers.Dropout(dropout)(y)
    return keras.Model(x, keras.layers.Dense(1, activation="sigmoid")(y), name="ct_scan")


def randomize(model, seed: int = 0, scale: float = 1.0):
    """Non-trivial weights everywhere: biases, BatchNorm statistics (variances positive).
    `scale` shrinks all but the variances, e.g. to keep a deep model's softmax unsaturated."""
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        shape = tuple(variable.shape)
        if "variance" in variable.path:
            value = rng.uniform(0.5, 1.5, shape)
        else:
            value = rng.normal(0.0, 0.4 * scale, shape)
        variable.assign(value.astype(variable.dtype))
    return model


def perturb_statistics(model, seed: int = 0):
    """Keras' initial kernels, but biases and BatchNorm parameters and statistics made
    non-trivial, so that every weight array influences the output."""
    rng = np.random.default_rng(seed)
    for v in model.weights:
        shape = tuple(v.shape)
        if v.name in ("gamma", "moving_variance"):
            v.assign(rng.uniform(0.5, 1.5, shape).astype("float32"))
        elif v.name in ("beta", "moving_mean", "bias"):
            v.assign(rng.normal(0, 0.1, shape).astype("float32"))
    return model


def save(model, directory, fmt: str = "keras") -> str:
    path = os.path.join(str(directory), f"{model.name}.{fmt}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.save(path)
    return path


def sample_inputs(model, batch: int = 3, seed: int = 1, vocabulary: int | None = None) -> list:
    rng = np.random.default_rng(seed)
    inputs = []
    for tensor in model.inputs:
        shape = (batch, *tensor.shape[1:])
        if "int" in str(tensor.dtype):
            inputs.append(rng.integers(0, vocabulary or 5, shape).astype("int32"))
        else:
            inputs.append(rng.normal(0.0, 1.0, shape).astype("float32"))
    return inputs


def predict(model, inputs) -> list:
    """The model's outputs as a list; named (dict) outputs in the order of their sorted names,
    as Keras flattens them (model.outputs)."""
    outputs = model(inputs if len(inputs) > 1 else inputs[0], training=False)
    if isinstance(outputs, dict):
        outputs = [outputs[name] for name in sorted(outputs)]
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    return [np.asarray(o) for o in outputs]


def compile_graph(source, training: bool = False):
    return passes.prepare(frontend.read_graph(source), training=training)


def assert_matches_keras(graph, model, inputs=None, atol: float = 1e-4):
    """The reference interpreter on `graph` computes what Keras computes."""
    inputs = inputs if inputs is not None else sample_inputs(model)
    expected = predict(model, inputs)
    got = ir_reference.run(graph, inputs)
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g.shape == e.shape
        np.testing.assert_allclose(g, e, atol=atol, rtol=1e-4)


def keras_layer(model, path: str):
    layer = model
    for name in path.split("/"):
        layer = layer.get_layer(name.split(":")[0])
    return layer


def assert_params_are_keras_weights(graph, model):
    """Every IR parameter is, bit for bit, the Keras weight its origin names (a ConvLSTM1D's
    kernel with a height axis of 1 added)."""
    for node, param in graph.params():
        layer = keras_layer(model, param.layer)
        variables = [v for v in layer.weights if v.name == param.weight]
        assert len(variables) == 1, (param.layer, param.weight, [v.name for v in layer.weights])
        expected = np.asarray(variables[0].numpy())
        assert param.value.squeeze().shape == expected.squeeze().shape, param.weight
        np.testing.assert_array_equal(param.value.reshape(expected.shape), expected)


def assert_trains_like_keras(model, x, y, folder, optimizer=None,
                             loss="sparse_categorical_crossentropy"):
    """Two epochs of batches of 8 with `optimizer` (default Adam(0.01)), by Keras2DML and by
    model.fit from the same weights: the exported model's weights equal Keras' within 1e-4."""
    from kerasdml.compiler.estimator import Keras2DML

    model.compile(optimizer=optimizer or keras.optimizers.Adam(0.01), loss=loss)
    estimator = Keras2DML(model, epochs=2, batch_size=8, shuffle=False, verbose=0).fit(x, y)
    model.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    exported = keras.models.load_model(estimator.export(folder / "out.keras"))
    for got, expected in zip(exported.weights, model.weights):
        np.testing.assert_allclose(got.numpy(), expected.numpy(), atol=1e-4, rtol=1e-4,
                                   err_msg=expected.path)
