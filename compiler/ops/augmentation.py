"""The image augmentation layers (the Random* layers, AugMix, CutMix, MixUp, RandAugment,
Solarization) and AutoContrast. Each augmentation is the identity at inference (prediction scripts
drop them, `passes.drop_inference_noops`). In training, RandomFlip ("random_flip"),
RandomRotation, RandomZoom, RandomTranslation and RandomShear ("random_affine"), RandomContrast
("random_contrast") and RandomBrightness ("random_brightness") draw a transform per image as
Keras 3 does, from the batch's seed; the others ("augmentation") augment only in Keras, and a
training script holding one is refused, except a RandomCrop of the whole image (the identity).
AutoContrast ("auto_contrast") is no augmentation: Keras applies it at inference and in training
alike, a fixed stretch of each image's channels (no weights; gradients pass through it).

Keras stores a factor either as a number x, read as (max(-|x|, lowest), |x|), or as a pair,
read sorted (BaseImagePreprocessingLayer._set_factor); `_factor_range` reads both.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..backend.step import Step, Unsupported, image, known, seed_offset
from ..frontend.context import LayerContext
from ..frontend.registry import handles
from ..opdef import always, define
from .shaping import require_rank, same_shape

TRAINED = ("RandomBrightness", "RandomContrast", "RandomFlip", "RandomRotation",
           "RandomShear", "RandomTranslation", "RandomZoom")
UNTRAINED = (
    "RandomColorDegeneration", "RandomColorJitter", "RandomElasticTransform", "RandomErasing",
    "RandomGaussianBlur", "RandomGrayscale", "RandomHue", "RandomInvert", "RandomPerspective",
    "RandomPosterization", "RandomSaturation", "RandomSharpness",
    # they mix or transform images in training only (MixUp and CutMix mix labels too, which a
    # model layer never sees); a model feeds them images, which they return as they are
    "AugMix", "CutMix", "MixUp", "RandAugment", "Solarization")
AUGMENTATIONS = TRAINED + ("RandomCrop",) + UNTRAINED
FILL_MODES = ("reflect", "wrap", "constant", "nearest")
INTERPOLATIONS = ("bilinear", "nearest")


@dataclass(frozen=True)
class Augmentation:
    """A Random* layer kerasdml does not train: the identity at inference. crop: RandomCrop's
    (height, width), which trains as the identity when it is the input's (Keras then crops the
    whole image)."""
    crop: tuple = ()


@dataclass(frozen=True)
class AutoContrast:
    """Each image's channel planes stretched to value_range (a constant plane kept)."""
    value_range: tuple


@dataclass(frozen=True)
class RandomFlip:
    """Flips half of the images (one draw per image decides both axes)."""
    horizontal: bool
    vertical: bool


@dataclass(frozen=True)
class RandomAffine:
    """kind: rotation (factor = (lower, upper) in turns), zoom or translation (factor =
    (height lower, height upper, width lower, width upper)), shear (factor = (x lower, x upper,
    y lower, y upper)); same: zoom both axes by one draw (Keras' width_factor=None)."""
    kind: str
    factor: tuple
    fill_mode: str = "reflect"
    fill_value: float = 0.0
    interpolation: str = "bilinear"
    same: bool = False


@dataclass(frozen=True)
class RandomContrast:
    """Per image a factor in [1 - lower, 1 + upper]; values clipped to value_range."""
    factor: tuple
    value_range: tuple


@dataclass(frozen=True)
class RandomBrightness:
    """Per image a shift of u * (value_range width), u in factor; clipped to value_range."""
    factor: tuple
    value_range: tuple


# --- frontend --------------------------------------------------------------------------------

def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _factor_range(ctx: LayerContext, key: str, lowest: float = -1.0) -> tuple:
    """A Keras factor as (lower, upper)."""
    value = ctx.get(key)
    if _is_number(value):
        return max(-abs(float(value)), lowest), abs(float(value))
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(map(_is_number, value)):
        return tuple(sorted(float(v) for v in value))
    ctx.reject(key, value, "a number or a pair of numbers")


