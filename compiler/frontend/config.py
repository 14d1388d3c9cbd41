"""Reading a model's configuration into a flat list of layer calls with named tensors.

Both config dialects are read:
- Keras 3: `inbound_nodes` is a list of {"args": [...], "kwargs": {...}} holding
  `__keras_tensor__` objects whose `keras_history` is [layer, node index, tensor index]; inputs are
  declared with `batch_shape`; a single model input or output may be one flat [name, 0, 0] list.
- Keras 2: `inbound_nodes` is a list of nodes, each a list of [layer, node index, tensor index,
  kwargs]; inputs use `batch_input_shape` (in an InputLayer or in a Sequential's first layer).
Nested Sequential and functional models are inlined: their layers become calls named
"model/layer", wired to the tensors the outer model feeds them. A shared layer gives one call per
use ("layer", "layer:1", ...).

A Keras 3 functional model also records calls of keras.ops functions (`x + 3.0`, `ops.mean`) as
entries whose module is keras.src.ops.* (a legacy .h5 file drops the module: an entry whose
config has neither trainable nor dtype is such a call); their calls get the class name "ops.<Class>" (ops.Add is
not the Add layer), and every call keeps its arguments with the tensors replaced by `TensorArg`s,
so the constants (3.0, axis=...) can be read.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import ModelFileError

MODEL_CLASSES = ("Sequential", "Functional", "Model")
OPS_PREFIX = "ops."
# Python class name -> the name Keras exports the class under, where they differ: a legacy .h5
# file records the former, a .keras file the latter
EXPORTED_NAMES = {"GroupedQueryAttention": "GroupQueryAttention"}


@dataclass(frozen=True)
class TensorArg:
    """A tensor among a call's arguments: its IR name."""
    name: str


@dataclass(frozen=True)
class LayerCall:
    name: str             # IR name of the call, also the name of its output tensor
    layer: str            # Keras layer name, "model/layer" inside nested models
    path: tuple           # Keras layer names from the top model, to find the weights
    class_name: str
    entry: dict           # the serialized layer: module, class_name, registered_name, config
    inputs: tuple = ()    # IR tensor names
    tensor_kwargs: tuple = ()  # keyword arguments that received tensors
    args: tuple = ()      # positional arguments, tensors as TensorArg (Keras 3 files)
    kwargs: dict = field(default_factory=dict)  # keyword arguments, tensors as TensorArg

    @property
    def config(self) -> dict:
        return self.entry.get("config") or {}


@dataclass
class FlatModel:
    name: str
    calls: list = field(default_factory=list)
    inputs: list = field(default_factory=list)
    outputs: list = field(default_factory=list)
    output_names: list = field(default_factory=list)  # Keras' names of the outputs, in order
    output_structure: object = None  # ir.Graph.output_structure
    input_keys: tuple = ()  # ir.Graph.input_keys


def is_model(entry: dict) -> bool:
    return entry.get("class_name") in MODEL_CLASSES and is_keras_class(entry) and \
        isinstance(entry.get("config"), (dict, list))


def is_keras_class(entry: dict) -> bool:
    """False for custom classes: a module outside Keras, or a registered_name 'package>Class'."""
    if ">" in str(entry.get("class_name", "")) or ">" in str(entry.get("registered_name") or ""):
        return False
    if "module" in entry:
        return str(entry["module"] or "").split(".")[0] == "keras"
    return True


def class_name_of(entry: dict) -> str:
    """The registry key of an entry: its class name (as Keras exports the class), "ops.<Class>"
    for a keras.ops call."""
    name = str(entry.get("class_name"))
    name = EXPORTED_NAMES.get(name, name)
    return OPS_PREFIX + name if _is_ops_call(entry) else name


