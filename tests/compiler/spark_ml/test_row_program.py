"""The pieces of per-partition scoring that need no Spark: a row-local program run on slices of
rows, its trip through pickle, and the Arrow readers' checks."""
from __future__ import annotations

import pickle

import numpy as np
import pytest

from support.scoring_data import rows

pa = pytest.importorskip("pyarrow")

from kerasdml.runtime.spark.arrow_columns import (ArgmaxColumn, ArrayColumn,  # noqa: E402
                                                  ImageColumn, RowInputError, VectorColumn)
from kerasdml.runtime.spark.row_program import RowInput, RowOutput, RowProgram  # noqa: E402

SCRIPT = "Y = X %*% W + 1"


def _program(**changes) -> RowProgram:
    weights = {"W": np.arange(6, dtype=np.float64).reshape(3, 2)}
    return RowProgram(SCRIPT, (RowInput("X", 3),), (RowOutput("Y", 2),),
                      constants=changes.pop("constants", weights), **changes)


def test_a_row_program_gives_what_the_script_computes():
    x = rows(5, 3)
    expected = x.astype(np.float64) @ np.arange(6).reshape(3, 2) + 1
    np.testing.assert_allclose(_program().run({"X": x})["Y"], expected)


def test_slices_of_the_rows_give_the_rows_of_the_whole():
    x = rows(9, 3)
    program = _program(precision="single")
    whole = program.run({"X": x})["Y"]
    parts = np.vstack([program.run({"X": x[:4]})["Y"], program.run({"X": x[4:]})["Y"]])
    assert whole.dtype == np.float32
    np.testing.assert_array_equal(whole, parts)


def test_a_program_survives_pickling_with_its_digest_and_constants():
    program = _program()
    copy = pickle.loads(pickle.dumps(program))
    assert copy.digest == program.digest
    assert isinstance(copy.constants, bytes)  # unpacked only when an executor first runs it
    x = rows(4, 3)
    np.testing.assert_array_equal(copy.run({"X": x})["Y"], program.run({"X": x})["Y"])


def test_other_constants_make_another_digest():
    other = _program(constants={"W": np.ones((3, 2))})
    assert other.digest != _program().digest
    assert not np.array_equal(other.run({"X": rows(2, 3)})["Y"], _program().run({"X": rows(2, 3)})["Y"])


def _batch(values, type_=pa.list_(pa.float32())):
    return pa.RecordBatch.from_arrays([pa.array(values, type=type_)], names=["f"])


@pytest.mark.parametrize("values, message", [
    ([[1, 2, 3], [1, 2], [1, 2, 3]], "column 'f', row 11 of partition 2 has 2 values; expected 3"),
    ([[1, 2, 3], None, None], "column 'f', row 11 of partition 2 (and 1 more) is null"),
    ([[1, 2, 3], [1, None, 3], [1, 2, 3]], "column 'f', row 11 of partition 2 holds a null"),
], ids=["wrong-length", "null-row", "null-value"])
def test_a_bad_row_is_named_with_its_position(values, message):
    with pytest.raises(RowInputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ArrayColumn("f", "X", 3).read(_batch(values), offset=10, partition=2)


def test_array_rows_of_any_number_type_become_a_matrix():
    batch = _batch([[1, 2], [3, 4]], pa.list_(pa.int32()))
    np.testing.assert_array_equal(ArrayColumn("f", "X", 2).read(batch), [[1, 2], [3, 4]])


def test_image_rows_become_rgb_pixels_in_keras_order():
    bgr = np.arange(2 * 3 * 2 * 3, dtype=np.uint8).reshape(2, 3, 2, 3)
    struct = pa.array([{"origin": "", "height": 3, "width": 2, "nChannels": 3, "mode": 16,
                        "data": image.tobytes()} for image in bgr])
    batch = pa.RecordBatch.from_arrays([struct], names=["image"])
    read = ImageColumn("image", "X", (3, 2, 3)).read(batch)
    np.testing.assert_array_equal(read, bgr[..., ::-1].reshape(2, -1))


def test_an_image_of_another_size_is_refused():
    struct = pa.array([{"origin": "", "height": 2, "width": 2, "nChannels": 3, "mode": 16,
                        "data": bytes(12)}])
    batch = pa.RecordBatch.from_arrays([struct], names=["image"])
    with pytest.raises(RowInputError, match="column 'image', row 0 has height 2; expected 3"):
        ImageColumn("image", "X", (3, 2, 3)).read(batch)


def test_writers_give_arrays_and_class_indices():
    results = {"Y": np.array([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2]])}
    assert VectorColumn("p", "Y").write(results).to_pylist()[1] == pytest.approx([0.5, 0.3, 0.2])
    assert VectorColumn("p", "Y").write(results).type == pa.list_(pa.float32())
    assert ArgmaxColumn("c", "Y").write(results).to_pylist() == [1.0, 0.0]
