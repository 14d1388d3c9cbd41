"""Scoring a compiled model on a Spark DataFrame, partition by partition.

Every generated predict.dml is row-local (it runs the forward pass over batches of rows, and no
output row reads another input row), so the compiler hands it to the runtime's per-partition
path: the executors run it on their Arrow batches with the local runtime and the native
kernels, instead of as distributed block-matrix operations.

    scored = score_dataframe(compiled, df, ["features"], output_col="prediction")
"""
from __future__ import annotations

from dataclasses import dataclass

from kerasdml.runtime.spark.arrow_columns import (ArgmaxColumn, ArrayColumn, ImageColumn,
                                                  RowInputError,
                                                  VectorColumn, reader_for)
from kerasdml.runtime.spark.partition_map import REASON, map_rows
from kerasdml.runtime.spark.row_program import RowInput, RowOutput, RowProgram

from ..backend.names import identifier

DEFAULT_BATCH = 256


@dataclass(frozen=True)
class ScoringColumns:
    """Which DataFrame columns feed the model and which it adds."""
    inputs: tuple                   # one column per model input, in the model's order
    output: str = "prediction"
    probability: str | None = None  # classifiers only: the probabilities beside the class


def is_classifier(compiled) -> bool:
    """One output made by a softmax over several classes: it gets a class index."""
    if len(compiled.outputs) != 1 or compiled.outputs[0].columns < 2:
        return False
    node = compiled.graph.producer(compiled.outputs[0].name)
    return node.op == "activation" and getattr(node.attrs, "kind", None) == "softmax"


def row_program(compiled, batch_size: int = DEFAULT_BATCH, precision: str = "single",
                weights: dict | None = None) -> RowProgram:
    script, constants = compiled.bound_prediction(compiled.weights if weights is None else weights,
                                                 precision)
    return RowProgram(script, tuple(RowInput(t.variable, t.columns) for t in compiled.inputs),
                      tuple(RowOutput(t.variable, t.columns) for t in compiled.outputs),
                      constants=dict(constants), args={"batch_size": max(1, int(batch_size))},
                      precision=precision)


def readers(compiled, schema, columns: ScoringColumns) -> list:
    if len(columns.inputs) != len(compiled.inputs):
        raise RowInputError(f"the model has {len(compiled.inputs)} input(s) "
                            f"({', '.join(t.name for t in compiled.inputs)}); got "
                            f"{len(columns.inputs)} input column(s): {', '.join(columns.inputs)}")
    types = {f.name: f.dataType.simpleString() for f in schema.fields}
    made = []
    for spec, column in zip(compiled.inputs, columns.inputs):
        kind = reader_for(types.get(column, "array"))
        if kind is ImageColumn and len(spec.shape) != 3:
            raise RowInputError(f"column '{column}' holds images, but model input '{spec.name}' "
                                f"takes samples of shape {spec.shape}")
        made.append(ImageColumn(column, spec.variable, spec.shape) if kind is ImageColumn
                    else ArrayColumn(column, spec.variable, spec.columns))
    return made


def writers(compiled, columns: ScoringColumns) -> list:
    if is_classifier(compiled):
        out = compiled.outputs[0].variable
        made = [ArgmaxColumn(columns.output, out)]
        return made + ([VectorColumn(columns.probability, out)] if columns.probability else [])
    if columns.probability:
        raise RowInputError(f"probabilityCol '{columns.probability}' is set, but the model's "
                            "output is not a softmax over classes; leave it unset")
    if len(compiled.outputs) == 1:
        return [VectorColumn(columns.output, compiled.outputs[0].variable)]
    return [VectorColumn(f"{columns.output}_{identifier(t.name)}", t.variable)
            for t in compiled.outputs]


def score_dataframe(compiled, df, columns: ScoringColumns, *, batch_size: int = DEFAULT_BATCH,
                    precision: str = "single", weights: dict | None = None, keep=None,
                    explain=None):
    """df with the model's columns added (every column of df kept, or `keep`): a lazy
    DataFrame, batch or streaming."""
    made = readers(compiled, df.schema, columns)
    program = row_program(compiled, batch_size, precision, weights)
    if explain is not None:
        explain.write(explain_line(compiled, batch_size, precision))
    return map_rows(df, program, made, writers(compiled, columns), keep)


def explain_line(compiled, batch_size: int, precision: str) -> str:
    return (f"SCORING model '{compiled.name}': PARTITIONS (mapInArrow, {batch_size} rows per "
            f"forward pass, {precision} precision): predict.dml is generated, and {REASON}\n")



def predict_dataframe(compiled, data: list, batch_size, weights, scoring: str, run_options):
    """CompiledModel.predict's Spark DataFrame case: the model's outputs as numpy arrays in
    Keras' shapes, scored per partition; None when the block-matrix path is to run (the reason
    goes to the explain stream)."""
    explain = run_options.get("explain")
    reason = _blocks_reason(data, scoring)
    if reason is not None:
        _refuse_connect(data)
        if explain is not None:
            explain.write(f"SCORING model '{compiled.name}': BLOCKS (distributed block matrices):"
                          f" {reason}\n")
        return None
    df, batch_size = data[0], batch_size or DEFAULT_BATCH
    precision = run_options.get("precision", "double")
    if explain is not None:
        explain.write(explain_line(compiled, batch_size, precision))
    outputs = [VectorColumn(f"output_{i}", t.variable, double=precision == "double")
               for i, t in enumerate(compiled.outputs)]
    made = readers(compiled, df.schema, ScoringColumns((df.columns[0],)))
    scored = map_rows(df, row_program(compiled, batch_size, precision, weights), made, outputs,
                      keep=[])
    table = scored.toArrow()
    arrays = [spec.keras(_matrix(table.column(w.column), spec.columns))
              for spec, w in zip(compiled.outputs, outputs)]
    return arrays[0] if len(arrays) == 1 else arrays


def _refuse_connect(data: list) -> None:
    """Block matrices are RDDs: a Spark Connect DataFrame cannot become one."""
    from kerasdml.runtime.spark.session import CONNECT_UNSUPPORTED, SparkUnavailableError

    if any("connect" in type(x).__module__ for x in data):
        raise SparkUnavailableError(CONNECT_UNSUPPORTED)


def _blocks_reason(data: list, scoring: str) -> str | None:
    """Why the block-matrix path runs instead, or None when partitions do."""
    from kerasdml.runtime.api import is_spark_dataframe

    if scoring not in ("auto", "blocks"):
        raise ValueError(f"scoring must be 'auto' or 'blocks', got {scoring!r}")
    if scoring == "blocks":
        return "asked for with scoring='blocks'"
    if not all(is_spark_dataframe(x) for x in data):
        return "an input is not a Spark DataFrame"
    if len(data) != 1 or len(data[0].columns) != 1:
        return ("the per-partition path takes one DataFrame with one array or image column "
                "(use KerasDMLModel for several input columns)")
    kind = data[0].schema.fields[0].dataType.simpleString()
    if not kind.startswith(("array<", "struct<")):
        return f"the DataFrame's column is {kind}, not an array or image column"
    return None


def _matrix(column, width: int):
    import numpy as np
    import pyarrow.compute as pc

    return pc.list_flatten(column).to_numpy(zero_copy_only=False).reshape(-1, width).astype(
        np.float64)
