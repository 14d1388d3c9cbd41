"""`kerasdml predict MODEL --input data.parquet --output out.parquet --master ...`: the
executors read the parquet rows, score them per partition and write the result; the driver only
plans. The output appears complete or not at all: Spark writes into a hidden folder beside it,
which replaces the output once the job has succeeded (local paths; other file systems rely on
Spark's commit protocol and its _SUCCESS marker)."""
from __future__ import annotations

import os
import shutil
import uuid
from urllib.parse import urlparse

from kerasdml.runtime.spark.arrow_columns import RowInputError
from kerasdml.runtime.spark.partition_map import executor_error

from .scoring import ScoringColumns, score_dataframe


def score_parquet(compiled, spark, source: str, target: str, input_cols, keep_cols=None,
                  output_col="prediction", probability_col=None, batch_size=256,
                  precision="single", explain=None) -> None:
    df = spark.read.parquet(source)
    keep = list(df.columns) if keep_cols is None else list(keep_cols)
    scored = score_dataframe(compiled, df, ScoringColumns(tuple(input_cols), output_col,
                                                          probability_col),
                             batch_size=batch_size, precision=precision, keep=keep,
                             explain=explain)
    _write_whole(scored, target)


def _local(path: str) -> str | None:
    parsed = urlparse(path)
    if parsed.scheme in ("", "file"):
        return os.path.abspath(parsed.path if parsed.scheme else path)
    return None


def _write_whole(scored, target: str) -> None:
    local = _local(target)
    if local is None:
        _run(lambda: scored.write.mode("overwrite").parquet(target))
        return
    parent = os.path.dirname(local)
    os.makedirs(parent, exist_ok=True)
    temp = os.path.join(parent, f".{os.path.basename(local)}.{uuid.uuid4().hex[:8]}.partial")
    try:
        _run(lambda: scored.write.parquet(temp))
        if os.path.isdir(local):
            shutil.rmtree(local)
        elif os.path.exists(local):
            os.remove(local)
        os.replace(temp, local)
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def _run(action) -> None:
    """A bad row found by an executor becomes its own one-line error on the driver."""
    try:
        action()
    except RowInputError:
        raise
    except Exception as error:
        found = executor_error(error)
        if found is None:
            raise
        raise found from None
