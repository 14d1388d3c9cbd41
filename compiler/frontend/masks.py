"""Keras masks while a model is read: the mask of each call's inputs and of its outputs.

A layer call sees the mask its first input carries, or the mask the file records as its `mask`
argument (Keras records the masks it passed while the functional model was built). What each
layer class does with it is its mask rule (`registry.masks`, compiler/ops/masking.py); a class
without one drops the mask, as Keras does for a layer that does not support masking.
"""
from __future__ import annotations

from .config import LayerCall, TensorArg
from .registry import mask_rule_for


def call_masks(call: LayerCall, masks: dict) -> tuple:
    """The mask tensor (or None) of each of the call's inputs; `masks` maps the tensors read so
    far to their masks."""
    carried = tuple(masks.get(tensor) for tensor in call.inputs)
    given = call.kwargs.get("mask")
    if isinstance(given, TensorArg):
        return (given.name,) + carried[1:]
    if isinstance(given, list):
        return tuple(g.name if isinstance(g, TensorArg) else None for g in given)
    return carried


def output_masks(call: LayerCall, mask_in: tuple) -> dict:
    """{output tensor: its mask tensor}; raises MaskRefused where the class would use a mask in
    a way not built."""
    rule = mask_rule_for(call.class_name)
    return rule(call, mask_in) if rule is not None else {}


def is_mask_argument(call: LayerCall, keyword: str) -> bool:
    """Whether a tensor keyword argument is a mask its class's mask rule judges."""
    return keyword.endswith("mask") and mask_rule_for(call.class_name) is not None
