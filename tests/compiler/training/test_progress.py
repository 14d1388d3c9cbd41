"""Progress during an epoch: a line every `display` steps, or one live line rewritten in a
terminal or a Jupyter cell (and printed every few seconds to a file)."""
import io

from kerasdml.compiler.training import progress as progress_module
from kerasdml.compiler.training.progress import Progress


class Terminal(io.StringIO):
    def isatty(self):
        return True


METRICS = {"loss": 0.5, "accuracy": 0.75}


def test_a_line_every_display_steps_with_step_metrics_and_eta():
    stream = io.StringIO()
    progress = Progress(epochs=1, stream=stream, display=2, total_steps=5)
    shown = [progress.step_done(step, 1, step, 5, METRICS) for step in range(1, 6)]
    assert [line is not None for line in shown] == [False, True, False, True, False]
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("step 2/5 (epoch 1, batch 2/5) - loss: 0.5000 - accuracy: 0.7500")
    assert "ms/step - ETA" in lines[0]


def test_a_live_line_in_a_terminal_is_rewritten_and_cleared_by_the_epoch_line(monkeypatch):
    monkeypatch.setattr(progress_module, "LIVE_SECONDS", 0.0)
    stream = Terminal()
    progress = Progress(epochs=2, stream=stream, total_steps=6)
    for step in (1, 2, 3):
        progress.step_done(step, 1, step, 3, METRICS)
    progress.epoch_done(1, 3, 30, 1.0, METRICS)
    text = stream.getvalue()
    assert text.count("\r") >= 4 and text.count("\n") == 1      # rewritten, then one line
    assert text.rstrip("\n").endswith("ETA 1.0s") and "Epoch 1/2" in text.split("\r")[-1]


def test_a_file_gets_a_line_every_few_seconds_and_quiet_gets_nothing(monkeypatch):
    monkeypatch.setattr(progress_module, "LOG_SECONDS", 0.0)
    stream = io.StringIO()
    Progress(epochs=1, stream=stream).step_done(1, 1, 1, 4, METRICS)
    assert stream.getvalue().startswith("step 1 (epoch 1, batch 1/4)") and "\r" not in \
        stream.getvalue()
    quiet = io.StringIO()
    Progress(epochs=1, verbose=0, stream=quiet, display=1).step_done(1, 1, 1, 4, METRICS)
    assert quiet.getvalue() == ""


def test_jupyter_counts_as_interactive(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "ipykernel", object())
    assert progress_module.interactive(io.StringIO())
