"""Benchmark kerasdml's DNN kernels (native where built, else numpy) against TensorFlow at the
MNIST LeNet shapes.

    batch 100, 1x28x28 -> conv 32 5x5 pad 2 -> relu -> maxpool 2x2
                       -> conv 64 5x5 pad 2 -> relu -> maxpool 2x2

For each layer, in float32 and float64, it times
  * forward:            kerasdml conv2d / max_pool      vs TF forward
  * forward + backward: kerasdml forward + backward_filter + backward_data
                        (pools: forward + max_pool_backward)
                        vs TF forward and both gradients through tf.GradientTape,
each convolution's dout being what training hands it: a random gradient of the pool after it,
through the pool's and the relu's gradients (one value per 2x2 window at most, less where the
relu is 0: mostly zeros, which kerasdml's sparse gradient kernels skip and TF's do not),
all TF work compiled with tf.function, in this process, and prints milliseconds
(best of --repeats runs) and the ratio kerasdml / TF. A breakdown of the kerasdml
kernels follows.

Run:  .venv/bin/python bench/bench_conv.py [--repeats 15] [--dtype float32|float64|both]
      (bench/run.py conv puts the totals in the common table)
"""
from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

BATCH = 100
# (name, C, H, W, F, k, pad) ; pools are 2x2 stride 2
CONV1 = ("conv1", 1, 28, 28, 32, 5, 2)
CONV2 = ("conv2", 32, 14, 14, 64, 5, 2)


def best_ms(fn, repeats: int, warmup: int = 3) -> float:
    # Let the other library's worker threads stop spinning first: OpenBLAS and
    # TF's thread pools busy-wait after each call, and on a small machine that
    # steals the cores the next measurement needs.
    time.sleep(0.1)
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    # The minimum, not the median: on a shared machine other processes only ever
    # add time, and the minimum is the figure least disturbed by them.
    return min(times) * 1e3


