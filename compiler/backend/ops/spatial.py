"""Pooling (1-D and 2-D, global too), ZeroPadding2D and UpSampling2D.

1-D pooling runs on the 2-D pooling layers: a time-major sequence row (T steps of D features) is
a one-channel T x D image, and a window of (size, 1) slides along time only.
"""
from __future__ import annotations

from ..registry import op_template
from ..step import Step, image, known


def _pool(module: str, c, h, w, size, strides, pads, out_hw) -> dict:
    top, bottom, left, right = pads
    # the builtin's symmetric padding counts padded cells in averages; Keras does not
    plain = (top, left) == (bottom, right) and (module == "max_pool2d" or top + left == 0)
    return dict(module=module, plain=plain, C=c, H=h, W=w,
                Hout=out_hw[0], Wout=out_hw[1],
                sizes=f"{c}, {h}, {w}, {size[0]}, {size[1]}, {strides[0]}, {strides[1]}",
                padding=f"{top}, {left}" if plain else f"{top}, {bottom}, {left}, {right}")


@op_template(("max_pool2d", "avg_pool2d"), "pool2d.dml.j2")
def pool2d(n: Step) -> dict:
    c, h, w = image(known(n.in_shape, "image size"))
    p = n.a.padding
    module = "max_pool2d" if n.node.op == "max_pool2d" else "avg_pool2d"
    ctx = _pool(module, c, h, w, n.a.size, n.a.strides, (p.top, p.bottom, p.left, p.right),
                n.out_shape[:2])
    return dict(ctx, sources=(module,), shape_text=f"channels x height x width: {c}x{h}x{w}")


@op_template(("max_pool1d", "avg_pool1d"), "pool2d.dml.j2")
def pool1d(n: Step) -> dict:
    steps, features = known(n.in_shape, "sequence length")
    module = "max_pool2d" if n.node.op == "max_pool1d" else "avg_pool2d"
    ctx = _pool(module, 1, steps, features, (n.a.size, 1), (n.a.stride, 1),
                (n.a.padding.left, n.a.padding.right, 0, 0), n.out_shape)
    return dict(ctx, sources=(module,),
                shape_text=f"{steps} steps of {features} features, as a 1-channel image")


@op_template(("global_avg_pool2d", "global_max_pool2d"), "global_pool.dml.j2")
def global_pool2d(n: Step) -> dict:
    c, h, w = image(known(n.in_shape, "image size"))
    module = n.node.op
    return dict(module=module, sources=(module,), one_d=False, sizes=f"{c}, {h}, {w}")


@op_template(("global_avg_pool1d", "global_max_pool1d"), "global_pool.dml.j2")
def global_pool1d(n: Step) -> dict:
    steps, features = known(n.in_shape, "sequence length")
    module = "avg_pool2d" if "avg" in n.node.op else "max_pool2d"
    # one window covering all steps of the 1-channel T x D image
    return dict(module=module, sources=(module,), one_d=True, H=steps, W=features,
                sizes=f"1, {steps}, {features}, {steps}, 1, 1, 1")


@op_template("zero_pad2d", "zero_pad2d.dml.j2", "zero_pad2d")
def zero_pad2d(n: Step) -> dict:
    c, h, w = image(known(n.in_shape, "image size"))
    p = n.a.padding
    return dict(sizes=f"{c}, {h}, {w}", pads=f"{p.top}, {p.bottom}, {p.left}, {p.right}")


@op_template("upsample2d", "upsample2d.dml.j2", "upsample2d")
def upsample2d(n: Step) -> dict:
    c, h, w = image(known(n.in_shape, "image size"))
    return dict(sizes=f"{c}, {h}, {w}, {n.a.size[0]}, {n.a.size[1]}")
