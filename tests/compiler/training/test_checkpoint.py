"""Training checkpoints survive interruption: always the old or the new complete file."""
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from kerasdml.compiler.errors import ModelFileError
from kerasdml.compiler.training import checkpoint
from kerasdml.compiler.training.progress import Progress


def sample(epoch: int) -> checkpoint.Checkpoint:
    return checkpoint.Checkpoint({"W": np.full((3, 2), float(epoch)), "mu_prod": 0.5 ** epoch},
                                 epoch=epoch, step=10 * epoch,
                                 history={"loss": [1.0 / (e + 1) for e in range(epoch)]},
                                 fingerprint="abc")


def test_round_trip(tmp_path):
    checkpoint.write(tmp_path / "c.h5", sample(3))
    back = checkpoint.read(tmp_path / "c.h5")
    np.testing.assert_array_equal(back.variables["W"], np.full((3, 2), 3.0))
    assert back.variables["mu_prod"] == 0.125
    assert (back.epoch, back.step, back.fingerprint) == (3, 30, "abc")
    assert back.history == {"loss": [1.0, 0.5, 1.0 / 3]}


def test_a_failed_write_keeps_the_previous_checkpoint(tmp_path):
    path = tmp_path / "c.h5"
    checkpoint.write(path, sample(1))
    broken = sample(2)
    broken.variables["bad"] = np.array([object()])
    with pytest.raises(TypeError):
        checkpoint.write(path, broken)
    assert checkpoint.read(path).epoch == 1
    assert [p.name for p in tmp_path.iterdir()] == ["c.h5"]


def test_a_file_without_the_completion_mark_is_refused(tmp_path):
    path = tmp_path / "c.h5"
    with h5py.File(path, "w") as h5file:
        h5file.create_group("variables")
    with pytest.raises(ModelFileError, match="not a complete kerasdml checkpoint"):
        checkpoint.read(path)
    with pytest.raises(ModelFileError, match="no such checkpoint"):
        checkpoint.read(tmp_path / "missing.h5")


WRITER = """
import sys, numpy as np
from kerasdml.compiler.training import checkpoint
big = np.random.default_rng(0).normal(size=(2000, 2000))
epoch = 1
while True:
    epoch += 1
    checkpoint.write(sys.argv[1], checkpoint.Checkpoint({"W": big + epoch}, epoch=epoch))
    print(epoch, flush=True)
"""


def test_killing_the_writer_never_leaves_a_corrupt_checkpoint(tmp_path):
    path = tmp_path / "c.h5"
    checkpoint.write(path, checkpoint.Checkpoint({"W": np.zeros((2000, 2000)) + 1}, epoch=1))
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE)
    try:
        writer.stdout.readline()          # one new checkpoint is complete
        time.sleep(0.05)                  # and the next one is being written
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait()
    survivor = checkpoint.read(path)
    assert survivor.epoch >= 2
    big = np.random.default_rng(0).normal(size=(2000, 2000))
    np.testing.assert_array_equal(survivor.variables["W"], big + survivor.epoch)
    checkpoint.write(path, sample(9))  # the next write clears what the killed one left
    assert [p.name for p in tmp_path.iterdir()] == ["c.h5"]


def test_progress_lines_are_printed_only_when_verbose(capsys):
    progress = Progress(epochs=2, verbose=1)
    line = progress.epoch_done(1, steps=50, samples=5000, seconds=2.0,
                               metrics={"loss": 0.25, "val_loss": 0.5})
    assert line == ("Epoch 1/2 - 50/50 steps - 2.0s (40 ms/step, 2500 samples/s) - "
                    "loss: 0.2500 - val_loss: 0.5000 - ETA 2.0s")
    assert capsys.readouterr().err == line + "\n"
    quiet = Progress(epochs=1, verbose=0)
    quiet.epoch_done(1, steps=1, samples=1, seconds=1.0, metrics={})
    assert capsys.readouterr().err == ""
