"""DML lists, function references and paramserv in LOCAL mode, beyond the conformance programs
(whose outputs come from SystemDS 3.4): errors, thread-parallel runs, the other settings."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from kerasdml.runtime.api import run_string
from kerasdml.runtime.errors import DMLError

LINEAR = (Path(__file__).parent / "conformance" / "lib" / "ps_linear.dml").read_text()


def train(settings: str, rows: int = 40, precision: str = "double") -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(rows, 3))
    y = x @ np.array([[1.5], [-2.0], [0.5]]) + 0.25
    script = LINEAR + f"""
model = list(matrix(0, rows=3, cols=1), matrix(0, rows=1, cols=1))
m = paramserv(model=model, features=X, labels=Y, upd="gradients", agg="aggregation",
              hyperparams=list(lr=0.1), {settings})
W = as.matrix(m[1])
b = as.matrix(m[2])
"""
    out = run_string(script, inputs={"X": x, "Y": y}, outputs=["W", "b"], precision=precision)
    return out["W"], out["b"]


def test_bsp_is_deterministic_and_equals_one_worker_with_summed_gradients():
    first = train('utype="BSP", freq="BATCH", epochs=3, batchsize=5, k=2')
    second = train('utype="BSP", freq="BATCH", epochs=3, batchsize=5, k=2')
    assert np.array_equal(first[0], second[0]) and np.array_equal(first[1], second[1])


@pytest.mark.parametrize("settings", [
    'utype="BSP", freq="BATCH", epochs=20, batchsize=5, k=4, scheme="DISJOINT_RANDOM", seed=7',
    'utype="BSP", freq="NBATCHES", nbatches=2, epochs=20, batchsize=4, k=2',
    'utype="BSP", freq="EPOCH", epochs=20, batchsize=4, k=2, scheme="OVERLAP_RESHUFFLE", seed=1',
    'utype="ASP", freq="BATCH", epochs=20, batchsize=5, k=2, scheme="DISJOINT_ROUND_ROBIN"',
    'utype="ASP", freq="EPOCH", epochs=30, batchsize=5, k=3',
])
def test_every_mode_fits_the_linear_model(settings):
    weights, bias = train(settings)
    assert np.allclose(weights.ravel(), [1.5, -2.0, 0.5], atol=0.05), weights.ravel()
    assert abs(bias[0, 0] - 0.25) < 0.05


def test_single_precision_trains_in_float32():
    weights, _ = train('utype="BSP", freq="BATCH", epochs=20, batchsize=5, k=2', precision="single")
    assert weights.dtype == np.float32
    assert np.allclose(weights.ravel(), [1.5, -2.0, 0.5], atol=0.05)


@pytest.mark.parametrize("settings, message", [
    ('utype="SBP", epochs=1', "SBP"),
    ('utype="BSP", epochs=0', "epochs must be at least 1"),
    ('freq="DAILY", epochs=1', "freq='DAILY' is not one of"),
    ('epochs=1, he=TRUE', "`he` is not supported"),
    ('epochs=1, mode="REMOTE_SPARK"', "REMOTE_SPARK"),
    ('epochs=1, frobnicate=3', "unknown parameter `frobnicate`"),
    ('utype="ASP", modelAvg=TRUE, epochs=1', "modelAvg=TRUE needs"),
])
def test_bad_settings_give_one_clear_error(settings, message):
    with pytest.raises(DMLError, match=message):
        train(settings)


def test_a_function_with_other_parameter_names_is_refused():
    script = LINEAR.replace("hyperparams", "hp") + """
m = paramserv(model=list(matrix(0, 3, 1), matrix(0, 1, 1)), features=X, labels=Y,
              upd="gradients", agg="aggregation", hyperparams=list(lr=0.1), epochs=1)
"""
    with pytest.raises(DMLError, match="must take the parameters model, hyperparams"):
        run_string(script, inputs={"X": np.ones((4, 3)), "Y": np.ones((4, 1))})


def test_unknown_function_reference_names_the_file():
    script = LINEAR + """
m = paramserv(model=list(matrix(0, 3, 1)), features=X, labels=Y, upd="nosuch.dml::g",
              agg="aggregation", hyperparams=list(), epochs=1)
"""
    with pytest.raises(DMLError, match="no file 'nosuch.dml'"):
        run_string(script, inputs={"X": np.ones((4, 3)), "Y": np.ones((4, 1))})


def test_validation_function_runs_after_every_epoch():
    script = LINEAR + """
check = function(list[unknown] model, list[unknown] hyperparams, matrix[double] val_features,
                 matrix[double] val_labels) return (double loss, double accuracy) {
  err = val_features %*% as.matrix(model[1]) + as.matrix(model[2]) - val_labels
  loss = sum(err^2)
  accuracy = 0.0
  print("validated")
}
m = paramserv(model=list(matrix(0, 3, 1), matrix(0, 1, 1)), features=X, labels=Y,
              val_features=X, val_labels=Y, val=".defaultNS::check", upd="gradients",
              agg="aggregation", hyperparams=list(lr=0.1), utype="BSP", epochs=3, k=2)
