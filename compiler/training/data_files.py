"""The data files of the command line: samples for `kerasdml predict` (.npy in Keras' shape, or
.csv with one flattened sample per line) and labelled datasets for `fit`/`score` (.npz)."""
from __future__ import annotations

import os
import warnings
import zipfile

import numpy as np

from kerasdml.runtime.atomic import WriteError, atomic_file


class DataFileError(Exception):
    """An input or output file of `kerasdml predict` that cannot be used."""


def read_samples(path: str, shape: tuple) -> np.ndarray:
    """(N, *shape) samples from .npy (any shape with N rows) or .csv (one flattened row each)."""
    if not path.endswith((".npy", ".csv")):
        raise DataFileError(f"{path}: expected a .npy or .csv file")
    _no_folder(path)
    try:
        if path.endswith(".npy"):
            array = np.load(path, allow_pickle=False)
        else:
            with warnings.catch_warnings():  # an empty file: refused below, not warned about
                warnings.simplefilter("ignore", UserWarning)
                array = np.loadtxt(path, delimiter=",", ndmin=2)
    except EOFError:  # np.load of an empty (or cut-off) .npy
        raise DataFileError(f"{path}: cannot read samples: the file is empty or cut off") \
            from None
    except (OSError, ValueError) as error:
        reason = _not_numpy(path, error, "a .npy file (numpy.save") if path.endswith(".npy") \
            else error
        raise DataFileError(f"{path}: cannot read samples: {reason}") from None
    _numeric(array, path)
    if array.size == 0:  # the scripts' batch loop needs at least one row
        raise DataFileError(f"{path}: no samples in the file")
    width = int(np.prod(shape))
    if array.ndim == 0 or array.size % width or (array.ndim > 1 and
                                                  np.prod(array.shape[1:]) != width):
        raise DataFileError(f"{path}: samples of shape {tuple(array.shape)} do not fit the "
                            f"model's input shape {shape}")
    return array.reshape(-1, *shape)


def _no_folder(path: str) -> None:
    """numpy's message for a folder is a bare "[Errno 21] Is a directory"."""
    if os.path.isdir(path):
        raise DataFileError(f"{path}: a folder, not a file")


def _not_numpy(path: str, error: Exception, what: str):
    """numpy reads a file that is neither a zip nor a .npy as a pickle, which it refuses with
    advice to allow pickles: say what the file is not instead."""
    if isinstance(error, ValueError) and not zipfile.is_zipfile(path):
        with open(path, "rb") as handle:
            if not handle.read(6) == np.lib.format.MAGIC_PREFIX:
                return f"not {what} writes one)"
    return error


def _numeric(array: np.ndarray, path: str) -> None:
    """Strings or other non-numbers would fail later, deep inside the run."""
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
        raise DataFileError(f"{path}: holds values of type {array.dtype}; expected numbers")


def write_samples(path: str, result: np.ndarray) -> None:
    """model.predict's result as .npy (its shape) or .csv (one flattened sample per line)."""
    if not path.endswith((".npy", ".csv")):
        raise DataFileError(f"{path}: expected a .npy or .csv file name")
    try:
        with atomic_file(path) as temporary:
            if path.endswith(".npy"):
                with open(temporary, "wb") as handle:
                    np.save(handle, result)
            else:
                np.savetxt(temporary, result.reshape(len(result), -1), delimiter=",",
                           fmt="%.17g")
    except WriteError:
        raise
    except OSError as error:
        raise DataFileError(f"{path}: cannot write: {error.strerror or error}") from None


_DATA_KEYS = (("x_train", "y_train"), ("x_test", "y_test"), ("x", "y"), ("X", "y"))
# validation data (fit --validation-data): held-out arrays, never a training set's
_VALIDATION_KEYS = (("x_val", "y_val"), ("x_test", "y_test"), ("x", "y"), ("X", "y"))


def read_dataset(path: str, prefer: str) -> tuple:
    """(features, labels) of an .npz: x_train/y_train or x_test/y_test (as `prefer` says),
    else x/y or X/y; for prefer="val", x_val/y_val, else x_test/y_test, x/y or X/y."""
    _no_folder(path)
    try:
        data = np.load(path, allow_pickle=False)
    except EOFError:
        raise DataFileError(f"{path}: cannot read an .npz archive: the file is empty") from None
    except (OSError, ValueError) as error:
        raise DataFileError(f"{path}: cannot read an .npz archive: "
                            f"{_not_numpy(path, error, 'an .npz archive (numpy.savez')}") from None
    if not isinstance(data, np.lib.npyio.NpzFile):  # a single .npy array
        raise DataFileError(f"{path}: holds one array, not an .npz archive of named arrays "
                            f"(numpy.savez(path, x_{prefer}=..., y_{prefer}=...))")
    try:
        with data:
            order = _VALIDATION_KEYS if prefer == "val" else \
                sorted(_DATA_KEYS, key=lambda keys: keys[0] != f"x_{prefer}")
            for x_key, y_key in order:
                if x_key in data and y_key in data:
                    return data[x_key], data[y_key]
            found = ", ".join(data.files)
    except (OSError, ValueError, zipfile.BadZipFile) as error:  # a damaged member
        raise DataFileError(f"{path}: cannot read an .npz archive: {error}") from None
    also = "x_test and y_test, or x and y" if prefer == "val" else "x and y"
    raise DataFileError(f"{path}: expected arrays x_{prefer} and y_{prefer} (or {also}); "
                        f"found {found or 'none'}")
