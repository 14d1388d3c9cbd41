"""Benchmark `kerasdml compile` on keras.applications models against Keras' own loading of the
same file (keras.models.load_model), measured in this process.

For each model it times (best of --repeats runs) compile_model + write_model (predict.dml,
train.dml when a loss is known, weights.h5, summary.txt) and load_model, and prints seconds and
the ratio kerasdml / Keras. The issue's budget for ResNet50 is 2 s for the whole command.

Run:  .venv/bin/python bench/bench_compile.py [--repeats 3] [--size 32]
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def best_seconds(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--size", type=int, default=32, help="input height and width")
    options = parser.parse_args()
    import keras

    from kerasdml.compiler.compile import compile_model
    from kerasdml.compiler.output import write_model

    folder = tempfile.mkdtemp(prefix="bench_compile.")
    print(f"{'model':<12} {'kerasdml s':>11} {'keras load s':>13} {'ratio':>7}")
    for name in ("ResNet50", "MobileNetV2"):
        model = getattr(keras.applications, name)(weights=None,
                                                  input_shape=(options.size, options.size, 3))
        path = os.path.join(folder, f"{name}.keras")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.save(path)
        ours = best_seconds(lambda: write_model(compile_model(path),
                                                os.path.join(folder, name)), options.repeats)
        theirs = best_seconds(lambda: keras.models.load_model(path), options.repeats)
        print(f"{name:<12} {ours:>11.3f} {theirs:>13.3f} {ours / theirs:>7.2f}")


if __name__ == "__main__":
    main()
