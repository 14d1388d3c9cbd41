"""Keras parity of the recurrent layers of dml_lib: simple_rnn, lstm and gru (both reset_after
conventions), with return_sequences both ways.

Each test gives keras.layers.SimpleRNN / LSTM / GRU and the DML layer the same random weights
(Keras' get_weights() layouts are the DML layouts: kernel D x k*units, recurrent kernel
units x k*units, bias as a row, or GRU's 2 x 3*units when reset_after) and the same inputs, an
(N, T, D) batch that DML reads as N x (T*D) rows. Forward outputs must agree, and the DML
backward (backpropagation through time) must equal tf.GradientTape's gradients of
sum(out * dout) w.r.t. the inputs, the three weights and the initial states.

Keras runs in float64 for the gradient comparisons (tolerance 1e-12 relative to max(1, |value|))
and in its default float32 for the forward check of the project's 1e-5 requirement.
"""
from __future__ import annotations

import pytest

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

keras = pytest.importorskip("keras")  # noqa: E402
import numpy as np  # noqa: E402
tf = pytest.importorskip("tensorflow")  # noqa: E402

from kerasdml.runtime.api import run_string  # noqa: E402

TOL = 1e-5      # the project's parity requirement (float32 Keras)
TOL64 = 1e-12   # float64 Keras, relative to max(1, |value|) (measured: ~5e-16)

N, T, D, UNITS = 4, 5, 3, 3

# (kind, reset_after) -> (DML file, Keras layer class, gates per unit)
KINDS = {
    ("simple_rnn", None): ("simple_rnn", keras.layers.SimpleRNN, 1),
    ("lstm", None): ("lstm", keras.layers.LSTM, 4),
    ("gru", True): ("gru", keras.layers.GRU, 3),
    ("gru", False): ("gru", keras.layers.GRU, 3),
}
IDS = ["simple_rnn", "lstm", "gru_reset_after", "gru_reset_before"]


def keras_layer(kind, reset_after, return_sequences, dtype, seed=0, **extra):
    _, cls, _ = KINDS[(kind, reset_after)]
    options = {"return_sequences": return_sequences, "dtype": dtype, **extra}
    if reset_after is not None:
        options["reset_after"] = reset_after
    layer = cls(UNITS, **options)
    layer.build((None, T, D))
    r = np.random.default_rng(seed)
    layer.set_weights([r.uniform(-0.6, 0.6, w.shape) for w in layer.get_weights()])
    return layer


def dml_weights(layer):
    kernel, recurrent, bias = (np.asarray(w, dtype=np.float64) for w in layer.get_weights())
    return kernel, recurrent, bias.reshape(-1, bias.shape[-1])   # (k*units,) -> 1 x k*units


def dml_script(kind, reset_after, with_state):
    """One DML script: forward, then backward with forward's caches."""
    file = KINDS[(kind, reset_after)][0]
    lines = [f'source("nn/layers/{file}.dml") as lib']
    if kind == "simple_rnn":
        states = ", h0" if with_state else ""
        lines += [f"[out, H] = lib::forward(X, W, U, b, seqs{states})",
                  f"[dX, dW, dU, db, dh0] = lib::backward(dout, X, W, U, b, H, seqs{states})"]
    elif kind == "lstm":
        states = ", h0, c0" if with_state else ""
        lines += [f"[out, H, C, G] = lib::forward(X, W, U, b, seqs{states})",
                  f"[dX, dW, dU, db, dh0, dc0] = lib::backward(dout, X, W, U, b, H, C, G, seqs{states})"]
    else:
        states = ", h0" if with_state else ""
        lines += [f"[out, H, G] = lib::forward(X, W, U, b, seqs, reset_after{states})",
                  f"[dX, dW, dU, db, dh0] = lib::backward(dout, X, W, U, b, H, G, seqs, reset_after{states})"]
    return "\n".join(lines) + "\n"


def run_dml(kind, reset_after, layer, x, dout, return_sequences, states=None):
    W, U, b = dml_weights(layer)
    inputs = {"X": x.reshape(x.shape[0], -1).astype(np.float64), "W": W, "U": U, "b": b,
              "dout": dout.reshape(dout.shape[0], -1).astype(np.float64), "seqs": return_sequences}
    if reset_after is not None:
        inputs["reset_after"] = reset_after
    names = ["out", "dX", "dW", "dU", "db", "dh0"]
    if states is not None:
        inputs["h0"] = states[0]
        if kind == "lstm":
            inputs["c0"] = states[1]
    if kind == "lstm":
        names.append("dc0")
    results = run_string(dml_script(kind, reset_after, states is not None), inputs=inputs, outputs=names)
    return {name: np.asarray(results[name]) for name in names}


