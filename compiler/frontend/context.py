"""What a layer handler sees: the layer's config, its weights, and functions to read attributes
strictly (an unsupported value is reported, never silently ignored) and to build IR nodes."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, NoReturn

import numpy as np

from .. import ir
from ..errors import ModelFileError, Unsupported
from .config import LayerCall
from .sources import ModelSource

_REQUIRED = object()
# Keras regularizer -> its penalties with their default factors; and weights whose config key
# is not "<weight>_regularizer".
_REGULARIZERS = {"l1": (("l1", 0.01),), "l2": (("l2", 0.01),), "l1l2": (("l1", 0.0), ("l2", 0.0))}
# weights whose regularizer and constraint keys are not "<weight>_regularizer" / "_constraint"
_CONFIG_PREFIXES = {"recurrent_kernel": "recurrent", "depthwise_kernel": "depthwise",
                    "pointwise_kernel": "pointwise"}
# Keras constraint -> (kind, its config keys with their defaults), the values in that order
_CONSTRAINTS = {"MaxNorm": ("max_norm", (("max_value", 2.0), ("axis", 0))),
                "NonNeg": ("non_neg", ()),
                "UnitNorm": ("unit_norm", (("axis", 0),)),
                "MinMaxNorm": ("min_max_norm", (("min_value", 0.0), ("max_value", 1.0),
                                                ("rate", 1.0), ("axis", 0)))}


@dataclass(frozen=True)
class LayerContext:
    call: LayerCall
    source: ModelSource
    mask: str | None = None   # the Keras mask of the call's first input: a (steps,) tensor
    masks: tuple = ()         # the mask (or None) of each of the call's inputs

    def input_mask(self, tensor: str) -> str | None:
        """The Keras mask the input `tensor` of this call carries, if any."""
        return dict(zip(self.call.inputs, self.masks)).get(tensor)

    @property
    def name(self) -> str:
        return self.call.name

    @property
    def class_name(self) -> str:
        return self.call.class_name

    @property
    def config(self) -> dict:
        return self.call.config

    def get(self, key: str, default: Any = _REQUIRED) -> Any:
        if key in self.config:
            return self.config[key]
        if default is _REQUIRED:
            raise ModelFileError(self.source.path, f"layer '{self.call.layer}' ({self.class_name})"
                                 f" has no '{key}' in its config")
        return default

    def recorded_input_shapes(self) -> list | None:
        """The input shapes (batch axis first) the file records for this layer: its
        build_config, or the tensors of its first call (a legacy .h5 file); None if neither."""
        shapes = (self.call.entry.get("build_config") or {}).get("input_shape")
        if shapes and not isinstance(shapes[0], list):
            shapes = [shapes]
        if not shapes:
            nodes = self.call.entry.get("inbound_nodes") or []
            args = nodes[0].get("args") if nodes and isinstance(nodes[0], dict) else None
            first = args[0] if args else None
            tensors = first if isinstance(first, list) else [first]
            shapes = [(t.get("config") or {}).get("shape") for t in tensors if isinstance(t, dict)]
        if not shapes or not all(isinstance(s, list) for s in shapes):
            return None
        return shapes

    def reject(self, attribute: str, value: Any, accepted: str) -> NoReturn:
        raise Unsupported(attribute, value, accepted, self.call.layer, self.class_name)

    def choice(self, key: str, accepted: tuple, default: Any = _REQUIRED) -> Any:
        """The attribute's value, which must be one of `accepted`."""
        value = self.get(key, default)
        if value not in accepted:
            self.reject(key, value, ", ".join(repr(a) for a in accepted))
        return value

    def ints(self, key: str, count: int, default: Any = _REQUIRED) -> tuple:
        """An int or a list of ints (Keras accepts both for kernel sizes, strides, ...)."""
        value = self.get(key, default)
        values = (value,) * count if isinstance(value, int) else tuple(value)
        if len(values) != count or not all(isinstance(v, int) for v in values):
            self.reject(key, value, f"an int or {count} ints")
        return values

    def channels_last(self) -> None:
        self.choice("data_format", ("channels_last", None), "channels_last")

    def no_dilation(self, count: int) -> None:
        value = self.get("dilation_rate", 1)
        if self.ints("dilation_rate", count, 1) != (1,) * count:
            self.reject("dilation_rate", value, "1 (dilated convolutions are not supported)")

    def weights(self, *names: str) -> dict:
        """{weight name: Param} for a layer that has exactly these weights, in Keras' order.
        Arrays are matched by name where the file records the same names, else by position."""
        try:
            stored = self.source.weights.arrays(self.call.path)
        except (OSError, KeyError, ValueError) as error:
            raise ModelFileError(self.source.path, f"cannot read the weights of layer "
                                 f"'{self.call.layer}': {error}") from None
        if len(stored) != len(names):
            found = ", ".join(s.name or s.location for s in stored) or "none"
            raise ModelFileError(self.source.path, f"layer '{self.call.layer}' ({self.class_name}) "
                                 f"has {len(stored)} weight arrays ({found}), expected "
                                 f"{len(names)} ({', '.join(names) or 'none'})")
        if sorted(s.name or "" for s in stored) == sorted(names):
            stored = sorted(stored, key=lambda s: names.index(s.name))
        return {name: self._param(name, s) for name, s in zip(names, stored)}

    def _param(self, name: str, stored) -> ir.Param:
        """The Param for one array; its origin is the name the file records, if any (older Keras
        versions named some weights differently, e.g. DepthwiseConv2D's depthwise_kernel)."""
        value = np.asarray(stored.value)  # a fresh array from the file: no copy needed
        value.setflags(write=False)
        return ir.Param(name, value, self.call.layer, stored.name or name, stored.location,
                        self.regularizer(name), self.constraint(name))

    def regularizer(self, weight: str) -> tuple:
        """Keras' penalty on one weight ((kind, factor) pairs), from `<weight>_regularizer`."""
        return self._penalty(f"{_CONFIG_PREFIXES.get(weight, weight)}_regularizer")

    def activity_regularizer(self) -> tuple:
        """Keras' penalty on each output of the layer ((kind, factor) pairs)."""
        return self._penalty("activity_regularizer")

    def _penalty(self, key: str) -> tuple:
        spec = self.config.get(key)
        if spec is None:
            return ()
        class_name = spec.get("class_name") if isinstance(spec, dict) else spec
        factors = _REGULARIZERS.get(str(class_name).lower())
        if factors is None:
            self.reject(key, class_name, "None, keras.regularizers L1, L2 or L1L2")
        config = spec.get("config", {}) if isinstance(spec, dict) else {}
        penalty = tuple((kind, float(config.get(kind, default))) for kind, default in factors)
        return tuple((kind, factor) for kind, factor in penalty if factor != 0.0)

    def constraint(self, weight: str) -> tuple:
        """Keras' constraint on one weight, applied after every optimizer update: (kind, values
        of its config keys...) from `<weight>_constraint`, () for none."""
        key = f"{_CONFIG_PREFIXES.get(weight, weight)}_constraint"
        spec = self.config.get(key)
        if spec is None:
            return ()
        class_name = spec.get("class_name") if isinstance(spec, dict) else spec
        known = _CONSTRAINTS.get(str(class_name))
        if known is None:
            self.reject(key, class_name, "None, keras.constraints MaxNorm, NonNeg, UnitNorm or "
                                         "MinMaxNorm")
        kind, keys = known
        config = spec.get("config", {}) if isinstance(spec, dict) else {}
        values = tuple(config.get(k, default) for k, default in keys)
        return (kind,) + tuple(tuple(v) if isinstance(v, list) else v for v in values)

    def node(self, op: str, attrs: Any, params: tuple = (), **fields) -> ir.Node:
        """An IR node for this layer; name, inputs and output default to the call's."""
        base = dict(name=self.name, op=op, attrs=attrs, inputs=self.call.inputs,
                    outputs=(self.name,), params=tuple(params), layer=self.call.layer,
                    keras_class=self.class_name)
        base.update(fields)
        return ir.Node(**base)


def as_role(param: ir.Param, role: str) -> ir.Param:
    """The same array under the name the op uses (depthwise_kernel -> kernel)."""
    return dataclasses.replace(param, name=role)
