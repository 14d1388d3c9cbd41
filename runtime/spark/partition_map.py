"""Runs a row-local DML program over a DataFrame partition by partition: the executors read
Arrow batches (DataFrame.mapInArrow), run the program on each with the local runtime and its
native kernels, and give back the batch's columns with the results added. Nothing but the
program travels from the driver, and nothing comes back to it: the result is a DataFrame (batch
or streaming) that any action or sink consumes. It uses DataFrame APIs only, so it also runs on
a Spark Connect session.

    scored = map_rows(df, program, readers=[ArrayColumn("features", "X", 784)],
                      writers=[VectorColumn("prediction", "Y")])
"""
from __future__ import annotations

from functools import partial

from .arrow_columns import RowInputError
from .row_program import RowProgram

REASON = ("the script is row-local (each output row depends on its own input row only), so "
          "each partition runs it with the local runtime on the executors")


def check_columns(schema, readers, writers, keep) -> None:
    """Everything the schema can tell, before any job: missing, mistyped and clashing columns,
    all in one message."""
    fields = {f.name: f for f in schema.fields}
    problems = []
    for reader in readers:
        if reader.column not in fields:
            problems.append(f"column '{reader.column}' is missing (expected {reader.expected}; "
                            f"the DataFrame has {', '.join(fields) or 'no columns'})")
        elif (problem := reader.check(fields[reader.column])) is not None:
            problems.append(problem)
    for name in keep:
        if name not in fields:
            problems.append(f"column '{name}' to keep is missing (the DataFrame has "
                            f"{', '.join(fields) or 'no columns'})")
    for writer in writers:
        if writer.column in keep:
            problems.append(f"output column '{writer.column}' already exists; choose another "
                            "name or drop it first")
    if problems:
        raise RowInputError("; ".join(problems))


def output_schema(schema, writers, keep):
    from pyspark.sql.types import StructType, _parse_datatype_string

    fields = {f.name: f for f in schema.fields}
    result = StructType([fields[name] for name in keep])
    for writer in writers:
        result = result.add(writer.column, _parse_datatype_string(writer.spark_type), True)
    return result


def map_rows(df, program: RowProgram, readers, writers, keep=None):
    """df with the program's results added as the writers' columns; `keep` (default: every
    column of df) are the input columns carried along."""
    keep = list(df.columns if keep is None else keep)
    check_columns(df.schema, readers, writers, keep)
    ship_to(df.sparkSession)
    run = partial(score_batches, program, tuple(readers), tuple(writers), tuple(keep))
    return df.mapInArrow(run, output_schema(df.schema, writers, keep))


def ship_to(session) -> None:
    """The executors import kerasdml from the zip the session was given: through the
    SparkContext on a classic session, as a Python artifact on a Spark Connect one."""
    from .session import package_zip, ship_project

    context = getattr(session, "_sc", None)
    if context is not None:
        ship_project(context)
    elif not getattr(session, "_kerasdml_shipped", False):
        session.addArtifacts(package_zip(), pyfile=True)
        session._kerasdml_shipped = True


def score_batches(program: RowProgram, readers, writers, keep, batches):
    """The executors' side: one Arrow batch in, one out, row positions counted per partition."""
    import pyarrow as pa

    partition, offset = _partition(), 0
    names = list(keep) + [w.column for w in writers]
    for batch in batches:
        if batch.num_rows == 0:
            continue
        rows = {r.variable: r.read(batch, offset, partition) for r in readers}
        results = program.run(rows)
        columns = [batch.column(name) for name in keep] + [w.write(results) for w in writers]
        yield pa.RecordBatch.from_arrays(columns, names=names)
        offset += batch.num_rows


def _partition() -> int | None:
    from pyspark import TaskContext

    context = TaskContext.get()
    return context.partitionId() if context is not None else None


def executor_error(error: BaseException) -> RowInputError | None:
    """The RowInputError an executor raised, from the exception a Spark action gave the driver
    (its message carries the Python traceback as text)."""
    text = str(error)
    marker = f"{RowInputError.__name__}: "
    if marker not in text:
        return None
    message = text[text.rindex(marker) + len(marker):].strip().splitlines()[0]
    return RowInputError(message)
