"""Between Arrow columns and the rows a DML script takes: readers turn a column of an Arrow batch
into an N x width float matrix (checking every row), writers turn a script's result into a
column. Each also says what Spark type it takes or gives, so a DataFrame's schema is checked
before any job runs; what only the rows can tell (a length, a null) is found on the executors
and reported with the row's position.

Readers: ArrayColumn (array<number> of one flattened sample per row) and ImageColumn (Spark's
image schema: struct<origin, height, width, nChannels, mode, data>, pixels in BGR(A) order,
given to the model as RGB(A)). Writers: VectorColumn (array<float>, or array<double>) and ArgmaxColumn (the
index of the largest value, a double as spark.ml's `prediction`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_NUMERIC = ("float", "double", "int", "bigint", "smallint", "tinyint")


class RowInputError(ValueError):
    """A DataFrame column that does not hold what the script takes, with where."""


def _where(column: str, rows, offset: int, partition: int | None) -> str:
    first = int(rows[0]) + offset
    count = f" (and {len(rows) - 1} more)" if len(rows) > 1 else ""
    place = f" of partition {partition}" if partition is not None else ""
    return f"column '{column}', row {first}{place}{count}"


@dataclass(frozen=True)
class ArrayColumn:
    column: str
    variable: str
    width: int

    @property
    def expected(self) -> str:
        return f"array<float> (or another number type) of {self.width} values per row"

    def check(self, field) -> str | None:
        name = field.dataType.simpleString()
        if not (name.startswith("array<") and name[6:-1] in _NUMERIC):
            return f"column '{self.column}' is {name}; expected {self.expected}"
        return None

    def read(self, batch, offset: int = 0, partition: int | None = None) -> np.ndarray:
        import pyarrow.compute as pc

        array = batch.column(self.column)
        _refuse(array, self.column, offset, partition, "is null")
        lengths = pc.list_value_length(array).to_numpy(zero_copy_only=False)
        wrong = np.flatnonzero(lengths != self.width)
        if len(wrong):
            raise RowInputError(f"{_where(self.column, wrong, offset, partition)} has "
                                f"{lengths[wrong[0]]} values; expected {self.width}")
        values = pc.list_flatten(array)
        if values.null_count:
            rows = np.flatnonzero(values.is_null().to_numpy(zero_copy_only=False)) // self.width
            raise RowInputError(f"{_where(self.column, rows, offset, partition)} holds a null "
                                "value")
        return values.to_numpy(zero_copy_only=False).reshape(len(array), self.width)


@dataclass(frozen=True)
class ImageColumn:
    column: str
    variable: str
    shape: tuple   # (height, width, channels), Keras' image shape

    @property
    def expected(self) -> str:
        return (f"an image-schema struct (height, width, nChannels, data) of "
                f"{'x'.join(map(str, self.shape))} images")

    def check(self, field) -> str | None:
        names = set(getattr(field.dataType, "names", None) or ())
        if not {"height", "width", "nChannels", "data"} <= names:
            return (f"column '{self.column}' is {field.dataType.simpleString()}; expected "
                    f"{self.expected}")
        return None

    def read(self, batch, offset: int = 0, partition: int | None = None) -> np.ndarray:
        array = batch.column(self.column)
        _refuse(array, self.column, offset, partition, "is null")
        height, width, channels = self.shape
        for name, want in (("height", height), ("width", width), ("nChannels", channels)):
            got = array.field(name).to_numpy(zero_copy_only=False)
            wrong = np.flatnonzero(got != want)
            if len(wrong):
                raise RowInputError(f"{_where(self.column, wrong, offset, partition)} has "
                                    f"{name} {got[wrong[0]]}; expected {want}")
        data = array.field("data")
        _refuse(data, self.column, offset, partition, "has no pixel data")
        pixels = np.frombuffer(b"".join(data.to_pylist()), dtype=np.uint8)
        if pixels.size != len(array) * height * width * channels:
            raise RowInputError(f"column '{self.column}': pixel data of {pixels.size} bytes for "
                                f"{len(array)} images of {height}x{width}x{channels}")
        images = pixels.reshape(len(array), height, width, channels)
        if channels in (3, 4):  # the image schema stores BGR(A); Keras models take RGB(A)
            images = images[..., [2, 1, 0, 3][:channels]]
        return images.reshape(len(array), -1).astype(np.float64)


def _refuse(array, column: str, offset: int, partition, problem: str) -> None:
    """Null rows of an Arrow array are an error naming the first of them."""
    if array.null_count:
        rows = np.flatnonzero(array.is_null().to_numpy(zero_copy_only=False))
        raise RowInputError(f"{_where(column, rows, offset, partition)} {problem}")


@dataclass(frozen=True)
class VectorColumn:
    column: str
    variable: str
    double: bool = False   # array<double> instead of array<float>

    @property
    def spark_type(self) -> str:
        return "array<double>" if self.double else "array<float>"

    def write(self, results: dict):
        import pyarrow as pa

        dtype = np.float64 if self.double else np.float32
        values = np.ascontiguousarray(results[self.variable], dtype=dtype)
        rows, width = values.shape
        offsets = pa.array(np.arange(rows + 1, dtype=np.int32) * width)
        return pa.ListArray.from_arrays(offsets, pa.array(values.reshape(-1)))


@dataclass(frozen=True)
class ArgmaxColumn:
    column: str
    variable: str

    spark_type = "double"

    def write(self, results: dict):
        import pyarrow as pa

        return pa.array(np.argmax(results[self.variable], axis=1).astype(np.float64))


def reader_for(field_type_name: str):
    """The reader class for a column of this Spark type: a struct is an image."""
    return ImageColumn if field_type_name.startswith("struct<") else ArrayColumn
