"""Keras' fit() keywords that Keras2DML.fit does not take, each refused with what to do instead:
its constructor parameters (set once per estimator, as scikit-learn has them) and the options
kerasdml does not model."""
from __future__ import annotations

from ..errors import CompileError


class FitOptionError(CompileError, TypeError):
    """A keyword of Keras' fit() that Keras2DML.fit does not take (a TypeError too, as Python
    raises for an unexpected keyword)."""


_UNWEIGHTED = "kerasdml trains on unweighted samples"
_EVERY_EXAMPLE = "an epoch is one pass over every example given"
# Keras fit() keyword -> why kerasdml does not take it, and what to do instead
UNSUPPORTED = {
    "class_weight": _UNWEIGHTED,
    "sample_weight": _UNWEIGHTED,
    "callbacks": "kerasdml runs no Keras callbacks (checkpoints: weights_dir= in Keras2DML(...) "
                 "and fit(..., resume=True))",
    "initial_epoch": "to continue training, give weights_dir= to Keras2DML(...) and call "
                     "fit(..., resume=True)",
    "steps_per_epoch": _EVERY_EXAMPLE,
    "validation_steps": "validation takes every held-out example",
    "validation_batch_size": "validation takes every held-out example at once",
    "validation_freq": "validation runs after every epoch",
}


def refuse(options: dict, parameters: tuple) -> None:
    """Raises FitOptionError for the first of `options` (fit()'s extra keywords), naming it;
    `parameters` are the estimator's constructor parameters."""
    for name in options:
        if name in parameters:
            raise FitOptionError(f"fit() does not take {name}=: it is a parameter of the "
                                 f"estimator; pass {name}= to Keras2DML(...) (or set_params)")
        if name in UNSUPPORTED:
            raise FitOptionError(f"fit(): {name}= is not supported: {UNSUPPORTED[name]}")
        raise FitOptionError(f"fit() got an unexpected keyword argument {name!r}")


def validation_pair(validation_data) -> tuple:
    """(x, y) of fit()'s validation_data, as a tuple or list of two."""
    if isinstance(validation_data, (tuple, list)):
        if len(validation_data) == 3:
            raise FitOptionError("validation_data=(x, y, sample_weight) is not supported: "
                                 f"{_UNWEIGHTED}; give validation_data=(x, y)")
        if len(validation_data) == 2:
            return tuple(validation_data)
    raise FitOptionError("validation_data must be a tuple (x, y) of features and labels, got "
                         f"{type(validation_data).__name__}"
                         + (f" of {len(validation_data)}"
                            if isinstance(validation_data, (tuple, list)) else ""))


# Keras' batch size where fit and evaluate are given none (batch_size=None)
KERAS_BATCH_SIZE = 32

# Keras' predict() and evaluate() keywords that kerasdml does not take, and why
SCORING_UNSUPPORTED = {
    "sample_weight": _UNWEIGHTED,
    "steps": "scoring takes every example given",
    "callbacks": "kerasdml runs no Keras callbacks",
}


def features_argument(X, options: dict, method: str):
    """The features of fit/predict/score/evaluate: X, or Keras' own keyword x= (Keras code
    calls model.fit(x=x_train, y=y_train)), taken out of `options`."""
    if "x" in options:
        if X is not None:
            raise FitOptionError(f"{method}() got the features twice, as X and as x=")
        X = options.pop("x")
    if X is None:
        raise FitOptionError(f"{method}() needs the features: {method}(X, ...) or x=")
    return X


def scoring_features(X, options: dict, method: str):
    """The features of predict/score/evaluate (features_argument), their other Keras keywords
    refused by name."""
    X = features_argument(X, options, method)
    _refuse_scoring(options, method)
    return X


def _refuse_scoring(options: dict, method: str) -> None:
    """Raises FitOptionError for the first of `options`, predict()'s or evaluate()'s extra
    keywords, naming it."""
    for name in options:
        if name in SCORING_UNSUPPORTED:
            raise FitOptionError(f"{method}(): {name}= is not supported: "
                                 f"{SCORING_UNSUPPORTED[name]}")
        raise FitOptionError(f"{method}() got an unexpected keyword argument {name!r}")
