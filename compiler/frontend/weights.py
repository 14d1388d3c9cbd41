"""Weight stores: where each layer's arrays live in a model file (or a model object).

Every store answers `arrays(path)` for a layer, `path` being the Keras layer names from the top
model down (one name, or more inside nested models), with a list of `StoredArray` in the order
of Keras' `layer.weights`. Names are known for legacy .h5 files and model objects, not for .keras
files.

.keras (`model.weights.h5` inside the zip): a layer's arrays are `layers/<key>/vars/0, 1, ...`,
where <key> is the snake_case class name with a counter per class in the model's layer order
("dense", "dense_1", ...), not the layer's name; newer files also put the layer name in a `name`
attribute of the `vars` group, which wins when present. `vars` keys must be sorted as numbers
(10 after 9). Sub-layers nest: an RNN's arrays are under `cell/vars`, TimeDistributed's under
`layer/vars`, Bidirectional's under `forward_layer/cell/vars` then `backward_layer/cell/vars`,
a nested model's layers under `layers/<model key>/layers/<key>`, those of a model inside
TimeDistributed under `layers/<key>/layer/layers/<key>`.

legacy .h5: `model_weights/<layer name>` lists its arrays in the `weight_names` attribute (in
order), each a path relative to that group ("dense/kernel" or, from older Keras, "dense/kernel:0").
A nested model's arrays all sit in the group of the outermost model layer. Long attribute lists are
split into `name0`, `name1`, ... when they exceed HDF5's 64 KiB attribute limit.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ..errors import ModelFileError
from .config import EXPORTED_NAMES


@dataclass(frozen=True)
class StoredArray:
    name: str | None  # Keras weight name (kernel, bias, ...) when the file records it
    location: str     # where it was read, for messages and Param.location
    value: np.ndarray


# the Python class name keys the groups of a class Keras exports under another name
_PYTHON_CLASS_NAMES = {exported: python for python, exported in EXPORTED_NAMES.items()}


def snake_case(class_name: str) -> str:
    """Keras' file key for a class: an underscore before each capitalised word and between a
    lower-case letter and a capital, then lower case: Conv2DTranspose -> conv2d_transpose,
    ReLU -> re_lu, SimpleRNN -> simple_rnn."""
    name = re.sub(r"\W", "", class_name)
    name = re.sub(r"(?<=.)(?=[A-Z][a-z])", "_", name)
    name = re.sub(r"(?<=[a-z])(?=[A-Z])", "_", name)
    return name.lower()


def read_attribute_list(group, name: str) -> list[str]:
    """A string-list attribute of a legacy .h5 group, joining the split parts name0, name1, ..."""
    if name in group.attrs:
        values = list(group.attrs[name])
    else:
        values, chunk = [], 0
        while f"{name}{chunk}" in group.attrs:
            values += list(group.attrs[f"{name}{chunk}"])
            chunk += 1
    return [v.decode("utf8") if isinstance(v, bytes) else str(v) for v in values]


def counter_keys(entries: list[dict]) -> dict:
    """Layer name -> .keras group key: the snake_case class name, "_<n>" from its second use on,
    counting in the order the layers are listed."""
    keys, counts = {}, {}
    for entry in entries:
        class_name = entry.get("class_name", "")
        base = snake_case(_PYTHON_CLASS_NAMES.get(class_name, class_name))
        count = counts.get(base, 0)
        counts[base] = count + 1
        keys[_entry_name(entry)] = base if count == 0 else f"{base}_{count}"
    return keys


def _layer_entries(container: dict) -> list[dict]:
    config = container.get("config", {})
    return config if isinstance(config, list) else config.get("layers", [])


def _entry_name(entry: dict) -> str:
    return entry.get("name") or entry.get("config", {}).get("name", "")


class KerasZipWeights:
    """Arrays of a .keras archive's model.weights.h5; `model` is the config of the top model."""

    _CHILD_ORDER = ("cell", "layer", "forward_layer", "backward_layer")

    def __init__(self, h5file, model: dict, path: str):
        self.h5 = h5file
        self.model = model
        self.path = path
        self._keys: dict[str, dict] = {}

    def arrays(self, path: tuple[str, ...]) -> list[StoredArray]:
        group, entry = self._layer_group(path)
        return [StoredArray(None, f"model.weights.h5:{d.name}", d[()])
                for d in self._datasets(group, entry)]

    def _layer_group(self, path: tuple[str, ...]):
        """The layer's group and its config entry."""
        group, container = self.h5, self.model
        for depth, name in enumerate(path):
            if "layers" not in group and "layer" in group:  # the model a wrapper layer holds
                group, container = group["layer"], (container.get("config") or {}).get("layer")
            layers = group.get("layers")
            key = self._keys_of(container, layers).get(name)
            if layers is None or key is None or key not in layers:
                where = "/".join(path[:depth + 1])
                looked = f"{layers.name if layers is not None else '/layers'}/{key}"
                raise ModelFileError(self.path, f"model.weights.h5 has no weights for layer "
                                     f"'{where}' (looked for {looked})")
            group = layers[key]
            container = next((e for e in _layer_entries(container) if _entry_name(e) == name), {})
        return group, container

    def _keys_of(self, container: dict, layers_group) -> dict:
        """Layer name -> group key: counters in config order, overridden by the `name`
        attributes of newer files."""
        cache_key = layers_group.name if layers_group is not None else ""
        if cache_key not in self._keys:
            keys = counter_keys(_layer_entries(container))
            for key, child in (layers_group.items() if layers_group is not None else ()):
                named = child.get("vars")
                if named is not None and "name" in named.attrs:
                    keys[_decode(named.attrs["name"])] = key
            self._keys[cache_key] = keys
        return self._keys[cache_key]

    def _datasets(self, group, entry: dict) -> list:
        """The group's own vars in numeric order, then those of its sub-layers in Keras' order
        (`entry`: the config of the layer the group holds)."""
        found = []
        own = group.get("vars")
        if own is not None:
            found += [own[k] for k in sorted(own, key=_numeric_key)]
        config = (entry.get("config") or {}) if isinstance(entry, dict) else {}
        children = [k for k in group if k not in ("vars", "layers")]
        children.sort(key=lambda k: (self._CHILD_ORDER.index(k) if k in self._CHILD_ORDER
                                     else len(self._CHILD_ORDER), k))
        for key in children:
            if key == "cells" and isinstance(config.get("cells"), list):
                found += self._cells(group[key], config["cells"])
            else:
                found += self._datasets(group[key], config.get(key))
        return found

    def _cells(self, group, cells: list) -> list:
        """StackedRNNCells' arrays, cell after cell in the list's order: their groups are keyed
        like a model's layers (a counter per class in that order, or the `name` attribute)."""
        keys = self._keys_of({"config": {"layers": cells}}, group)
        found = []
        for cell in cells:
            key = keys.get(_entry_name(cell))
            if key not in group:
                raise KeyError(f"{group.name} has no weights for cell '{_entry_name(cell)}'")
            found += self._datasets(group[key], cell)
        return found