def _is_ops_call(entry: dict) -> bool:
    """A keras.ops call. A legacy .h5 file drops the module, so there the config tells: a layer's
    always holds trainable and dtype (an InputLayer's dtype), an operation's neither."""
    if "module" in entry:
        return str(entry["module"] or "").startswith(("keras.src.ops", "keras.ops"))
    config = entry.get("config")
    return isinstance(config, dict) and not {"trainable", "dtype"} & set(config)


def layer_name(entry: dict) -> str:
    return entry.get("name") or (entry.get("config") or {}).get("name") or "?"


def layers_of(entry: dict) -> list:
    config = entry.get("config")
    return config if isinstance(config, list) else config.get("layers", [])


def flatten_model(top: dict, path: str) -> FlatModel:
    """The calls of the top model (a Sequential or functional model, see `is_model`) and of its
    nested models, in an order where inputs come first."""
    model = FlatModel(layer_name(top))
    walker = _Walker(model, path)
    model.outputs = walker.model(top, (), (), None)
    model.output_names = output_names(top, model.outputs)
    model.output_structure = output_structure(top)
    model.input_keys = input_keys(top, model.inputs)
    return model


def input_keys(top: dict, tensors: list) -> tuple:
    """The keys of a functional model built on a dict of inputs, one per input tensor (in the
    sorted order `_refs` gives them), which Keras' predict and fit take the data by; () for
    inputs not in a flat dict."""
    config = top.get("config")
    declared = config.get("input_layers") if isinstance(config, dict) else None
    if top.get("class_name") == "Sequential" or not isinstance(declared, dict):
        return ()
    keys = tuple(str(key) for key in sorted(declared))
    if len(_refs(declared)) != len(keys) or len(keys) != len(tensors):
        return ()
    return keys


def output_structure(top: dict):
    """How predict arranges the outputs of a functional model that returns a dict, or dicts and
    lists nested (ir.Graph.output_structure); None for a plain list or one output. Positions
    count the outputs as `_refs` flattens them (a dict's keys sorted), the dict keeps its keys'
    own order, as Keras' predict returns it."""
    config = top.get("config")
    if top.get("class_name") == "Sequential" or not isinstance(config, dict):
        return None
    declared = config.get("output_layers", [])
    if not _holds_dict(declared):
        return None
    positions = iter(range(len(_refs(declared))))
    def place(value):  # the leaves in _refs' order: keys sorted
        if isinstance(value, dict):
            return {key: place(value[key]) for key in sorted(value)}
        if len(value) >= 3 and isinstance(value[0], str):
            return next(positions)
        return [place(v) for v in value]
    placed = place(declared)
    def freeze(value, declared):
        if isinstance(value, dict):
            return ("dict", tuple((key, freeze(value[key], declared[key])) for key in declared))
        if isinstance(value, list):
            return ("list", tuple(freeze(v, d) for v, d in zip(value, declared)))
        return value
    return freeze(placed, declared)


def _holds_dict(value) -> bool:
    if isinstance(value, dict):
        return True
    return isinstance(value, list) and any(_holds_dict(v) for v in value)


def output_names(top: dict, tensors: list) -> list:
    """Keras' names of a model's outputs (`tensors`, their IR names), which compile's dict
    losses, metrics and loss_weights, fit's dict targets and the history are keyed by: the keys
    of a functional model's dict of outputs (in the sorted order `_refs` gives them), else the
    name of the layer each comes from (a nested model's name for its outputs; Identity, linear
    Activation and Dropout layers name outputs too). Where Keras would give several outputs one
    name (a shared layer's two calls, a nested model's two outputs), they keep their IR names
    ("head", "head:1"), so every output has a name of its own."""
    config = top.get("config")
    if top.get("class_name") == "Sequential" or not isinstance(config, dict):
        return list(tensors)
    declared = config.get("output_layers", [])
    if isinstance(declared, dict):
        names = [str(key) for key in sorted(declared)]
    else:
        names = [ref[0] for ref in _refs(declared)]
    if len(names) != len(tensors):  # a nested structure of outputs: no name per output
        return list(tensors)
    names = [name if names.count(name) == 1 else tensor for name, tensor in zip(names, tensors)]
    return names if len(set(names)) == len(names) else list(tensors)


