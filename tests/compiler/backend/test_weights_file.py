"""weights.h5 at any model size: datasets in groups that SystemDS 3.4's HDF5 reader follows
(test_backend_systemds.py runs it on big models), read back by the local runtime."""
from __future__ import annotations

import h5py
import numpy as np
import pytest

from kerasdml.compiler.backend.weights import GROUP_SIZE, dataset_paths, write_weights
from kerasdml.runtime.api import run_string
from kerasdml.runtime.errors import DMLError
from kerasdml.runtime.io import SYSTEMDS_GROUP_MEMBERS


def names(count: int) -> list[str]:
    return [f"layer{k}_W" for k in range(count)]


def test_small_models_keep_flat_names():
    assert dataset_paths(names(GROUP_SIZE)) == {n: n for n in names(GROUP_SIZE)}


@pytest.mark.parametrize("count", [GROUP_SIZE + 1, 300, GROUP_SIZE * GROUP_SIZE + 5])
def test_every_group_stays_small_enough(count):
    paths = dataset_paths(names(count))
    assert len(set(paths.values())) == count
    members: dict[str, set] = {}
    for path in paths.values():
        parts = path.split("/")
        for depth in range(len(parts)):
            members.setdefault("/".join(parts[:depth]), set()).add(parts[depth])
    assert max(len(m) for m in members.values()) <= GROUP_SIZE < SYSTEMDS_GROUP_MEMBERS
    assert all(path.endswith("/" + name) for name, path in paths.items())


def test_the_runtime_reads_a_big_weights_file(tmp_path):
    values = {n: np.full((2, 3), float(k)) for k, n in enumerate(names(300))}
    write_weights(tmp_path / "weights.h5", values)
    paths = dataset_paths(values)
    picked = ["layer0_W", "layer64_W", "layer299_W"]
    script = "".join(f'{n} = read("{tmp_path / "weights.h5"}", format="hdf5", '
                     f'dataset="{paths[n]}", rows=2, cols=3)\n' for n in picked)
    out = run_string(script, outputs=picked)
    for name in picked:
        np.testing.assert_array_equal(out[name], values[name])


def test_a_group_systemds_cannot_follow_is_refused(tmp_path):
    with h5py.File(tmp_path / "flat.h5", "w", libver="earliest") as f:
        for k in range(SYSTEMDS_GROUP_MEMBERS + 1):
            f.create_dataset(f"w{k}", data=np.zeros((1, 1)))
    with pytest.raises(DMLError, match="group '/' has 129 members"):
        run_string(f'w = read("{tmp_path / "flat.h5"}", format="hdf5", dataset="w0", rows=1, '
                   'cols=1)')
