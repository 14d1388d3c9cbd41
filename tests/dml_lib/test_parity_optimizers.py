"""Keras parity of the DML optimizers (dml_lib/nn/optim/*.dml) and learning-rate schedules.

Each optimizer test draws one parameter matrix and a sequence of 20 random gradients, applies them
with the Keras 3 optimizer to a float64 `keras.Variable` and with the DML `update` function in a
DML loop (one script run, the gradients passed as one 20-row matrix), and requires the final
weights, and the total change of the weights, to agree within 1e-6 relative.

Keras keeps a float learning rate in a float32 variable and casts it to the variable's dtype in
each step, so the DML side is given the same float32-rounded value. Keras' other float
hyper-parameters and schedules are rebuilt with np.float64 values (see float64_constants) so
that Keras computes entirely in float64 and a 1e-6 (optimizers) or 1e-7 (schedules) tolerance
measures the update rules rather than float32 rounding. Nadam's weight changes are compared with
a looser tolerance; see NADAM_CHANGE_TOLERANCE.
"""
from __future__ import annotations

import zlib

import numpy as np
import pytest

from kerasdml.runtime.api import run_string

keras = pytest.importorskip("keras")

STEPS = 20
ROWS, COLS = 4, 3
TOLERANCE = 1e-6
# Keras' Nadam (TensorFlow backend) evaluates its momentum schedule u_t = beta_1 * (1 - 0.5 *
# 0.96^t) with `ops.cast(0.96, dtype)`, i.e. 0.96 rounded to float32, but advances its u_product
# variable with the exact 0.96; the DML uses 0.96 in both. The weights still agree within 1e-6;
# their change over 20 steps (a stricter measure) differs by up to ~6e-6 relative for this reason.
NADAM_CHANGE_TOLERANCE = 1e-5


def keras_lr(value: float) -> float:
    """The learning rate a Keras optimizer actually applies for a float `value` (float32)."""
    return float(np.float32(value))


def float64_constants(value):
    """`value` with every Python float (also inside lists and dicts) turned into np.float64."""
    if type(value) is float:
        return np.float64(value)
    if isinstance(value, (list, tuple)):
        return type(value)(float64_constants(item) for item in value)
    if isinstance(value, dict):
        return {key: float64_constants(item) for key, item in value.items()}
    return value


def float64_schedule(schedule):
    """The same Keras schedule with its float hyper-parameters given as np.float64.

    Keras casts Python-float hyper-parameters with `ops.cast(x, dtype)`, which on the TensorFlow
    backend rounds them to float32 first (e.g. decay_rate 0.8 becomes 0.800000011920929) even
    when computing in float64; np.float64 values are cast exactly."""
    return type(schedule).from_config(float64_constants(schedule.get_config()))


def float64_optimizer(optimizer):
    """The same Keras optimizer with its float hyper-parameters given as np.float64 (see
    float64_schedule: Adam's beta_1/beta_2, Nadam's betas and weight_decay go through
    `ops.cast`). The learning rate stays a float32 variable, as Keras always keeps it."""
    config = optimizer.get_config()
    learning_rate = optimizer._learning_rate
    config = float64_constants({k: v for k, v in config.items() if k != "learning_rate"})
    if isinstance(learning_rate, keras.optimizers.schedules.LearningRateSchedule):
        config["learning_rate"] = float64_schedule(learning_rate)
    else:
        config["learning_rate"] = float(keras.ops.convert_to_numpy(learning_rate))
    return type(optimizer).from_config(config)


def max_rel_error(actual: np.ndarray, expected: np.ndarray) -> float:
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    scale = np.maximum(np.abs(actual), np.abs(expected))
    diff = np.abs(actual - expected)
    rel = np.where(scale < 1e-12, 0.0, diff / np.where(scale == 0, 1.0, scale))
    return float(rel.max())