def inline_model(entry: dict, names: tuple, weights: tuple, inputs: list, path: str) -> tuple:
    """(calls, output tensors) of a model fed `inputs` inside a layer (TimeDistributed's inner
    model): calls named under `names`, their weights found under `weights`."""
    flat = FlatModel(layer_name(entry))
    outputs = _Walker(flat, path).model(entry, names, weights, list(inputs))
    return flat.calls, outputs


@dataclass
class _Walker:
    out: FlatModel
    path: str

    def model(self, entry, names: tuple, weights: tuple, inputs) -> list:
        """Inlines one model; `names` prefixes IR names, `weights` the weight path; returns the
        model's output tensors. `inputs` is None for the top model, else the fed tensors."""
        if entry["class_name"] == "Sequential":
            return self._sequential(entry, names, weights, inputs)
        return self._functional(entry, names, weights, inputs)

    def _call(self, entry, names, weights, inputs, kwargs=(), call_index=0,
              arguments=((), {})) -> list:
        name = layer_name(entry)
        label = name if call_index == 0 else f"{name}:{call_index}"
        if is_model(entry):
            return self.model(entry, names + (label,), weights + (name,), list(inputs))
        call = LayerCall("/".join(names + (label,)), "/".join(names + (name,)), weights + (name,),
                         class_name_of(entry), entry, tuple(inputs), tuple(kwargs),
                         tuple(arguments[0]), dict(arguments[1]))
        self.out.calls.append(call)
        return [call.name] + [f"{call.name}#{i}" for i in range(1, _output_count(entry))]

    def _input(self, entry, names) -> str:
        call = LayerCall("/".join(names + (layer_name(entry),)), layer_name(entry), (),
                         "InputLayer", entry)
        self.out.calls.append(call)
        self.out.inputs.append(call.name)
        return call.name

    def _sequential(self, entry, names, weights, inputs) -> list:
        layers = list(layers_of(entry))
        if inputs is None:
            if layers and layers[0].get("class_name") == "InputLayer":
                current = self._input(layers.pop(0), names)
            else:
                current = self._input(self._implicit_input(entry, layers), names)
        else:
            if len(inputs) != 1:
                raise ModelFileError(self.path, f"Sequential model '{layer_name(entry)}' is fed "
                                     f"{len(inputs)} tensors")
            current = inputs[0]
            layers = [e for e in layers if e.get("class_name") != "InputLayer"]
        for layer in layers:
            (current, *_) = self._call(layer, names, weights, [current])
        return [current]

    def _implicit_input(self, entry, layers) -> dict:
        """Keras 2 Sequential models without an InputLayer declare the shape on the first layer;
        Keras 3 ones record build_input_shape."""
        first = (layers[0].get("config") or {}) if layers else {}
        config = entry.get("config") if isinstance(entry.get("config"), dict) else {}
        shape = first.get("batch_input_shape") or first.get("batch_shape") or \
            config.get("build_input_shape") or (entry.get("build_config") or {}).get("input_shape")
        if not shape:
            raise ModelFileError(self.path, f"model '{layer_name(entry)}' declares no input shape "
                                 "(build it or start it with keras.Input)")
        dtype = first.get("dtype") if isinstance(first.get("dtype"), str) else "float32"
        return {"class_name": "InputLayer",
                "config": {"name": "input", "batch_shape": list(shape), "dtype": dtype}}

    def _functional(self, entry, names, weights, inputs) -> list:
        config = entry["config"]
        tensors: dict = {}
        input_refs = _refs(config.get("input_layers", []))
        if inputs is not None and len(inputs) != len(input_refs):
            raise ModelFileError(self.path, f"model '{layer_name(entry)}' takes {len(input_refs)} "
                                 f"inputs but is fed {len(inputs)}")
        for position, ref in enumerate(input_refs):
            if inputs is not None:
                tensors[ref] = inputs[position]
        pending = []
        keras2 = _keras2_nodes(config)
        skipped = _skipped_first_nodes(config, keras2)
        for layer in config.get("layers", []):
            if layer.get("class_name") == "InputLayer":
                if inputs is None:
                    tensors[(layer_name(layer), 0, 0)] = self._input(layer, names)
                continue
            for index, node in enumerate(layer.get("inbound_nodes") or []):
                refs, kwargs = _node_refs(node)
                if keras2:
                    refs = [_unskip(ref, skipped) for ref in refs]
                pending.append((layer, index, refs, kwargs, node))
        if inputs is None:  # the model's inputs in its declared order, not the layers' order
            declared = [tensors[ref] for ref in input_refs if ref in tensors]
            if sorted(declared) == sorted(self.out.inputs):
                self.out.inputs[:] = declared
        self._resolve(pending, tensors, names, weights, entry)
        return [self._tensor(tensors, _unskip(ref, skipped), entry)
                for ref in _refs(config.get("output_layers", []))]

    def _resolve(self, pending, tensors, names, weights, entry) -> None:
        """Emits calls whose inputs are known, repeatedly: a shared layer's later calls may
        depend on layers listed after it."""
        while pending:
            waiting = []
            for item in pending:
                layer, index, refs, kwargs, node = item
                if all(ref in tensors for ref in refs + _kwarg_refs(node)):
                    outputs = self._call(layer, names, weights, [tensors[r] for r in refs],
                                         kwargs, index, _arguments(node, tensors))
                    for position, tensor in enumerate(outputs):
                        tensors[(layer_name(layer), index, position)] = tensor
                else:
                    waiting.append(item)
            if len(waiting) == len(pending):
                layer, _, refs, _, node = waiting[0]
                refs = refs + _kwarg_refs(node)
                missing = next(r for r in refs if r not in tensors)
                name, index, position = missing
                if (name, index, 0) not in tensors:
                    raise ModelFileError(self.path, f"layer '{layer_name(layer)}' of model "
                                         f"'{layer_name(entry)}' uses {list(missing)}, which no "
                                         "layer produces")
                # a later output of a call read as having fewer (a keras.ops call returning a
                # list, as ops.split): named as _tensor names them; the call's handler (or its
                # refusal) decides what it produces
                tensors[missing] = f"{tensors[(name, index, 0)]}#{position}"
                continue
            pending = waiting

    def _tensor(self, tensors, ref, entry) -> str:
        if ref in tensors:
            return tensors[ref]
        name, index, position = ref
        base = tensors.get((name, index, 0))
        if base is None:
            raise ModelFileError(self.path, f"model '{layer_name(entry)}' returns {list(ref)}, "
                                 "which no layer produces")
        return f"{base}#{position}"


