"""Training checkpoints: the parameters, the optimizer state and the progress of a fit, in one
HDF5 file that is only ever replaced whole.

A checkpoint is written to a temporary file next to it and renamed over the old one, so a run
that is interrupted at any moment (Ctrl-C, a killed process) leaves either the previous complete
checkpoint or the new complete one, never a mixture; `read` refuses a file that lacks the mark
written last.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from kerasdml.runtime.atomic import atomic_file, ensure_folder

from ..errors import ModelFileError

_COMPLETE = "kerasdml_checkpoint_complete"


@dataclass
class Checkpoint:
    """State after `epoch` complete epochs (1-based count) and `step` optimizer updates."""
    variables: dict                    # DML variable name -> matrix (or scalar) value
    epoch: int = 0
    step: int = 0
    history: dict = field(default_factory=dict)
    fingerprint: str = ""              # identifies the model + training setup it belongs to


def write(path: str | os.PathLike, checkpoint: Checkpoint) -> None:
    path = Path(ensure_folder(Path(path).parent)) / Path(path).name
    for stale in path.parent.glob(f".{path.name}.*.tmp"):  # left by a killed writer
        stale.unlink(missing_ok=True)
    with atomic_file(path) as temporary, h5py.File(temporary, "w") as h5file:
        group = h5file.create_group("variables")
        for name, value in checkpoint.variables.items():
            group.create_dataset(name, data=np.asarray(value, dtype=np.float64))
        h5file.attrs["epoch"] = checkpoint.epoch
        h5file.attrs["step"] = checkpoint.step
        h5file.attrs["history"] = json.dumps(checkpoint.history)
        h5file.attrs["fingerprint"] = checkpoint.fingerprint
        h5file.attrs[_COMPLETE] = True  # last: a file without it was cut short


def read(path: str | os.PathLike) -> Checkpoint:
    path = Path(path)
    try:
        with h5py.File(path, "r") as h5file:
            if not h5file.attrs.get(_COMPLETE, False):
                raise ModelFileError(str(path), "is not a complete kerasdml checkpoint")
            variables = {}
            for name, dataset in h5file["variables"].items():
                value = dataset[()]
                variables[name] = float(value) if np.ndim(value) == 0 else value
            return Checkpoint(variables, int(h5file.attrs["epoch"]), int(h5file.attrs["step"]),
                              json.loads(h5file.attrs["history"]),
                              str(h5file.attrs["fingerprint"]))
    except FileNotFoundError:
        raise ModelFileError(str(path), "no such checkpoint") from None
    except (OSError, KeyError) as error:
        raise ModelFileError(str(path), f"cannot be read as a kerasdml checkpoint ({error})") \
            from None