# Each variant: the Keras optimizer to build; the DML file, its state outputs (in init's order),
# extra init arguments, the update's hyper-parameters as DML named arguments, whether update takes
# the 1-based step t; and optionally a DML expression for the learning rate at 1-based step i
# (a schedule), replacing the constant `lr`.
VARIANTS = {
    "sgd_defaults": dict(
        keras=lambda: keras.optimizers.SGD(),
        file="sgd", state=["v"], hyper="", lr=None),
    "sgd": dict(
        keras=lambda: keras.optimizers.SGD(learning_rate=0.05),
        file="sgd", state=["v"], hyper="lr=lr", lr=0.05),
    "sgd_momentum": dict(
        keras=lambda: keras.optimizers.SGD(learning_rate=0.05, momentum=0.9),
        file="sgd", state=["v"], hyper="lr=lr, momentum=0.9", lr=0.05),
    "sgd_nesterov": dict(
        keras=lambda: keras.optimizers.SGD(learning_rate=0.05, momentum=0.8, nesterov=True),
        file="sgd", state=["v"], hyper="lr=lr, momentum=0.8, nesterov=TRUE", lr=0.05),
    "sgd_weight_decay": dict(
        keras=lambda: keras.optimizers.SGD(learning_rate=0.05, momentum=0.5, weight_decay=0.1),
        file="sgd", state=["v"], hyper="lr=lr, momentum=0.5, weight_decay=0.1", lr=0.05),
    "rmsprop_defaults": dict(
        keras=lambda: keras.optimizers.RMSprop(),
        file="rmsprop", state=["s", "mom", "g"], hyper="", lr=None),
    "rmsprop": dict(
        keras=lambda: keras.optimizers.RMSprop(learning_rate=0.01, rho=0.8),
        file="rmsprop", state=["s", "mom", "g"], hyper="lr=lr, rho=0.8", lr=0.01),
    "rmsprop_momentum": dict(
        keras=lambda: keras.optimizers.RMSprop(learning_rate=0.01, momentum=0.9),
        file="rmsprop", state=["s", "mom", "g"], hyper="lr=lr, momentum=0.9", lr=0.01),
    "rmsprop_centered": dict(
        keras=lambda: keras.optimizers.RMSprop(learning_rate=0.01, centered=True),
        file="rmsprop", state=["s", "mom", "g"], hyper="lr=lr, centered=TRUE", lr=0.01),
    "rmsprop_centered_momentum_wd": dict(
        keras=lambda: keras.optimizers.RMSprop(learning_rate=0.01, momentum=0.7, centered=True,
                                               epsilon=1e-5, weight_decay=0.05),
        file="rmsprop", state=["s", "mom", "g"],
        hyper="lr=lr, momentum=0.7, centered=TRUE, epsilon=1e-5, weight_decay=0.05", lr=0.01),
    "adagrad_defaults": dict(
        keras=lambda: keras.optimizers.Adagrad(),
        file="adagrad", state=["acc"], hyper="", lr=None),
    "adagrad": dict(
        keras=lambda: keras.optimizers.Adagrad(learning_rate=0.1, initial_accumulator_value=0.5,
                                               epsilon=1e-6, weight_decay=0.02),
        file="adagrad", state=["acc"], init="initial_accumulator_value=0.5",
        hyper="lr=lr, epsilon=1e-6, weight_decay=0.02", lr=0.1),
    "adadelta_defaults": dict(
        keras=lambda: keras.optimizers.Adadelta(),
        file="adadelta", state=["Eg", "Edx"], hyper="", lr=None),
    "adadelta": dict(
        keras=lambda: keras.optimizers.Adadelta(learning_rate=1.0, rho=0.9, epsilon=1e-6),
        file="adadelta", state=["Eg", "Edx"], hyper="lr=lr, rho=0.9, epsilon=1e-6", lr=1.0),
    "adam_defaults": dict(
        keras=lambda: keras.optimizers.Adam(),
        file="adam", state=["m", "v", "vhat"], hyper="", lr=None, t=True),
    "adam": dict(
        keras=lambda: keras.optimizers.Adam(learning_rate=0.02, beta_1=0.8, beta_2=0.99,
                                            epsilon=1e-6),
        file="adam", state=["m", "v", "vhat"],
        hyper="lr=lr, beta1=0.8, beta2=0.99, epsilon=1e-6", lr=0.02, t=True),
    "adam_amsgrad": dict(
        keras=lambda: keras.optimizers.Adam(learning_rate=0.02, amsgrad=True),
        file="adam", state=["m", "v", "vhat"], hyper="lr=lr, amsgrad=TRUE", lr=0.02, t=True),
    "adam_weight_decay": dict(
        keras=lambda: keras.optimizers.Adam(learning_rate=0.02, weight_decay=0.1),
        file="adam", state=["m", "v", "vhat"], hyper="lr=lr, weight_decay=0.1", lr=0.02,
        t=True),
    "adamw_defaults": dict(
        keras=lambda: keras.optimizers.AdamW(),
        file="adamw", state=["m", "v", "vhat"], hyper="", lr=None, t=True),
    "adamw": dict(
        keras=lambda: keras.optimizers.AdamW(learning_rate=0.02, weight_decay=0.3),
        file="adamw", state=["m", "v", "vhat"], hyper="lr=lr, weight_decay=0.3", lr=0.02,
        t=True),
    "adamw_amsgrad": dict(
        keras=lambda: keras.optimizers.AdamW(learning_rate=0.02, weight_decay=0.1, amsgrad=True,
                                             beta_1=0.85),
        file="adamw", state=["m", "v", "vhat"],
        hyper="lr=lr, weight_decay=0.1, amsgrad=TRUE, beta1=0.85", lr=0.02, t=True),
    "nadam_defaults": dict(
        keras=lambda: keras.optimizers.Nadam(),
        file="nadam", state=["m", "v", "mu_prod"], hyper="", lr=None, t=True),
    "nadam": dict(
        keras=lambda: keras.optimizers.Nadam(learning_rate=0.02, beta_1=0.85, beta_2=0.99,
                                             epsilon=1e-6, weight_decay=0.05),
        file="nadam", state=["m", "v", "mu_prod"],
        hyper="lr=lr, beta1=0.85, beta2=0.99, epsilon=1e-6, weight_decay=0.05", lr=0.02,
        t=True),
    "adamax_defaults": dict(
        keras=lambda: keras.optimizers.Adamax(),
        file="adamax", state=["m", "u"], hyper="", lr=None, t=True),
    "adamax": dict(
        keras=lambda: keras.optimizers.Adamax(learning_rate=0.02, beta_1=0.8, beta_2=0.95,
                                              epsilon=1e-6, weight_decay=0.05),
        file="adamax", state=["m", "u"],
        hyper="lr=lr, beta1=0.8, beta2=0.95, epsilon=1e-6, weight_decay=0.05", lr=0.02, t=True),
    # Optimizers driven by learning-rate schedules (Keras evaluates them at iterations = i - 1).
    "sgd_momentum_exponential_decay": dict(
        keras=lambda: keras.optimizers.SGD(
            learning_rate=keras.optimizers.schedules.ExponentialDecay(
                np.float64(0.1), decay_steps=3, decay_rate=0.7, staircase=True),
            momentum=0.9),
        file="sgd", state=["v"], hyper="lr=lr, momentum=0.9", lr=None,
        schedule="sch::exponential_decay(0.1, 3, 0.7, TRUE, i - 1)"),
    "adamw_cosine_warmup": dict(
        keras=lambda: keras.optimizers.AdamW(
            learning_rate=keras.optimizers.schedules.CosineDecay(
                np.float64(0.0), decay_steps=12, alpha=0.1, warmup_target=0.05,
                warmup_steps=5),
            weight_decay=0.2),
        file="adamw", state=["m", "v", "vhat"], hyper="lr=lr, weight_decay=0.2", lr=None,
        t=True,
        schedule="sch::cosine_decay_warmup(initial_learning_rate=0.0, decay_steps=12, "
                 "alpha=0.1, warmup_target=0.05, warmup_steps=5, step=i - 1)"),
    "nadam_inverse_time_decay": dict(
        keras=lambda: keras.optimizers.Nadam(
            learning_rate=keras.optimizers.schedules.InverseTimeDecay(
                np.float64(0.05), decay_steps=4, decay_rate=0.5)),
        file="nadam", state=["m", "v", "mu_prod"], hyper="lr=lr", lr=None, t=True,
        schedule="sch::inverse_time_decay(0.05, 4, 0.5, FALSE, i - 1)"),
}