def _value_range(ctx: LayerContext) -> tuple:
    value = ctx.get("value_range", (0, 255))
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(map(_is_number, value)):
        return tuple(sorted(float(v) for v in value))
    ctx.reject("value_range", value, "a pair of numbers (low, high)")


def _affine(ctx: LayerContext, kind: str, factor: tuple, same: bool = False) -> list:
    ctx.channels_last()
    attrs = RandomAffine(kind, factor, ctx.choice("fill_mode", FILL_MODES, "reflect"),
                         float(ctx.get("fill_value", 0.0)),
                         ctx.choice("interpolation", INTERPOLATIONS, "bilinear"), same)
    return [ctx.node("random_affine", attrs)]


@handles("RandomFlip")
def random_flip(ctx: LayerContext) -> list:
    """RandomFlip(mode: horizontal, vertical or horizontal_and_vertical): in training each image
    flipped with probability 1/2 (both axes at once in horizontal_and_vertical); identity at
    inference."""
    ctx.channels_last()
    mode = ctx.choice("mode", ("horizontal", "vertical", "horizontal_and_vertical"),
                      "horizontal_and_vertical")
    return [ctx.node("random_flip", RandomFlip("horizontal" in mode, "vertical" in mode))]


@handles("RandomRotation")
def random_rotation(ctx: LayerContext) -> list:
    """RandomRotation(factor: x or (lower, upper) turns, fill_mode: reflect, wrap, constant or
    nearest, fill_value, interpolation: bilinear or nearest): a random rotation per image in
    training; identity at inference."""
    return _affine(ctx, "rotation", _factor_range(ctx, "factor"))


@handles("RandomZoom")
def random_zoom(ctx: LayerContext) -> list:
    """RandomZoom(height_factor, width_factor (None: as height), fill_mode, fill_value,
    interpolation, as RandomRotation's): a random zoom per image in training; identity at
    inference."""
    height = _factor_range(ctx, "height_factor")
    same = ctx.get("width_factor", None) is None
    return _affine(ctx, "zoom", height + (height if same else _factor_range(ctx, "width_factor")),
                   same)


@handles("RandomTranslation")
def random_translation(ctx: LayerContext) -> list:
    """RandomTranslation(height_factor, width_factor, fill_mode, fill_value, interpolation, as
    RandomRotation's): a random shift per image in training; identity at inference."""
    factor = _factor_range(ctx, "height_factor") + _factor_range(ctx, "width_factor")
    return _affine(ctx, "translation", factor)


@handles("RandomShear")
def random_shear(ctx: LayerContext) -> list:
    """RandomShear(x_factor, y_factor, fill_mode, fill_value, interpolation, as RandomRotation's):
    a random shear per image in training; identity at inference."""
    return _affine(ctx, "shear", _factor_range(ctx, "x_factor") + _factor_range(ctx, "y_factor"))


@handles("RandomContrast")
def random_contrast(ctx: LayerContext) -> list:
    """RandomContrast(factor, value_range): a random contrast factor per image in training,
    values clipped to value_range; identity at inference."""
    ctx.channels_last()
    attrs = RandomContrast(_factor_range(ctx, "factor", lowest=0.0), _value_range(ctx))
    return [ctx.node("random_contrast", attrs)]


@handles("RandomBrightness")
def random_brightness(ctx: LayerContext) -> list:
    """RandomBrightness(factor, value_range): a random shift per image in training, values
    clipped to value_range; identity at inference."""
    ctx.channels_last()
    attrs = RandomBrightness(_factor_range(ctx, "factor"), _value_range(ctx))
    return [ctx.node("random_brightness", attrs)]


@handles("RandomCrop")
def random_crop(ctx: LayerContext) -> list:
    """RandomCrop(height, width): identity at inference; in training only when height and width
    are the input's (a crop of the whole image, as keras.io's CIFAR-10 models use it)."""
    ctx.channels_last()
    crop = ctx.ints("height", 1) + ctx.ints("width", 1)
    return [ctx.node("augmentation", Augmentation(crop))]


@handles(*UNTRAINED)
def augmentation(ctx: LayerContext) -> list:
    """Identity at inference; refused in training scripts (kerasdml does not apply this
    augmentation; Keras does)."""
    return [ctx.node("augmentation", Augmentation())]


