"""Weights one layer uses at several places train as one weight, as in Keras: a layer called
twice (a siamese network's shared encoder, a nested model reused, a Dense applied twice in a
chain) and an RNN whose final states a second node computes (an LSTM's cell state). Each place
contributes its gradient; the weight gets one variable and one update with their sum."""
from __future__ import annotations

import numpy as np
import pytest

from support.keras_models import assert_trains_like_keras, keras, randomize
from kerasdml.compiler.estimator import Keras2DML

L = keras.layers
RNG = np.random.default_rng(21)


def siamese():
    a, b = keras.Input((6,)), keras.Input((6,))
    encoder = L.Dense(4, activation="tanh", name="encoder")
    merged = L.Concatenate()([encoder(a), encoder(b), L.Subtract()([encoder(a), encoder(b)])])
    return keras.Model([a, b], L.Dense(3, activation="softmax")(merged), name="siamese")


def nested_encoder_twice():
    inner = keras.Sequential([keras.Input((5, 3)), L.Conv1D(4, 2, activation="relu"),
                              L.GlobalAveragePooling1D()], name="inner")
    a, b = keras.Input((5, 3)), keras.Input((5, 3))
    return keras.Model([a, b], L.Dense(3, activation="softmax")(L.Add()([inner(a), inner(b)])),
                       name="nested_twice")


def dense_in_a_chain():
    x = keras.Input((4,))
    square = L.Dense(4, activation="tanh", name="square")
    return keras.Model(x, L.Dense(3, activation="softmax")(square(square(x))), name="chain")


def gru_sequence_and_state():
    x = keras.Input((5, 3))
    steps, state = L.GRU(4, return_sequences=True, return_state=True)(x)
    merged = L.Concatenate()([L.GlobalAveragePooling1D()(steps), state])
    return keras.Model(x, L.Dense(3, activation="softmax")(merged), name="gru_both")


def gru_state_only():
    """The sequence output unused: Keras computes it for nothing, the scripts drop it."""
    x = keras.Input((5, 3))
    _, state = L.GRU(4, return_sequences=True, return_state=True)(x)
    return keras.Model(x, L.Dense(3, activation="softmax")(state), name="gru_state")


def lstm_encoder_decoder():
    """The classic encoder-decoder: the encoder's last hidden and cell states start the
    decoder (its cell state a second pass of the encoder computes)."""
    source, target = keras.Input((5, 3)), keras.Input((4, 2))
    _, h, c = L.LSTM(4, return_state=True)(source)
    decoded = L.LSTM(4)(target, initial_state=[h, c])
    return keras.Model([source, target], L.Dense(3, activation="softmax")(decoded),
                       name="encoder_decoder_states")


def lstm_cell_state_only():
    """Only the last cell state read: its node alone holds the LSTM's weights."""
    x = keras.Input((5, 3))
    _, _, cell = L.LSTM(4, return_state=True)(x)
    return keras.Model(x, L.Dense(3, activation="softmax")(cell), name="cell_state_only")


CASES = {"siamese": (siamese, [(16, 6), (16, 6)]),
         "lstm_cell_state_only": (lstm_cell_state_only, [(16, 5, 3)]),
         "lstm_encoder_decoder": (lstm_encoder_decoder, [(16, 5, 3), (16, 4, 2)]),
         "nested_encoder_twice": (nested_encoder_twice, [(16, 5, 3), (16, 5, 3)]),
         "dense_in_a_chain": (dense_in_a_chain, [(16, 4)]),
         "gru_sequence_and_state": (gru_sequence_and_state, [(16, 5, 3)]),
         "gru_state_only": (gru_state_only, [(16, 5, 3)])}


@pytest.mark.parametrize("name", list(CASES))
def test_a_weight_used_at_several_places_trains_like_keras(name, tmp_path):
    build, shapes = CASES[name]
    model = randomize(build(), seed=4, scale=0.5)
    xs = [RNG.normal(size=shape).astype("float32") for shape in shapes]
    y = RNG.integers(0, 3, shapes[0][0])
    assert_trains_like_keras(model, xs if len(xs) > 1 else xs[0], y, tmp_path,
                             optimizer=keras.optimizers.SGD(0.1, momentum=0.5))


def test_a_shared_weight_is_one_variable_updated_once_with_the_summed_gradient():
    model = randomize(siamese(), seed=4, scale=0.5)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    script = Keras2DML(model, epochs=1, batch_size=8, verbose=0).get_training_script()
    assert script.count("encoder_W = read(") == 1
    assert [line.strip() for line in script.splitlines()
            if line.strip().startswith("[encoder_W, ")] == \
        ["[encoder_W, encoder_W_v] = sgd::update(encoder_W, dencoder_W, lr, 0.0, FALSE, 0.0, "
         "encoder_W_v)"]
    summed = [line.strip() for line in script.splitlines()
              if line.strip().startswith("dencoder_W = ")]
    assert summed == ["dencoder_W = dencoder_W_1 + dencoder_W_2 + dencoder_W_3 + dencoder_W_4"]
