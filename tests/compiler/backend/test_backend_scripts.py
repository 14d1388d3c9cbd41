"""The backend's structure: a template for every IR op, generated scripts that call dml_lib with
every argument spelled out, the compiled model's description of its inputs, outputs and
parameters, and the errors for what the backend cannot write."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from support.keras_models import keras, randomize, save, sequential
from kerasdml import dml_lib
from kerasdml.compiler import ir
from kerasdml.compiler.backend import supported_ops
from kerasdml.compiler.backend.emitter import ENV
from kerasdml.compiler.backend.formatting import code_part, format_dml
from kerasdml.compiler.backend.registry import LIBRARY, template_for
from kerasdml.compiler.compile import compile_model
from kerasdml.compiler.errors import CompileError, UnsupportedAttributeError
from kerasdml.compiler.model_folder import write_model
from support.zoo_models import ZOO

L = keras.layers


def test_every_ir_op_has_a_template_with_forward_and_backward():
    ops = sorted(op for op in ir.OPS if op != "input")
    assert sorted(supported_ops()) == ops
    for op in ops:
        module = ENV.get_template(f"ops/{template_for(op).template}").module
        assert callable(module.forward) and callable(module.backward), op


def _top_level_split(text: str) -> list:
    parts, depth, current = [], 0, ""
    for char in text:
        depth += (char in "([") - (char in ")]")
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return parts + [current] if current.strip() else parts


def _library_arities() -> dict:
    """{(alias, function): number of parameters} of every dml_lib function."""
    arities = {}
    for alias, path in LIBRARY.items():
        text = (Path(dml_lib.ROOT) / path).read_text()
        for match in re.finditer(r"^(\w+)\s*=\s*function\s*\(", text, re.M):
            args = _call_arguments(text, match.end())
            arities[(alias, match.group(1))] = len(_top_level_split(args))
    return arities


def _call_arguments(text: str, start: int) -> str:
    depth = 1
    for index in range(start, len(text)):
        depth += (text[index] == "(") - (text[index] == ")")
        if depth == 0:
            return text[start:index]
    raise AssertionError("unbalanced parentheses")


ARITIES = _library_arities()


def assert_library_calls_spell_out_every_argument(script: str) -> int:
    calls = 0
    for match in re.finditer(r"(\w+)::(\w+)\(", script):
        key = (match.group(1), match.group(2))
        assert key in ARITIES, f"{key} is not a dml_lib function"
        given = len(_top_level_split(_call_arguments(script, match.end())))
        assert given == ARITIES[key], f"{key[0]}::{key[1]} called with {given} of " \
                                      f"{ARITIES[key]} arguments"
        calls += 1
    return calls


@pytest.mark.parametrize("name", list(ZOO))
def test_scripts_spell_out_every_library_argument_and_source_what_they_use(name):
    model = randomize(ZOO[name]())
    compiled = compile_model(model, loss="mse")
    scripts = [compiled.predict_script]
    if len(compiled.outputs) == 1:
        scripts.append(compiled.train_script)
    for script in scripts:
        assert assert_library_calls_spell_out_every_argument(script) > 0
        sourced = set(re.findall(r'^source\("[^"]+"\) as (\w+)$', script, re.M))
        used = set(re.findall(r"(\w+)::\w+\(", script))
        assert sourced == used


@pytest.mark.parametrize("loss", ["categorical_crossentropy", "sparse_categorical_crossentropy",
                                  "binary_crossentropy", "mean_squared_error",
                                  "mean_absolute_error", "huber"])
def test_loss_calls_spell_out_every_argument(loss):
    """SystemDS fills no default of a positional call: a loss's optional settings too."""
    script = compile_model(randomize(ZOO["mlp"]()), loss=loss).train_script
    assert f"{loss}::forward(" in script
    assert assert_library_calls_spell_out_every_argument(script) > 0


def test_bound_scripts_read_and_write_nothing():
    compiled = compile_model(randomize(ZOO["lenet"]()), loss="categorical_crossentropy")
    for kind in ("predict", "train"):
        bound = compiled.script(kind, bound=True)
        assert "read(" not in bound and "write(" not in bound
        assert "read(" in compiled.script(kind) and "write(" in compiled.script(kind)