def dml_script(variant: dict) -> str:
    state = ", ".join(variant["state"])
    init_args = "X" + (", " + variant["init"] if variant.get("init") else "")
    arguments = ["X=X", "dX=dX"]
    if variant["hyper"]:
        arguments.append(variant["hyper"])
    arguments += [f"{name}={name}" for name in variant["state"]]
    if variant.get("t"):
        arguments.append("t=i")
    schedule = variant.get("schedule")
    lines = [f'source("nn/optim/{variant["file"]}.dml") as opt']
    if schedule:
        lines.append('source("nn/optim/schedules.dml") as sch')
    lines += [
        f"[{state}] = opt::init({init_args})" if len(variant["state"]) > 1
        else f"{state} = opt::init({init_args})",
        "for (i in 1:nrow(G)) {",
        f"  dX = matrix(G[i, ], rows={ROWS}, cols={COLS})",
    ]
    if schedule:
        lines.append(f"  lr = {schedule}")
    lines += [f"  [X, {state}] = opt::update({', '.join(arguments)})", "}"]
    return "\n".join(lines) + "\n"


def keras_steps(optimizer, x0: np.ndarray, grads: np.ndarray) -> np.ndarray:
    variable = keras.Variable(x0, dtype="float64")
    for gradient in grads:
        optimizer.apply_gradients([(keras.ops.convert_to_tensor(gradient, dtype="float64"),
                                    variable)])
    return keras.ops.convert_to_numpy(variable)


