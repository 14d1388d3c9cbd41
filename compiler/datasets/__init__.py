"""MNIST for the examples, the demo and the benchmarks.

    (x_train, y_train), (x_test, y_test) = load_mnist()          # the full 70,000 images
    (x_train, y_train), (x_test, y_test) = load_mnist_subset()   # 8,000 + 2,000, shipped here

Arrays are as `keras.datasets.mnist.load_data()` returns them: images (N, 28, 28) uint8, labels
(N,) uint8. The subset ships with the package (see README.md here for its provenance and licence),
so the demo runs on a machine without internet and without a copy of MNIST.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from kerasdml.runtime.atomic import atomic_file

from ..errors import CompileError

SUBSET = Path(__file__).with_name("mnist_subset.npz")
SUBSET_SIZES = (8000, 2000)  # training images, test images
_KEYS = ("x_train", "y_train", "x_test", "y_test")


def load_mnist(path: str | os.PathLike | None = None):
    """MNIST from `path` (an .npz with x_train, y_train, x_test, y_test); without a path, the
    first of ../shared/data/mnist.npz (a project checkout's data folder) and Keras' download
    cache (~/.keras/datasets/mnist.npz) that exists."""
    if path is None:
        path = next((p for p in _default_locations() if p.is_file()), None)
        if path is None:
            raise CompileError("MNIST not found: pass the path of an mnist.npz (looked in "
                               + ", ".join(str(p) for p in _default_locations()) + ")")
    return _read(Path(path))


def load_mnist_subset():
    """The 8,000 training and 2,000 test images shipped with kerasdml."""
    return _read(SUBSET)


def write_subset(source: str | os.PathLike, target: str | os.PathLike = SUBSET, seed: int = 0):
    """Draws the shipped subset from the full MNIST (uniformly, without replacement, kept in
    the original order); `load_mnist_subset` reads what this wrote."""
    (x_train, y_train), (x_test, y_test) = _read(Path(source))
    rng = np.random.default_rng(seed)
    train = np.sort(rng.choice(len(x_train), SUBSET_SIZES[0], replace=False))
    test = np.sort(rng.choice(len(x_test), SUBSET_SIZES[1], replace=False))
    with atomic_file(target) as temporary, open(temporary, "wb") as handle:
        np.savez_compressed(handle, x_train=x_train[train], y_train=y_train[train],
                            x_test=x_test[test], y_test=y_test[test])


def _default_locations() -> list[Path]:
    return [Path.cwd().parent / "shared" / "data" / "mnist.npz",
            Path.home() / ".keras" / "datasets" / "mnist.npz"]


def _read(path: Path):
    try:
        with np.load(path) as data:
            missing = [k for k in _KEYS if k not in data]
            if missing:
                raise CompileError(f"{path}: not an MNIST archive (missing {', '.join(missing)})")
            arrays = [data[k] for k in _KEYS]
    except (OSError, ValueError) as error:
        raise CompileError(f"{path}: cannot be read as an .npz archive ({error})") from None
    return (arrays[0], arrays[1]), (arrays[2], arrays[3])
