"""BatchNormalization (images, vectors, sequences) and LayerNormalization."""
from __future__ import annotations

from ..registry import op_template
from ..step import Step, Unsupported, image, known, steps_and_features
from .core import ones, zeros


def _scale_shift(n: Step, rows: int, cols: int) -> dict:
    """Parameters the layer lacks (center/scale False) are constants the library ignores."""
    return dict(gamma=n.p.get("gamma") or ones(rows, cols),
                beta=n.p.get("beta") or zeros(rows, cols),
                dgamma=n.dp.get("gamma") or f"{n.out}_dgamma_unused",
                dbeta=n.dp.get("beta") or f"{n.out}_dbeta_unused")


def _flags(n: Step) -> str:
    a = n.a
    return f"{a.epsilon!r}, {'TRUE' if a.center else 'FALSE'}, {'TRUE' if a.scale else 'FALSE'}"


@op_template("batch_norm", "batch_norm.dml.j2")
def batch_norm(n: Step) -> dict:
    shape = known(n.in_shape, "shape")
    # Keras runs a frozen BatchNormalization in inference mode, in training too
    mode = '"train"' if n.training and not n.frozen else '"test"'
    common = dict(mode=mode, momentum=repr(n.a.momentum), flags=_flags(n),
                  mean=n.p["moving_mean"], var=n.p["moving_variance"])
    if len(shape) == 3:
        c, h, w = image(shape)
        return dict(common, **_scale_shift(n, c, 1), images=True, sizes=f"{c}, {h}, {w}",
                    sources=("batch_norm2d",))
    steps, features = steps_and_features(shape)
    return dict(common, **_scale_shift(n, 1, features), images=False, T=steps, D=features,
                sources=("batch_norm1d",))


@op_template("layer_norm", "layer_norm.dml.j2", "layer_norm")
def layer_norm(n: Step) -> dict:
    if len(n.in_shape) == 3:
        raise Unsupported("input shape", n.in_shape, "a vector or a sequence (LayerNormalization "
                          "of images is not supported)")
    return dict(_scale_shift(n, 1, n.in_shape[-1]), flags=_flags(n))
