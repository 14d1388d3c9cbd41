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


def _nan_features():
    x = X.copy()
    x[7, 2] = np.nan
    return x


@pytest.mark.parametrize("case", ["missing_arrays", "uncompiled", "wrong_shape", "nan",
                                  "no_rows", "empty_file", "one_array", "labels", "folder",
                                  "resume", "validation_keys"])
def test_bad_input_is_one_clear_error_and_no_output(data, capsys, case):
    model = classifier(data, compiled=case != "uncompiled")
    extra = []
    if case == "missing_arrays":
        np.savez(data / "train.npz", features=X)
    if case == "wrong_shape":
        np.savez(data / "train.npz", x=X[:, :4], y=Y)
    if case == "nan":
        np.savez(data / "train.npz", x=_nan_features(), y=Y)
    if case == "no_rows":
        np.savez(data / "train.npz", x=X[:0], y=Y[:0])
    if case == "empty_file":
        (data / "train.npz").write_bytes(b"")
    if case == "one_array":
        (data / "train.npz").unlink()
        np.save(data / "train.npz.npy", X)
        (data / "train.npz.npy").rename(data / "train.npz")
    if case == "labels":
        np.savez(data / "train.npz", x=X, y=Y + 5)
    if case == "folder":
        (data / "train.npz").unlink()
        (data / "train.npz").mkdir()
    if case == "resume":
        extra = ["--resume"]
    if case == "validation_keys":
        extra = ["--validation-data", data / "train.npz"]
    code, _, err = run(capsys, "fit", model, "--data", data / "train.npz", "-o",
                       data / "out.keras", *extra)
    expected = {"missing_arrays": "expected arrays x_train and y_train",
                "uncompiled": "not compiled with a loss: call model.compile(...) before saving "
                              "it, or give --loss (e.g. --loss categorical_crossentropy)",
                "wrong_shape": r"the model's input is (5,)",
                "nan": "train.npz: X holds NaN or infinite values (first in example 7)",
                "no_rows": "train.npz: X has no examples",
                "empty_file": "train.npz: cannot read an .npz archive: the file is empty",
                "one_array": "train.npz: holds one array, not an .npz archive",
                "labels": "train.npz: y must hold integer classes in [0, 2]",
                "folder": "train.npz: a folder without parquet files",
                "resume": "--resume continues from the checkpoint in --weights-dir",
                "validation_keys": "train.npz: expected arrays x_val and y_val (or x_test and "
                                   "y_test, or x and y); found x_train, y_train"}[case]
    assert code == 1 and expected in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not (data / "out.keras").exists()


def test_fit_validates_on_an_npz_given_as_validation_data(data, capsys):
    model = classifier(data)
    np.savez(data / "val.npz", x_val=X[:10], y_val=Y[:10])
    code, out, err = run(capsys, "fit", model, "--data", data / "train.npz", "--validation-data",
                         data / "val.npz", "--epochs", 2, "--seed", 1, "-o", data / "a.keras")
    assert code == 0, err
    assert "val_loss: " in err and "val_accuracy " in out
    trained = keras.models.load_model(data / "a.keras")
    last = float(out.split("val_loss ")[1].split(",")[0])
    assert last == pytest.approx(trained.evaluate(X[:10], Y[:10], verbose=0)[0], abs=1e-4)


@pytest.mark.slow
def test_demo_trains_the_lenet_on_the_shipped_subset(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "demo", "--epochs", 1)
    assert code == 0, err
    accuracy = float(out.split("test accuracy ")[1].split()[0])
    assert accuracy > 0.9
    loaded = keras.models.load_model(tmp_path / "mnist_lenet.keras")
    assert loaded.output_shape == (None, 10)
