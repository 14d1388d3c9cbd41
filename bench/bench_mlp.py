"""MLP 784-512-512-10 on MNIST: training steps and an epoch, kerasdml vs Keras.

    .venv/bin/python bench/run.py mlp [--quick | --full]
"""
from __future__ import annotations

from harness import Options, Row
from models import mlp, mnist
from training import Workload, training_rows

TRAIN_TARGETS = {"single": 1.5}


def rows(options: Options) -> list[Row]:
    train = 60_000 if options.full else 2_000 if options.quick else 10_000
    x, y, _ = mnist(train, 0)
    return training_rows(Workload("MLP", mlp(), "mlp_train.dml", x, y, TRAIN_TARGETS), options)
