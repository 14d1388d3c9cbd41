"""The compiler's subcommands of the `kerasdml` command line, registered into the runtime's
COMMANDS table (the runtime knows nothing about Keras):

    kerasdml compile MODEL -o OUTDIR [--loss NAME] [--optimizer NAME]
    kerasdml inspect MODEL [--script predict|train]
    kerasdml predict MODEL --input X.npy|X.csv --output Y.npy|Y.csv [--batch-size N] [--master URL]
    kerasdml fit MODEL --data train.npz -o trained.keras [--epochs N] [--batch-size N] ...
    kerasdml score MODEL --data test.npz
    kerasdml demo [-o mnist_lenet.keras] [--epochs N]
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

from kerasdml.runtime import cli as runtime_cli
from kerasdml.runtime.cli import add_spark_arguments, command, spark_options

from .errors import CompileError


def _model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="a Keras model file (.keras or .h5)")
    parser.add_argument("--loss", help="training loss when the model has no compile config "
                        "(e.g. categorical_crossentropy)")
    parser.add_argument("--optimizer", help="training optimizer (default: the model's, else "
                        "rmsprop, as keras.Model.compile)")


def _compile(options):
    from .compile import compile_model
    return compile_model(options.model, loss=options.loss, optimizer=options.optimizer)


def _reported(run):
    """Compile errors and bad data files are the user's to fix: one message, exit status 1."""
    def wrapper(options) -> int:
        try:
            return run(options)
        except (CompileError, DataFileError) as error:
            print(f"kerasdml {options.command}: error: {error}", file=sys.stderr)
            return 1
    return wrapper


# ---- compile --------------------------------------------------------------------------------

def _compile_arguments(parser):
    _model_arguments(parser)
    parser.add_argument("-o", "--output", dest="outdir", required=True,
                        help="folder for predict.dml, train.dml, weights.h5, summary.txt")


@command("compile", "compile a Keras model into DML scripts and a weights file",
         _compile_arguments)
@_reported
def compile_command(options) -> int:
    from .output import write_model
    print(write_model(_compile(options), options.outdir).rstrip(), "to", options.outdir)
    return 0


# ---- inspect --------------------------------------------------------------------------------

def _inspect_arguments(parser):
    _model_arguments(parser)
    parser.add_argument("--script", choices=["predict", "train"],
                        help="print the generated script instead of the layer table")


@command("inspect", "show how a Keras model compiles: its layers, or a generated script",
         _inspect_arguments)
@_reported
def inspect_command(options) -> int:
    if options.script:
        model = _compile(options)
        sys.stdout.write(model.script(options.script))
        return 0
    from .layer_table import format_table, layer_rows
    rows = layer_rows(options.model)
    print(format_table(rows))
    return 0 if all(r.status == "yes" for r in rows) else 1


# ---- predict --------------------------------------------------------------------------------

class DataFileError(Exception):
    """An input or output file of `kerasdml predict` that cannot be used."""


def _predict_arguments(parser):
    _model_arguments(parser)
    parser.add_argument("--input", action="append", required=True, metavar="X.npy|X.csv",
                        help="samples in Keras' shape (.npy) or one flattened sample per line "
                        "(.csv); once per model input")
    parser.add_argument("--output", action="append", required=True, metavar="Y.npy|Y.csv",
                        help="where to write model.predict's result; once per model output")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="rows per forward pass (default 256; with --master all rows, one "
                        "distributed pass)")
    add_spark_arguments(parser)


@command("predict", "compile a Keras model and run its prediction (locally, or on Spark with "
         "--master)",
         _predict_arguments)
@_reported
def predict_command(options) -> int:
    model = _compile(options)
    if len(options.input) != len(model.inputs) or len(options.output) != len(model.outputs):
        raise DataFileError(f"the model has {len(model.inputs)} input(s) and "
                            f"{len(model.outputs)} output(s); give --input and --output once "
                            "for each, in the model's order")
    data = [read_samples(path, spec.shape) for path, spec in zip(options.input, model.inputs)]
    results = model.predict(data, batch_size=options.batch_size, **spark_options(options))
    results = results if isinstance(results, list) else [results]
    for path, result in zip(options.output, results):
        write_samples(path, result)
    return 0


def read_samples(path: str, shape: tuple) -> np.ndarray:
    """(N, *shape) samples from .npy (any shape with N rows) or .csv (one flattened row each)."""
    try:
        if path.endswith(".npy"):
            array = np.load(path, allow_pickle=False)
        elif path.endswith(".csv"):
            array = np.loadtxt(path, delimiter=",", ndmin=2)
        else:
            raise DataFileError(f"{path}: expected a .npy or .csv file")
    except (OSError, ValueError) as error:
        raise DataFileError(f"{path}: cannot read samples: {error}") from None
    width = int(np.prod(shape))
    if array.ndim == 0 or array.size % width or (array.ndim > 1 and
                                                  np.prod(array.shape[1:]) != width):
        raise DataFileError(f"{path}: samples of shape {tuple(array.shape)} do not fit the "
                            f"model's input shape {shape}")
    return array.reshape(-1, *shape)


