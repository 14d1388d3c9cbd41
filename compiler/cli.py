"""The `kerasdml` command line: its commands (COMMANDS, at the end), --help, --version, and one
way of reporting errors. `run` comes from the runtime (runtime/cli.py), which knows nothing
about Keras.

    kerasdml run SCRIPT.dml [-nvargs name=value ...] [-args v1 v2 ...] [--master URL] ...
    kerasdml compile MODEL -o OUTDIR [--loss NAME] [--optimizer NAME]
    kerasdml inspect MODEL [--script predict|train]
    kerasdml predict MODEL --input X.npy|X.csv --output Y.npy|Y.csv [--batch-size N] [--master URL]
    kerasdml predict MODEL --input IN.parquet --output OUT.parquet [--input-col C] [--keep-cols A,B]
    kerasdml fit MODEL --data train.npz|train.parquet -o trained.keras [--epochs N] ...
    kerasdml score MODEL --data test.npz
    kerasdml demo [-o mnist_lenet.keras] [--epochs N]
"""
from __future__ import annotations

import argparse
import os
import sys
import traceback
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Callable

import numpy as np

from kerasdml.runtime.atomic import WriteError
from kerasdml.runtime.cli import add_run_arguments, add_spark_arguments, run_script, spark_options
from kerasdml.runtime.errors import DMLError

from .errors import CompileError
from .training.config import MissingLossError
from .training.data_files import DataFileError, read_dataset, read_samples, write_samples


def _model_arguments(parser: argparse.ArgumentParser, optional: bool = False) -> None:
    parser.add_argument("model", nargs="?" if optional else None,
                        help="a Keras model file (.keras or .h5)")
    parser.add_argument("--loss", help="training loss when the model has no compile config "
                        "(e.g. categorical_crossentropy)")
    parser.add_argument("--optimizer", help="training optimizer (default: the model's, else "
                        "rmsprop, as keras.Model.compile)")


def _compile(options):
    from .compile import compile_model
    return compile_model(options.model, loss=options.loss, optimizer=options.optimizer)


# ---- compile --------------------------------------------------------------------------------

def _compile_arguments(parser):
    _model_arguments(parser)
    parser.add_argument("-o", "--output", dest="outdir", required=True,
                        help="folder for predict.dml, train.dml, weights.h5, summary.txt")


def compile_command(options) -> int:
    from .model_folder import write_model
    print(write_model(_compile(options), options.outdir).rstrip(), "to", options.outdir)
    return 0


# ---- inspect --------------------------------------------------------------------------------

def _inspect_arguments(parser):
    parser.add_argument("--layers", action="store_true",
                        help="print the table of supported layer classes and exit")
    _model_arguments(parser, optional=True)
    parser.add_argument("--script", choices=["predict", "train"],
                        help="print the generated script instead of the layer table")


def inspect_command(options) -> int:
    from .layer_table import format_table, inspect_model, supported_layers_table
    if options.layers:
        print(supported_layers_table())
        return 0
    if options.model is None:
        print("kerasdml inspect: error: give a model file (or --layers)", file=sys.stderr)
        return 2
    if options.script:
        model = _compile(options)
        sys.stdout.write(model.script(options.script))
        return 0
    rows, refusal = inspect_model(options.model)
    print(format_table(rows))
    if refusal is not None:  # word for word what `kerasdml compile` says
        print(f"kerasdml inspect: error: {refusal}", file=sys.stderr)
    return 0 if refusal is None else 1


# ---- predict --------------------------------------------------------------------------------

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
    parser.add_argument("--input-col", action="append", metavar="COLUMN",
                        help="parquet input: the column of a model input (default features); "
                        "once per model input")
    parser.add_argument("--keep-cols", metavar="A,B,...",
                        help="parquet input: the columns copied to the output beside the "
                        "prediction (default all)")
    parser.add_argument("--probability-col", metavar="COLUMN",
                        help="parquet input, classifiers: also write the probabilities")
    parser.add_argument("--precision", choices=["single", "double"], default=None,
                        help="float precision (default double; single for parquet input)")
    add_spark_arguments(parser)


def predict_command(options) -> int:
    model = _compile(options)
    if any(is_table(path) for path in options.input):
        return _predict_table(model, options)
    if len(options.input) != len(model.inputs) or len(options.output) != len(model.outputs):
        raise DataFileError(f"the model has {len(model.inputs)} input(s) and "
                            f"{len(model.outputs)} output(s); give --input and --output once "
                            "for each, in the model's order")
    data = [read_samples(path, spec.shape) for path, spec in zip(options.input, model.inputs)]
    results = model.predict_arrays(data, batch_size=options.batch_size,
                                   precision=options.precision or "double",
                                   **spark_options(options))
    for path, result in zip(options.output, results):
        write_samples(path, result)
    return 0


def is_table(path: str) -> bool:
    """A parquet file or folder, scored on Spark (spark_ml/parquet_scoring.py). A folder
    without parquet files is refused here, before a Spark session starts for nothing."""
    if path.rstrip("/").endswith(".parquet"):
        return True
    if not os.path.isdir(path):
        return False
    if not any(name.endswith(".parquet") for _, _, names in os.walk(path) for name in names):
        raise DataFileError(f"{path}: a folder without parquet files; expected a file (.npy, "
                            ".csv or .npz) or a parquet folder")
    return True


