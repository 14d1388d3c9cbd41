"""keras.ops math in functional models: casts, clip, the unary functions and comparisons of the
elementwise table; where; var, std, logsumexp, norm and normalize. Each model is saved as a .keras file,
compiled and run by its predict.dml in double precision, and compared with Keras' own prediction;
models that chain the functions with a gradient train to the weights model.fit gives."""
from __future__ import annotations

import numpy as np
import pytest

from support.keras_models import assert_trains_like_keras, keras, randomize, save

L = keras.layers
ops = keras.ops
RNG = np.random.default_rng(17)


def _on_features(function, shape=(6,)):
    """Dense -> function -> Dense, so the function sees values of both signs."""
    def build():
        x = keras.Input(shape)
        y = function(L.Dense(6)(x))
        return keras.Model(x, L.Dense(3)(y), name="keras_ops_math")
    return build


ON_FEATURES = {
    "cast_float32": lambda h: ops.cast(h, "float32"),
    "cast_float64_back": lambda h: ops.cast(ops.cast(h, "float64"), "float32"),
    "cast_comparison": lambda h: h * ops.cast(h > 0.1, "float32"),
    "clip": lambda h: ops.clip(h, -0.5, 0.8),
    "rsqrt": lambda h: ops.rsqrt(ops.square(h) + 0.5),
    "sin": ops.sin,
    "cos": ops.cos,
    "tan": lambda h: ops.tan(ops.clip(h, -1.2, 1.2)),
    "sign": lambda h: ops.sign(h) + h,
    "floor": lambda h: ops.floor(3.0 * h),
    "ceil": lambda h: ops.ceil(3.0 * h),
    "round": lambda h: ops.round(3.0 * h),
    "round_halves": lambda h: ops.round(ops.floor(4.0 * h) / 2.0),  # ties go to even
    "log1p": lambda h: ops.log1p(ops.abs(h)),
    "expm1": ops.expm1,
    "erf": lambda h: ops.erf(2.0 * h),
    "var": lambda h: h * ops.var(h, axis=-1, keepdims=True),
    "std": lambda h: h - ops.std(h, axis=1, keepdims=True),
    "logsumexp": lambda h: h - ops.logsumexp(h, axis=-1, keepdims=True),
    "norm": lambda h: h * ops.norm(h, axis=-1, keepdims=True),
    "norm_l1": lambda h: h * ops.norm(h, ord=1, axis=-1, keepdims=True),
    "normalize": ops.normalize,
    "normalize_epsilon": lambda h: ops.normalize(h, axis=-1, epsilon=2.0),  # the floor is hit
    "where_number": lambda h: ops.where(h > 0, h, 0.0),
    "where_number_first": lambda h: ops.where(ops.less(h, 0.2), 1.5, h),
    "where_numbers": lambda h: h + ops.where(h >= 0.1, 1.0, -1.0),
    "where_tensors": lambda h: ops.where(h != 0.3, ops.sin(h), h * 2.0),
    "where_guards_a_log": lambda h: ops.where(h > 0, ops.log(h), 0.0),  # NaN where not picked
    "comparisons": lambda h: (h * ops.cast(ops.greater_equal(h, 0.2), "float32")
                              + ops.cast(ops.less(0.3, h), "float32")
                              - ops.cast(ops.less_equal(h, -0.1), "float32")
                              + ops.cast(ops.equal(ops.floor(h), 0.0), "float32")),
}


def _on_sequences():
    x = keras.Input((5, 4))
    h = L.Conv1D(3, 2)(x)
    y = ops.sin(h) * ops.clip(h, -0.3, 0.3) + ops.round(ops.expm1(h))
    return keras.Model(x, L.Dense(2)(y), name="keras_ops_on_sequences")


def _statistics_of_sequences():
    """Over the features (keepdims or not) and over the steps."""
    x = keras.Input((5, 4))
    h = L.Dense(4)(x)
    per_step = ops.stack([ops.var(h, axis=-1), ops.std(h, axis=2), ops.logsumexp(h, axis=-1),
                          ops.norm(h, axis=-1)], axis=-1)
    over_steps = ops.var(h, axis=1, keepdims=True) + ops.norm(h, axis=1, keepdims=True)
    y = ops.concatenate([per_step, ops.normalize(h) + over_steps], axis=-1)
    return keras.Model(x, L.Dense(3)(y), name="statistics_of_sequences")


def _statistics_of_images():
    """Over each image's rows and columns (instance statistics) and over its channels."""
    x = keras.Input((4, 4, 3))
    h = L.Conv2D(3, 1)(x)
    y = (h - ops.logsumexp(h, axis=[1, 2], keepdims=True)) / ops.std(h, axis=[1, 2],
                                                                        keepdims=True)
    y = y + ops.var(h, axis=-1, keepdims=True) + ops.normalize(h, axis=1)
    y = y * ops.norm(h, axis=[1, 2], keepdims=True)
    return keras.Model(x, L.Dense(2)(y), name="statistics_of_images")


def _extremes_of_sequences():
    """max, min and sum over the steps (each feature's values lie apart in DML's rows), beside
    the max over a whole sample and a logsumexp over the steps."""
    x = keras.Input((5, 4))
    h = L.Dense(4)(x)
    centred = h - ops.max(h, axis=[1, 2], keepdims=True) + ops.min(h, axis=1, keepdims=True)
    pooled = ops.concatenate([ops.max(centred, axis=1), ops.min(h, axis=-2), ops.sum(h, axis=1),
                              ops.logsumexp(h, axis=1)], axis=-1)
    return keras.Model(x, L.Dense(3, activation="softmax")(pooled), name="extremes_of_sequences")


