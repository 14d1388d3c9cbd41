"""Watching one run of the bound train script from Python, batch by batch.

The runtime calls `EpochWatch` after every iteration of a for loop (runtime.api's on_iteration);
after each iteration of the script's main batch loop it reads the optimizer step and the running
sums the script keeps (epoch_loss, epoch_metrics) and reports them: progress lines, validation
every `validate_every` steps. It also remembers the last step, for a message when Ctrl-C stops
the run.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from kerasdml.runtime.errors import DMLInterrupted

from . import checkpoint, metric_state

# The batch loop's variable in train.dml.j2: i over batches, or g over groups of batches.
BATCH_LOOP_VARIABLES = ("i", "g")


class EpochWatch:
    def __init__(self, progress, epoch: int, batches: int, rows: int, rows_per_step: int,
                 first_step: int, metric_names: tuple, validate=None,
                 validate_every: int = 0, layout=None):
        self.progress = progress
        self.epoch = epoch
        self.batches = batches            # loop iterations in this epoch
        self.rows = rows                  # examples in this epoch
        self.rows_per_step = rows_per_step
        self.first_step = first_step      # steps done before this epoch
        self.metric_names = metric_names
        # per metric: (metric, arguments, first state column, columns) (TrainingView.layout);
        # None: one sum per metric
        self.layout = layout
        self.validate = validate          # variables -> {name: value}, or None
        self.validate_every = validate_every
        self.step = first_step
        self.batch = 0

    def __call__(self, frame, variable: str) -> None:
        if frame.stack or variable not in BATCH_LOOP_VARIABLES:
            return
        values = frame.vars
        if "epoch_loss" not in values or "step" not in values:
            return
        self.step = int(values["step"])
        self.batch += 1  # counted here: the loop variable may be dropped after its last read
        metrics = self.running_metrics(values)
        self.progress.step_done(self.step, self.epoch, self.batch, self.batches, metrics)
        if self.validate is not None and self.validate_every and \
                self.step % self.validate_every == 0:
            self.progress.validation(self.step, self.validate(values))

    def running_metrics(self, values: dict) -> dict:
        """Mean loss and metrics over the rows of this epoch's batches so far."""
        seen = min(max(self.step - self.first_step, 1) * self.rows_per_step, self.rows)
        metrics = {"loss": float(values["epoch_loss"]) / seen}
        sums = values.get("epoch_metrics")
        if sums is not None and self.metric_names:
            row = np.asarray(sums, dtype=np.float64).ravel()
            if self.layout is None:
                metrics.update({name: float(value) / seen
                                for name, value in zip(self.metric_names, row)})
            else:
                metrics.update({name: metric_state.finish(metric, arguments,
                                                          row[first:first + width], seen)
                                for name, (metric, arguments, first, width)
                                in zip(self.metric_names, self.layout)})
        return metrics


def interrupted_message(stop: KeyboardInterrupt, watch: EpochWatch | None, weights_dir,
                        checkpoint_name: str) -> str:
    """Where Ctrl-C stopped a fit, and what its checkpoint holds."""
    where = f"step {watch.step} (epoch {watch.epoch}, batch {watch.batch}/{watch.batches})" \
        if watch is not None else "before the first step"
    statement = " outside train.dml (between two epochs' runs of it)"
    if isinstance(stop, DMLInterrupted):
        statement = f" at {stop.position}"
        if stop.call_stack:
            statement += f" (in {' -> '.join(stop.call_stack)})"
    text = f"training stopped by Ctrl-C after {where}{statement}"
    if weights_dir is None:
        return text + "; no checkpoint kept (pass weights_dir= for one after every epoch)"
    path = Path(weights_dir) / checkpoint_name
    if not path.exists():
        return text + f"; no epoch completed, so {path} was not written"
    return text + (f"; {path} holds epoch {checkpoint.read(path).epoch}, which "
                   "fit(..., resume=True) continues from")
