"""HDF5 matrices, limited to what SystemDS 3.4 reads correctly.

SystemDS reads a contiguous (not chunked, not compressed) little-endian float64 dataset from a
file with superblock version 0 (what h5py writes by default), at any group path. A 1-D dataset
of n is n x 1; an N-D dataset is shape[0] x prod(shape[1:]), row-major. read() needs dataset=
(SystemDS ignores a "dataset" key in the .mtd); write() needs it too and replaces the file.

`write_hdf5(path, {name: matrix})` writes several matrices into one file that SystemDS reads
dataset by dataset (for a model's weights). h5py is imported inside the functions: only HDF5
users pay for it.
"""
from __future__ import annotations

import os
from typing import Mapping

import numpy as np

from ..errors import DMLRuntimeError
from .files import write_with_metadata
from .metadata import dim


HDF5_SUPERBLOCK_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def read_hdf5(path: str, params: dict) -> np.ndarray:
    import h5py    # imported here: only HDF5 users pay for it
    dataset = params.get("dataset")
    if os.path.isdir(path):
        raise DMLRuntimeError(f"read({path!r}): an hdf5 matrix is one file, but {path} is "
                              "a directory")
    with open(path, "rb") as f:
        if f.read(8) != HDF5_SUPERBLOCK_SIGNATURE:
            raise DMLRuntimeError(f"read({path!r}): {path} is not an HDF5 file")
    with h5py.File(path, "r") as f:
        names = _hdf5_dataset_names(f)
        if dataset is None:
            raise DMLRuntimeError(f"read({path!r}): format \"hdf5\" needs dataset= in read() "
                                  f"(SystemDS ignores it in the .mtd); the file has "
                                  f"{', '.join(names) or 'no datasets'}")
        try:
            node = f.get(str(dataset))
        except (KeyError, TypeError, ValueError):
            node = None
        if not isinstance(node, h5py.Dataset):
            raise DMLRuntimeError(f"read({path!r}): dataset {dataset!r} not found in {path}; "
                                  f"it has {', '.join(names) or 'no datasets'}")
        _check_systemds_readable(path, f, node)
        data = node[()]
    return _hdf5_as_matrix(path, dataset, np.asarray(data, dtype=np.float64), params)


def _hdf5_dataset_names(f) -> list[str]:
    import h5py
    names: list[str] = []
    f.visititems(lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None)
    return names


def _check_systemds_readable(path: str, f, node) -> None:
    """Refuses what SystemDS 3.4's own HDF5 reader fails on or misreads, so that a file that
    works here works there too."""
    import h5py
    problems = []
    if f.id.get_create_plist().get_version()[0] != 0:
        problems.append("the file's superblock is not version 0 (h5py libver='latest'?)")
    if node.id.get_create_plist().get_layout() != h5py.h5d.CONTIGUOUS:
        problems.append("the dataset is chunked or compressed, not contiguous")
    if node.dtype != np.dtype("<f8"):
        problems.append(f"the dataset's type is {node.dtype.str}, not little-endian float64 (<f8)")
    problems += _crowded_groups(f, node.name)
    if problems:
        raise DMLRuntimeError(
            f"read({path!r}): SystemDS can't read dataset {node.name!r}: {'; '.join(problems)}. "
            "Write it with h5py.File(path, 'w').create_dataset(name, data=a.astype('<f8')) "
            "and no chunks or compression (or with write_hdf5 of this module)")


# SystemDS 3.4 reads a group only while its symbol table's B-tree is one node deep, which is
# certain up to 128 members (32 leaves of at least 4); bigger groups fail once it grows a level.
SYSTEMDS_GROUP_MEMBERS = 128


def _crowded_groups(f, dataset: str) -> list[str]:
    parts = dataset.strip("/").split("/")[:-1]
    groups = ["/" + "/".join(parts[:k]) for k in range(len(parts) + 1)]
    return [f"group {g!r} has {len(f[g])} members (SystemDS reads groups of up to "
            f"{SYSTEMDS_GROUP_MEMBERS}; put the datasets in subgroups)"
            for g in groups if len(f[g]) > SYSTEMDS_GROUP_MEMBERS]


def _hdf5_as_matrix(path: str, dataset: str, data: np.ndarray, params: dict) -> np.ndarray:
    """SystemDS's view of a dataset: 1-D of n is n x 1, N-D is shape[0] x prod(shape[1:])."""
    shape = data.shape
    if data.ndim == 0:
        matrix = data.reshape(1, 1)
    elif data.ndim == 1:
        matrix = data.reshape(-1, 1)
    else:
        matrix = data.reshape(shape[0], -1)
    for axis, key in enumerate(("rows", "cols")):
        wanted = dim(path, params, key)
        if wanted is not None and wanted != matrix.shape[axis]:
            raise DMLRuntimeError(
                f"read({path!r}): rows={params.get('rows')}, cols={params.get('cols')} disagree "
                f"with dataset {dataset!r} of shape {tuple(shape)}, which SystemDS reads as "
                f"{matrix.shape[0]}x{matrix.shape[1]}")
    return np.ascontiguousarray(matrix)


def write_hdf5_matrix(matrix: np.ndarray, path: str, params: dict):
    if params.get("dataset") is None:
        raise DMLRuntimeError(f"write({path!r}): format \"hdf5\" needs dataset=")
    name = str(params["dataset"])
    return (lambda tmp_path: _write_hdf5_file(tmp_path, {name: matrix})), {}


def write_hdf5(path: str, datasets: Mapping[str, np.ndarray]) -> None:
    """One HDF5 file holding several matrices (e.g. a model's weights), each readable by
    SystemDS with read(path, format="hdf5", dataset=name, rows=, cols=).  No .mtd: one
    .mtd can't describe several datasets; read() gets everything from its arguments."""
    path = os.fspath(path)
    matrices = {}
    for name, value in datasets.items():
        matrix = np.asarray(value, dtype=np.float64)
        if matrix.ndim != 2:
            raise DMLRuntimeError(f"write_hdf5({path!r}): dataset {name!r} is "
                                  f"{matrix.ndim}-D; SystemDS reads matrices (2-D)")
        matrices[name] = matrix
    write_with_metadata(path, lambda tmp_path: _write_hdf5_file(tmp_path, matrices), None)


def _write_hdf5_file(file: str, matrices: Mapping[str, np.ndarray]) -> None:
    """h5py's defaults are what SystemDS reads: superblock 0, contiguous layout; plus <f8."""
    import h5py
    with h5py.File(file, "w", libver="earliest") as f:
        for name, matrix in matrices.items():
            f.create_dataset(name, data=np.ascontiguousarray(matrix, dtype="<f8"))
