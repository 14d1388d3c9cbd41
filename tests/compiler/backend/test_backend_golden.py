"""Golden files of generated scripts: any change in the DML the compiler writes shows as a diff.

The models name every layer, so Keras' global name counters do not matter. After an intended
change, regenerate the files and review the diff:

    KERASDML_REGENERATE_GOLDEN=1 .venv/bin/python -m pytest tests/compiler/backend/test_backend_golden.py
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from support.keras_models import keras
from kerasdml.compiler.compile import compile_model

L = keras.layers
GOLDEN = Path(__file__).parent / "golden"


def mlp():
    inputs = keras.Input((8,), name="features")
    x = L.Dense(16, activation="relu", name="hidden")(inputs)
    x = L.Dropout(0.25, name="drop")(x)
    outputs = L.Dense(3, activation="softmax", name="classes")(x)
    model = keras.Model(inputs, outputs, name="mlp")
    model.compile(loss="categorical_crossentropy", optimizer=keras.optimizers.SGD(0.05))
    return model


def cnn():
    inputs = keras.Input((12, 12, 3), name="image")
    x = L.Conv2D(4, 3, padding="same", activation="relu", name="conv1")(inputs)
    x = L.MaxPooling2D(2, name="pool1")(x)
    x = L.Conv2D(6, 4, strides=2, padding="same", name="conv2")(x)
    x = L.BatchNormalization(name="norm2")(x)
    x = L.Flatten(name="flat")(x)
    outputs = L.Dense(5, activation="softmax", name="classes")(x)
    model = keras.Model(inputs, outputs, name="cnn")
    model.compile(loss="categorical_crossentropy",
                  optimizer=keras.optimizers.SGD(0.01, momentum=0.9))
    return model


def text_rnn():
    inputs = keras.Input((10,), dtype="int32", name="tokens")
    x = L.Embedding(50, 8, name="embed")(inputs)
    a = L.LSTM(6, return_sequences=True, name="lstm")(x)
    b = L.Conv1D(6, 3, padding="same", name="conv")(x)
    x = L.Add(name="mix")([a, b])
    x = L.GlobalAveragePooling1D(name="pool")(x)
    outputs = L.Dense(1, activation="sigmoid", name="score")(x)
    model = keras.Model(inputs, outputs, name="text_rnn")
    model.compile(loss="binary_crossentropy", optimizer="sgd")
    return model


MODELS = {"mlp": mlp, "cnn": cnn, "text_rnn": text_rnn}
CASES = [(name, kind) for name in MODELS for kind in ("predict", "train")]


@pytest.mark.parametrize("name, kind", CASES, ids=[f"{n}-{k}" for n, k in CASES])
def test_script_matches_golden_file(name, kind):
    script = compile_model(MODELS[name]()).script(kind)
    path = GOLDEN / f"{name}.{kind}.dml"
    if os.environ.get("KERASDML_REGENERATE_GOLDEN"):
        path.write_text(script)
    assert path.exists(), f"{path} missing: regenerate (see this module's docstring)"
    assert script == path.read_text(), (f"the generated {kind} script of '{name}' changed; "
                                        "review and regenerate (see this module's docstring)")
