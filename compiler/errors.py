"""The compiler's error types. Each says what is wrong and where: the model file, the Keras layer
(name and class), the attribute and the values that would have been accepted.

Everything the compiler reports to a user is a `CompileError`; a Python traceback from deep inside
the compiler means a bug in the compiler, not in the model.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable


class CompileError(Exception):
    """Base of every error the compiler reports to a user."""

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


class ModelFileError(CompileError):
    """The model file is missing, unreadable, corrupt, or lacks weights the model needs."""

    def __init__(self, path: str, problem: str):
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")


@dataclass(frozen=True)
class UnsupportedLayer:
    """One layer the compiler cannot translate, and why."""
    name: str
    class_name: str
    reason: str = "not among the supported layer classes"

    def __str__(self) -> str:
        return f"'{self.name}' ({self.class_name}): {self.reason}"


class UnsupportedLayerError(CompileError):
    """The model holds layers the compiler does not translate; lists all of them at once."""

    def __init__(self, layers: Iterable[UnsupportedLayer], supported: Iterable[str]):
        self.layers = tuple(layers)
        self.supported = tuple(supported)
        lines = [f"the model has {len(self.layers)} unsupported layer(s):"]
        lines += [f"  - {layer}" for layer in self.layers]
        lines.append("supported layer classes: " + ", ".join(self.supported))
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class AttributeProblem:
    """A layer attribute whose value the compiler does not support."""
    layer: str
    class_name: str
    attribute: str
    value: Any
    accepted: str

    def __str__(self) -> str:
        return (f"layer '{self.layer}' ({self.class_name}): {self.attribute}={self.value!r} is not "
                f"supported; accepted: {self.accepted}")


class Unsupported(Exception):
    """Raised where one attribute value cannot be translated: by a Keras layer handler (which
    knows the layer) or by an op template's context (the backend adds the node's layer). The
    compiler collects them all into one UnsupportedAttributeError."""

    def __init__(self, attribute: str, value: Any, accepted: str, layer: str = "",
                 class_name: str = ""):
        self.attribute, self.value, self.accepted = attribute, value, accepted
        self.layer, self.class_name = layer, class_name
        super().__init__(f"{attribute}={value!r}; accepted: {accepted}")

    def problem(self, node=None) -> AttributeProblem:
        """The problem, located at `node` (an IR node) when the raiser did not know the layer."""
        layer = self.layer or (node.layer or node.name if node is not None else "")
        class_name = self.class_name or (node.keras_class or node.op if node is not None else "")
        return AttributeProblem(layer, class_name, self.attribute, self.value, self.accepted)


class MaskRefused(Exception):
    """Raised by a mask rule where a layer would use a Keras mask in a way kerasdml does not
    build; the frontend reports the layer as unsupported, with `reason`."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


class UnsupportedAttributeError(CompileError):
    """Layers of supported classes use attribute values the compiler does not support."""

    def __init__(self, problems: Iterable[AttributeProblem]):
        self.problems = tuple(problems)
        if len(self.problems) == 1:
            text = str(self.problems[0])
        else:
            text = "unsupported layer attributes:\n" + "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(text)


class InvalidModelError(CompileError):
    """The model is inconsistent: shapes that do not fit together, a reshape of the wrong size."""

    def __init__(self, layer: str, problem: str):
        self.layer = layer
        self.problem = problem
        super().__init__(f"layer '{layer}': {problem}")


class GraphError(CompileError):
    """An IR graph breaks an invariant (`Graph.validate`); names the node and the broken rule."""


class ModelProblemsError(UnsupportedLayerError, UnsupportedAttributeError):
    """Problems of several kinds in one model, all listed in one message: layers of unsupported
    classes, unsupported attribute values, and shapes that do not fit (InvalidModelError).
    It is both an UnsupportedLayerError and an UnsupportedAttributeError."""

    def __init__(self, layers: Iterable[UnsupportedLayer], problems: Iterable[AttributeProblem],
                 invalid: Iterable[InvalidModelError], supported: Iterable[str]):
        self.layers, self.problems = tuple(layers), tuple(problems)
        self.invalid, self.supported = tuple(invalid), tuple(supported)
        count = len(self.layers) + len(self.problems) + len(self.invalid)
        lines = [f"the model has {count} problems:"]
        lines += [f"  - {layer}" for layer in self.layers]
        lines += [f"  - {problem}" for problem in self.problems]
        lines += [f"  - {error}" for error in self.invalid]
        if self.layers:
            lines.append("supported layer classes: " + ", ".join(self.supported))
        CompileError.__init__(self, "\n".join(lines))


def refusal(layers, problems, invalid, supported) -> CompileError | None:
    """The one error reporting everything found (None when nothing was): the single-kind error
    types when there is one kind, ModelProblemsError for several."""
    layers, problems, invalid = tuple(layers), tuple(problems), tuple(invalid)
    kinds = sum(bool(k) for k in (layers, problems, invalid))
    if kinds == 0:
        return None
    if kinds > 1 or len(invalid) > 1:
        return ModelProblemsError(layers, problems, invalid, supported)
    if layers:
        return UnsupportedLayerError(layers, supported)
    return UnsupportedAttributeError(problems) if problems else invalid[0]