def keras_run(layer, x, dout, states=None):
    xt = tf.constant(x, dtype=layer.dtype)
    state_tensors = [tf.constant(s, dtype=layer.dtype) for s in states] if states is not None else []
    with tf.GradientTape() as tape:
        tape.watch(xt)
        for s in state_tensors:
            tape.watch(s)
        out = layer(xt, initial_state=state_tensors) if states is not None else layer(xt)
        objective = tf.reduce_sum(out * tf.constant(dout, dtype=layer.dtype))
    kernel, recurrent, bias = layer.trainable_weights
    grads = tape.gradient(objective, [xt, kernel, recurrent, bias] + state_tensors)
    result = {"out": out, "dX": grads[0], "dW": grads[1], "dU": grads[2], "db": grads[3]}
    if states is not None:
        result["dh0"] = grads[4]
        if len(states) == 2:
            result["dc0"] = grads[5]
    return {k: np.asarray(v, dtype=np.float64) for k, v in result.items()}


def assert_close(name, dml, reference, tol):
    reference = np.asarray(reference, dtype=np.float64)
    dml = np.asarray(dml, dtype=np.float64).reshape(reference.shape)
    scale = max(1.0, float(np.max(np.abs(reference))))
    error = float(np.max(np.abs(dml - reference)))
    assert error <= tol * scale, f"{name}: max abs difference {error:.3g} > {tol * scale:.3g}"


def random_problem(return_sequences, seed=1):
    r = np.random.default_rng(seed)
    x = r.uniform(-1, 1, (N, T, D))
    dout = r.uniform(-1, 1, (N, T, UNITS) if return_sequences else (N, UNITS))
    return x, dout


@pytest.mark.parametrize("return_sequences", [True, False], ids=["sequences", "last"])
@pytest.mark.parametrize("kind,reset_after", list(KINDS), ids=IDS)
def test_forward_and_bptt_match_keras_float64(kind, reset_after, return_sequences):
    layer = keras_layer(kind, reset_after, return_sequences, "float64")
    x, dout = random_problem(return_sequences)
    ours = run_dml(kind, reset_after, layer, x, dout, return_sequences)
    reference = keras_run(layer, x, dout)
    for name in ["out", "dX", "dW", "dU", "db"]:
        assert_close(name, ours[name], reference[name], TOL64)


@pytest.mark.parametrize("kind,reset_after", list(KINDS), ids=IDS)
def test_initial_states_and_their_gradients_match_keras(kind, reset_after):
    layer = keras_layer(kind, reset_after, True, "float64", seed=3)
    x, dout = random_problem(True, seed=4)
    r = np.random.default_rng(5)
    states = [r.uniform(-0.8, 0.8, (N, UNITS)) for _ in range(2 if kind == "lstm" else 1)]
    ours = run_dml(kind, reset_after, layer, x, dout, True, states)
    reference = keras_run(layer, x, dout, states)
    for name in reference:
        assert_close(name, ours[name], reference[name], TOL64)


@pytest.mark.parametrize("return_sequences", [True, False], ids=["sequences", "last"])
@pytest.mark.parametrize("kind,reset_after", list(KINDS), ids=IDS)
def test_forward_matches_keras_float32(kind, reset_after, return_sequences):
    layer = keras_layer(kind, reset_after, return_sequences, "float32", seed=7)
    x, dout = random_problem(return_sequences, seed=8)
    x = x.astype(np.float32)
    ours = run_dml(kind, reset_after, layer, x.astype(np.float64), dout, return_sequences)
    reference = np.asarray(layer(x), dtype=np.float64)
    assert_close("out", ours["out"], reference, TOL)


