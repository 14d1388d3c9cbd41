"""Every IR op is declared completely in one place (its family module under compiler/ops/):
attributes class, shape rule, parameters with a role (DML name, trainability, layout) for each,
template with forward and backward macros, dml_lib modules that exist, a Keras layer handler."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from kerasdml import dml_lib
from kerasdml.compiler import ir, ops
from kerasdml.compiler.backend.emitter import ENV, TEMPLATES
from kerasdml.compiler.backend.registry import LIBRARY, supported_ops
from kerasdml.compiler.frontend.registry import handler_for, supported_classes
from kerasdml.compiler.opdef import OPS, Site, missing_pieces

# a value of each attribute type, to ask an op which parameters it holds
_SAMPLES = {"int": 2, "float": 0.5, "str": "relu", "bool": True, "tuple": (2, 2),
            "Pad1D": ir.Pad1D(), "Pad2D": ir.Pad2D()}
_INPUT = {"conv1d": (5, 3), "max_pool1d": (5, 3), "avg_pool1d": (5, 3), "simple_rnn": (5, 3),
          "lstm": (5, 3), "gru": (5, 3), "embedding": (5,), "conv3d": (4, 4, 4, 3),
          "conv3d_transpose": (4, 4, 4, 3)}
# a 3-D kernel, not the sample pair
_ATTRS = {"conv3d": ops.volumes.Conv3D(2, (2, 2, 2)),
          "conv3d_transpose": ops.volumes.Conv3DTranspose(2, (2, 2, 2))}


def _sample_attrs(cls):
    values = {}
    for f in dataclasses.fields(cls):
        if f.default is dataclasses.MISSING:
            values[f.name] = _SAMPLES[str(f.type).split(" ")[0]]
    return cls(**values)


@pytest.mark.parametrize("op", sorted(OPS))
def test_op_definition_is_complete(op):
    definition = OPS[op]
    assert missing_pieces(definition) == []
    assert definition.family in {family.__name__ for family in ops.FAMILIES}
    if op == "input":
        return
    assert callable(definition.shape) and callable(definition.context)
    module = ENV.get_template(f"ops/{definition.template}").module
    assert callable(module.forward) and callable(module.backward)
    for alias in definition.library:
        assert (Path(dml_lib.ROOT) / LIBRARY[alias]).is_file(), alias


@pytest.mark.parametrize("op", sorted(op for op in OPS if op != "input"))
def test_every_parameter_an_op_expects_has_a_declared_role(op):
    definition = OPS[op]
    attrs = _ATTRS.get(op) or _sample_attrs(definition.attrs)
    shape = _INPUT.get(op, (4, 4, 3))
    expected = definition.params(attrs, (shape,) * definition.min_inputs)
    assert set(expected) == set(definition.params(attrs, None))
    for role, param_shape in expected.items():
        weight = definition.weight(role)
        value = np.zeros([d or 1 for d in param_shape])
        out = weight.layout(value, Site(None, len(shape) == 3))
        assert out.ndim == 2 and out.dtype == np.float64 and out.size == value.size, role
        assert weight.dml and isinstance(weight.trainable, bool)


def test_templates_and_ops_match():
    """No template file without an op, no op without a template."""
    used = {OPS[op].template for op in supported_ops()}
    assert used == {path.name for path in (TEMPLATES / "ops").glob("*.dml.j2")}
    assert sorted(supported_ops()) == sorted(op for op in ir.OPS if op != "input")


def test_every_family_registers_keras_layer_handlers():
    families = {handler_for(name).__module__ for name in supported_classes()}
    assert families == {family.__name__ for family in ops.FAMILIES}


def test_an_op_without_a_piece_is_reported():
    broken = dataclasses.replace(OPS["dense"], shape=None, sources=("affine", "missing"))
    problems = missing_pieces(broken)
    assert "no shape" in problems and any("missing" in p for p in problems)

