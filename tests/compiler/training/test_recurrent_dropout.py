"""dropout and recurrent_dropout of SimpleRNN, LSTM and GRU in training. The masks cannot be
Keras' own (another generator), so: a rate of 0 compiles to the script without them; with a
rate, the script draws one input and one state mask per sequence from the batch's seed (the same
seed, the same losses), each dropping about the rate's share; prediction ignores them. That the
layers apply the masks as Keras does, given the same masks, is tests/dml_lib/test_parity_rnn.py's
check against Keras itself."""
from __future__ import annotations

import numpy as np
import pytest

from support.keras_models import keras
from kerasdml.compiler.errors import UnsupportedAttributeError
from kerasdml.compiler.estimator import Keras2DML
from kerasdml.runtime.api import run_string

L = keras.layers
RNG = np.random.default_rng(3)
X = RNG.normal(size=(32, 6, 3)).astype("float32")
Y = RNG.integers(0, 2, (32, 1)).astype("float32")


def classifier(layer):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6, 3), name="x"), layer,
                              L.Dense(1, activation="sigmoid", name="out")])
    model.compile(keras.optimizers.SGD(0.1), "binary_crossentropy")
    return model


def estimator(layer, seed=1):
    return Keras2DML(classifier(layer), epochs=2, batch_size=8, shuffle=False, seed=seed,
                     verbose=0)


CELLS = {"SimpleRNN": L.SimpleRNN, "LSTM": L.LSTM, "GRU": L.GRU}


@pytest.mark.parametrize("cell", list(CELLS))
def test_a_rate_of_zero_compiles_to_the_script_without_dropout(cell):
    def code(est):   # the script without its comments (which name the model's file)
        return [line for line in est.get_training_script().splitlines()
                if not line.lstrip().startswith("#")]
    plain = code(estimator(CELLS[cell](4, name="rnn")))
    assert code(estimator(CELLS[cell](4, dropout=0.0, recurrent_dropout=0.0, name="rnn"))) \
        == plain
    assert not any("recurrent_dropout::" in line for line in plain)


@pytest.mark.parametrize("cell", list(CELLS))
def test_masks_follow_the_seed_and_change_the_training(cell):
    def losses(rate, seed):
        layer = CELLS[cell](4, dropout=rate, recurrent_dropout=rate)
        return estimator(layer, seed).fit(X, Y).history_["loss"]
    first = losses(0.5, 1)
    assert losses(0.5, 1) == first                # the same seed draws the same masks
    assert losses(0.5, 2) != first                # another seed, other masks
    assert np.max(np.abs(np.subtract(losses(0.0, 1), first))) > 1e-4   # the masks drop


@pytest.mark.parametrize("cell,masks", [("SimpleRNN", 1), ("LSTM", 4), ("GRU", 3)])
def test_one_draw_per_batch_one_mask_per_gate_where_keras_keeps_one(cell, masks):
    """With recurrent_dropout Keras' LSTM and GRU keep a mask per gate; the draw's widths say
    so (features 3, units 4); prediction draws nothing."""
    est = estimator(CELLS[cell](4, dropout=0.25, recurrent_dropout=0.5, name="rnn"))
    script = est.get_training_script()
    draws = [line.strip() for line in script.splitlines() if "recurrent_dropout::factors" in line]
    assert len(draws) == 1
    assert f"(nrow(x), {3 * masks}, 0.25, {4 * masks}, 0.5, ifelse(batch_seed" in draws[0]
    assert "rnn_Fx, rnn_Fh)" in script        # forward and backward take them
    assert "dropout" not in est.get_prediction_script()


def test_input_dropout_alone_is_one_mask_for_all_gates():
    script = estimator(L.LSTM(4, dropout=0.25, name="rnn")).get_training_script()
    assert "(nrow(x), 3, 0.25, 0, 0.0, " in script