def test_lstm_final_cell_state_is_the_last_block_of_C():
    layer = keras_layer("lstm", None, False, "float64", seed=9, return_state=True)
    x, _ = random_problem(False, seed=10)
    W, U, b = dml_weights(layer)
    script = ('source("nn/layers/lstm.dml") as lib\n'
              '[out, H, C, G] = lib::forward(X, W, U, b, FALSE)\n'
              f'c_last = C[, {(T - 1) * UNITS + 1}:{T * UNITS}]\n')
    ours = run_string(script, inputs={"X": x.reshape(N, -1), "W": W, "U": U, "b": b},
                      outputs=["out", "c_last"])
    out, h, c = (np.asarray(v, dtype=np.float64) for v in layer(tf.constant(x)))
    assert_close("h", ours["out"], h, TOL64)
    assert_close("c", ours["c_last"], c, TOL64)


@pytest.mark.parametrize("kind,k", [("simple_rnn", 1), ("lstm", 4), ("gru", 3)])
def test_init_shapes_and_keras_default_initializers(kind, k):
    units, d = 5, 7
    script = (f'source("nn/layers/{kind}.dml") as lib\n'
              f'[W, U, b] = lib::init({d}, {units}, 42)\n')
    result = run_string(script, outputs=["W", "U", "b"])
    W, U, b = (np.asarray(result[n]) for n in ["W", "U", "b"])
    limit = np.sqrt(6.0 / (d + k * units))   # glorot_uniform on a D x k*units kernel
    assert W.shape == (d, k * units) and np.all(np.abs(W) <= limit) and np.max(np.abs(W)) > limit / 2
    assert U.shape == (units, k * units)
    np.testing.assert_allclose(U @ U.T, np.eye(units), atol=1e-12)  # orthonormal rows
    expected_bias_rows = 2 if kind == "gru" else 1                  # GRU: reset_after by default
    assert b.shape == (expected_bias_rows, k * units)
    expected = np.zeros((expected_bias_rows, k * units))
    if kind == "lstm":
        expected[0, units:2 * units] = 1.0                          # unit_forget_bias
    np.testing.assert_array_equal(b, expected)


def test_gru_init_without_reset_after_has_a_single_bias_row():
    result = run_string('source("nn/layers/gru.dml") as lib\n[W, U, b] = lib::init(2, 3, 1, FALSE)\n',
                        outputs=["b"])
    assert np.asarray(result["b"]).shape == (1, 9)


def test_orthogonal_tall_matrix_has_orthonormal_columns():
    result = run_string('source("nn/layers/simple_rnn.dml") as lib\nQ = lib::orthogonal(8, 3, 5)\n',
                        outputs=["Q"])
    Q = np.asarray(result["Q"])
    assert Q.shape == (8, 3)
    np.testing.assert_allclose(Q.T @ Q, np.eye(3), atol=1e-12)


def test_wrong_bias_shape_for_the_gru_convention_is_a_clear_error():
    from kerasdml.runtime.errors import DMLError
    script = ('source("nn/layers/gru.dml") as lib\n'
              'X = matrix(0, rows=2, cols=6)\nW = matrix(0, rows=3, cols=6)\n'
              'U = matrix(0, rows=2, cols=6)\nb = matrix(0, rows=1, cols=6)\n'
              '[out, H, G] = lib::forward(X, W, U, b, FALSE, TRUE)\n')
    with pytest.raises(DMLError, match="bias 2 x 6"):
        run_string(script, outputs=["out"])


# --- dropout and activations ----------------------------------------------------------------
# Keras caches a layer's dropout masks on its cell for one call (DropoutRNNCell): masks set
# there before a training call are the ones Keras applies, so both sides can run on the same
# masks. A mask is (N, D) for the inputs and (N, units) for the state, scaled by 1 / (1 - rate);
# an LSTM or GRU with recurrent_dropout keeps one of each per gate (Keras' implementation 1).

def _masks(rng, rows, width, rate, count):
    masks = [(rng.uniform(size=(rows, width)) >= rate) / (1 - rate) for _ in range(count)]
    return masks if count > 1 else masks[0]