class LegacyH5Weights:
    """Arrays of a legacy .h5 model file (group `model_weights`)."""

    def __init__(self, h5file, path: str):
        self.root = h5file["model_weights"]
        self.path = path

    def arrays(self, path: tuple[str, ...]) -> list[StoredArray]:
        group = self.root.get(path[0])
        if group is None:
            raise ModelFileError(self.path, f"no weights for layer '{path[0]}' "
                                 f"(no group model_weights/{path[0]})")
        names = read_attribute_list(group, "weight_names")
        if len(path) > 1:  # inside a nested model: keep the arrays of that layer
            names = [n for n in names if path[-1] in n.split("/")[:-1]]
        found = []
        for name in names:
            if name not in group:
                raise ModelFileError(self.path, f"weight '{name}' of layer '{'/'.join(path)}' is "
                                     f"listed but missing from {group.name}")
            found.append(StoredArray(_weight_name(name), f"{group.name}/{name}", group[name][()]))
        return found


class ModelObjectWeights:
    """Arrays of an in-memory Keras model, read through its layers' `weights`."""

    def __init__(self, model, path: str):
        self.model = model
        self.path = path

    def arrays(self, path: tuple[str, ...]) -> list[StoredArray]:
        layer = self.model
        for name in path:
            layer = layer if hasattr(layer, "get_layer") else layer.layer  # a wrapper's model
            try:
                layer = layer.get_layer(name)
            except ValueError:
                raise ModelFileError(self.path,
                                     f"the model has no layer '{'/'.join(path)}'") from None
        return [StoredArray(_weight_name(v.path), v.path, np.asarray(v.numpy()))
                for v in layer.weights]


def _numeric_key(key: str):
    return (0, int(key), "") if key.isdigit() else (1, 0, key)


def _weight_name(path: str) -> str:
    return path.rsplit("/", 1)[-1].split(":")[0]


def _decode(value) -> str:
    return value.decode("utf8") if isinstance(value, bytes) else str(value)
