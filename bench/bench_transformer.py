"""A transformer encoder as people write one in Keras (MultiHeadAttention, residuals,
LayerNormalization, a GELU feed-forward block, a pooled classifier), kerasdml vs Keras on the
same model and data, single precision: predict from the saved model (compile_model + predict)
against model.predict, and a Keras2DML.fit epoch against model.fit.

    .venv/bin/python bench/run.py transformer [--quick]
"""
from __future__ import annotations

import os
import tempfile
import warnings

import numpy as np

from bench_models import profile
from harness import Options, Row, side_by_side

STEPS, WIDTH, HEADS, HIDDEN, CLASSES = 128, 256, 8, 512, 10
BATCH = 32


def encoder(layers: int):
    import keras
    keras.utils.set_random_seed(3)
    inputs = keras.Input((STEPS, WIDTH))
    x = inputs
    for _ in range(layers):
        attended = keras.layers.MultiHeadAttention(HEADS, WIDTH // HEADS)(x, x)
        x = keras.layers.LayerNormalization()(x + attended)
        hidden = keras.layers.Dense(HIDDEN, activation="gelu")(x)
        x = keras.layers.LayerNormalization()(x + keras.layers.Dense(WIDTH)(hidden))
    pooled = keras.layers.GlobalAveragePooling1D()(x)
    model = keras.Model(inputs, keras.layers.Dense(CLASSES, activation="softmax")(pooled))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="categorical_crossentropy")
    return model


def rows(options: Options) -> list[Row]:
    from kerasdml.compiler import Keras2DML, compile_model
    from kerasdml.runtime.context import Statistics

    layers = 2 if options.quick else 4
    model = encoder(layers)
    path = os.path.join(tempfile.mkdtemp(prefix="bench_transformer."), "encoder.keras")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.save(path)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((BATCH, STEPS, WIDTH)).astype(np.float32)
    compiled = compile_model(path)

    def ours():
        compiled.predict(x, batch_size=BATCH, precision="single")

    def keras_predict():
        model.predict(x, batch_size=BATCH, verbose=0)
    ours(), keras_predict()          # first calls (tracing, first-touch memory) untimed
    mine, theirs = side_by_side(ours, keras_predict, options.repeats)
    stats = Statistics()
    compiled.predict(x, batch_size=BATCH, precision="single", stats=stats)
    name = f"transformer encoder ({layers} layers, {STEPS} steps x {WIDTH}, {HEADS} heads)"
    out = [Row(f"{name} predict, batch {BATCH}, single", mine, theirs, "Keras predict",
               notes=[profile(stats)])]

    samples = 128 if options.quick else 256
    train_x = rng.standard_normal((samples, STEPS, WIDTH)).astype(np.float32)
    train_y = np.eye(CLASSES, dtype=np.float32)[rng.integers(0, CLASSES, samples)]
    estimator = Keras2DML(encoder(layers), epochs=1, batch_size=BATCH, shuffle=False, verbose=0,
                          precision="single")
    keras_model = encoder(layers)
    keras_model.fit(train_x[:BATCH], train_y[:BATCH], batch_size=BATCH, verbose=0)   # tracing
    estimator.fit(train_x[:BATCH], train_y[:BATCH])                                 # compile
    mine, theirs = side_by_side(
        lambda: estimator.fit(train_x, train_y),
        lambda: keras_model.fit(train_x, train_y, batch_size=BATCH, verbose=0, shuffle=False),
        options.repeats)
    out.append(Row(f"{name} Keras2DML.fit epoch of {samples} samples, batch {BATCH}, single",
                   mine, theirs, "Keras fit"))
    return out