def dml_steps(variant: dict, x0: np.ndarray, grads: np.ndarray) -> np.ndarray:
    inputs = {"X": x0, "G": grads.reshape(len(grads), -1)}
    if variant["lr"] is not None and not variant.get("schedule"):
        inputs["lr"] = keras_lr(variant["lr"])
    return run_string(dml_script(variant), inputs=inputs, outputs=["X"])["X"]


@pytest.mark.parametrize("name", list(VARIANTS))
def test_optimizer_matches_keras(name):
    variant = VARIANTS[name]
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    x0 = rng.normal(size=(ROWS, COLS))
    # Gradients of varied scale, a few entries near zero, so epsilon terms matter a little.
    grads = rng.normal(size=(STEPS, ROWS, COLS)) * rng.uniform(0.05, 2.0, size=(STEPS, 1, 1))
    grads[:, 0, 0] *= 1e-3

    expected = keras_steps(float64_optimizer(variant["keras"]()), x0, grads)
    actual = dml_steps(variant, x0, grads)

    assert actual.shape == expected.shape
    assert np.abs(expected - x0).max() > 1e-5, "the optimizer should move the weights"
    weight_error = max_rel_error(actual, expected)
    change_error = max_rel_error(actual - x0, expected - x0)
    assert weight_error <= TOLERANCE, f"{name}: weights differ, max rel error {weight_error:.3g}"
    change_tolerance = NADAM_CHANGE_TOLERANCE if variant["file"] == "nadam" else TOLERANCE
    assert change_error <= change_tolerance, (
        f"{name}: weight changes differ, max rel error {change_error:.3g}")


def test_nadam_mu_product_shared_across_parameters():
    """Two parameters updated in one step with the same incoming product give Keras' result."""
    rng = np.random.default_rng(7)
    a0, b0 = rng.normal(size=(2, 3)), rng.normal(size=(3, 1))
    ga = rng.normal(size=(STEPS, 2, 3))
    gb = rng.normal(size=(STEPS, 3, 1))
    a = keras.Variable(a0, dtype="float64")
    b = keras.Variable(b0, dtype="float64")
    optimizer = float64_optimizer(keras.optimizers.Nadam(learning_rate=0.03))
    for step in range(STEPS):
        optimizer.apply_gradients([(ga[step], a), (gb[step], b)])
    script = """
source("nn/optim/nadam.dml") as nadam
[ma, va, mu] = nadam::init(A)
[mb, vb, unused] = nadam::init(B)
for (i in 1:nrow(GA)) {
  [A, ma, va, mu_a] = nadam::update(X=A, dX=matrix(GA[i, ], rows=2, cols=3), lr=lr,
                                    m=ma, v=va, mu_prod=mu, t=i)
  [B, mb, vb, mu_b] = nadam::update(X=B, dX=matrix(GB[i, ], rows=3, cols=1), lr=lr,
                                    m=mb, v=vb, mu_prod=mu, t=i)
  mu = mu_a
}
"""
    result = run_string(script, inputs={"A": a0, "B": b0, "GA": ga.reshape(STEPS, -1),
                                        "GB": gb.reshape(STEPS, -1), "lr": keras_lr(0.03)},
                        outputs=["A", "B"])
    assert max_rel_error(result["A"], keras.ops.convert_to_numpy(a)) <= TOLERANCE
    assert max_rel_error(result["B"], keras.ops.convert_to_numpy(b)) <= TOLERANCE


def test_adagrad_initial_accumulator():
    x = np.zeros((2, 5))
    acc = run_string('source("nn/optim/adagrad.dml") as opt\nacc = opt::init(X)\n',
                     inputs={"X": x}, outputs=["acc"])["acc"]
    assert acc.shape == (2, 5)
    np.testing.assert_array_equal(acc, np.full((2, 5), 0.1))


# ------------------------------------------------------------------------------------ schedules

SCHEDULE_STEPS = [0, 1, 2, 3, 4, 5, 7, 9, 10, 11, 12, 13, 15, 20, 25, 31, 50, 100, 1000]

