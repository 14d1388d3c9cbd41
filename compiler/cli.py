"""The compiler's subcommands of the `kerasdml` command line, registered into the runtime's
COMMANDS table (the runtime knows nothing about Keras):

    kerasdml compile MODEL -o OUTDIR [--loss NAME] [--optimizer NAME]
    kerasdml inspect MODEL [--script predict|train]
    kerasdml predict MODEL --input X.npy|X.csv --output Y.npy|Y.csv [--batch-size N]
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

from kerasdml.runtime import cli as runtime_cli
from kerasdml.runtime.cli import command

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
    parser.add_argument("--batch-size", type=int, default=256, help="rows per forward pass")


@command("predict", "compile a Keras model and run its prediction on the local runtime",
         _predict_arguments)
@_reported
def predict_command(options) -> int:
    model = _compile(options)
    if len(options.input) != len(model.inputs) or len(options.output) != len(model.outputs):
        raise DataFileError(f"the model has {len(model.inputs)} input(s) and "
                            f"{len(model.outputs)} output(s); give --input and --output once "
                            "for each, in the model's order")
    data = [read_samples(path, spec.shape) for path, spec in zip(options.input, model.inputs)]
    results = model.predict(data, batch_size=options.batch_size)
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


def main(argv=None) -> int:
    """The `kerasdml` console script: the runtime's commands plus the compiler's."""
    return runtime_cli.main(argv)


if __name__ == "__main__":
    sys.exit(main())