def _predict_table(model, options) -> int:
    """Parquet in, parquet out, written by the executors (local[*] without --master)."""
    from kerasdml.runtime.spark.arrow_columns import RowInputError
    from kerasdml.runtime.spark.session import spark_session

    from .spark_ml.parquet_scoring import score_parquet
    if len(options.input) != 1 or len(options.output) != 1:
        raise DataFileError("parquet input: give one --input and one --output (a model with "
                            "several inputs reads them from several --input-col of one table)")
    spark = spark_options(options).get("spark") or spark_session("local[*]")
    keep = None if options.keep_cols is None else [c for c in options.keep_cols.split(",") if c]
    try:
        score_parquet(model, spark, options.input[0], options.output[0],
                      options.input_col or ["features"], keep_cols=keep,
                      probability_col=options.probability_col,
                      batch_size=options.batch_size or 256,
                      precision=options.precision or "single",
                      explain=sys.stdout if options.explain else None)
    except RowInputError as error:
        raise DataFileError(f"{options.input[0]}: {error}") from None
    return 0


# ---- fit / score ----------------------------------------------------------------------------

def _scaled(x: np.ndarray, scale: float | None) -> np.ndarray:
    return x / scale if scale else x


def _frequency(text: str):
    return int(text) if text.isdigit() else text


