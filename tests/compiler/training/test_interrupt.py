"""Ctrl-C during fit: a real SIGINT to a training process stops it at the statement running,
says where (step, epoch, DML position), and leaves the last checkpoint whole."""
import re
import signal
import subprocess
import sys
import time

import numpy as np

from support.keras_models import keras, sequential
from kerasdml.compiler.training import checkpoint

TRAINING = """
import signal
import sys
import numpy as np
# Ctrl-C as at a terminal, also where the tests run as a shell's background job (which starts
# its processes with SIGINT ignored, and Python then leaves it ignored)
signal.signal(signal.SIGINT, signal.default_int_handler)
from kerasdml.compiler.estimator import Keras2DML
rng = np.random.default_rng(0)
X, y = rng.normal(size=(2000, 20)), rng.integers(0, 4, 2000)
estimator = Keras2DML(sys.argv[1], epochs=1000, batch_size=10, weights_dir=sys.argv[2])
try:
    estimator.fit(X, y)
except KeyboardInterrupt as stop:
    print("STOPPED:", stop, file=sys.stderr)
    sys.exit(130)
"""


def test_ctrl_c_stops_fit_says_where_and_keeps_the_checkpoint(tmp_path):
    model = sequential((20,), keras.layers.Dense(16, activation="relu"),
                       keras.layers.Dense(4, activation="softmax"))
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    model.save(tmp_path / "model.keras")
    saved = tmp_path / "checkpoints" / "checkpoint.h5"
    process = subprocess.Popen([sys.executable, "-c", TRAINING, str(tmp_path / "model.keras"),
                                str(saved.parent)], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not saved.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert saved.exists(), "no checkpoint was written"
    time.sleep(1.0)                                     # into the next epoch
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err[-2000:]
    stopped = next(line for line in err.splitlines() if line.startswith("STOPPED:"))
    assert "training stopped by Ctrl-C after step" in stopped
    # the statement it stopped at, or (when the signal lands between the epochs' script runs,
    # in the estimator's own Python) that it stopped outside the script
    assert re.search(r" at \S+\.dml:\d+:\d+", stopped) or " outside train.dml " in stopped
    kept = checkpoint.read(saved)
    assert f"holds epoch {kept.epoch}" in stopped and kept.epoch >= 1
    assert np.all(np.isfinite(kept.variables[next(iter(kept.variables))]))
    assert [p.name for p in saved.parent.iterdir()] == ["checkpoint.h5"]


def test_ctrl_c_between_epochs_says_it_stopped_outside_the_script(tmp_path):
    from kerasdml.compiler.training.watch import EpochWatch, interrupted_message
    from kerasdml.runtime.errors import DMLInterrupted
    watch = EpochWatch(progress=None, epoch=3, batches=20, rows=200, rows_per_step=10,
                       first_step=40, metric_names=())
    between = interrupted_message(KeyboardInterrupt(), watch, None, "checkpoint.h5")
    assert between.startswith("training stopped by Ctrl-C after step 40 (epoch 3, batch 0/20)"
                              " outside train.dml")
    inside = interrupted_message(DMLInterrupted("train.dml:12:5", ()), watch, None,
                                 "checkpoint.h5")
    assert " at train.dml:12:5" in inside and "outside" not in inside
