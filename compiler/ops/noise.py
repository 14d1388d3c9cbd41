"""Layers that are the identity at inference: GaussianNoise, GaussianDropout, AlphaDropout (the
"noise" op, which draws its noise in training as Keras does) and ActivityRegularization (adds its
penalty to the training loss; compiler/frontend/activity.py puts the same node after the outputs
of any layer with an activity_regularizer). Prediction scripts drop them
(`passes.drop_inference_noops`); the Random* augmentation layers are `ops.augmentation`'s.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..backend.step import Step, seed_offset
from ..frontend.context import LayerContext
from ..frontend.registry import handles
from ..opdef import always, define
from .shaping import same_shape


@dataclass(frozen=True)
class Noise:
    """kind: gaussian_noise (amount = stddev), gaussian_dropout or alpha_dropout (amount = rate)."""
    kind: str
    amount: float


@dataclass(frozen=True)
class ActivityRegularization:
    """Identity; in training the loss gains (l1 * sum|x| + l2 * sum x^2) / batch size."""
    l1: float = 0.0
    l2: float = 0.0


_NOISE = {"GaussianNoise": ("gaussian_noise", "stddev"),
          "GaussianDropout": ("gaussian_dropout", "rate"),
          "AlphaDropout": ("alpha_dropout", "rate")}


# --- frontend --------------------------------------------------------------------------------

@handles(*_NOISE)
def noise(ctx: LayerContext) -> list:
    """GaussianNoise(stddev), GaussianDropout(rate), AlphaDropout(rate): noise in training,
    identity at inference."""
    kind, key = _NOISE[ctx.class_name]
    if ctx.get("noise_shape", None) is not None:
        ctx.reject("noise_shape", ctx.get("noise_shape"), "None (noise drawn per value)")
    return [ctx.node("noise", Noise(kind, float(ctx.get(key))))]


@handles("ActivityRegularization")
def activity_regularization(ctx: LayerContext) -> list:
    """ActivityRegularization(l1, l2): identity; in training its penalty joins the loss, as any
    layer's activity_regularizer (L1, L2, L1L2) does."""
    attrs = ActivityRegularization(float(ctx.get("l1", 0.0)), float(ctx.get("l2", 0.0)))
    return [ctx.node("activity_regularization", attrs)]


# --- templates -------------------------------------------------------------------------------

def _noise_context(n: Step) -> dict:
    return dict(module=n.attrs.kind, amount=repr(n.attrs.amount), seed_offset=seed_offset(n),
                sources=(n.attrs.kind,))


# penalty -> (its DML term, the term's gradient), of x and the factor f
_PENALTIES = {"l1": ("{f} * sum(abs({x}))", "{f} * sign({x})"),
              "l2": ("{f} * sum({x}^2)", "2 * {f} * {x}")}


def _regularization_context(n: Step) -> dict:
    """The penalty's DML (its terms with a factor other than 0) and its gradient."""
    factors = {"l1": n.attrs.l1, "l2": n.attrs.l2}
    terms = [[form.format(f=repr(factors[kind]), x=n.x) for form in forms]
             for kind, forms in _PENALTIES.items() if factors[kind] != 0.0]
    return dict(penalty=" + ".join(t[0] for t in terms), gradient=" + ".join(t[1] for t in terms))


define("noise", Noise, shape=same_shape, template="noise.dml.j2", context=_noise_context,
       library=("gaussian_noise", "gaussian_dropout", "alpha_dropout"), family=__name__,
       noop_at_inference=always)
define("activity_regularization", ActivityRegularization, shape=same_shape,
       template="activity_regularization.dml.j2", context=_regularization_context,
       family=__name__, noop_at_inference=always)
