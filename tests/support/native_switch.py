"""Running a call with the native kernels off and on, for tests that hold the native kernels to
the numpy ones they replace."""
from __future__ import annotations

from kerasdml.runtime.local import native


def native_and_numpy(call):
    """(call() with the native kernels on, call() with them off: numpy's result)."""
    with native.use(False):
        expected = call()
    with native.use(True):
        got = call()
    return got, expected
