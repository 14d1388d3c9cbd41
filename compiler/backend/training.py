"""Loss and optimizer of a training script: tables of what dml_lib offers, filled from the
model's compile config (or given explicitly), each entry naming its dml_lib module and template.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ..errors import CompileError


@dataclass(frozen=True)
class Loss:
    name: str             # Keras' name: categorical_crossentropy
    module: str           # dml_lib alias
    args: str = ""        # extra arguments after (pred, y), spelled out: ", FALSE"
    sparse: bool = False  # targets are class indices, one column


def _logits(config: dict) -> str:
    return ", TRUE" if config.get("from_logits") else ", FALSE"


# Keras name -> (dml_lib module, extra arguments from the loss config, sparse targets)
_LOSSES: dict[str, tuple] = {
    "categorical_crossentropy": ("categorical_crossentropy", _logits, False),
    "sparse_categorical_crossentropy": ("sparse_categorical_crossentropy", _logits, True),
    "binary_crossentropy": ("binary_crossentropy", _logits, False),
    "mean_squared_error": ("mean_squared_error", lambda c: "", False),
    "mean_absolute_error": ("mean_absolute_error", lambda c: "", False),
    "huber": ("huber", lambda c: f", {float(c.get('delta', 1.0))!r}", False),
}
_LOSS_ALIASES = {
    "mse": "mean_squared_error", "mae": "mean_absolute_error", "huber_loss": "huber",
    "CategoricalCrossentropy": "categorical_crossentropy",
    "SparseCategoricalCrossentropy": "sparse_categorical_crossentropy",
    "BinaryCrossentropy": "binary_crossentropy", "MeanSquaredError": "mean_squared_error",
    "MeanAbsoluteError": "mean_absolute_error", "Huber": "huber",
}


def loss_from(spec) -> Loss:
    """A Loss from a Keras name ("mse"), a serialized Keras loss (dict), or a Loss."""
    if isinstance(spec, Loss):
        return spec
    name, config = _name_and_config(spec, "loss")
    name = _LOSS_ALIASES.get(name, name)
    if name not in _LOSSES:
        raise CompileError(f"loss {name!r} is not supported for training; supported: "
                           + ", ".join(sorted(_LOSSES)))
    module, args, sparse = _LOSSES[name]
    return Loss(name, module, args(config), sparse)


@dataclass(frozen=True)
class Optimizer:
    name: str                 # Keras class: SGD
    template: str             # file under templates/optim
    module: str               # dml_lib alias
    learning_rate: float
    hyper: dict = field(default_factory=dict)  # DML literals by name, for the template

    def __getattr__(self, name):
        hyper = self.__dict__.get("hyper", {})
        if name in hyper:
            return hyper[name]
        raise AttributeError(name)


def _dml(value) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    return repr(float(f"{float(value):.7g}"))


def _sgd(config: dict) -> dict:
    return {"momentum": _dml(config.get("momentum") or 0.0),
            "nesterov": _dml(bool(config.get("nesterov", False))),
            "weight_decay": _dml(config.get("weight_decay") or 0.0)}


# Keras optimizer class -> (template, dml_lib module, hyper-parameters from its config)
_OPTIMIZERS: dict[str, tuple[str, str, Callable]] = {
    "SGD": ("sgd.dml.j2", "sgd", _sgd),
}


def optimizer_from(spec) -> Optimizer:
    """An Optimizer from a Keras class name ("SGD"), a serialized optimizer, or an Optimizer."""
    if isinstance(spec, Optimizer):
        return spec
    name, config = _name_and_config(spec, "optimizer")
    name = {"sgd": "SGD"}.get(name, name)
    if name not in _OPTIMIZERS:
        raise CompileError(f"optimizer {name!r} is not supported by the training script yet; "
                           "supported: " + ", ".join(sorted(_OPTIMIZERS)))
    template, module, hyper = _OPTIMIZERS[name]
    rate = config.get("learning_rate", 0.01)
    if isinstance(rate, dict):
        raise CompileError(f"optimizer {name}: learning-rate schedules are not supported yet")
    # Keras keeps hyper-parameters in float32: 0.1 is stored as 0.10000000149...
    return Optimizer(name, template, module, float(f"{float(rate):.7g}"), hyper(config))


def _name_and_config(spec, what: str) -> tuple:
    if isinstance(spec, str):
        return spec, {}
    if isinstance(spec, dict) and isinstance(spec.get("class_name"), str):
        config = spec.get("config")
        if isinstance(config, str):      # a Keras function loss: {"class_name": "function", ...}
            return config, {}
        return spec["class_name"], config if isinstance(config, dict) else {}
    example = '"categorical_crossentropy"' if what == "loss" else '"SGD"'
    raise CompileError(f"cannot read the {what} {spec!r}: give a Keras name like {example}")


def compile_settings(config: dict | None) -> dict:
    """{"loss": ..., "optimizer": ...} of a model's compile config as the frontend read it (.keras
    compile_config, legacy .h5 training_config); {} for a model saved uncompiled."""
    config = config or {}
    # legacy .h5 files name the optimizer's entry optimizer_config
    config = {"optimizer": config.get("optimizer_config"), **config}
    return {key: config[key] for key in ("loss", "optimizer") if config.get(key) is not None}