_RECURRENT_STATES = {"LSTM": 2, "GRU": 1, "SimpleRNN": 1}


def _output_count(entry: dict) -> int:
    """Tensors a layer call returns: two for a Bidirectional without merge_mode, the output and
    its final states for a recurrent layer with return_state (its handler says whether it takes
    them), else one."""
    config = entry.get("config") or {}
    if entry.get("class_name") == "Bidirectional" and "merge_mode" in config and \
            config["merge_mode"] is None:
        return 2
    if isinstance(config, dict) and config.get("return_state") is True:
        return 1 + _RECURRENT_STATES.get(str(entry.get("class_name")), 1)
    inner = (config.get("layer") or {}) if isinstance(config, dict) else {}
    if entry.get("class_name") == "Bidirectional" and (inner.get("config") or {}).get(
            "return_state") is True:  # both directions' states (its handler refuses them)
        return 1 + 2 * _RECURRENT_STATES.get(str(inner.get("class_name")), 1)
    return 1


def _keras2_nodes(config: dict) -> bool:
    """Whether a functional config's inbound nodes are Keras 2 lists (else Keras 3 dicts)."""
    return any(isinstance(node, list) for layer in config.get("layers", [])
               for node in layer.get("inbound_nodes") or [])


def _skipped_first_nodes(config: dict, keras2: bool) -> set:
    """Names of the nested models whose node indices Keras counts from 1, not 0: a model built
    on its own Input starts with a node linking that input to its output, which the config
    leaves out but still counts. Keras 3 counts it in output_layers only, and only for a
    functional model; Keras 2 (tf.keras) in every reference, for any model that starts with an
    InputLayer."""
    skipped = set()
    for layer in config.get("layers", []):
        if not is_model(layer):
            continue
        if layer.get("class_name") != "Sequential":
            skipped.add(layer_name(layer))
        elif keras2 and (layers_of(layer)[:1] or [{}])[0].get("class_name") == "InputLayer":
            skipped.add(layer_name(layer))
    return skipped


