"""Fixtures of the compiler tests."""
from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def assert_predicts_like_keras(tmp_path):
    """check(model, inputs=None, atol=1e-5, rtol=1e-5, fmt="keras"): the model, saved as a real
    .keras file (fmt="h5": a legacy .h5 one) in the test's tmp_path, compiled and run by its
    predict.dml, predicts what Keras predicts on the same inputs (sample_inputs of a batch of 4
    when none are given)."""
    from support.keras_models import predict, sample_inputs, save
    from kerasdml.compiler.compile import compile_model

    def check(model, inputs=None, atol=1e-5, rtol=1e-5, fmt="keras"):
        inputs = inputs or sample_inputs(model, batch=4)
        expected = predict(model, inputs)
        compiled = compile_model(save(model, tmp_path, fmt))
        # flat, as `predict` gives them (a dict of outputs by its sorted keys)
        got = compiled.predict_arrays(inputs if len(inputs) > 1 else inputs[0])
        assert len(got) == len(expected)
        for g, e in zip(got, expected):
            assert g.shape == e.shape
            np.testing.assert_allclose(g, e, atol=atol, rtol=rtol)
    return check
