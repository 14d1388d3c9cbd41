"""KerasDMLEstimator: training a Keras model in DML as a spark.ml Estimator.

    estimator = KerasDMLEstimator(model="lenet.keras", featuresCol="features", labelCol="label",
                                  epochs=2, batchSize=100)
    scorer = estimator.fit(df)          # a KerasDMLModel holding the trained model
    scorer.transform(test_df)

How fit reaches the rows is one entry of TRAINERS, chosen with trainer=: "executors" (the
default) turns the features and label columns into distributed matrices on the executors and
trains on them with Keras2DML's fit(df), so the rows never reach the driver; "driver" collects
them into numpy first (the data must fit the driver).
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Callable

import numpy as np
from pyspark import keyword_only
from pyspark.ml import Estimator
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.util import MLReadable, MLWritable

from .model import KerasDMLModel
from .params import ModelParams

# name -> function(estimator, dataset, folder) -> path of the trained model's .keras file
TRAINERS: dict[str, Callable] = {}


def trainer(name: str):
    def register(train: Callable) -> Callable:
        if name in TRAINERS:
            raise ValueError(f"a trainer named {name!r} is already registered")
        TRAINERS[name] = train
        return train
    return register


class KerasDMLEstimator(Estimator, ModelParams, MLReadable, MLWritable):
    """batchSize is the training batch here (default 32); the fitted KerasDMLModel scores with
    its own default."""

    featuresCol = Param(Params._dummy(), "featuresCol", "features column (flattened samples)",
                        typeConverter=TypeConverters.toString)
    labelCol = Param(Params._dummy(), "labelCol", "label column: class index or target array",
                     typeConverter=TypeConverters.toString)
    epochs = Param(Params._dummy(), "epochs", "passes over the data", TypeConverters.toInt)
    trainAlgo = Param(Params._dummy(), "trainAlgo", "paramserv, minibatch or looped_minibatch "
                      "(trainer executors); batch and allreduce_parallel_batches too with "
                      "trainer driver", TypeConverters.toString)
    seed = Param(Params._dummy(), "seed", "shuffling seed", TypeConverters.toInt)
    trainer = Param(Params._dummy(), "trainer", "how fit reaches the rows: one of TRAINERS",
                    TypeConverters.toString)

    @keyword_only
    def __init__(self, *, model=None, featuresCol=None, labelCol=None, epochs=None,
                 trainAlgo=None, seed=None, trainer=None, outputCol=None,
                 probabilityCol=None, batchSize=None, precision=None):
        super().__init__()
        self._setDefault(featuresCol="features", labelCol="label", epochs=1, batchSize=32,
                         trainAlgo="minibatch", trainer="executors")
        self._set_given(self._input_kwargs)

    @keyword_only
    def setParams(self, *, model=None, featuresCol=None, labelCol=None, epochs=None,
                  trainAlgo=None, seed=None, trainer=None, outputCol=None,
                  probabilityCol=None, batchSize=None, precision=None):
        return self._set_given(self._input_kwargs)

    def compiled(self):
        """The untrained model compiled (what save() writes beside the metadata)."""
        return KerasDMLModel(model=self.getModel()).compiled()

    def _fit(self, dataset) -> KerasDMLModel:
        name = self.getOrDefault(self.trainer)
        if name not in TRAINERS:
            raise ValueError(f"trainer must be one of {', '.join(TRAINERS)}, got {name!r}")
        folder = tempfile.TemporaryDirectory(prefix="kerasdml-fit-")
        trained = TRAINERS[name](self, dataset, Path(folder.name))
        scorer = KerasDMLModel(model=str(trained), inputCols=[self.getOrDefault(self.featuresCol)],
                               outputCol=self.getOutputCol(), probabilityCol=self.getProbabilityCol(),
                               precision=self.getPrecision())
        scorer._trained_folder = folder  # the model file lives as long as the scorer
        return scorer

    def write(self):
        from .persistence import KerasDMLEstimatorWriter
        return KerasDMLEstimatorWriter(self)

    @classmethod
    def read(cls):
        from .persistence import KerasDMLEstimatorReader
        return KerasDMLEstimatorReader(cls)


def _learner(estimator: KerasDMLEstimator, **options):
    from ..estimator import Keras2DML

    get = estimator.getOrDefault
    return Keras2DML(estimator.getModel(), epochs=get(estimator.epochs),
                     batch_size=estimator.getBatchSize(), train_algo=get(estimator.trainAlgo),
                     seed=get(estimator.seed) if estimator.isDefined(estimator.seed) else None,
                     precision=estimator.getPrecision(), verbose=0,
                     features_col=get(estimator.featuresCol), label_col=get(estimator.labelCol),
                     **options)


@trainer("executors")
def train_on_executors(estimator: KerasDMLEstimator, dataset, folder: Path) -> Path:
    """Keras2DML.fit(dataset): the rows become distributed matrices on the executors."""
    learner = _learner(estimator, spark=dataset.sparkSession)
    learner.fit(dataset)
    return learner.export(folder / "trained.keras")


@trainer("driver")
def train_on_driver(estimator: KerasDMLEstimator, dataset, folder: Path) -> Path:
    """Collects features and labels (as Arrow, checked like scoring's input) and trains with
    Keras2DML in this process."""
    from kerasdml.runtime.spark.arrow_columns import ArrayColumn

    get = estimator.getOrDefault
    learner = _learner(estimator)
    spec = learner._compiled().inputs[0]
    features_col, label_col = get(estimator.featuresCol), get(estimator.labelCol)
    table = dataset.select(features_col, label_col).toArrow().combine_chunks()
    batch = table.to_batches()[0] if table.num_rows else None
    if batch is None:
        raise ValueError("cannot fit on an empty DataFrame")
    X = ArrayColumn(features_col, spec.variable, spec.columns).read(batch)
    y = _labels(batch.column(label_col))
    learner.fit(X.reshape(len(X), *spec.shape), y)
    return learner.export(folder / "trained.keras")


def _labels(column) -> np.ndarray:
    """Class indices (a number column) or targets (an array column) as numpy."""
    import pyarrow.compute as pc

    if hasattr(column, "flatten") and column.type.num_fields == 1:
        return pc.list_flatten(column).to_numpy(zero_copy_only=False).reshape(len(column), -1)
    return column.to_numpy(zero_copy_only=False)