def _fit_arguments(parser):
    _model_arguments(parser)
    parser.add_argument("--data", required=True, help=".npz with x_train, y_train (or x, y), or "
                        "a parquet file or folder, trained on Spark from its columns")
    parser.add_argument("--features-col", default="features", type=_columns,
                        help="parquet: the features column (array or Vector), or several "
                        "numeric columns separated by commas (default features)")
    parser.add_argument("--label-col", default="label", help="parquet: the label column (a "
                        "class index or the targets; default label)")
    parser.add_argument("--validation-data", help="validation rows: an .npz with x_val, y_val "
                        "(or x_test, y_test, or x, y) beside an .npz, else parquet with the "
                        "same columns")
    parser.add_argument("-o", "--output", required=True, help="the trained model (.keras)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, help="overrides the model's")
    parser.add_argument("--train-algo", default="minibatch",
                        choices=["minibatch", "batch", "looped_minibatch",
                                 "allreduce_parallel_batches", "paramserv"])
    parser.add_argument("--parallel-batches", type=int, default=4)
    parser.add_argument("--workers", type=int, help="paramserv's workers (default: the cores)")
    parser.add_argument("--sync", choices=["BSP", "ASP"], default="BSP", help="paramserv's updates")
    parser.add_argument("--frequency", default="batch", type=_frequency,
                        help="paramserv's exchanges: batch, epoch or a number of batches")
    parser.add_argument("--validation-split", type=float, default=0.0)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--no-shuffle", dest="shuffle", action="store_false")
    parser.add_argument("--scale", type=float, help="divide the features by this (255 for "
                        "uint8 images)")
    parser.add_argument("--weights-dir", help="write a checkpoint here after every epoch")
    parser.add_argument("--resume", action="store_true", help="continue from --weights-dir")
    parser.add_argument("--precision", choices=["double", "single"], default="double")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.add_argument("--plot", metavar="CURVES.png",
                        help="draw loss and metrics per epoch into this image (needs matplotlib)")
    add_spark_arguments(parser)


def _columns(text: str):
    names = [name.strip() for name in text.split(",") if name.strip()]
    return names[0] if len(names) == 1 else names


def _training_data(options, spark):
    """(X, y, validation_data, spark): the .npz arrays, or the parquet as DataFrames."""
    if not is_table(options.data):
        validation = None
        if options.validation_data:  # an .npz beside an .npz (x_val/y_val, x_test/y_test, x/y)
            if is_table(options.validation_data):
                raise DataFileError(f"{options.validation_data}: --validation-data is parquet, "
                                    f"--data is not; give both as .npz or both as parquet")
            x_val, y_val = read_dataset(options.validation_data, "val")
            validation = (_scaled(x_val, options.scale), y_val)
        x, y = read_dataset(options.data, "train")
        return _scaled(x, options.scale), y, validation, spark
    from .training.dataframe_data import read_parquet
    if spark is None:
        from kerasdml.runtime.spark.session import spark_session
        spark = spark_session("local[*]")
    read = partial(read_parquet, spark, features_col=options.features_col, scale=options.scale)
    validation = read(options.validation_data) if options.validation_data else None
    return read(options.data), None, validation, spark


def fit_command(options) -> int:
    from .estimator import Keras2DML
    if options.resume and not options.weights_dir:  # the estimator's message names weights_dir=
        raise DataFileError("--resume continues from the checkpoint in --weights-dir: give "
                            "--weights-dir too")
    x, y, validation, spark = _training_data(options, spark_options(options).get("spark"))
    estimator = Keras2DML(
        options.model, epochs=options.epochs, batch_size=options.batch_size,
        train_algo=options.train_algo, parallel_batches=options.parallel_batches,
        shuffle=options.shuffle, validation_split=options.validation_split, seed=options.seed,
        verbose=0 if options.quiet else 1, weights_dir=options.weights_dir,
        precision=options.precision, loss=options.loss, optimizer=options.optimizer,
        learning_rate=options.learning_rate, spark=spark, workers=options.workers,
        sync=options.sync, frequency=options.frequency, features_col=options.features_col,
        label_col=options.label_col)
    with _naming_the_data(options.data, options.validation_data):
        estimator.fit(x, y, validation_data=validation, resume=options.resume)
    estimator.export(options.output)
    if options.plot:
        estimator.plot_history(options.plot)
    final = ", ".join(f"{name} {values[-1]:.4f}" for name, values in estimator.history_.items())
    print(f"trained {estimator.epochs_} epoch(s): {final}; wrote {options.output}")
    return 0


@contextmanager
def _naming_the_data(path: str, validation_path: str | None = None):
    """The estimator says "X" and "y"; on the command line the message names the file."""
    from .training.data import DataError
    try:
        yield
    except DataError as error:
        text = str(error)
        named = validation_path if text.startswith("validation_data's ") else path
        raise DataFileError(f"{named}: {text.removeprefix('validation_data' + chr(39) + 's ')}") \
            from None


def _score_arguments(parser):
    _model_arguments(parser)
    parser.add_argument("--data", required=True, help=".npz with x_test, y_test (or x, y)")
    parser.add_argument("--scale", type=float, help="divide the features by this")
    parser.add_argument("--precision", choices=["double", "single"], default="double")
    add_spark_arguments(parser)


def score_command(options) -> int:
    from .estimator import Keras2DML
    x, y = read_dataset(options.data, "test")
    x = _scaled(x, options.scale)
    estimator = Keras2DML(options.model, epochs=0, verbose=0, precision=options.precision,
                          loss=options.loss, optimizer=options.optimizer,
                          spark=spark_options(options).get("spark"))
    with _naming_the_data(options.data):
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


def demo_command(options) -> int:
    from .demo import run_demo
    run_demo(options.epochs, options.output, options.precision)
    return 0


@dataclass(frozen=True)
class Command:
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


COMMANDS: dict[str, Command] = {
    "run": Command("run a DML script", add_run_arguments, run_script),
    "compile": Command("compile a Keras model into DML scripts and a weights file",
                       _compile_arguments, compile_command),
    "inspect": Command("show how a Keras model compiles: its layers, or a generated script",
                       _inspect_arguments, inspect_command),
    "predict": Command("compile a Keras model and run its prediction (locally, or on Spark with "
                       "--master)", _predict_arguments, predict_command),
    "fit": Command("train a Keras model with generated DML and write the trained .keras file",
                   _fit_arguments, fit_command),
    "score": Command("score a Keras model on labelled data with generated DML",
                     _score_arguments, score_command),
    "demo": Command("train the MNIST LeNet with generated DML on the shipped MNIST subset",
                    _demo_arguments, demo_command),
}


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed_version
    try:
        return installed_version("kerasdml")
    except PackageNotFoundError:
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kerasdml", description="Compile Keras models to DML "
                                     "and run DML scripts locally or on Spark.")
    parser.add_argument("--version", action="version", version=f"kerasdml {version()}")
    parser.add_argument("--debug", action="store_true", help="show Python tracebacks on errors")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, entry in COMMANDS.items():
        sub = subparsers.add_parser(name, help=entry.help, description=entry.help)
        sub.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                         help="show Python tracebacks on errors")
        entry.add_arguments(sub)
    return parser


_NO_LOSS = ("the model was not compiled with a loss: call model.compile(...) before saving it, "
            "or give --loss (e.g. --loss categorical_crossentropy) and --optimizer")


def main(argv=None) -> int:
    """Runs one command; every error the user can fix is one line on stderr and exit status 1,
    a bug of ours exit status 2."""
    options = build_parser().parse_args(argv)
    try:
        return COMMANDS[options.command].run(options)
    except DMLError as error:
        _traceback(options)
        print(error, file=sys.stderr)
    except MissingLossError:
        _traceback(options)
        print(f"kerasdml {options.command}: error: {_NO_LOSS}", file=sys.stderr)
    except (CompileError, DataFileError, WriteError) as error:
        _traceback(options)
        print(f"kerasdml {options.command}: error: {error}", file=sys.stderr)
    except KeyboardInterrupt as stop:  # says where, when the runtime or fit knew it
        print(f"kerasdml: interrupted{f': {stop}' if str(stop) else ''}", file=sys.stderr)
        return 130
    except Exception as error:  # a bug of ours: say so plainly, details on request
        if options.debug:
            traceback.print_exc()
        else:
            print(f"kerasdml: internal error: {type(error).__name__}: {error} (rerun with --debug "
                  "for the traceback)", file=sys.stderr)
        return 2
    return 1


def _traceback(options) -> None:
    if options.debug:
        traceback.print_exc()


if __name__ == "__main__":
    sys.exit(main())