def test_the_directions_of_a_bidirectional_layer_draw_their_own_masks():
    layer = L.Bidirectional(L.LSTM(3, dropout=0.3, recurrent_dropout=0.3))
    est = estimator(layer)
    draws = [line for line in est.get_training_script().splitlines()
             if "recurrent_dropout::factors" in line]
    assert len(draws) == 2 and draws[0].split("batch_seed +")[1] != draws[1].split("batch_seed +")[1]
    assert np.all(np.isfinite(est.fit(X, Y).history_["loss"]))


def test_a_rate_of_one_drops_nothing_in_an_lstm_as_in_keras():
    script = estimator(L.LSTM(4, dropout=1.0, name="rnn")).get_training_script()
    assert "recurrent_dropout::" not in script


def test_a_simple_rnn_rate_of_one_is_refused_by_name():
    with pytest.raises(UnsupportedAttributeError, match="dropout.*below 1"):
        estimator(L.SimpleRNN(4, dropout=1.0, name="rnn")).fit(X, Y)


@pytest.mark.parametrize("p,q", [(0.2, 0.5), (0.5, 0.1)])
def test_the_factors_drop_the_rates_share_independently(p, q):
    """recurrent_dropout::factors, as the training script calls it: 0 or 1 / (1 - rate), about
    the rate's share dropped (within 5 standard deviations of 20000 draws), the input and
    state masks uncorrelated, one seed one draw."""
    rows, K, M = 4000, 3, 2
    script = ('source("nn/layers/recurrent_dropout.dml") as drop\n'
              f"[Fx, Fh] = drop::factors({rows}, {K}, {p}, {M}, {q}, 17)\n"
              f"[Gx, Gh] = drop::factors({rows}, {K}, {p}, {M}, {q}, 17)\n")
    out = {k: np.asarray(v) for k, v in
           run_string(script, outputs=["Fx", "Fh", "Gx", "Gh"]).items()}
    for name, rate, width in (("Fx", p, K), ("Fh", q, M)):
        values = out[name]
        assert values.shape == (rows, width)
        assert set(np.unique(values)) <= {0.0, 1 / (1 - rate)}
        share, spread = np.mean(values == 0), np.sqrt(rate * (1 - rate) / values.size)
        assert abs(share - rate) < 5 * spread, (name, share, rate)
    np.testing.assert_array_equal(out["Fx"], out["Gx"])
    np.testing.assert_array_equal(out["Fh"], out["Gh"])
    correlation = np.corrcoef(out["Fx"][:, 0], out["Fh"][:, 0])[0, 1]
    assert abs(correlation) < 5 / np.sqrt(rows)


def test_the_masks_stay_the_same_over_the_steps_of_a_sequence():
    """A SimpleRNN of one linear unit, unit kernels, reading ones: h_t = s + h_{t-1}, s the
    sum of the kept inputs' factors, so h_t = t * s exactly when each sequence keeps its mask
    over the steps; the sequences' masks differ."""
    script = ('source("nn/layers/recurrent_dropout.dml") as drop\n'
              'source("nn/layers/simple_rnn.dml") as rnn\n'
              "[Fx, Fh] = drop::factors(500, 4, 0.5, 0, 0.0, 3)\n"
              "X = matrix(1, rows=500, cols=6*4)\n"
              "[out, H] = rnn::forward(X, matrix(1, rows=4, cols=1), matrix(1, rows=1, cols=1),"
              ' matrix(0, rows=1, cols=1), TRUE, matrix(0, rows=0, cols=0), "linear",'
              " matrix(0, rows=0, cols=0), FALSE, Fx, Fh)\n")
    out = run_string(script, outputs=["out", "Fx"])
    H, kept = np.asarray(out["out"]), np.asarray(out["Fx"]).sum(axis=1)
    np.testing.assert_allclose(H, kept[:, None] * np.arange(1, 7)[None, :], rtol=1e-12)
    assert len(np.unique(kept)) == 5           # 0 to 4 inputs kept, each scaled by 2