def write_samples(path: str, result: np.ndarray) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    temp = os.path.join(directory, f".{os.path.basename(path)}.tmp")
    try:
        if path.endswith(".npy"):
            with open(temp, "wb") as handle:
                np.save(handle, result)
        elif path.endswith(".csv"):
            np.savetxt(temp, result.reshape(len(result), -1), delimiter=",", fmt="%.17g")
        else:
            raise DataFileError(f"{path}: expected a .npy or .csv file name")
        os.replace(temp, path)
    except OSError as error:
        raise DataFileError(f"{path}: cannot write: {error.strerror or error}") from None
    finally:
        if os.path.exists(temp):
            os.remove(temp)


# ---- fit / score ----------------------------------------------------------------------------

_DATA_KEYS = (("x_train", "y_train"), ("x_test", "y_test"), ("x", "y"), ("X", "y"))


def read_dataset(path: str, prefer: str) -> tuple:
    """(features, labels) of an .npz: x_train/y_train or x_test/y_test (as `prefer` says),
    else x/y or X/y."""
    try:
        with np.load(path, allow_pickle=False) as data:
            order = sorted(_DATA_KEYS, key=lambda keys: keys[0] != f"x_{prefer}")
            for x_key, y_key in order:
                if x_key in data and y_key in data:
                    return data[x_key], data[y_key]
            found = ", ".join(data.files)
    except (OSError, ValueError) as error:
        raise DataFileError(f"{path}: cannot read an .npz archive: {error}") from None
    raise DataFileError(f"{path}: expected arrays x_{prefer} and y_{prefer} (or x and y); "
                        f"found {found or 'none'}")


def _scaled(x: np.ndarray, scale: float | None) -> np.ndarray:
    return x / scale if scale else x


def _fit_arguments(parser):
    _model_arguments(parser)
    parser.add_argument("--data", required=True, help=".npz with x_train, y_train (or x, y)")
    parser.add_argument("-o", "--output", required=True, help="the trained model (.keras)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, help="overrides the model's")
    parser.add_argument("--train-algo", default="minibatch",
                        choices=["minibatch", "batch", "looped_minibatch",
                                 "allreduce_parallel_batches"])
    parser.add_argument("--parallel-batches", type=int, default=4)
    parser.add_argument("--validation-split", type=float, default=0.0)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--no-shuffle", dest="shuffle", action="store_false")
    parser.add_argument("--scale", type=float, help="divide the features by this (255 for "
                        "uint8 images)")
    parser.add_argument("--weights-dir", help="write a checkpoint here after every epoch")
    parser.add_argument("--resume", action="store_true", help="continue from --weights-dir")
    parser.add_argument("--precision", choices=["double", "single"], default="double")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    add_spark_arguments(parser)


@command("fit", "train a Keras model with generated DML and write the trained .keras file",
         _fit_arguments)
@_reported
def fit_command(options) -> int:
    from .estimator import Keras2DML
    x, y = read_dataset(options.data, "train")
    estimator = Keras2DML(
        options.model, epochs=options.epochs, batch_size=options.batch_size,
        train_algo=options.train_algo, parallel_batches=options.parallel_batches,
        shuffle=options.shuffle, validation_split=options.validation_split, seed=options.seed,
        verbose=0 if options.quiet else 1, weights_dir=options.weights_dir,
        precision=options.precision, loss=options.loss, optimizer=options.optimizer,
        learning_rate=options.learning_rate, spark=spark_options(options).get("spark"))
    estimator.fit(_scaled(x, options.scale), y, resume=options.resume)
    estimator.export(options.output)
    final = ", ".join(f"{name} {values[-1]:.4f}" for name, values in estimator.history_.items())
    print(f"trained {estimator.epochs_} epoch(s): {final}; wrote {options.output}")
    return 0


def _score_arguments(parser):
    _model_arguments(parser)
    parser.add_argument("--data", required=True, help=".npz with x_test, y_test (or x, y)")
    parser.add_argument("--scale", type=float, help="divide the features by this")
    parser.add_argument("--precision", choices=["double", "single"], default="double")
    add_spark_arguments(parser)


@command("score", "score a Keras model on labelled data with generated DML", _score_arguments)
@_reported
def score_command(options) -> int:
    from .estimator import Keras2DML
    x, y = read_dataset(options.data, "test")
    x = _scaled(x, options.scale)
    estimator = Keras2DML(options.model, epochs=0, verbose=0, precision=options.precision,
                          loss=options.loss, optimizer=options.optimizer,
                          spark=spark_options(options).get("spark"))
    estimator.fit(x, y)  # zero epochs: the model's own weights
    measured = {"accuracy" if estimator.is_classifier() else "r2": estimator.score(x, y),
                **estimator.evaluate(x, y)}
    print(" - ".join(f"{name}: {value:.4f}" for name, value in measured.items()))
    return 0


def _demo_arguments(parser):
    parser.add_argument("-o", "--output", default="mnist_lenet.keras",
                        help="where to write the trained model")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--precision", choices=["double", "single"], default="double")


@command("demo", "train the MNIST LeNet with generated DML on the shipped MNIST subset",
         _demo_arguments)
@_reported
def demo_command(options) -> int:
    from .demo import run_demo
    run_demo(options.epochs, options.output, options.precision)
    return 0


def main(argv=None) -> int:
    """The `kerasdml` console script: the runtime's commands plus the compiler's."""
    return runtime_cli.main(argv)


if __name__ == "__main__":
    sys.exit(main())