def bench(dtype, repeats: int):
    import tensorflow as tf
    import keras
    from kerasdml.runtime.local import dnn

    rng = np.random.default_rng(0)
    rows, detail = [], []

    def training_dout(out, F, Ho):
        """The gradient a conv -> relu -> 2x2 max pool layer's convolution gets in training."""
        shapes = dict(input_shape=[BATCH, F, Ho, Ho], pool_size=[2, 2], stride=[2, 2],
                      padding=[0, 0])
        pooled = rng.standard_normal((BATCH, F * (Ho // 2) ** 2)).astype(dtype)
        relu = np.maximum(out, 0)
        return (dnn.max_pool_backward(relu, pooled, **shapes) * (out > 0)).astype(dtype)

    def conv_case(spec, X):
        name, C, H, W, F, k, p = spec
        shapes = dict(input_shape=[BATCH, C, H, W], filter_shape=[F, C, k, k],
                      stride=[1, 1], padding=[p, p])
        Wm = (rng.standard_normal((F, C * k * k)) * 0.1).astype(dtype)
        Ho = (H + 2 * p - k) + 1
        dout = training_dout(dnn.conv2d(X, Wm, **shapes), F, Ho)

        fwd = lambda: dnn.conv2d(X, Wm, **shapes)  # noqa: E731
        bf = lambda: dnn.conv2d_backward_filter(X, dout, **shapes)  # noqa: E731
        bd = lambda: dnn.conv2d_backward_data(Wm, dout, **shapes)  # noqa: E731
        t_f, t_bf, t_bd = (best_ms(f, repeats) for f in (fwd, bf, bd))

        layer = keras.layers.Conv2D(F, k, padding="same", use_bias=False, dtype=np.dtype(dtype).name)
        x_tf = tf.constant(X.reshape(BATCH, C, H, W).transpose(0, 2, 3, 1))
        layer.build(x_tf.shape)
        layer.kernel.assign(Wm.reshape(F, C, k, k).transpose(2, 3, 1, 0))
        dy_tf = tf.constant(dout.reshape(BATCH, F, Ho, Ho).transpose(0, 2, 3, 1))

        tf_fwd = tf.function(lambda x: layer(x))

        @tf.function
        def tf_grad(x, dy):
            # y is returned too: otherwise TF prunes the forward, whose output no gradient reads
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = layer(x)
            return [y, *tape.gradient(y, [x, layer.kernel], output_gradients=dy)]

        t_tf_f = best_ms(lambda: tf_fwd(x_tf).numpy(), repeats)
        t_tf_g = best_ms(lambda: [t.numpy() for t in tf_grad(x_tf, dy_tf)], repeats)
        rows.append((name, t_f, t_tf_f, t_f + t_bf + t_bd, t_tf_g))
        detail.append((name, {"forward": t_f, "backward_filter": t_bf, "backward_data": t_bd}))
        return fwd()

    def pool_case(name, X, C, H):
        shapes = dict(input_shape=[BATCH, C, H, H], pool_size=[2, 2], stride=[2, 2], padding=[0, 0])
        dout = rng.standard_normal((BATCH, C * (H // 2) ** 2)).astype(dtype)
        fwd = lambda: dnn.max_pool(X, **shapes)  # noqa: E731
        bwd = lambda: dnn.max_pool_backward(X, dout, **shapes)  # noqa: E731
        t_f, t_b = best_ms(fwd, repeats), best_ms(bwd, repeats)

        x_tf = tf.constant(X.reshape(BATCH, C, H, H).transpose(0, 2, 3, 1))
        dy_tf = tf.constant(dout.reshape(BATCH, C, H // 2, H // 2).transpose(0, 2, 3, 1))
        tf_fwd = tf.function(lambda x: tf.nn.max_pool2d(x, 2, 2, "VALID"))

        @tf.function
        def tf_grad(x, dy):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = tf.nn.max_pool2d(x, 2, 2, "VALID")
            return [y, tape.gradient(y, x, output_gradients=dy)]

        t_tf_f = best_ms(lambda: tf_fwd(x_tf).numpy(), repeats)
        t_tf_g = best_ms(lambda: [t.numpy() for t in tf_grad(x_tf, dy_tf)], repeats)
        rows.append((name, t_f, t_tf_f, t_f + t_b, t_tf_g))
        detail.append((name, {"forward": t_f, "backward": t_b}))
        return fwd()

    X = rng.standard_normal((BATCH, 28 * 28)).astype(dtype)
    Y1 = np.maximum(conv_case(CONV1, X), 0)
    P1 = pool_case("maxpool1", Y1, 32, 28)
    Y2 = np.maximum(conv_case(CONV2, P1), 0)
    pool_case("maxpool2", Y2, 64, 14)
    return rows, detail


def print_table(dtype, rows, detail):
    name = np.dtype(dtype).name
    print(f"\n{name}: milliseconds (best of repeats), ratio = kerasdml / TF")
    print(f"{'layer':10s} {'fwd kdml':>9s} {'fwd TF':>8s} {'ratio':>6s}   "
          f"{'f+b kdml':>9s} {'f+b TF':>8s} {'ratio':>6s}")
    tot = np.zeros(4)
    for layer, a, b, c, d in rows:
        tot += (a, b, c, d)
        print(f"{layer:10s} {a:9.2f} {b:8.2f} {a / b:6.2f}   {c:9.2f} {d:8.2f} {c / d:6.2f}")
    a, b, c, d = tot
    print(f"{'total':10s} {a:9.2f} {b:8.2f} {a / b:6.2f}   {c:9.2f} {d:8.2f} {c / d:6.2f}")
    print("kerasdml kernels (ms): " + "; ".join(
        f"{layer} " + ", ".join(f"{k} {v:.2f}" for k, v in parts.items()) for layer, parts in detail))


def rows(options) -> list:
    """The LeNet layers' forward + backward kernels in both precisions, against TensorFlow."""
    from harness import Row
    out = []
    for dtype in (np.float32, np.float64):
        layers, _ = bench(dtype, 5 if options.quick else 15)
        ours, theirs = sum(r[3] for r in layers), sum(r[4] for r in layers)
        notes = [", ".join(f"{name} {mine / tf:.2f}x" for name, _, _, mine, tf in layers)]
        out.append(Row(f"DNN kernels of LeNet, fwd+bwd, {np.dtype(dtype).name}", ours / 1e3,
                       theirs / 1e3, "TensorFlow", notes=notes))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--dtype", choices=["float32", "float64", "both"], default="both")
    args = ap.parse_args(argv)
    import tensorflow as tf
    print(f"numpy {np.__version__}, tensorflow {tf.__version__}, {os.cpu_count()} CPUs, batch {BATCH}")
    dtypes = [np.float32, np.float64] if args.dtype == "both" else [np.dtype(args.dtype).type]
    for dt in dtypes:
        rows, detail = bench(dt, args.repeats)
        print_table(dt, rows, detail)
    return 0


if __name__ == "__main__":
    sys.exit(main())