@handles("AutoContrast")
def auto_contrast(ctx: LayerContext) -> list:
    """AutoContrast(value_range) on channels_last images: each channel of each image stretched
    linearly so that its minimum and maximum become value_range's ends (a constant channel kept
    as it is), at inference and in training (gradients pass through)."""
    ctx.channels_last()
    return [ctx.node("auto_contrast", AutoContrast(_value_range(ctx)))]


# --- shapes and templates --------------------------------------------------------------------

def _image_shape(node, attrs, ins):
    require_rank(node, ins[0], 3, "images (height, width, channels)")
    return attrs, ins[0]


def _training_context(n: Step, **values) -> dict:
    """What every trained augmentation's template needs: the image size and the seed offset."""
    c, h, w = image(known(n.in_shape, "image size"))
    return dict(sizes=f"{c}, {h}, {w}", seed_offset=seed_offset(n), **values)


def _flip_context(n: Step) -> dict:
    flags = f"{str(n.attrs.horizontal).upper()}, {str(n.attrs.vertical).upper()}"
    return _training_context(n, flags=flags) if n.training else {}


def _affine_context(n: Step) -> dict:
    if not n.training:
        return {}
    a = n.attrs
    _, h, w = image(known(n.in_shape, "image size"))
    size = [] if a.kind == "shear" else [h, w]  # a shear is about the corner: no centre
    same = ["TRUE" if a.same else "FALSE"] if a.kind == "zoom" else []
    draw_args = [*size, *(repr(v) for v in a.factor), *same]
    return _training_context(n, draw=a.kind, draw_args=", ".join(str(v) for v in draw_args),
                             fill=f'"{a.fill_mode}", {a.fill_value!r}, "{a.interpolation}"',
                             modes=f'"{a.fill_mode}", "{a.interpolation}"')


def _range_context(n: Step) -> dict:
    """RandomContrast and RandomBrightness: factor and value range as DML arguments."""
    if not n.training:
        return {}
    a = n.attrs
    return _training_context(n, factor=f"{a.factor[0]!r}, {a.factor[1]!r}",
                             value_range=f"{a.value_range[0]!r}, {a.value_range[1]!r}")


def _auto_contrast_context(n: Step) -> dict:
    c, h, w = image(known(n.in_shape, "image size"))
    low, high = n.attrs.value_range
    return dict(sizes=f"{c}, {h}, {w}", value_range=f"{low!r}, {high!r}")


def _untrained_context(n: Step) -> dict:
    whole_image = n.attrs.crop and n.attrs.crop == tuple(n.in_shape[:2])
    if n.training and not whole_image:
        raise Unsupported("training", True, f"prediction only (kerasdml does not augment with "
                          f"{n.node.keras_class} in training; it trains {', '.join(TRAINED)}, "
                          "and RandomCrop of the whole image)")
    return dict(lines=[f"{n.out} = {n.x}"], back=[f"{n.dx} = {n.dout}"])


define("random_flip", RandomFlip, shape=_image_shape, template="random_flip.dml.j2",
       context=_flip_context, sources=("random_flip",), family=__name__, noop_at_inference=always)
define("random_affine", RandomAffine, shape=_image_shape, template="random_affine.dml.j2",
       context=_affine_context, sources=("random_affine",), family=__name__, noop_at_inference=always)
define("random_contrast", RandomContrast, shape=_image_shape, template="random_contrast.dml.j2",
       context=_range_context, sources=("random_contrast",), family=__name__, noop_at_inference=always)
define("random_brightness", RandomBrightness, shape=_image_shape,
       template="random_brightness.dml.j2", context=_range_context,
       sources=("random_brightness",), family=__name__, noop_at_inference=always)
define("auto_contrast", AutoContrast, shape=_image_shape, template="auto_contrast.dml.j2",
       context=_auto_contrast_context, sources=("auto_contrast",), family=__name__)
define("augmentation", Augmentation, shape=same_shape, template="lines.dml.j2",
       context=_untrained_context, family=__name__, noop_at_inference=always)
