"""Last reads (runtime/liveness.py) and results written into free operands (runtime/inplace.py):
the same bits as the plain evaluation, and never a write into a matrix something still holds."""
from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from kerasdml.runtime import inplace
from kerasdml.runtime.api import run_string
from kerasdml.runtime.builtins.elementwise import runs_cellwise
from kerasdml.runtime.context import Statistics
from kerasdml.runtime.liveness import LastReads
from kerasdml.runtime.parser import parse


def _last_reads(text: str, live_at_exit=()):
    statements = parse(text, "<test>").statements
    reads = LastReads()
    reads.analyse(statements, set(live_at_exit))
    return statements, reads


def test_an_overwritten_variable_is_read_for_the_last_time():
    statements, reads = _last_reads("X = X - lr * dX\nY = dX + 1", live_at_exit={"X", "Y"})
    assert reads.of(statements[0]) == {"X", "lr"}      # dX is read again below
    assert reads.of(statements[1]) == {"dX"}


def test_an_analysis_reused_for_the_same_statements_depends_on_what_is_live_after():
    # parsed programs are cached, so a script run again is analysed from the analyses kept
    statements = parse("Y = X + 1\nZ = X * 2", "<reused>").statements
    for _ in range(2):
        for live, last in (({"Y", "Z"}, {"X"}), ({"Y", "Z", "X"}, set())):
            reads = LastReads()
            reads.analyse(statements, live)
            assert reads.of(statements[1]) == last


def test_a_variable_read_twice_in_a_statement_is_not_taken():
    statements, reads = _last_reads("Y = X * X")
    assert reads.of(statements[0]) == set()


def test_loops_keep_what_the_next_iteration_reads():
    text = "for (i in 1:3) {\n  Y = X + i\n  X = Y * 2\n}\nZ = 1"
    statements, reads = _last_reads(text, live_at_exit={"Z"})
    body = statements[0].body
    assert reads.of(body[0]) == {"X", "i"}              # X is assigned again before the head
    assert reads.of(body[1]) == {"Y"}
    text = "while (s < 3) {\n  s = s + 1\n  Y = W * 2\n}"
    statements, reads = _last_reads(text, live_at_exit=set())
    assert reads.of(statements[0].body[1]) == set()    # W: read in every iteration


def test_branches_keep_what_either_branch_reads():
    text = "A = X + 1\nif (c) {\n  B = X * 2\n} else {\n  B = A\n}"
    statements, reads = _last_reads(text, live_at_exit={"B"})
    assert "X" not in reads.of(statements[0])
    assert reads.of(statements[1].then_body[0]) == {"X"}
    assert reads.of(statements[1].else_body[0]) == {"A"}


def test_indexed_and_left_indexed_variables_are_never_taken():
    statements, reads = _last_reads("R[1, ] = V\nY = M[1, 1] + 0")
    assert reads.of(statements[0]) == {"V"}
    assert reads.of(statements[1]) == set()


def test_indexed_reads_release_the_variable_after_its_last_statement():
    text = 'a = l["x"] + 1\nb = l["y"] * M[1, 1]\nc = M[2, 2]\nl = list(x=a)\nd = l["x"]'
    statements, reads = _last_reads(text, live_at_exit={"b", "c", "d"})
    assert [reads.released(s) for s in statements] == [set(), {"l"}, {"M"}, set(), {"l"}]
    loop = 'for (i in 1:3) {\n  a = l[i]\n}'
    statements, reads = _last_reads(loop, live_at_exit={"a"})
    assert reads.released(statements[0].body[0]) == set()     # read again next iteration


def test_a_list_handed_to_a_function_lets_its_update_write_in_place(monkeypatch):
    """A function reading a list's entries first drops the list after the last read: when the
    caller handed the list over, the matrices it held are the frame's alone and sgd::update
    writes into them; while the caller still holds the list, they stay as they were."""
    from pathlib import Path

    from kerasdml import dml_lib
    from kerasdml.runtime.context import Context
    from kerasdml.runtime.function_refs import call_by_name
    from kerasdml.runtime.interpreter import Interpreter
    from kerasdml.runtime.lists import DMLList
    from kerasdml.runtime.local import optimizers

    script = f"""
source("{dml_lib.ROOT}/nn/optim/sgd.dml") as sgd
step = function(list[unknown] model, list[unknown] gradients) return (list[unknown] result) {{
  W = as.matrix(model["W"])
  v = as.matrix(model["v"])
  dW = as.matrix(gradients["W"])
  [W, v] = sgd::update(W, dW, 0.1, 0.9, TRUE, 0.0, v)
  result = list(W=W, v=v)
}}
"""
    module, _ = Interpreter(Context(args={})).load_program(script, "<test>", Path.cwd())
    owned = []
    original = optimizers.sgd
    monkeypatch.setattr(optimizers, "sgd", lambda *a: owned.append(a[-2:]) or original(*a))
    gradients = DMLList([np.full((4, 5), 0.5)], ["W"])

    def model():
        return DMLList([np.ones((4, 5)), np.zeros((4, 5))], ["W", "v"])
    held = model()
    kept = call_by_name(module.functions["step"], {"model": held, "gradients": gradients}, (), "t")
    assert_array_equal(held[0], np.ones((4, 5))) and assert_array_equal(held[1], np.zeros((4, 5)))
    handed = call_by_name(module.functions["step"], {"model": model(), "gradients": gradients},
                          (), "t")
    assert owned == [(False, False), (True, True)]
    assert_array_equal(handed[0][0], kept[0][0])
    np.testing.assert_allclose(kept[0][0], np.full((4, 5), 1 - 0.1 * 0.5 * 1.9))


