"""Model -> IR graph: flatten the config, run one handler per layer call, check the shapes, and
assemble the graph in topological order. Everything refused on the way (unknown classes,
attribute values, shapes, masks a layer would use in a way not built) is reported together in
one error. Keras masks travel as tensors (masks.py): each call's handler sees the mask of its
first input."""
from __future__ import annotations

from .. import ir
from ..errors import (GraphError, MaskRefused, ModelFileError, Unsupported, UnsupportedLayer,
                      UnsupportedLayerError, refusal)
from .. import ops  # noqa: F401  (registers the layer handlers)
from .activity import regularize_outputs
from .checks import shape_problems
from .config import FlatModel, LayerCall, flatten_model, is_keras_class, is_model, layer_name
from .context import LayerContext
from .masks import call_masks, is_mask_argument, output_masks
from .registry import handler_for, supported_classes, tensor_kwargs_of
from .sources import ModelSource

_LAMBDA = ("a Lambda layer holds Python code, and kerasdml never runs code stored in a model "
           "file; express it with built-in layers")
# why some Keras classes people meet have no handler
_VOLUMES = ("this 3-D (volumetric) layer is not supported (Conv3D, Conv3DTranspose, "
            "Max/AveragePooling3D, the global 3-D poolings, ZeroPadding3D and UpSampling3D are)")
_LOOKUPS = ("a preprocessing layer of strings or categories; apply it to the data before the "
            "model")
_EQUALIZATION = ("histogram equalization is not supported: Keras 3 equalizes only in training, "
                 "and its layer returns its input tensor itself, so a Keras model cannot hold "
                 "it (a cycle in the layer graph); apply it to the data before the model")
_WHY_UNSUPPORTED = {
    **{name: _VOLUMES for name in (
        "ConvLSTM3D",)},
    **{name: _LOOKUPS for name in (
        "TextVectorization", "StringLookup", "IntegerLookup", "Hashing", "HashedCrossing")},
    "Equalization": _EQUALIZATION,
}


def convert(source: ModelSource) -> ir.Graph:
    if not is_model(source.config):
        reason = ("not a Sequential or functional model (a subclassed model, or a single layer), "
                  "so there is no layer graph kerasdml can read")
        name = layer_name(source.config)
        top = UnsupportedLayer(source.path if name == "?" else name,
                               str(source.config.get("class_name")), reason)
        raise UnsupportedLayerError([top], supported_classes())
    flat = flatten_model(source.config, source.path)
    refused, nodes, problems = [], [], []
    masks: dict = {}   # tensor -> the tensor of its Keras mask
    for call in flat.calls:
        unknown = _unsupported(call)
        if unknown is not None:
            refused.append(unknown)
            continue
        mask_in = call_masks(call, masks)
        try:
            masks.update(output_masks(call, mask_in))
            mask = mask_in[0] if mask_in else None
            ctx = LayerContext(call, source, mask, mask_in)
            nodes += regularize_outputs(ctx, handler_for(call.class_name)(ctx))
        except Unsupported as unsupported:
            problems.append(unsupported.problem())
        except MaskRefused as why:
            refused.append(UnsupportedLayer(call.layer, call.class_name, why.reason))
    # the shapes are checked here only to add their problems to others' (a model with none
    # meets its first shape problem in passes.infer_shapes, without the cost of a second pass)
    shape_attributes, invalid = shape_problems(nodes) if refused or problems else ([], [])
    error = refusal(refused, problems + shape_attributes, invalid, supported_classes())
    if error is not None:
        raise error
    return _assemble(flat, nodes, source.path,
                     tuple((t, masks[t]) for t in flat.outputs if t in masks))


def _unsupported(call: LayerCall) -> UnsupportedLayer | None:
    entry = call.entry
    if call.class_name == "Lambda":
        return UnsupportedLayer(call.layer, call.class_name, _LAMBDA)
    if not is_keras_class(entry):
        origin = entry.get("registered_name") or entry.get("module") or call.class_name
        return UnsupportedLayer(call.layer, call.class_name,
                                f"a custom class ({origin}), not part of Keras; its code lives "
                                "outside the model file and kerasdml never runs it")
    if handler_for(call.class_name) is None:
        reason = _WHY_UNSUPPORTED.get(call.class_name)
        return UnsupportedLayer(call.layer, call.class_name, *((reason,) if reason else ()))
    refused = [k for k in call.tensor_kwargs
               if k not in tensor_kwargs_of(call.class_name) and not is_mask_argument(call, k)]
    if refused:
        return UnsupportedLayer(call.layer, call.class_name, "called with tensor keyword "
                                f"argument(s) {', '.join(refused)}, not supported")
    return None


def _assemble(flat: FlatModel, nodes: list, path: str, masked: tuple) -> ir.Graph:
    graph = ir.Graph(flat.name, tuple(nodes), tuple(flat.inputs), tuple(flat.outputs), path,
                     masked, flat.output_structure, tuple(flat.input_keys))
    try:
        graph = graph.sorted().validate(require_shapes=False)
    except GraphError as error:
        raise ModelFileError(path, f"the model does not form a valid graph: {error}") from None
    return _name_outputs(graph, flat.output_names)


def _name_outputs(graph: ir.Graph, names: list) -> ir.Graph:
    """The graph with each output tensor named as Keras names the output (config.output_names),
    so the compiled model's outputs go by Keras' names. A tensor already holding such a name
    (a dict key that is also another layer's name) is renamed out of the way; an output that is
    also a model input keeps the input's name."""
    renamed = {t: name for t, name in zip(graph.outputs, names)
               if t != name and t not in graph.inputs}
    taken = set(graph.inputs) | {t for node in graph.nodes for t in node.outputs}
    in_the_way = [name for name in renamed.values() if name in taken and name not in renamed]
    if any(name in graph.inputs for name in in_the_way):
        return graph   # a model input goes by that name: the outputs keep their IR names
    taken |= set(renamed.values())
    for tensor in in_the_way:
        fresh, count = f"{tensor}:0", 0
        while fresh in taken:
            count += 1
            fresh = f"{tensor}:0_{count}"
        taken.add(fresh)
        renamed[tensor] = fresh
    return graph.with_tensors_renamed(renamed)
