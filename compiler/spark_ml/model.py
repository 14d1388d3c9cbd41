"""KerasDMLModel: a compiled Keras model as a spark.ml Transformer.

    scorer = KerasDMLModel(model="lenet.keras", inputCols=["features"], outputCol="prediction",
                           probabilityCol="probability")
    scorer.transform(df)     # df and its columns, plus the class index and the probabilities

The forward pass runs per partition on the executors (see scoring.py): transform is lazy, works
on batch and streaming DataFrames, uses DataFrame APIs only (Spark Connect too), and the driver
never holds the rows. Images come as flat arrays (Keras' (h, w, c) order) or image-schema rows.
"""
from __future__ import annotations

from pyspark import keyword_only
from pyspark.ml import Transformer
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.util import MLReadable, MLWritable

from .params import ModelParams
from .scoring import ScoringColumns, score_dataframe


class KerasDMLModel(Transformer, ModelParams, MLReadable, MLWritable):
    inputCols = Param(Params._dummy(), "inputCols",
                      "one column per model input, in the model's order (default ['features'])",
                      typeConverter=TypeConverters.toListString)

    @keyword_only
    def __init__(self, *, model=None, inputCols=None, outputCol=None, probabilityCol=None,
                 batchSize=None, precision=None):
        super().__init__()
        self._setDefault(inputCols=["features"])
        self._set_given(self._input_kwargs)
        self._compiled_cache = (None, None)

    @keyword_only
    def setParams(self, *, model=None, inputCols=None, outputCol=None, probabilityCol=None,
                  batchSize=None, precision=None):
        return self._set_given(self._input_kwargs)

    def setModel(self, value):
        return self._set(model=value)

    def setInputCols(self, value):
        return self._set(inputCols=value)

    def setOutputCol(self, value):
        return self._set(outputCol=value)

    def setProbabilityCol(self, value):
        return self._set(probabilityCol=value)

    def setBatchSize(self, value):
        return self._set(batchSize=value)

    def setPrecision(self, value):
        return self._set(precision=value)

    def getInputCols(self) -> list:
        return self.getOrDefault(self.inputCols)

    def compiled(self):
        """The compiled model, compiled once per model value."""
        from kerasdml.compiler.errors import CompileError

        if not self.isDefined(self.model):
            raise CompileError("KerasDMLModel has no model: set model= to a .keras/.h5 path or "
                               "a keras.Model")
        source = self.getModel()
        key, compiled = self._compiled_cache
        if compiled is None or key is not source:
            from kerasdml.compiler.compile import compile_model

            compiled = compile_model(source)
            self._compiled_cache = (source, compiled)
        return compiled

    def columns(self) -> ScoringColumns:
        return ScoringColumns(tuple(self.getInputCols()), self.getOutputCol(),
                              self.getProbabilityCol())

    def _transform(self, dataset):
        return score_dataframe(self.compiled(), dataset, self.columns(),
                               batch_size=self.getBatchSize(), precision=self.getPrecision())

    # --- persistence: the Keras file, the DML scripts and weights inside the saved folder ---

    def write(self):
        from .persistence import KerasDMLModelWriter
        return KerasDMLModelWriter(self)

    @classmethod
    def read(cls):
        from .persistence import KerasDMLModelReader
        return KerasDMLModelReader(cls)
