"""Importing Keras for the few commands that need it (the demo's model, converting legacy .h5
files), without TensorFlow's start-up lines on the console.

TensorFlow's C++ code writes its start-up notes (oneDNN custom operations, CUDA not found) to
the process's stderr while it loads, some of them before it reads TF_CPP_MIN_LOG_LEVEL, so the
first import runs with file descriptor 2 pointed at the null device. Python's own errors are
exceptions and still reach the caller; a missing Keras is one clear error naming the extra.
"""
from __future__ import annotations

import contextlib
import os
import sys

from .errors import CompileError


@contextlib.contextmanager
def _native_stderr_silenced():
    sys.stderr.flush()
    saved = os.dup(2)
    silent = os.open(os.devnull, os.O_WRONLY)
    os.dup2(silent, 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(silent)


def import_keras(purpose: str):
    """The keras module; `purpose` says what needs it when it is not installed."""
    if "keras" in sys.modules:
        return sys.modules["keras"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        with _native_stderr_silenced():
            import keras
    except ImportError:
        raise CompileError(f"{purpose} needs Keras: pip install 'kerasdml[keras]'") from None
    return keras
