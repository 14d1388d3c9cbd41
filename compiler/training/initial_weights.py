"""Fresh weights drawn as dml_lib's layer `init` functions draw them, for training that does not
start from the Keras model's weights (SystemML's load_keras_weights=False).

Kernels (every weight whose role ends in "kernel"): Glorot uniform, uniform in
+-sqrt(6 / (fan_in + fan_out)) with Keras' fans of the weight's Keras shape (the receptive
field times its last two dimensions), which is nn/layers/affine.dml's and conv2d.dml's init.
Embeddings: uniform in +-0.05 (nn/layers/embedding.dml). Scales (gamma, moving_variance):
ones. Everything else (biases, beta, moving_mean, alpha): zeros.
The matrices are made by one DML script of rand() calls, parameter k with seed `seed + k`.
"""
from __future__ import annotations

import math

_ONES = ("gamma", "moving_variance")
_EMBEDDING_LIMIT = 0.05


def _glorot_limit(keras_shape: tuple) -> float:
    shape = tuple(keras_shape)
    receptive = math.prod(shape[:-2]) if len(shape) > 2 else 1
    fan_in = (shape[-2] if len(shape) > 1 else shape[0]) * receptive
    fan_out = shape[-1] * receptive
    return math.sqrt(6.0 / (fan_in + fan_out))


def _line(p, seed: int) -> str:
    rows, cols = p.shape
    if p.role.endswith("kernel") or p.role == "embeddings":
        limit = _EMBEDDING_LIMIT if p.role == "embeddings" else _glorot_limit(p.keras_shape)
        return (f"{p.variable} = rand(rows={rows}, cols={cols}, min={-limit!r}, max={limit!r}, "
                f'pdf="uniform", seed={seed})')
    return f"{p.variable} = matrix({1 if p.role in _ONES else 0}, rows={rows}, cols={cols})"


def init_script(parameters, seed: int) -> str:
    return "\n".join(_line(p, seed + k) for k, p in enumerate(parameters)) + "\n"


def random_weights(parameters, seed: int, precision: str = "double") -> dict:
    """{variable: matrix} of fresh weights for the compiled model's parameters."""
    from kerasdml.runtime.api import run_string

    names = [p.variable for p in parameters]
    out = run_string(init_script(parameters, seed), outputs=names, file="init.dml",
                     precision=precision)
    return {name: out[name] for name in names}
