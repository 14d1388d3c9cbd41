"""What the parameter server sends a worker: only the model elements its `upd` reads, found by a
conservative analysis of the function's body."""
from __future__ import annotations

import numpy as np
import pytest

from kerasdml.runtime.functions import UserFunction
from kerasdml.runtime.lists import DMLList
from kerasdml.runtime.paramserv.model_reads import positions_read, trimmed
from kerasdml.runtime.parser import parse

HEAD = "upd = function(list[unknown] model, matrix[double] X) return (list[unknown] g) {\n"


def reads(body: str):
    definition = parse(HEAD + body + "\n}\n").functions[0]
    return positions_read(UserFunction(definition, module=None))


@pytest.mark.parametrize("body, expected", [
    ("W = as.matrix(model[1])\nb = as.matrix(model[3])\ng = list(W, b)", {1, 3}),
    ('W = as.matrix(model["W"])\nif (TRUE) { s = as.scalar(model[4]) }\ng = list(W)', {"W", 4}),
    ("g = list(X)", set()),
    ("g = model", None),                                   # used whole
    ("g = list(length(model))", None),                     # measured
    ("i = 2\ng = list(as.matrix(model[i]))", None),        # indexed by a variable
    ("g = model[1:2]", None),                              # a range
    ("model = list(X)\ng = list(as.matrix(model[1]))", None),   # rebound
    ("g = f(model)", None),                                # passed on
])
def test_positions_read(body, expected):
    found = reads(body)
    assert (found if found is None else set(found)) == expected


def test_trimmed_empties_what_is_not_read_and_keeps_positions_and_names():
    model = DMLList([np.ones((3, 2), np.float32), np.ones((3, 2), np.float32), 5.0,
                     np.ones((1, 2))], [None, "velocity", None, "b"])
    sent = trimmed(model, frozenset({1, "b"}))
    assert [v.shape if isinstance(v, np.ndarray) else v for v in sent] == [(3, 2), (0, 0), 5.0, (1, 2)]
    assert sent[1].dtype == np.float32 and sent.names == model.names
    assert trimmed(model, None) is model