"""
    out = io.StringIO()
    run_string(script, inputs={"X": np.ones((8, 3)), "Y": np.ones((8, 1))}, out=out)
    assert out.getvalue() == "validated\n" * 3


@pytest.mark.parametrize("script, message", [
    ("l = list(1, 2)\nx = l[3]", "index 3 out of bounds for list `l` of length 2"),
    ('l = list(a=1)\nx = l["b"]', "no element named 'b'"),
    ("l = list(1, 2)\nx = as.scalar(l)", "needs a list of one element"),
    ("f = function(list[unknown] m) return (double x) { x = 1 }\ny = f(3)", "declared list"),
])
def test_list_errors(script, message):
    with pytest.raises(DMLError, match=message):
        run_string(script)


def test_lists_are_values():
    out = run_string("a = list(1, 2)\nb = a\nb[1] = 5\nx = as.scalar(a[1])\ny = as.scalar(b[1])",
                     outputs=["x", "y"])
    assert (out["x"], out["y"]) == (1, 5)


@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_received_lists_are_summed_into_their_own_arrays_with_the_same_bits(scale):
    """The server sums pushes received over the network in place (no new buffers); lists the
    interpreter made (which may share arrays with the model) get new ones."""
    from kerasdml.runtime.lists import DMLList
    from kerasdml.runtime.paramserv.worker import add_lists

    rng = np.random.default_rng(2)

    def pushed():
        return DMLList([rng.standard_normal((30, 7)).astype(np.float32),
                        rng.standard_normal((1, 7)), 3, 2.5], ["W", "b", "batches", "loss"])
    first, second = pushed(), pushed()
    plain = add_lists(add_lists(None, first, scale), second, scale)
    arrays = [first[0], second[0]]
    summed = add_lists(add_lists(None, first, scale, in_place=True), second, scale, in_place=True)
    for expected, found in zip(plain, summed):
        assert type(found) is type(expected)
        assert np.asarray(found).tobytes() == np.asarray(expected).tobytes()
    assert summed[0] is arrays[0] and summed[0].dtype == np.float32
    assert summed[2] == 6 * scale and isinstance(summed[2], (int, float))
    assert plain[0] is not arrays[0]


def test_a_list_written_again_replaces_the_earlier_files(tmp_path):
    """A shorter list (or a list over a matrix file) leaves no stale element to read back;
    matrices read inside a list come in the run's precision."""
    target = str(tmp_path / "L")
    script = f"""
M = matrix(1, rows=2, cols=2)
write(M, "{target}")
Long = list(M, 2, list(3, 4))
write(Long, "{target}")
Short = list(a=matrix(5, rows=1, cols=2), b="x")
write(Short, "{target}")
L = read("{target}")
n = length(L)
W = as.matrix(L["a"])
"""
    out = run_string(script, outputs=["n", "W"], precision="single")
    assert out["n"] == 2 and out["W"].dtype == np.float32
    assert sorted(p.name for p in Path(target).iterdir()) == ["0_a", "0_a.mtd", "1_b", "1_b.mtd"]


@pytest.mark.parametrize("script, message", [
    ('L = list(matrix(1, 2, 2))\nwrite(L, "{dir}/L", format="binary")',
     r"write\('.*/L'\): SystemDS's binary format"),
    ('L = list(a=1, null=2)\nwrite(L, "{dir}/L")', "element 2 is named 'null'"),
    ('L = list(1, 2)\nwrite(L, "{dir}/L")\nK = read("{dir}/L", data_type="list", rows=3)',
     "rows"),
])
def test_list_io_errors(tmp_path, script, message):
    with pytest.raises(DMLError, match=message):
        run_string(script.format(dir=tmp_path))


def test_reading_a_list_with_a_missing_element_file_is_an_error(tmp_path):
    run_string(f'L = list(1, 2, 3)\nwrite(L, "{tmp_path}/L")')
    (tmp_path / "L" / "1_null.mtd").unlink()
    with pytest.raises(DMLError, match="list of 3 elements, but the folder holds 2"):
        run_string(f'L = read("{tmp_path}/L")')


def _shipped(text: str) -> dict:
    """What run_remote ships of a script's upd and agg (module snapshots), as for a run."""
    from kerasdml.runtime.functions import Module, UserFunction
    from kerasdml.runtime.parser import parse
    from kerasdml.runtime.spark.parfor import module_snapshot
    module = Module("train.dml", Path("."))
    for definition in parse(text).functions:
        module.functions[definition.name] = UserFunction(definition, module)
    return {role: (module_snapshot(module), role) for role in ("upd", "agg")}


def test_the_program_digest_is_hashed_once_per_script_and_names_its_text(monkeypatch):
    """REMOTE_SPARK names the workers' program by a digest of its functions: a script run again
    (the estimator's next epoch: the same syntax trees) finds it without hashing them again;
    another text or precision gets another digest, and the same text parsed anew the same."""
    from kerasdml.runtime.paramserv import remote
    from kerasdml.runtime.parser import parse
    hashed = []
    real_sha256 = remote.hashlib.sha256

    class Counting:
        @staticmethod
        def sha256(data):
            hashed.append(len(data))
            return real_sha256(data)
    monkeypatch.setattr(remote, "hashlib", Counting)
    text = ("upd = function(list[unknown] model) return (list[unknown] g) { g = model }\n"
            "agg = function(list[unknown] model) return (list[unknown] m) { m = model }\n")
    first = remote._program_digest(_shipped(text), "double")
    assert remote._program_digest(_shipped(text), "double") == first and len(hashed) == 1
    assert remote._program_digest(_shipped(text), "single") != first
    assert remote._program_digest(_shipped(text.replace("g = model", "g = list()")), "double") != first
    parse.cache_clear()                     # new syntax trees of the same text
    assert remote._program_digest(_shipped(text), "double") == first and len(hashed) == 4
