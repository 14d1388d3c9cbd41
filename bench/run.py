"""kerasdml's benchmarks: one command, one table of ratios measured side by side in this run.

    .venv/bin/python bench/run.py                  # every benchmark (several minutes)
    .venv/bin/python bench/run.py lenet mlp        # some of them, by name
    .venv/bin/python bench/run.py --quick          # smaller workloads, for a quick look
    .venv/bin/python bench/run.py --full           # whole 60,000-image MNIST epochs
    .venv/bin/python bench/run.py --list

Each benchmark is a function `rows(Options) -> list[harness.Row]` in a module of this folder,
listed in BENCHMARKS below: adding a benchmark (compile time, Spark, end to end) is one entry.
Every row compares kerasdml with a reference measured in the same process (Keras, TensorFlow,
plain Python), alternating the two, and keeps the best time of each; the ratio is kerasdml /
reference. Targets are checked here, never in tests.
"""
from __future__ import annotations

import argparse
import importlib
import os
import platform
import sys
import time

from harness import Options, format_table
from kerasdml.runtime.local.threads import configure_threads

# name -> (module in bench/, what it measures)
BENCHMARKS: dict[str, tuple[str, str]] = {
    "interpreter": ("bench_interpreter", "DML scalar loop vs plain Python"),
    "conv": ("bench_conv", "LeNet's conv/pool kernels vs TensorFlow"),
    "lenet": ("bench_lenet", "LeNet training steps, epoch, predict vs Keras"),
    "mlp": ("bench_mlp", "MLP 784-512-512-10 training vs Keras"),
    "spark": ("bench_spark", "Spark local[2]: matmul vs mllib BlockMatrix, LeNet forward vs local"),
    "spark_scoring": ("bench_spark_scoring", "KerasDMLModel.transform vs predict_batch_udf + Keras"),
    "estimator": ("bench_estimator", "Keras2DML.fit of the LeNet (generated DML) vs Keras fit"),
    "depthwise": ("bench_depthwise", "Xception-style predict (depthwise kernels) vs Keras"),
    "models": ("bench_models", "ResNet50V2, InceptionV3, MobileNetV2, Xception predict vs Keras"),
    "transformer": ("bench_transformer", "a 4-layer transformer encoder: predict and a Keras2DML.fit "
                    "epoch vs Keras"),
    "zoo": ("bench_zoo", "every keras.applications family at the zoo's sizes, predict vs Keras, sorted by ratio"),
    "memory": ("bench_memory", "peak RSS of a 60,000-image LeNet epoch vs Keras"),
    "compile": ("bench_estimator:compile_rows", "compiling ResNet50 / MobileNetV2 vs load_model"),
    "paramserv": ("bench_paramserv", "LeNet with paramserv on Spark (REMOTE_SPARK), 2 workers, vs minibatch local"),
    "channel": ("bench_channel", "paramserv's authenticated channel: a LeNet gradient's round trip vs "
                "plain pickles over TCP"),
    "threads": ("bench_threads", "LeNet epoch and predict from Python after import keras vs the console"),
    "lenet_table": ("bench_lenet_table", "LeNet's target rows vs Keras, after import keras and from the "
                    "console; --full: 60,000-image Keras2DML.fit epochs and peak RSS"),
}


def machine(threads: dict) -> str:
    import numpy as np
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
            f"BLAS threads {threads['OPENBLAS_NUM_THREADS']}, kernel threads "
            f"{threads['KERASDML_KERNEL_THREADS']}, numpy {np.__version__}, "
            f"python {platform.python_version()}, load average {load:.1f}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", metavar="NAME", help="benchmarks to run (default: all)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per side (best counts)")
    parser.add_argument("--quick", action="store_true", help="smaller workloads")
    parser.add_argument("--full", action="store_true", help="full 60,000-image epochs")
    parser.add_argument("--blas-threads", type=int, default=None,
                        help="threads of numpy's BLAS (default 1, the kernels' worker pool using "
                             "the cores; above 1, the kernels run single-threaded)")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = parser.parse_args(argv)
    # before anything imports numpy: the BLAS library reads this when it is loaded
    threads = configure_threads(blas=args.blas_threads)
    if args.list:
        for name, (_, what) in BENCHMARKS.items():
            print(f"{name:<12} {what}")
        return 0
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
    options = Options(repeats=args.repeats, quick=args.quick, full=args.full)
    rows = []
    for name in args.names or BENCHMARKS:
        start = time.perf_counter()
        module_name, _, function = BENCHMARKS[name][0].partition(":")
        found = getattr(importlib.import_module(module_name), function or "rows")(options)
        rows += found
        # each part as it finishes (on stderr), so that an interrupted run still shows it
        print(f"[{name}: {time.perf_counter() - start:.0f} s]\n{format_table(found)}",
              file=sys.stderr, flush=True)
    print(machine(threads))
    print(format_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
