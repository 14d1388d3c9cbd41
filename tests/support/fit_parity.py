"""Training with Keras2DML and with Keras' model.fit from the same weights, and the check that
both report the same history."""
from __future__ import annotations

import numpy as np

from kerasdml.compiler import Keras2DML


def fit_both(model, x, y, validation, settings: dict, tolerance: dict, **estimator_options):
    """Keras2DML.fit, then model.fit (from the weights the model still holds, which Keras2DML
    does not change), both with `settings` (epochs, batch_size, ...) and validation data:
    asserts the same history names and values within `tolerance` (assert_allclose's rtol,
    atol). Returns (the fitted estimator, Keras' history)."""
    estimator = Keras2DML(model, **estimator_options, **settings).fit(
        x, y, validation_data=validation)
    history = model.fit(x, y, validation_data=validation, **settings).history
    assert set(estimator.history_) == set(history)
    for name, values in history.items():
        np.testing.assert_allclose(estimator.history_[name], values, **tolerance, err_msg=name)
    return estimator, history