def test_compiled_model_describes_inputs_outputs_and_parameters():
    compiled = compile_model(randomize(ZOO["multi_input"]()))
    assert [(t.variable, t.shape, t.image) for t in compiled.inputs] == \
        [("X_image", (6, 6, 2), (2, 6, 6)), ("X_vector", (4,), None)]
    assert [(t.variable, t.columns) for t in compiled.outputs] == [("Y", 3)]
    conv = compiled.parameters[0]
    assert (conv.variable, conv.shape, conv.role, conv.keras_shape, conv.trainable) == \
        (f"{conv.node}_W", (3, 18), "kernel", (3, 3, 2, 3), True)
    assert conv.layer == conv.node and conv.weight == "kernel"
    assert set(compiled.weights) == {p.variable for p in compiled.parameters}
    for p in compiled.parameters:
        assert compiled.weights[p.variable].shape == p.shape
        assert compiled.weights[p.variable].dtype == np.float64


def test_tensor_spec_rows_and_keras_shapes_round_trip():
    spec = compile_model(randomize(ZOO["autoencoder"]())).inputs[0]
    x = np.arange(2 * 8 * 8 * 3, dtype=float).reshape(2, 8, 8, 3)
    assert spec.rows(x).shape == (2, 192)
    np.testing.assert_array_equal(spec.keras(spec.rows(x)), x)


def test_layer_names_never_clash_with_script_variables():
    inputs = keras.Input((4,), name="X")
    x = L.Dense(3, name="beg")(inputs)
    x = L.Dense(3, name="N")(x)
    model = randomize(keras.Model(inputs, L.Dense(2, name="Y")(x), name="clash"))
    compiled = compile_model(model)
    x_data = np.random.default_rng(0).normal(size=(3, 4)).astype("float32")
    np.testing.assert_allclose(compiled.predict(x_data), model.predict(x_data, verbose=0),
                               atol=1e-5)


def test_predict_reads_the_weights_it_is_given():
    model = randomize(ZOO["mlp"]())
    compiled = compile_model(model)
    x = np.ones((2, 10), dtype="float32")
    before = compiled.predict(x)
    hidden_bias = compiled.parameters[1].variable
    compiled.weights[hidden_bias] = compiled.weights[hidden_bias] + 1.0
    assert not np.allclose(compiled.predict(x), before)


def test_what_the_backend_cannot_write_is_reported_together(tmp_path):
    inputs = keras.Input((4, 4, 3))
    a = L.Conv2D(2, 1)(inputs)
    c = L.Concatenate(axis=1, name="rows")([a, a])
    d = L.Concatenate(axis=2, name="columns")([c, c])
    model = keras.Model(inputs, L.Flatten()(d), name="refused")
    with pytest.raises(UnsupportedAttributeError) as caught:
        compile_model(save(model, tmp_path))
    assert sorted(p.layer for p in caught.value.problems) == ["columns", "rows"]
    assert "axis=1 is not supported; accepted: -1 (the channel axis)" in str(caught.value)


def test_recurrent_activation_that_dml_lib_lacks_is_refused(tmp_path):
    """The recurrent layers take the activations whose slope their output gives."""
    model = sequential((5, 3), L.LSTM(4, activation="gelu", name="gelu_lstm"), name="gl")
    with pytest.raises(UnsupportedAttributeError, match="'gelu_lstm'.*activation='gelu'"):
        compile_model(save(model, tmp_path))


def test_training_needs_a_loss_and_a_supported_optimizer():
    model = randomize(ZOO["mlp"]())
    with pytest.raises(CompileError, match="not compiled with a loss.*pass loss="):
        compile_model(model).train_script
    with pytest.raises(CompileError, match="optimizer 'Lion' is not supported"):
        compile_model(model, loss="mse", optimizer="Lion").train_script
    with pytest.raises(CompileError, match="loss 'Dice' is not supported"):
        compile_model(model, loss="Dice").train_script
    with pytest.raises(CompileError, match="2 outputs .*: give loss_weights as a list"):
        compile_model(randomize(ZOO["multi_output"]()), loss="mse",
                      loss_weights=[1.0]).train_script


