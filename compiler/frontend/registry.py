"""The table of layer handlers: Keras class name -> function turning one layer call into IR nodes.

Handlers register with `@handles("Dense")`; a class name can be registered only once, and the table
is the single source of the supported-layers list that errors and documentation show. Beside it,
`@masks("LSTM")` registers what a class does with a Keras mask (compiler/ops/masking.py).
"""
from __future__ import annotations

from typing import Callable

_HANDLERS: dict[str, Callable] = {}
_TENSOR_KWARGS: dict[str, tuple] = {}
_MASK_RULES: dict[str, Callable] = {}


def handles(*class_names: str, tensor_kwargs: tuple = ()):
    """Registers the decorated function as the handler of the given Keras layer classes;
    `tensor_kwargs` names the keyword arguments that may receive tensors (others are refused)."""
    def register(function: Callable) -> Callable:
        for name in class_names:
            if name in _HANDLERS:
                raise ValueError(f"two handlers for Keras class {name}: "
                                 f"{_HANDLERS[name].__module__} and {function.__module__}")
            _HANDLERS[name] = function
            _TENSOR_KWARGS[name] = tuple(tensor_kwargs)
        return function
    return register


def masks(*class_names: str):
    """Registers the decorated function as the mask rule of the given Keras classes:
    `rule(call, input masks) -> {output tensor: its mask tensor}`, raising MaskRefused where the
    class would use a mask in a way kerasdml does not build."""
    def register(function: Callable) -> Callable:
        for name in class_names:
            if name in _MASK_RULES:
                raise ValueError(f"two mask rules for Keras class {name}")
            _MASK_RULES[name] = function
        return function
    return register


def mask_rule_for(class_name: str) -> Callable | None:
    return _MASK_RULES.get(class_name)


def tensor_kwargs_of(class_name: str) -> tuple:
    """The keyword arguments of the class's call that may hold tensors."""
    return _TENSOR_KWARGS.get(class_name, ())


def handler_for(class_name: str) -> Callable | None:
    return _HANDLERS.get(class_name)


def supported_classes() -> tuple[str, ...]:
    """Every Keras layer class the compiler translates, sorted."""
    return tuple(sorted(_HANDLERS))


def supported_table() -> list[tuple[str, str]]:
    """(class name, first paragraph of the handler's docstring, on one line) for every
    supported class."""
    rows = []
    for name in supported_classes():
        paragraph = (_HANDLERS[name].__doc__ or "").strip().split("\n\n")[0]
        rows.append((name, " ".join(line.strip() for line in paragraph.splitlines())))
    return rows
