"""`kerasdml fit`, `score` and `demo`, called in-process through the console script's main."""
from __future__ import annotations

import numpy as np
import pytest

from support.keras_models import keras, randomize, save, sequential
from kerasdml.compiler.cli import main

L = keras.layers
RNG = np.random.default_rng(3)
X = RNG.normal(size=(40, 5)).astype("float32")
Y = (X[:, 0] + X[:, 1] > 0).astype("int64") + (X[:, 2] > 1).astype("int64")


def classifier(tmp_path, compiled=True):
    model = randomize(sequential((5,), L.Dense(8, activation="relu"),
                                 L.Dense(3, activation="softmax"), name="cli_mlp"), scale=0.5)
    if compiled:
        model.compile(optimizer=keras.optimizers.Adam(0.02),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return save(model, tmp_path)


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def data(tmp_path):
    np.savez(tmp_path / "train.npz", x_train=X, y_train=Y)
    np.savez(tmp_path / "test.npz", x_test=X[:20], y_test=Y[:20])
    return tmp_path


def test_fit_writes_a_trained_model_that_keras_loads_and_score_reports_it(data, capsys):
    model = classifier(data)
    code, out, err = run(capsys, "fit", model, "--data", data / "train.npz", "--epochs", 3,
                         "--batch-size", 8, "--seed", 1, "-o", data / "trained.keras",
                         "--plot", data / "curves.png")
    assert code == 0, err
    assert err.count("Epoch ") == 3 and "trained 3 epoch(s): loss " in out
    assert (data / "curves.png").read_bytes()[:4] == b"\x89PNG"
    trained = keras.models.load_model(data / "trained.keras")
    original = keras.models.load_model(model)
    assert not np.allclose(trained.predict(X, verbose=0), original.predict(X, verbose=0))
    code, out, err = run(capsys, "score", data / "trained.keras", "--data", data / "test.npz")
    assert code == 0, err
    measured = dict(part.split(": ") for part in out.strip().split(" - "))
    keras_loss, keras_accuracy = trained.evaluate(X[:20], Y[:20], verbose=0)
    assert float(measured["accuracy"]) == pytest.approx(keras_accuracy, abs=1e-4)
    assert float(measured["loss"]) == pytest.approx(keras_loss, rel=1e-3)


def test_fit_resumes_from_its_checkpoint(data, capsys):
    model = classifier(data)
    common = ["--data", data / "train.npz", "--batch-size", 8, "--seed", 2, "--quiet",
              "--weights-dir", data / "ckpt"]
    assert run(capsys, "fit", model, "--epochs", 1, "-o", data / "a.keras", *common)[0] == 0
    code, out, _ = run(capsys, "fit", model, "--epochs", 2, "--resume", "-o", data / "b.keras",
                       *common)
    assert code == 0 and "trained 2 epoch(s)" in out
    assert run(capsys, "fit", model, "--epochs", 2, "-o", data / "c.keras",
               *common[:-2])[0] == 0
    resumed = keras.models.load_model(data / "b.keras").predict(X, verbose=0)
    straight = keras.models.load_model(data / "c.keras").predict(X, verbose=0)
    np.testing.assert_allclose(resumed, straight, atol=1e-6)


@pytest.mark.parametrize("case", ["missing_arrays", "uncompiled", "wrong_shape"])
def test_bad_input_is_one_clear_error_and_no_output(data, capsys, case):
    model = classifier(data, compiled=case != "uncompiled")
    if case == "missing_arrays":
        np.savez(data / "train.npz", features=X)
    if case == "wrong_shape":
        np.savez(data / "train.npz", x=X[:, :4], y=Y)
    code, _, err = run(capsys, "fit", model, "--data", data / "train.npz", "-o",
                       data / "out.keras")
    expected = {"missing_arrays": "expected arrays x_train and y_train",
                "uncompiled": "not compiled with a loss: call model.compile(...) before saving "
                              "it, or give --loss (e.g. --loss categorical_crossentropy)",
                "wrong_shape": r"the model's input is (5,)"}[case]
    assert code == 1 and expected in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not (data / "out.keras").exists()


@pytest.mark.slow
def test_demo_trains_the_lenet_on_the_shipped_subset(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "demo", "--epochs", 1)
    assert code == 0, err
    accuracy = float(out.split("test accuracy ")[1].split()[0])
    assert accuracy > 0.9
    loaded = keras.models.load_model(tmp_path / "mnist_lenet.keras")
    assert loaded.output_shape == (None, 10)
