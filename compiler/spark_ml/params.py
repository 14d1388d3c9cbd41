"""The spark.ml Params that the scoring model and the estimator share."""
from __future__ import annotations

from pyspark.ml.param import Param, Params, TypeConverters

from .scoring import DEFAULT_BATCH


def _precision(value) -> str:
    value = TypeConverters.toString(value)
    if value not in ("single", "double"):
        raise ValueError(f"precision must be 'single' or 'double', got {value!r}")
    return value


def _optional_string(value):
    return None if value is None else TypeConverters.toString(value)


class ModelParams(Params):
    """model: a Keras model (.keras/.h5 path or keras.Model); where predictions go."""

    model = Param(Params._dummy(), "model",
                  "a Keras model: a .keras/.h5 file path or a keras.Model")
    outputCol = Param(Params._dummy(), "outputCol",
                      "output column: the class index for classifiers (a double), else the "
                      "model's output (array<float>)", typeConverter=TypeConverters.toString)
    probabilityCol = Param(Params._dummy(), "probabilityCol",
                           "classifiers: column for the class probabilities (array<float>); "
                           "unset for none", typeConverter=_optional_string)
    batchSize = Param(Params._dummy(), "batchSize", "rows per forward pass on the executors",
                      typeConverter=TypeConverters.toInt)
    precision = Param(Params._dummy(), "precision", "'single' (float32) or 'double'",
                      typeConverter=_precision)

    def __init__(self):
        super().__init__()
        self._setDefault(outputCol="prediction", probabilityCol=None, batchSize=DEFAULT_BATCH,
                         precision="single")

    def getModel(self):
        return self.getOrDefault(self.model)

    def getOutputCol(self) -> str:
        return self.getOrDefault(self.outputCol)

    def getProbabilityCol(self):
        return self.getOrDefault(self.probabilityCol)

    def getBatchSize(self) -> int:
        return self.getOrDefault(self.batchSize)

    def getPrecision(self) -> str:
        return self.getOrDefault(self.precision)

    def _set_given(self, kwargs: dict):
        return self._set(**{k: v for k, v in kwargs.items() if v is not None})
