"""kerasdml as spark.ml stages: KerasDMLModel (a Transformer scoring a Keras model per
partition on the executors) and KerasDMLEstimator (fit trains and returns a KerasDMLModel);
both work in a Pipeline and save/load with spark.ml's writers. Needs pyspark (and pyarrow)."""
from .estimator import KerasDMLEstimator, TRAINERS  # noqa: F401
from .model import KerasDMLModel  # noqa: F401

__all__ = ["KerasDMLModel", "KerasDMLEstimator", "TRAINERS"]
