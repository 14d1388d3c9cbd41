"""SystemML's Keras2DML constructor, `Keras2DML(sparkSession, keras_model, input_shape=None, ...)`,
read into kerasdml's estimator parameters plus the settings only that form has.

    is_systemml_call(args, kwargs)      # a positional SparkSession (or None) first, or its names
    model, params, settings = systemml_call(*args, **kwargs)

Each argument keeps SystemML's meaning (see README.md, "Porting from SystemML"): input_shape is
channels-first (C, H, W) with rows of flattened C*H*W values; batch_size and max_iter count
examples per batch and batches; display, test_iter and test_interval are Caffe's solver fields;
weights is the folder of the trained weights; labels a file of "index,name" lines (1-based).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import CompileError

_SYSTEMML_NAMES = ("sparkSession", "keras_model")


@dataclass
class SystemMLSettings:
    """What only the SystemML form sets; `set(...)` and the set* methods change it later."""
    input_shape: tuple | None = None
    transfer_using_df: bool = False
    load_keras_weights: bool = True
    weights: str | None = None
    labels: str | None = None
    max_iter: int = 2000
    test_iter: int = 10
    test_interval: int = 500
    display: int = 100
    lr_policy: str = "step"
    weight_decay: float = 5e-4
    regularization_type: str = "L2"
    test_algo: str = "minibatch"
    validation_given: bool = False   # test_iter or test_interval passed to the constructor
    perform_one_hot_encoding: bool = True
    debug: bool = False


def is_spark_session(value) -> bool:
    """A SparkSession, told by its interface (pyspark is imported only when Spark runs)."""
    return hasattr(value, "sparkContext") and hasattr(value, "createDataFrame")


def is_systemml_call(args: tuple, kwargs: dict) -> bool:
    """SystemML's form: a SparkSession (or None) first, two positional arguments, or its
    argument names; kerasdml's own takes the model alone."""
    if any(name in kwargs for name in _SYSTEMML_NAMES) or len(args) >= 2:
        return True
    return bool(args) and (args[0] is None or is_spark_session(args[0]))


def systemml_call(sparkSession=None, keras_model=None, input_shape=None, transferUsingDF=False,
                  load_keras_weights=True, weights=None, labels=None, batch_size=64,
                  max_iter=2000, test_iter=None, test_interval=None, display=100,
                  lr_policy="step", weight_decay=5e-4, regularization_type="L2"):
    """(model, estimator parameters, SystemMLSettings) of SystemML's constructor arguments.
    test_iter and test_interval default to SystemML's 10 and 500 (None: not given)."""
    validation_given = test_iter is not None or test_interval is not None
    test_iter = SystemMLSettings.test_iter if test_iter is None else test_iter
    test_interval = SystemMLSettings.test_interval if test_interval is None else test_interval
    if keras_model is None:
        raise CompileError("Keras2DML(sparkSession, keras_model, ...): keras_model is missing")
    if sparkSession is not None and not is_spark_session(sparkSession):
        raise CompileError(f"Keras2DML's first argument is the SparkSession (or None), got "
                           f"{type(sparkSession).__name__}; for kerasdml's own form pass the "
                           "model first: Keras2DML(model, epochs=..., batch_size=...)")
    settings = SystemMLSettings(
        input_shape=_input_shape(input_shape), transfer_using_df=bool(transferUsingDF),
        load_keras_weights=bool(load_keras_weights), weights=weights,
        labels=_local_labels(labels, weights),
        max_iter=_count(max_iter, "max_iter", 1), test_iter=_count(test_iter, "test_iter", 0),
        test_interval=_count(test_interval, "test_interval", 0),
        display=_count(display, "display", 0), lr_policy=str(lr_policy).lower(),
        weight_decay=float(weight_decay), regularization_type=str(regularization_type),
        validation_given=validation_given)
    params = dict(spark=sparkSession, batch_size=_count(batch_size, "batch_size", 1),
                  weights_dir=weights)
    return keras_model, params, settings


def _local_labels(labels, weights) -> str | None:
    """A labels URL (the Keras2DML guide's ResNet-50 example gives one) is downloaded once, as
    SystemML's constructor did, to labels.txt in the weights folder (a temporary folder without
    weights=); its lines are checked then."""
    if labels is None or not str(labels).startswith(("http://", "https://")):
        return labels
    import tempfile
    from pathlib import Path

    from kerasdml.runtime.mlcontext import download_text

    from .data import read_labels
    text = download_text(labels, "labels", CompileError)
    folder = Path(weights) if weights else Path(tempfile.mkdtemp(prefix="kerasdml-labels-"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "labels.txt"
    path.write_text(text)
    read_labels(path)
    return str(path)


def _count(value, name: str, least: int) -> int:
    if isinstance(value, bool) or int(value) != value or value < least:
        raise CompileError(f"Keras2DML: {name} must be an integer >= {least}, got {value!r}")
    return int(value)


def _input_shape(shape) -> tuple | None:
    if shape is None:
        return None
    shape = tuple(int(v) for v in shape)
    if not 1 <= len(shape) <= 3 or min(shape) < 1:
        raise CompileError(f"Keras2DML: input_shape must be (channels, height, width) as "
                           f"SystemML took it, got {shape}")
    return shape + (1,) * (3 - len(shape))
