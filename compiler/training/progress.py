"""Keras-like progress lines on stderr while a model trains.

    Epoch 2/5 - 80/80 steps - 6.1s (76 ms/step, 1311 samples/s) - loss: 0.2231
      - sparse_categorical_accuracy: 0.9312 - val_loss: 0.1964 - ... - ETA 18s

One line per epoch, printed when the epoch ends (verbose=1); nothing with verbose=0.
"""
from __future__ import annotations

import sys
from typing import TextIO


def format_seconds(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, seconds = divmod(int(round(seconds)), 60)
    return f"{minutes}m{seconds:02d}s" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m"


class Progress:
    def __init__(self, epochs: int, verbose: int = 1, stream: TextIO | None = None):
        self.epochs = epochs
        self.verbose = verbose
        self.stream = stream if stream is not None else sys.stderr
        self._seconds: list[float] = []

    def epoch_done(self, epoch: int, steps: int, samples: int, seconds: float,
                   metrics: dict) -> str:
        """Reports epoch `epoch` (1-based); returns the line (printed unless verbose=0)."""
        self._seconds.append(seconds)
        remaining = (self.epochs - epoch) * sum(self._seconds) / len(self._seconds)
        rate = samples / seconds if seconds > 0 else float("inf")
        parts = [f"Epoch {epoch}/{self.epochs}", f"{steps}/{steps} steps",
                 f"{format_seconds(seconds)} ({1000 * seconds / max(steps, 1):.0f} ms/step, "
                 f"{rate:.0f} samples/s)"]
        parts += [f"{name}: {value:.4f}" for name, value in metrics.items()]
        if epoch < self.epochs:
            parts.append(f"ETA {format_seconds(remaining)}")
        line = " - ".join(parts)
        if self.verbose:
            print(line, file=self.stream, flush=True)
        return line
