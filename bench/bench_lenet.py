"""LeNet on MNIST: training steps, an epoch, and scoring 10,000 images, kerasdml vs Keras.

    .venv/bin/python bench/run.py lenet [--quick | --full]
"""
from __future__ import annotations

from harness import Options, Row
from models import lenet, mnist
from training import Workload, predict_rows, training_rows

# ratio targets (kerasdml / Keras float32)
TRAIN_TARGETS = {"single": 1.0, "double": 2.0}
PREDICT_TARGET = 1.0


def rows(options: Options) -> list[Row]:
    train = 60_000 if options.full else 500 if options.quick else 2_000
    test = 2_000 if options.quick else 10_000
    x, y, x_test = mnist(train, test)
    work = Workload("LeNet", lenet(), "lenet_train.dml", x, y, TRAIN_TARGETS)
    return (training_rows(work, options)
            + predict_rows("LeNet", lenet(), x_test, options, PREDICT_TARGET))