def dml_run_with(kind, reset_after, layer, x, dout, Fx, Fh, act, ract):
    """forward and backward of the DML layer (sequences out) with dropout factors and
    activations, its arguments named."""
    W, U, b = dml_weights(layer)
    options = ("reset_after=reset_after, " if kind == "gru" else "") + \
        "return_sequences=TRUE, activation=act, Fx=Fx, Fh=Fh" + \
        ("" if kind == "simple_rnn" else ", recurrent_activation=ract")
    caches = {"simple_rnn": ["H"], "lstm": ["H", "C", "G"], "gru": ["H", "G"]}[kind]
    grads = "dX, dW, dU, db, dh0" + (", dc0" if kind == "lstm" else "")
    script = (f'source("nn/layers/{kind}.dml") as lib\n'
              f"[out, {', '.join(caches)}] = lib::forward(X=X, W=W, U=U, b=b, {options})\n"
              f"[{grads}] = lib::backward(dout=dout, X=X, W=W, U=U, b=b, "
              f"{', '.join(f'{c}={c}' for c in caches)}, {options})\n")
    inputs = {"X": x.reshape(N, -1), "W": W, "U": U, "b": b, "act": act, "ract": ract,
              "dout": dout.reshape(N, -1), "reset_after": bool(reset_after),
              "Fx": _factors(Fx), "Fh": _factors(Fh)}
    results = run_string(script, inputs=inputs, outputs=["out", "dX", "dW", "dU", "db"])
    return {name: np.asarray(value) for name, value in results.items()}


def _factors(masks):
    """Keras' mask(s) as the DML layers take them: one N x K, or the gates' side by side."""
    if masks is None:
        return np.zeros((0, 0))
    return np.hstack(masks) if isinstance(masks, list) else masks


def keras_run_with(layer, x, dout, Fx, Fh):
    """out and the gradients of sum(out * dout), Keras in training mode on the given masks."""
    xt = tf.constant(x, dtype=layer.dtype)
    layer.cell._dropout_mask = Fx
    layer.cell._recurrent_dropout_mask = Fh
    with tf.GradientTape() as tape:
        tape.watch(xt)
        out = layer(xt, training=True)
        objective = tf.reduce_sum(out * tf.constant(dout, dtype=layer.dtype))
    grads = tape.gradient(objective, [xt, *layer.trainable_weights])
    return {name: np.asarray(value, dtype=np.float64)
            for name, value in zip(["out", "dX", "dW", "dU", "db"], [out, *grads])}


# (dropout, recurrent_dropout): inputs only (an LSTM or GRU then draws one mask for all gates),
# the state only and both (one mask per gate)
RATES = {"inputs": (0.3, 0.0), "state": (0.0, 0.4), "both": (0.3, 0.4)}


@pytest.mark.parametrize("rates", list(RATES))
@pytest.mark.parametrize("kind,reset_after", list(KINDS), ids=IDS)
def test_dropout_on_keras_masks_matches_keras_float64(kind, reset_after, rates):
    dropout, recurrent_dropout = RATES[rates]
    layer = keras_layer(kind, reset_after, True, "float64", seed=11, dropout=dropout,
                        recurrent_dropout=recurrent_dropout)
    x, dout = random_problem(True, seed=12)
    per_gate = kind != "simple_rnn" and recurrent_dropout > 0
    count = KINDS[(kind, reset_after)][2] if per_gate else 1
    rng = np.random.default_rng(13)
    Fx = _masks(rng, N, D, dropout, count) if dropout else None
    Fh = _masks(rng, N, UNITS, recurrent_dropout, count) if recurrent_dropout else None
    reference = keras_run_with(layer, x, dout, Fx, Fh)
    ours = dml_run_with(kind, reset_after, layer, x, dout, Fx, Fh, "tanh", "sigmoid")
    for name in reference:
        assert_close(name, ours[name], reference[name], TOL64)


# activations other than the defaults (the time-series tutorials' relu LSTM, Keras 2's
# hard_sigmoid recurrent activation)
ACTIVATIONS = [("relu", "hard_sigmoid"), ("softsign", "sigmoid"), ("selu", "hard_sigmoid"),
               ("hard_tanh", "softplus"), ("exponential", "log_sigmoid")]


@pytest.mark.parametrize("act,ract", ACTIVATIONS, ids=[f"{a}-{r}" for a, r in ACTIVATIONS])
@pytest.mark.parametrize("kind,reset_after", list(KINDS), ids=IDS)
def test_activations_match_keras_float64(kind, reset_after, act, ract):
    extra = {"activation": act}
    if kind != "simple_rnn":
        extra["recurrent_activation"] = ract
    layer = keras_layer(kind, reset_after, True, "float64", seed=14, **extra)
    x, dout = random_problem(True, seed=15)
    reference = keras_run_with(layer, x, dout, None, None)
    ours = dml_run_with(kind, reset_after, layer, x, dout, None, None, act, ract)
    for name in reference:
        assert_close(name, ours[name], reference[name], TOL64)
