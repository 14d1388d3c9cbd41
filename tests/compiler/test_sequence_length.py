"""Models whose sequence length is open (Input(shape=(None,)) into an Embedding, as keras.io
writes text classifiers): the generated scripts read the length from the data when they run,
so one compiled model predicts, and trains, at any length, as Keras does."""
from __future__ import annotations

import numpy as np
import pytest

from support.keras_models import keras
from kerasdml.compiler import Keras2DML, compile_model
from kerasdml.compiler.errors import CompileError

L = keras.layers
VOCABULARY = 50


def text_model(*middle) -> keras.Model:
    keras.utils.set_random_seed(0)
    tokens = keras.Input(shape=(None,), dtype="int32")
    x = L.Embedding(VOCABULARY, 8, name="embedding")(tokens)
    for layer in middle:
        x = layer(x)
    return keras.Model(tokens, L.Dense(3, activation="softmax")(x))


MODELS = {
    "conv1d_global_max": lambda: text_model(L.Conv1D(4, 3, activation="relu"),
                                            L.GlobalMaxPooling1D()),
    "conv1d_same_global_avg": lambda: text_model(L.Conv1D(5, 4, padding="same"),
                                                 L.GlobalAveragePooling1D()),
    "lstm": lambda: text_model(L.LSTM(6)),
    "gru_sequences_pooled": lambda: text_model(L.GRU(5, return_sequences=True),
                                               L.GlobalAveragePooling1D()),
    "simple_rnn": lambda: text_model(L.SimpleRNN(4)),
    "dense_softmax_per_step": lambda: text_model(L.Dense(6, activation="softmax"),
                                                 L.Conv1D(3, 2), L.GlobalMaxPooling1D()),
}


def tokens(count: int, length: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, VOCABULARY, (count, length))


@pytest.mark.parametrize("name", MODELS)
def test_one_compiled_model_predicts_like_keras_at_two_lengths(name):
    model = MODELS[name]()
    compiled = compile_model(model)
    for length in (7, 13):
        x = tokens(5, length, seed=length)
        np.testing.assert_allclose(compiled.predict(x), model.predict(x, verbose=0), atol=1e-5,
                                   err_msg=f"sequence length {length}")


def test_the_script_takes_the_length_from_the_data():
    script = compile_model(MODELS["conv1d_global_max"]()).predict_script
    assert "as.integer(ncol(embedding) / 8)" in script
    assert "X: N x T  Keras input" in script


def test_training_at_an_open_length_matches_keras_fit():
    model = MODELS["lstm"]()
    model.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.SGD(0.1))
    x, y = tokens(40, 9, seed=1), np.random.default_rng(2).integers(0, 3, 40)
    estimator = Keras2DML(model, epochs=2, batch_size=10, shuffle=False, verbose=0).fit(x, y)
    trained = estimator.predict(tokens(4, 11, seed=3))       # another length after training
    model.fit(x, y, epochs=2, batch_size=10, shuffle=False, verbose=0)
    np.testing.assert_allclose(trained, model.predict(tokens(4, 11, seed=3), verbose=0),
                               atol=1e-5)


def test_an_output_whose_size_follows_the_length_is_refused():
    tokens_in = keras.Input(shape=(None,), dtype="int32")
    steps = L.LSTM(6, return_sequences=True, name="lstm")(L.Embedding(VOCABULARY, 8)(tokens_in))
    with pytest.raises(CompileError, match="output 'lstm' has shape \\(None, 6\\)"):
        compile_model(keras.Model(tokens_in, steps))