def _extremes_of_images():
    """max and min over an image's channels, its rows, and its columns and channels (two runs
    of axes apart in DML's channels-first rows)."""
    x = keras.Input((4, 5, 3))
    h = L.Conv2D(3, 1)(x)
    y = h - ops.max(h, axis=-1, keepdims=True) + ops.min(h, axis=1, keepdims=True)
    y = y * ops.max(h, axis=[2, 3], keepdims=True) + ops.min(h, axis=[1, 3], keepdims=True)
    pooled = ops.concatenate([ops.max(y, axis=[1, 2]), ops.min(y, axis=3)[:, :, 0]], axis=-1)
    return keras.Model(x, L.Dense(3, activation="softmax")(pooled), name="extremes_of_images")


# also read by test_handlers' check that every supported class has a case
MODELS = {**{name: _on_features(fn) for name, fn in ON_FEATURES.items()},
          "on_sequences": _on_sequences, "statistics_of_sequences": _statistics_of_sequences,
          "statistics_of_images": _statistics_of_images,
          "extremes_of_sequences": _extremes_of_sequences,
          "extremes_of_images": _extremes_of_images}


@pytest.mark.parametrize("name", list(MODELS))
def test_predicts_like_keras(name, tmp_path):
    from kerasdml.compiler import compile_model
    model = randomize(MODELS[name](), seed=5, scale=0.8)
    x = RNG.normal(size=(8, *model.input_shape[1:])).astype("float32")
    got = compile_model(save(model, tmp_path)).predict(x, precision="double")
    np.testing.assert_allclose(got, model.predict(x, verbose=0), atol=1e-5, rtol=1e-5)


def _trainable_chain():
    """Every function with a gradient, and the steps (zero gradient) beside them."""
    x = keras.Input((6,))
    h = L.Dense(6)(x)
    a = ops.sin(h) + 0.5 * ops.cos(h) + ops.tan(ops.clip(h, -1.0, 1.0))
    b = ops.log1p(ops.abs(h)) + ops.expm1(ops.clip(h, -2.0, 0.5)) + ops.rsqrt(ops.square(h) + 1.0)
    c = ops.cast(h, "float32") * ops.cast(h > 0.2, "float32") + 0.1 * (
        ops.floor(h) + ops.ceil(h) + ops.round(h) + ops.sign(h))
    d = ops.where(h > 0.1, ops.square(h), -h) + ops.where(h < 0.5, 0.0, h) + ops.erf(h)
    y = L.Dense(4, activation="tanh")(ops.concatenate([a, b, c, d], axis=-1))
    return keras.Model(x, L.Dense(3, activation="softmax")(y), name="math_chain")


def _contrastive_head():
    """A SimCLR-style projection (normalize) beside per-step statistics of a sequence."""
    x = keras.Input((5, 4))
    h = L.Dense(4)(x)
    spread = ops.std(h, axis=-1, keepdims=True) + ops.var(h, axis=1, keepdims=True)
    y = ops.normalize(h) * spread + ops.logsumexp(h, axis=-1, keepdims=True)
    y = y + ops.norm(h, axis=-1, keepdims=True)
    return keras.Model(x, L.Dense(3, activation="softmax")(L.Flatten()(y)), name="contrastive")


TRAINED = {"math_chain": (_trainable_chain, (24, 6)),
           "statistics": (_contrastive_head, (24, 5, 4)),
           "extremes_of_sequences": (_extremes_of_sequences, (24, 5, 4)),
           "extremes_of_images": (_extremes_of_images, (16, 4, 5, 3))}


@pytest.mark.parametrize("name", list(TRAINED))
def test_two_epochs_give_keras_weights(name, tmp_path):
    build, shape = TRAINED[name]
    model = randomize(build(), seed=3, scale=0.5)
    x = RNG.normal(size=shape).astype("float32")
    y = RNG.integers(0, 3, shape[0])
    assert_trains_like_keras(model, x, y, tmp_path)


REFUSED = {
    "cast_to_int": (lambda h: ops.cast(ops.cast(h, "int32"), "float32"),
                    r"\(ops.Cast\): dtype='int32'.*a float type"),
    "round_decimals": (lambda h: ops.round(h, 1), r"\(ops.Round\): decimals=1"),
    "comparison_of_tensors": (lambda h: ops.cast(ops.greater(h, 2.0 * h), "float32"),
                              r"\(ops.Greater\).*not for power or comparisons"),
    "where_broadcasting": (lambda h: ops.where(h > 0, h, ops.sum(h, axis=-1, keepdims=True)),
                           r"where needs a condition and tensor branches of one shape"),
    "spectral_norm": (lambda h: h * ops.reshape(ops.norm(ops.reshape(h, (-1, 2, 3)), ord=2,
                                                         axis=[1, 2]), (-1, 1)),
                      r"\(ops.Norm\): ord=2"),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_unsupported_calls_are_refused_by_name(name, tmp_path):
    from kerasdml.compiler import compile_model
    from kerasdml.compiler.errors import CompileError
    call, pattern = REFUSED[name]
    with pytest.raises(CompileError, match=pattern):
        compile_model(save(_on_features(call)(), tmp_path))