@pytest.mark.parametrize("fmt", ["keras", "h5"])
def test_loss_and_optimizer_come_from_the_compile_config(fmt, tmp_path):
    model = randomize(ZOO["mlp"]())
    model.compile(loss=keras.losses.CategoricalCrossentropy(from_logits=True),
                  optimizer=keras.optimizers.SGD(0.25, momentum=0.5))
    compiled = compile_model(save(model, tmp_path, fmt))
    script = compiled.train_script
    output = compiled.outputs[0].batch
    assert f"categorical_crossentropy::forward({output}, y_batch, TRUE, 0.0)" in script
    assert "learning_rate = ifdef($learning_rate, 0.25)" in script
    assert "lr = learning_rate" in script and "lr, 0.5, FALSE, 0.0, " in script
    assert "mean_squared_error" in compile_model(model, loss="mse").train_script


@pytest.mark.parametrize("name", ["lenet", "separable", "autoencoder", "gru", "batchnorm_mlp",
                                  "conv1d_text", "multi_input"])
def test_keras_weights_invert_the_dml_layout(name):
    model = randomize(ZOO[name]())
    compiled = compile_model(model)
    back = compiled.keras_weights()
    for param in compiled.parameters:
        layer = model.get_layer(param.layer)
        variable = next(v for v in layer.weights if v.name == param.weight)
        np.testing.assert_array_equal(back[(param.layer, param.weight)], variable.numpy())


def assert_laid_out(script: str) -> None:
    """Indentation by brace nesting (two spaces a level, four more for a line continuing inside
    open parentheses), at most one blank line in a row, none just inside braces, no `;` ending a
    line."""
    depth, blank_run, previous, parentheses = 0, 0, "", 0
    for number, line in enumerate(script.split("\n")[:-1], 1):
        if not line.strip():
            blank_run += 1
            assert blank_run == 1 and not previous.endswith("{"), f"line {number}: extra blank"
            continue
        code = code_part(line.strip())
        closing = len(code) - len(code.lstrip("}"))
        assert not (closing and blank_run), f"line {number}: blank line before '}}'"
        depth -= closing
        indent = len(line) - len(line.lstrip(" "))
        expected = 2 * depth + (4 if parentheses else 0)
        assert indent == expected, f"line {number}: indented {indent}, nesting {depth}: {line!r}"
        assert not code.rstrip().endswith(";"), f"line {number}: ends with ';'"
        depth += code.count("{") - code.count("}") + closing
        parentheses += code.count("(") - code.count(")")
        blank_run, previous = 0, line
    assert depth == 0 and script.endswith("\n") and not script.endswith("\n\n")


@pytest.mark.parametrize("name", list(ZOO))
def test_every_zoo_script_is_laid_out_by_nesting(name, tmp_path):
    """The predict.dml and train.dml a model folder holds, as written to disk."""
    compiled = compile_model(randomize(ZOO[name]()), loss="mse")
    write_model(compiled, str(tmp_path / name))
    written = sorted(path.name for path in (tmp_path / name).glob("*.dml"))
    # a model without train.dml is one whose training the backend refuses (several outputs)
    assert written == ["predict.dml", "train.dml"] or (
        written == ["predict.dml"] and len(compiled.outputs) > 1)
    for file in written:
        assert_laid_out((tmp_path / name / file).read_text())


def test_the_layout_check_sees_a_misplaced_line():
    with pytest.raises(AssertionError, match="indented 0, nesting 1"):
        assert_laid_out("for (i in 1:2) {\nx = i\n}\n")
    with pytest.raises(AssertionError, match="ends with ';'"):
        assert_laid_out("x = 1;\n")
    assert format_dml("for (i in 1:2) {\n\n\nx = i;\n\n}\n") == "for (i in 1:2) {\n  x = i\n}\n"
    assert format_dml("if (a) {\nx = f(1,\n2)\n}\n") == "if (a) {\n  x = f(1,\n      2)\n}\n"
