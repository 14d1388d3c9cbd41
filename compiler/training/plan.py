"""How many batches each epoch of a fit runs: whole epochs (Keras' epochs=), or a number of
batches that may end inside an epoch (SystemML's max_iter).

A last, partial epoch trains on a random subset of the examples of the size of its batches (the
first rows when not shuffling), which is what the first batches of a shuffled epoch would hold.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class EpochPlan:
    examples: int
    batch_size: int
    total_batches: int
    batches_per_update: int = 1   # parallel_batches for the parallel train algorithms

    @classmethod
    def of_epochs(cls, examples, batch_size, epochs, batches_per_update=1) -> "EpochPlan":
        per_epoch = math.ceil(examples / batch_size) if examples else 0
        return cls(examples, batch_size, epochs * per_epoch, batches_per_update)

    @property
    def per_epoch(self) -> int:
        return math.ceil(self.examples / self.batch_size) if self.examples else 0

    @property
    def epochs(self) -> int:
        return math.ceil(self.total_batches / self.per_epoch) if self.per_epoch else 0

    def batches(self, epoch: int) -> int:
        """Batches of epoch `epoch` (1-based)."""
        return min(self.per_epoch, self.total_batches - (epoch - 1) * self.per_epoch)

    def updates(self, epoch: int) -> int:
        return math.ceil(self.batches(epoch) / self.batches_per_update)

    @property
    def total_updates(self) -> int:
        return sum(self.updates(epoch) for epoch in range(1, self.epochs + 1))

    def rows(self, epoch: int, X, y, shuffle: bool, seed: int | None):
        """The examples epoch `epoch` trains on; X is an array or a list of arrays (one per
        model input)."""
        batches = self.batches(epoch)
        if batches == self.per_epoch:
            return X, y
        count = min(batches * self.batch_size, self.examples)
        if not shuffle:
            chosen = np.arange(count)
        else:
            rng = np.random.default_rng(None if seed is None else seed + epoch)
            chosen = np.sort(rng.choice(self.examples, count, replace=False))
        rows = [x[chosen] for x in X] if isinstance(X, list) else X[chosen]
        return rows, y[chosen]
