"""Layers that are the identity at inference: GaussianNoise, GaussianDropout, AlphaDropout (the
"noise" op, which draws its noise in training as Keras does), ActivityRegularization (adds its
penalty's gradient in training) and the Random* augmentation layers (the "augmentation" op, which
trains only in Keras). Prediction scripts drop all of them (`passes.drop_inference_noops`).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..backend.step import Step, Unsupported, seed_offset
from ..frontend.context import LayerContext
from ..frontend.registry import handles
from ..opdef import define
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


@dataclass(frozen=True)
class Augmentation:
    """A Random* preprocessing layer: the identity at inference."""


_NOISE = {"GaussianNoise": ("gaussian_noise", "stddev"),
          "GaussianDropout": ("gaussian_dropout", "rate"),
          "AlphaDropout": ("alpha_dropout", "rate")}
AUGMENTATIONS = (
    "RandomBrightness", "RandomColorDegeneration", "RandomColorJitter", "RandomContrast",
    "RandomCrop", "RandomElasticTransform", "RandomErasing", "RandomFlip", "RandomGaussianBlur",
    "RandomGrayscale", "RandomHue", "RandomInvert", "RandomPerspective", "RandomPosterization",
    "RandomRotation", "RandomSaturation", "RandomSharpness", "RandomShear", "RandomTranslation",
    "RandomZoom")


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
    """ActivityRegularization(l1, l2): identity; its penalty's gradient in training."""
    attrs = ActivityRegularization(float(ctx.get("l1", 0.0)), float(ctx.get("l2", 0.0)))
    return [ctx.node("activity_regularization", attrs)]


@handles(*AUGMENTATIONS)
def augmentation(ctx: LayerContext) -> list:
    """The Random* augmentation layers: identity at inference (training: Keras only)."""
    return [ctx.node("augmentation", Augmentation())]


# --- templates -------------------------------------------------------------------------------

def _noise_context(n: Step) -> dict:
    return dict(module=n.attrs.kind, amount=repr(n.attrs.amount), seed_offset=seed_offset(n),
                sources=(n.attrs.kind,))


def _regularization_context(n: Step) -> dict:
    return dict(l1=repr(n.attrs.l1), l2=repr(n.attrs.l2))


def _augmentation_context(n: Step) -> dict:
    if n.training:
        raise Unsupported("training", True, f"prediction only ({n.node.keras_class} augments "
                          "its input in training, which kerasdml does not do)")
    return dict(lines=[f"{n.out} = {n.x}"], back=[f"{n.dx} = {n.dout}"])


define("noise", Noise, shape=same_shape, template="noise.dml.j2", context=_noise_context,
       library=("gaussian_noise", "gaussian_dropout", "alpha_dropout"), family=__name__)
define("activity_regularization", ActivityRegularization, shape=same_shape,
       template="activity_regularization.dml.j2", context=_regularization_context,
       family=__name__)
define("augmentation", Augmentation, shape=same_shape, template="lines.dml.j2",
       context=_augmentation_context, family=__name__)
