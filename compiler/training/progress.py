"""Keras-like progress on stderr while a model trains.

During an epoch (verbose=1), either a line every `display` optimizer steps (SystemML's display):

    step 20/3000 (epoch 1, batch 20/600) - loss: 0.4122 - accuracy: 0.8755 - 71 ms/step - ETA 3m31s

or, by default, that line kept live: rewritten in place at most every LIVE_SECONDS in a terminal
or a Jupyter cell, and printed as a new line every LOG_SECONDS when stderr is a file or pipe.
Loss and metrics are the means over the epoch's batches so far. When the epoch ends:

    Epoch 2/5 - 80/80 steps - 6.1s (76 ms/step, 1311 samples/s) - loss: 0.2231
      - sparse_categorical_accuracy: 0.9312 - val_loss: 0.1964 - ... - ETA 18s

Nothing with verbose=0.
"""
from __future__ import annotations

import sys
import time
from typing import TextIO

LIVE_SECONDS = 0.5
LOG_SECONDS = 5.0


def format_seconds(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, seconds = divmod(int(round(seconds)), 60)
    return f"{minutes}m{seconds:02d}s" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m"


def interactive(stream: TextIO) -> bool:
    """Whether a carriage return rewrites the line: a terminal, or a Jupyter cell."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) or "ipykernel" in sys.modules


def _metric_parts(metrics: dict) -> list[str]:
    return [f"{name}: {value:.4f}" for name, value in metrics.items()]


class Progress:
    def __init__(self, epochs: int, verbose: int = 1, stream: TextIO | None = None,
                 display: int | None = None, total_steps: int | None = None,
                 first_step: int = 0):
        self.epochs = epochs
        self.verbose = verbose
        self.stream = stream if stream is not None else sys.stderr
        self.display = display
        self.total_steps = total_steps
        self._seconds: list[float] = []
        self._live = interactive(self.stream)
        self._started = time.perf_counter()
        self._first_step = first_step  # steps done before this run (a resumed fit)
        self._shown_at = self._started
        self._live_width = 0

    # --- during an epoch ---------------------------------------------------------------------

    def step_done(self, step: int, epoch: int, batch: int, batches: int,
                  metrics: dict) -> str | None:
        """Reports optimizer step `step` (batch `batch` of `batches` of `epoch`); returns the
        line when one was shown."""
        now = time.perf_counter()
        if not self.verbose or not self._due(step, now):
            return None
        self._shown_at = now
        line = self._step_line(step, epoch, batch, batches, metrics, now)
        if self.display is None and self._live:
            padding = " " * max(0, self._live_width - len(line))
            self.stream.write("\r" + line + padding)
            self._live_width = len(line)
            self.stream.flush()
        else:
            print(line, file=self.stream, flush=True)
        return line

    def _due(self, step: int, now: float) -> bool:
        if self.display is not None:
            return self.display > 0 and step % self.display == 0
        return now - self._shown_at >= (LIVE_SECONDS if self._live else LOG_SECONDS)

    def _step_line(self, step, epoch, batch, batches, metrics, now) -> str:
        done = step - self._first_step
        per_step = (now - self._started) / max(done, 1)
        total = f"/{self.total_steps}" if self.total_steps else ""
        parts = [f"step {step}{total} (epoch {epoch}, batch {batch}/{batches})"]
        parts += _metric_parts(metrics)
        parts.append(f"{1000 * per_step:.0f} ms/step")
        if self.total_steps:
            parts.append(f"ETA {format_seconds(per_step * max(self.total_steps - step, 0))}")
        return " - ".join(parts)

    def validation(self, step: int, metrics: dict) -> str:
        """Reports a validation done after step `step` (SystemML's test_interval)."""
        line = " - ".join([f"step {step} validation"]
                          + _metric_parts({f"val_{k}": v for k, v in metrics.items()}))
        if self.verbose:
            self.clear_live()
            print(line, file=self.stream, flush=True)
        return line

    def clear_live(self) -> None:
        """Ends a live line (before an epoch line, a warning or an error is printed)."""
        if self._live_width:
            self.stream.write("\r" + " " * self._live_width + "\r")
            self.stream.flush()
            self._live_width = 0

    # --- at the end of an epoch --------------------------------------------------------------

    def epoch_done(self, epoch: int, steps: int, samples: int, seconds: float,
                   metrics: dict) -> str:
        """Reports epoch `epoch` (1-based); returns the line (printed unless verbose=0)."""
        self._seconds.append(seconds)
        remaining = (self.epochs - epoch) * sum(self._seconds) / len(self._seconds)
        rate = samples / seconds if seconds > 0 else float("inf")
        parts = [f"Epoch {epoch}/{self.epochs}", f"{steps}/{steps} steps",
                 f"{format_seconds(seconds)} ({1000 * seconds / max(steps, 1):.0f} ms/step, "
                 f"{rate:.0f} samples/s)"]
        parts += _metric_parts(metrics)
        if epoch < self.epochs:
            parts.append(f"ETA {format_seconds(remaining)}")
        line = " - ".join(parts)
        if self.verbose:
            self.clear_live()
            print(line, file=self.stream, flush=True)
        return line