SCHEDULES = {
    "constant": (
        lambda: (lambda step: np.float64(0.01)),
        "sch::constant(0.01, step)"),
    "exponential": (
        lambda: keras.optimizers.schedules.ExponentialDecay(np.float64(0.1), 7, 0.8),
        "sch::exponential_decay(0.1, 7, 0.8, FALSE, step)"),
    "exponential_staircase": (
        lambda: keras.optimizers.schedules.ExponentialDecay(np.float64(0.1), 7, 0.8,
                                                            staircase=True),
        "sch::exponential_decay(0.1, 7, 0.8, TRUE, step)"),
    "inverse_time": (
        lambda: keras.optimizers.schedules.InverseTimeDecay(np.float64(0.5), 10, 0.3),
        "sch::inverse_time_decay(0.5, 10, 0.3, FALSE, step)"),
    "inverse_time_staircase": (
        lambda: keras.optimizers.schedules.InverseTimeDecay(np.float64(0.5), 10, 0.3,
                                                            staircase=True),
        "sch::inverse_time_decay(0.5, 10, 0.3, TRUE, step)"),
    "piecewise_constant": (
        lambda: keras.optimizers.schedules.PiecewiseConstantDecay(
            [3, 10, 25], [np.float64(v) for v in (1.0, 0.5, 0.1, 0.01)]),
        "sch::piecewise_constant_decay(B, V, step)"),
    "polynomial": (
        lambda: keras.optimizers.schedules.PolynomialDecay(np.float64(0.1), 20,
                                                           end_learning_rate=0.01, power=2.0),
        "sch::polynomial_decay(0.1, 20, end_learning_rate=0.01, power=2.0, step=step)"),
    "polynomial_defaults": (
        lambda: keras.optimizers.schedules.PolynomialDecay(np.float64(0.1), 20),
        "sch::polynomial_decay(0.1, 20, step=step)"),
    "polynomial_cycle": (
        lambda: keras.optimizers.schedules.PolynomialDecay(np.float64(0.1), 6, power=0.5,
                                                           cycle=True),
        "sch::polynomial_decay(0.1, 6, power=0.5, cycle=TRUE, step=step)"),
    "cosine": (
        lambda: keras.optimizers.schedules.CosineDecay(np.float64(0.1), 30),
        "sch::cosine_decay(0.1, 30, step=step)"),
    "cosine_alpha": (
        lambda: keras.optimizers.schedules.CosineDecay(np.float64(0.1), 30, alpha=0.2),
        "sch::cosine_decay(0.1, 30, 0.2, step)"),
    "cosine_warmup": (
        lambda: keras.optimizers.schedules.CosineDecay(np.float64(0.001), 30, alpha=0.1,
                                                       warmup_target=0.1, warmup_steps=10),
        "sch::cosine_decay_warmup(0.001, 30, 0.1, 0.1, 10, step)"),
    "cosine_warmup_zero_steps": (
        lambda: keras.optimizers.schedules.CosineDecay(np.float64(0.001), 30,
                                                       warmup_target=0.1),
        "sch::cosine_decay_warmup(0.001, 30, warmup_target=0.1, step=step)"),
}


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_schedule_matches_keras(name):
    factory, call = SCHEDULES[name]
    schedule = factory()
    if isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule):
        schedule = float64_schedule(schedule)
    expected = np.array([float(keras.ops.convert_to_numpy(schedule(step)))
                         for step in SCHEDULE_STEPS])
    script = (
        'source("nn/optim/schedules.dml") as sch\n'
        "out = matrix(0, rows=nrow(S), cols=1)\n"
        "for (k in 1:nrow(S)) {\n"
        "  step = as.integer(as.scalar(S[k, 1]))\n"
        f"  out[k, 1] = {call}\n"
        "}\n")
    inputs = {"S": np.array(SCHEDULE_STEPS, dtype=np.float64).reshape(-1, 1),
              "B": np.array([[3.0], [10.0], [25.0]]),
              "V": np.array([[1.0], [0.5], [0.1], [0.01]])}
    actual = run_string(script, inputs=inputs, outputs=["out"])["out"][:, 0]
    error = max_rel_error(actual, expected)
    assert error <= 1e-7, f"{name}: max rel error {error:.3g}\n{actual}\n{expected}"


def test_piecewise_constant_rejects_mismatched_values():
    script = ('source("nn/optim/schedules.dml") as sch\n'
              "lr = sch::piecewise_constant_decay(B, V, 4)\n")
    with pytest.raises(Exception, match="one more row"):
        run_string(script, inputs={"B": np.array([[3.0], [10.0]]),
                                   "V": np.array([[1.0], [0.5]])}, outputs=["lr"])