def _unskip(ref: tuple, skipped: set) -> tuple:
    """A reference to a call of a nested model re-indexed to the calls the config lists."""
    name, index, position = ref
    return (name, index - 1, position) if name in skipped and index > 0 else ref


def _refs(value) -> list:
    """[[name, node, tensor], ...], a single flat [name, node, tensor], or a dict of them (a model
    with named inputs or outputs, in the order of its sorted keys, as Keras flattens it: that
    order numbers a nested model's outputs and orders model.outputs) -> list of tuples."""
    if isinstance(value, dict):
        return [ref for _, v in sorted(value.items()) for ref in _refs(v)]
    if len(value) >= 3 and isinstance(value[0], str):
        return [(str(value[0]), int(value[1]), int(value[2]))]
    return [ref for v in value for ref in _refs(v)]  # lists may nest lists and dicts


def _node_refs(node) -> tuple:
    """(input refs, names of keyword arguments holding tensors) of one inbound node."""
    if isinstance(node, dict):  # Keras 3
        refs = _keras_tensors(node.get("args", []))
        kwargs = tuple(k for k, v in (node.get("kwargs") or {}).items() if _keras_tensors(v))
        return refs, kwargs
    refs, kwargs = [], set()
    for item in node:  # Keras 2: [name, node index, tensor index, kwargs]
        refs.append((str(item[0]), int(item[1]), int(item[2])))
        extra = item[3] if len(item) > 3 and isinstance(item[3], dict) else {}
        kwargs.update(k for k, v in extra.items() if isinstance(v, list) and v)
    return refs, tuple(sorted(kwargs))


def _kwarg_refs(node) -> list:
    return _keras_tensors(node.get("kwargs") or {}) if isinstance(node, dict) else []


def _arguments(node, tensors: dict) -> tuple:
    """(args, kwargs) of a Keras 3 node with every tensor replaced by its TensorArg."""
    if not isinstance(node, dict):
        return (), {}
    def replace(value):
        if isinstance(value, dict):
            if value.get("class_name") == "__keras_tensor__":
                history = value["config"]["keras_history"]
                return TensorArg(tensors[(str(history[0]), int(history[1]), int(history[2]))])
            return {k: replace(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [replace(v) for v in value]
        return value
    return tuple(replace(node.get("args", []))), replace(node.get("kwargs") or {})


def _keras_tensors(value) -> list:
    if isinstance(value, dict):
        if value.get("class_name") == "__keras_tensor__":
            history = value["config"]["keras_history"]
            return [(str(history[0]), int(history[1]), int(history[2]))]
        return [ref for _, v in sorted(value.items()) for ref in _keras_tensors(v)]
    if isinstance(value, (list, tuple)):
        return [ref for v in value for ref in _keras_tensors(v)]
    return []
