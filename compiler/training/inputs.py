"""The estimator's features for any number of model inputs, in the forms Keras' fit takes:
one array (one input), a list or tuple in the model's input order, or a dict by input name.
Inside the estimator they are always a list with one checked array per input."""
from __future__ import annotations

import math

import numpy as np

from .data import DataError, features


def model_features(X, inputs, what: str = "X") -> list[np.ndarray]:
    """[(N, *shape) float64 for each input spec], checked against the specs and each other."""
    arrays = arrays_by_input(X, inputs, what)
    named = [what if len(inputs) == 1 else f"{what}[{t.name!r}]" for t in inputs]
    arrays = [features(a, t.shape, label) for a, t, label in zip(arrays, inputs, named)]
    counts = {len(a) for a in arrays}
    if len(counts) > 1:
        shown = ", ".join(f"{label}: {len(a)}" for label, a in zip(named, arrays))
        raise DataError(f"the inputs have different numbers of examples ({shown})")
    return arrays


def arrays_by_input(X, inputs, what: str) -> list:
    names = [t.name for t in inputs]
    keys = [getattr(t, "key", None) or t.name for t in inputs]
    if isinstance(X, dict) and set(X) == set(keys):  # by the keys of a dict of inputs
        return [X[key] for key in keys]
    if isinstance(X, dict):
        missing, unknown = set(names) - set(X), set(X) - set(names)
        if missing or unknown:
            raise DataError(f"{what} is a dict with keys {sorted(X)}; the model's inputs are "
                            f"{keys}")
        return [X[name] for name in names]
    if len(inputs) == 1:
        return list(X) if isinstance(X, (list, tuple)) and len(X) == 1 \
            and np.ndim(X[0]) > 1 else [X]
    if not isinstance(X, (list, tuple)) or len(X) != len(inputs):
        raise DataError(f"the model has {len(inputs)} inputs ({', '.join(names)}): give {what} "
                        "as a list of arrays in that order or a dict by input name")
    return list(X)


def split_inputs(X: list, y: np.ndarray, fraction: float):
    """Keras' validation_split over every input (array_slicing.train_validation_split): the
    first floor(N * (1 - fraction)) examples train, the rest validate; 0 holds out nothing."""
    if not 0.0 <= fraction < 1.0:
        raise DataError(f"validation_split must be in [0, 1), got {fraction}")
    if not fraction:
        return (X, y), None
    examples = len(y)
    cut = int(math.floor(examples * (1.0 - fraction)))
    if cut in (0, examples):
        raise DataError(f"the training data has {examples} examples, which is not sufficient "
                        "to split it into a validation and training set as specified by "
                        f"validation_split={fraction}: give more data or another "
                        "validation_split")
    return ([x[:cut] for x in X], y[:cut]), ([x[cut:] for x in X], y[cut:])
