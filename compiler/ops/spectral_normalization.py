"""SpectralNormalization(layer): the wrapped layer, at inference.

Keras 3's wrapper runs the wrapped layer on its stored kernel at inference; only in training does
it first divide the kernel by its largest singular value (estimated by power iteration from the
stored `vector_u`, which it updates) and write the result back into the kernel. So a prediction
script is the wrapped layer's own nodes with its own weights, and a training script holding the
wrapper is refused (kerasdml does not renormalize kernels between steps).

The nodes: "spectral_normalization" (the identity; prediction scripts drop it, and a training
script refuses it) before the wrapped layer's nodes, which keep the wrapper's name so that their
parameters are named as a plain layer's. The wrapper's arrays in a file are the wrapped layer's,
`vector_u` and, in a .keras archive, a copy of the kernel among the wrapper's own arrays; the
wrapped layer's handler sees only its own (`_WrappedLayerWeights`).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..backend.step import Step, Unsupported
from ..frontend.config import class_name_of
from ..frontend.context import LayerContext
from ..frontend.registry import handler_for, handles
from ..opdef import always, define
from .shaping import same_shape

# the wrapped classes: Keras' wrapper needs a `kernel`; these hold one and have a handler
WRAPPABLE = ("Dense", "EinsumDense", "Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose",
             "Conv2DTranspose", "Conv3DTranspose")


@dataclass(frozen=True)
class SpectralNormalization:
    """The wrapper's mark before the wrapped layer: the identity."""
    power_iterations: int = 1


class _WrappedLayerWeights:
    """A weight store that answers for the wrapper with the wrapped layer's arrays alone."""

    def __init__(self, store):
        self.store = store

    def arrays(self, path: tuple) -> list:
        stored = self.store.arrays(path)
        if any(s.name for s in stored):  # legacy .h5 and model objects name their arrays
            inner = [s for s in stored if s.name != "vector_u"]
        else:                            # .keras: the wrapped layer's under <wrapper>/layer/
            inner = [s for s in stored if "/layer/vars/" in s.location]
        if len(inner) == len(stored):
            raise KeyError(f"no vector_u among the wrapper's arrays "
                           f"({', '.join(s.name or s.location for s in stored)})")
        return inner


# --- frontend --------------------------------------------------------------------------------

@handles("SpectralNormalization")
def spectral_normalization(ctx: LayerContext) -> list:
    """SpectralNormalization(layer, power_iterations) around Dense, EinsumDense, Conv1D, Conv2D,
    Conv3D or their Transpose: prediction only, with the stored kernel as Keras at inference
    (training scripts refused: Keras renormalizes the kernel at every training step)."""
    inner = ctx.get("layer")
    class_name = class_name_of(inner) if isinstance(inner, dict) else None
    if class_name not in WRAPPABLE or handler_for(class_name) is None:
        ctx.reject("layer", class_name or inner, ", ".join(WRAPPABLE))
    iterations = ctx.get("power_iterations", 1)
    if not isinstance(iterations, int) or isinstance(iterations, bool) or iterations < 1:
        ctx.reject("power_iterations", iterations, "a positive int")
    marked = f"{ctx.name}/wrapped_input"
    mark = ctx.node("spectral_normalization", SpectralNormalization(iterations), name=marked,
                    outputs=(marked,))
    call = dataclasses.replace(ctx.call, entry=inner, class_name=class_name, inputs=(marked,))
    source = dataclasses.replace(ctx.source, weights=_WrappedLayerWeights(ctx.source.weights))
    return [mark, *handler_for(class_name)(LayerContext(call, source, ctx.mask, ctx.masks))]


# --- template --------------------------------------------------------------------------------

def _mark_context(n: Step) -> dict:
    if n.training:
        raise Unsupported("training", True, "prediction only (Keras divides the wrapped "
                          "layer's kernel by its spectral norm at every training step, which "
                          "kerasdml does not do)")
    return dict(lines=[f"{n.out} = {n.x}"], back=[f"{n.dx} = {n.dout}"])


define("spectral_normalization", SpectralNormalization, shape=same_shape,
       template="lines.dml.j2", context=_mark_context, family=__name__,
       noop_at_inference=always)
