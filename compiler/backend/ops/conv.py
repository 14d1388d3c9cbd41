"""Convolutions: Conv2D, DepthwiseConv2D (SeparableConv2D is both), Conv2DTranspose, Conv1D."""
from __future__ import annotations

from ..registry import op_template
from ..step import Step, Unsupported, image, known
from .core import zeros


def _pads(p) -> tuple:
    return p.top, p.bottom, p.left, p.right


def _window(n: Step, filters: int, extra: str = "") -> dict:
    """What conv2d and depthwise share: the input geometry, and whether Keras' padding is
    symmetric (the builtin's padh/padw) or needs an explicit zero_pad2d first."""
    c, h, w = image(known(n.in_shape, "image size"))
    (kh, kw), (sh, sw) = n.a.kernel, n.a.strides
    top, bottom, left, right = _pads(n.a.padding)
    symmetric = top == bottom and left == right
    hp, wp = (h, w) if symmetric else (h + top + bottom, w + left + right)
    _, hout, wout = image(n.out_shape)
    return dict(
        C=c, H=h, W=w, F=filters, Hout=hout, Wout=wout, symmetric=symmetric,
        pads=f"{top}, {bottom}, {left}, {right}", padded=f"{n.out}_padded",
        sizes=f"{c}, {h}, {w}, {extra}{kh}, {kw}, {sh}, {sw}",
        padded_sizes=f"{c}, {hp}, {wp}, {extra}{kh}, {kw}, {sh}, {sw}",
        padding=f"{top}, {left}" if symmetric else "0, 0",
        b=n.p.get("bias") or zeros(image(n.out_shape)[0], 1),
        db=n.dp.get("bias") or f"{n.out}_dzero",
        sources=() if symmetric else ("zero_pad2d",))


@op_template("conv2d", "conv2d.dml.j2", "conv2d")
def conv2d(n: Step) -> dict:
    return dict(_window(n, n.a.filters), module="conv2d")


@op_template("depthwise_conv2d", "conv2d.dml.j2", "conv2d_depthwise")
def depthwise_conv2d(n: Step) -> dict:
    return dict(_window(n, n.out_shape[-1], f"{n.a.multiplier}, "), module="conv2d_depthwise")


@op_template("conv2d_transpose", "conv2d_transpose.dml.j2", "conv2d_transpose")
def conv2d_transpose(n: Step) -> dict:
    """Keras' crop of the full output: symmetric -> the library's padh/padw; rows to append
    (negative amounts, "valid" with kernel < stride) -> out_padh/out_padw; otherwise the full
    output is cropped with zero_pad2d::crop."""
    c, h, w = image(known(n.in_shape, "image size"))
    (kh, kw), (sh, sw) = n.a.kernel, n.a.strides
    top, bottom, left, right = _pads(n.a.padding)
    if top < 0 or left < 0:
        raise Unsupported("padding", n.a.padding, "no extra rows above or columns left")
    extra_h, extra_w = max(-bottom, 0), max(-right, 0)
    bottom, right = max(bottom, 0), max(right, 0)
    symmetric = top == bottom and left == right
    full_h, full_w = (h - 1) * sh + kh + extra_h, (w - 1) * sw + kw + extra_w
    f = n.a.filters
    return dict(
        C=c, H=h, W=w, F=f, symmetric=symmetric, Hfull=full_h, Wfull=full_w,
        Hout=n.out_shape[0], Wout=n.out_shape[1], full=f"{n.out}_full",
        sizes=f"{c}, {h}, {w}, {kh}, {kw}, {sh}, {sw}",
        padding=f"{top}, {left}" if symmetric else "0, 0", out_padding=f"{extra_h}, {extra_w}",
        crops=f"{top}, {bottom}, {left}, {right}",
        b=n.p.get("bias") or zeros(f, 1), db=n.dp.get("bias") or f"{n.out}_dzero",
        sources=() if symmetric else ("zero_pad2d",))


@op_template("conv1d", "conv1d.dml.j2", "conv1d")
def conv1d(n: Step) -> dict:
    steps, features = known(n.in_shape, "sequence length")
    return dict(T=steps, D=features, K=n.a.kernel, stride=n.a.stride,
                pads=f"{n.a.padding.left}, {n.a.padding.right}", Tout=n.out_shape[0],
                b=n.p.get("bias") or zeros(n.a.filters, 1),
                db=n.dp.get("bias") or f"{n.out}_dzero")
