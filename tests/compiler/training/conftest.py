"""Fixtures of the training tests."""
from __future__ import annotations

import pytest
from support.keras_models import keras


@pytest.fixture(params=["float32", "float64"])
def floatx(request):
    """Keras' float type and dtype policy (which keeps the float type of its first use), for
    the tests that hold kerasdml to Keras in both precisions."""
    before, policy = keras.config.floatx(), keras.config.dtype_policy()
    keras.config.set_floatx(request.param)
    keras.config.set_dtype_policy(request.param)
    yield request.param
    keras.config.set_floatx(before)
    keras.config.set_dtype_policy(policy)
