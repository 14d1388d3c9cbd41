"""Saving and loading the spark.ml stages with spark.ml's writers and readers:

    path/metadata/     spark.ml's metadata (class, uid, params), written by DefaultParamsWriter
    path/model/        the Keras model file the stage scores with (.keras or .h5)
    path/dml/          predict.dml, train.dml, weights.h5, summary.txt (kerasdml compile's output)

so a PipelineModel holding a KerasDMLModel saves and loads like any other, and the saved folder
also holds the DML a SystemDS user can run. Paths are local folders (the model file and the
scripts are written with Python's file APIs); overwrite() replaces a folder only after the new
one is complete.
"""
from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path

from pyspark.ml.util import DefaultParamsReader, DefaultParamsWriter, MLReader, MLWriter

from kerasdml.runtime.atomic import atomic_folder

from ..model_folder import write_model

MODEL_FOLDER, DML_FOLDER = "model", "dml"


def save_keras_model(model, folder: Path) -> Path:
    """The model's file in `folder`: a copy of the given file, or a keras.Model saved there."""
    folder.mkdir(parents=True, exist_ok=True)
    if isinstance(model, (str, os.PathLike)):
        source = Path(model)
        suffix = ".keras" if zipfile.is_zipfile(source) else ".h5"
        target = folder / f"model{suffix}"
        shutil.copyfile(source, target)
        return target
    target = folder / "model.keras"
    model.save(target)
    return target


class StageWriter(MLWriter):
    """Writes a stage with a Keras model into a fresh folder, then moves it into place."""

    def __init__(self, instance):
        super().__init__()
        self.instance = instance

    def save(self, path: str) -> None:
        target = Path(path).absolute()
        if target.exists() and not self.shouldOverwrite:
            raise FileExistsError(f"{target} already exists; use write().overwrite().save(path)")
        with atomic_folder(target) as temporary:
            self.saveImpl(temporary)

    def saveImpl(self, path: str) -> None:
        folder = Path(path)
        model_file = save_keras_model(self.instance.getModel(), folder / MODEL_FOLDER)
        write_model(self.instance.compiled(), str(folder / DML_FOLDER))
        params = {p.name: v for p, v in self.instance._paramMap.items() if p.name != "model"}
        DefaultParamsWriter.saveMetadata(self.instance, path, self.sparkSession,
                                         extraMetadata={"modelFile": str(model_file.relative_to(
                                             folder))}, paramMap=params)


class StageReader(MLReader):
    def __init__(self, cls):
        super().__init__()
        self.cls = cls

    def load(self, path: str):
        metadata = DefaultParamsReader.loadMetadata(path, self.sparkSession)
        instance = self.cls()
        instance._resetUid(metadata["uid"])
        DefaultParamsReader.getAndSetParams(instance, metadata)
        instance._set(model=str(Path(path).absolute() / metadata["modelFile"]))
        return instance


KerasDMLModelWriter = KerasDMLEstimatorWriter = StageWriter
KerasDMLModelReader = KerasDMLEstimatorReader = StageReader