def test_free_sees_every_other_holder():
    fresh = np.ones((3, 4))
    assert inplace.free(fresh)
    alias = fresh
    assert not inplace.free(fresh) and alias is fresh
    # (computed outside the asserts: pytest's assertion rewriting holds the temporaries)
    reshaped = inplace.free(np.ones(12).reshape(3, 4))           # a whole buffer, reshaped
    whole = np.ones(12)
    held = inplace.free(whole.reshape(3, 4))                      # ... that `whole` still holds
    part = inplace.free(np.ones((4, 4))[:3])                      # a part of a buffer
    transposed = inplace.free(np.ones((4, 3)).T)                  # not C-ordered
    assert reshaped and not held and not part and not transposed
    frozen = np.ones((2, 2))
    frozen.flags.writeable = False
    assert not inplace.free(frozen)


SCRIPT = """
update = function(matrix[double] X, matrix[double] dX, double lr, matrix[double] m)
    return (matrix[double] X, matrix[double] m) {
  m = m + (dX - m) * 0.1
  X = X - (m * lr) / (sqrt(abs(m)) + 1e-7)
  X = X - dX * lr
}
g = function(matrix[double] d, matrix[double] A) return (matrix[double] o) {
  o = d * (A > 0)
}
m = X * 0
for (i in 1:3) {
  [X, m] = update(X, D, 0.5, m)
  E = g(X * 1.5, X) - R
  F = exp(X - rowMaxs(X)) / 3 + C
  G = (X > 0.25) * 2
  H = max(X * 2, 0) + min(0.5, X - 1) + log(abs(X) + 1)
  K = bias_add(bias_multiply(X * 1.5, B), -B)
}
"""


def _script(shape, precision, free=True, monkeypatch=None):
    rng = np.random.default_rng(11)
    X, D = rng.standard_normal(shape), rng.standard_normal(shape)
    X.flat[::17] = np.nan
    inputs = {"X": X, "D": D, "R": rng.standard_normal((1, shape[1])),
              "C": rng.standard_normal((shape[0], 1)), "B": rng.standard_normal((shape[1], 1))}
    kept = {k: v.copy() for k, v in inputs.items()}
    if not free:
        monkeypatch.setattr(inplace, "_OWN", -100)           # nothing is ever free
    stats = Statistics()
    with np.errstate(all="ignore"):
        out = run_string(SCRIPT, inputs=inputs, outputs=["X", "m", "E", "F", "G", "H", "K"],
                         precision=precision, stats=stats)
    for name, value in kept.items():                          # the caller's arrays
        assert_array_equal(inputs[name], value)
    return out, stats.counts


@pytest.mark.parametrize("precision", ["double", "single"])
@pytest.mark.parametrize("shape", [(1, 1), (1, 9), (9, 1), (7, 3), (300, 257), (5, 1031)])
def test_in_place_results_are_the_plain_bits(shape, precision, monkeypatch):
    fast, counts = _script(shape, precision)
    in_place = {name: c for name, c in counts.items() if name.endswith(" in place") and c}
    expected = {"gradient_step in place", "relu_gradient in place", "- in place",
                "/ in place", "+ in place", "exp in place", "sqrt in place", "max in place",
                "min in place", "log in place", "bias_multiply in place", "bias_add in place"}
    if precision == "double" and runs_cellwise("exp", np.zeros(shape)):  # cell by cell (math)
        expected -= {"exp in place", "log in place"}
    assert expected <= set(in_place)
    plain, plain_counts = _script(shape, precision, free=False, monkeypatch=monkeypatch)
    assert not any(name.endswith(" in place") and c for name, c in plain_counts.items())
    for name in plain:
        assert fast[name].dtype == plain[name].dtype
        assert_array_equal(np.signbit(fast[name]), np.signbit(plain[name]))
        assert_array_equal(fast[name], plain[name])


def test_a_matrix_the_program_still_reads_is_not_overwritten():
    X = np.arange(6.0).reshape(2, 3)
    out = run_string("Y = X - D * 2\nZ = X + 0\nW = Y * 3", inputs={"X": X, "D": np.ones((2, 3))},
                     outputs=["Y", "Z", "W"])
    assert_array_equal(out["Z"], X)
    assert_array_equal(out["Y"], X - 2)                  # Y is an output: still read afterwards
    assert_array_equal(out["W"], (X - 2) * 3)


def test_multiplying_or_dividing_by_one_gives_the_matrix_itself_and_changes_nothing():
    """X * 1, 1 * X and X / 1 are X cell for cell (-0 and NaN included): no pass over it (a
    gradient divided by its count of batches, once per update); what still reads X keeps it."""
    X = np.array([[-0.0, np.nan, 2.5], [np.inf, -1.0, 3.0]])
    out = run_string("A = X * 1\nB = 1 * X\nC = X / 1\nD = C - 1\nE = X / 1.0", inputs={"X": X},
                     outputs=["A", "B", "C", "D", "E"], precision="single")
    for name in "ABCE":
        assert out[name].dtype == np.float32
        assert_array_equal(np.signbit(out[name]), np.signbit(X))
        assert_array_equal(out[name], X.astype(np.float32))
    assert_array_equal(out["D"], X.astype(np.float32) - 1)
    stats = Statistics()
    run_string("Y = X / 1", inputs={"X": X}, outputs=["Y"], stats=stats)
    assert not stats.counts.get("/ in place") and not stats.counts.get("/")


def test_a_shared_matrix_stays_shared_after_a_call():
    script = """
f = function(matrix[double] A) return (matrix[double] A) { A = A * 2 }
B = X + 0
C = B
B = f(B)
"""
    out = run_string(script, inputs={"X": np.ones((3, 3))}, outputs=["B", "C"])
    assert_array_equal(out["C"], np.ones((3, 3)))
    assert_array_equal(out["B"], np.full((3, 3), 2.0))
