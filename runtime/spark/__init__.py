"""The Spark backend: distributed block matrices (matrix.py), their operations (registered in
registry.py, one module per family), remote parfor, and starting Spark for a run (session.py).

    from kerasdml.runtime.api import run_file
    from kerasdml.runtime.spark import spark_session
    results = run_file("score.dml", inputs={"X": X}, outputs=["P"], spark=spark_session("local[2]"))
"""
from .matrix import DistributedMatrix  # noqa: F401
from .session import SparkUnavailableError, make_planner, spark_session  # noqa: F401
