"""The data files of the command line: samples for `kerasdml predict` (.npy in Keras' shape, or
.csv with one flattened sample per line) and labelled datasets for `fit`/`score` (.npz)."""
from __future__ import annotations

import numpy as np

from kerasdml.runtime.atomic import WriteError, atomic_file


class DataFileError(Exception):
    """An input or output file of `kerasdml predict` that cannot be used."""


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
