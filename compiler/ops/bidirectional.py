"""Bidirectional(SimpleRNN/LSTM/GRU): two recurrent nodes, the second reading the steps in
reverse (recurrent.py's "reverse_steps" op), its sequence output reversed back as
Keras does, and the two results merged by Keras' merge_mode: concat, sum, mul, ave, or None (the
layer then has two outputs, the forward and the backward result). A Keras mask reaches both
directions (reversed for the backward one), and, as Keras sets, a direction that returns
sequences outputs zeros at masked steps.
"""
from __future__ import annotations


from ..frontend.context import LayerContext
from ..frontend.registry import handles
from .merge import Concatenate, Merge
from .recurrent import reverse_steps, sublayer

_MERGES = {"concat": ("concatenate", Concatenate(-1)), "sum": ("add", Merge()),
           "mul": ("multiply", Merge()), "ave": ("average", Merge())}
_INNER = ("SimpleRNN", "LSTM", "GRU")


def _direction(ctx: LayerContext, entry: dict, stored: tuple, name: str, inputs: tuple,
               prefix: str, mask: str | None) -> list:
    """The recurrent node(s) of one direction, named `name`, reading `inputs` (and `mask`); its
    weights are named after Keras' sub-layer (forward_layer/kernel)."""
    config = dict(entry.get("config") or {}, go_backwards=False)
    config["zero_output_for_mask"] = bool(config.get("return_sequences", False))
    return sublayer(ctx, entry, config, stored, prefix, name, inputs, mask)


@handles("Bidirectional")
def bidirectional(ctx: LayerContext) -> list:
    """Bidirectional(SimpleRNN/LSTM/GRU, merge_mode concat/sum/mul/ave/None), with or without a
    Keras mask."""
    mode = ctx.choice("merge_mode", (*_MERGES, None), "concat")
    forward_entry = ctx.get("layer")
    backward_entry = ctx.get("backward_layer", None) or forward_entry
    for key, entry in (("layer", forward_entry), ("backward_layer", backward_entry)):
        if not isinstance(entry, dict) or entry.get("class_name") not in _INNER:
            ctx.reject(key, (entry or {}).get("class_name"), ", ".join(_INNER))
        if (entry.get("config") or {}).get("return_state"):
            ctx.reject("return_state", True, "False (a Bidirectional layer's states are not "
                       "returned)")
    stored = tuple(ctx.source.weights.arrays(ctx.call.path))
    half = len(stored) // 2
    name = ctx.name
    forward_name = name if mode is None else f"{name}/forward"
    backward_name = f"{name}#1" if mode is None else f"{name}/backward"
    reversed_in = reverse_steps(ctx, f"{name}/reversed_input", ctx.call.inputs[0])
    sequences = bool((backward_entry.get("config") or {}).get("return_sequences", False))
    backward_out = f"{name}/backward_reversed" if sequences else backward_name
    reversed_mask = (None if ctx.mask is None else
                     reverse_steps(ctx, f"{name}/reversed_mask", ctx.mask))
    nodes = [*_direction(ctx, forward_entry, stored[:half], forward_name, ctx.call.inputs,
                         "forward_layer", ctx.mask),
             reversed_in, *([reversed_mask] if reversed_mask else []),
             *_direction(ctx, backward_entry, stored[half:], backward_out, (reversed_in.output,),
                         "backward_layer", reversed_mask and reversed_mask.output)]
    if sequences:
        nodes.append(reverse_steps(ctx, backward_name, backward_out))
    if mode is not None:
        op, attrs = _MERGES[mode]
        nodes.append(ctx.node(op, attrs, inputs=(forward_name, backward_name)))
    return nodes
