"""Keras2DML called SystemML's way: its constructor arguments, Caffe solver settings, data
conventions (channels-first rows, class values in and out) and methods."""
import numpy as np
import pytest

from support.keras_models import keras, randomize, sequential
from kerasdml.compiler.errors import CompileError
from kerasdml.compiler.estimator import Keras2DML
from kerasdml.compiler.systemml import solver
from kerasdml.runtime.api import run_string

L = keras.layers
RNG = np.random.default_rng(3)
X_IMG = RNG.uniform(size=(24, 5, 5, 2)).astype("float32")        # Keras' (N, H, W, C)
X_ROWS = X_IMG.transpose(0, 3, 1, 2).reshape(24, -1)               # SystemML's C*H*W rows
CLASSES = RNG.integers(0, 3, 24)


def cnn(compiled=True):
    model = randomize(sequential((5, 5, 2), L.Conv2D(3, 3, padding="same", activation="relu"),
                                 L.Flatten(), L.Dense(3, activation="softmax"), name="cnn"),
                      scale=0.5)
    if compiled:
        model.compile(loss="categorical_crossentropy", optimizer=keras.optimizers.SGD(0.05))
    return model


def systemml(model=None, **settings):
    settings = {"input_shape": (2, 5, 5), "batch_size": 8, "max_iter": 6, "display": 0,
                "test_interval": 0, **settings}
    return Keras2DML(None, model if model is not None else cnn(), **settings)


def test_the_constructor_takes_systemmls_arguments_and_defaults():
    estimator = Keras2DML(None, cnn(), (2, 5, 5))
    settings = estimator.systemml
    assert (estimator.batch_size, settings.max_iter, settings.test_iter, settings.test_interval,
            settings.display, settings.lr_policy, settings.weight_decay) == \
        (64, 2000, 10, 500, 100, "step", 5e-4)
    assert settings.input_shape == (2, 5, 5) and estimator.spark is None
    keyword = Keras2DML(cnn(), epochs=2)
    assert keyword.systemml is None and keyword.epochs == 2
    with pytest.raises(CompileError, match="SparkSession"):
        Keras2DML("not a session", cnn())


def test_channels_first_rows_give_the_predictions_of_keras_shaped_samples():
    estimator = systemml().fit(X_ROWS, CLASSES)
    keras_shaped = estimator.model_.predict(X_IMG, weights=estimator.weights_)
    np.testing.assert_allclose(estimator.predict_proba(X_ROWS), keras_shaped, atol=1e-12)
    predicted = estimator.predict(X_ROWS)
    assert np.array_equal(predicted, keras_shaped.argmax(axis=1))
    assert estimator.score(X_ROWS, CLASSES) == pytest.approx(np.mean(predicted == CLASSES))


def test_max_iter_counts_batches_and_may_end_inside_an_epoch(capsys):
    estimator = systemml(max_iter=7, display=1).fit(X_ROWS, CLASSES)   # 3 batches per epoch
    err = capsys.readouterr().err
    steps = [line.split(" ")[1] for line in err.splitlines() if line.startswith("step ")]
    assert steps == [f"{k}/7" for k in range(1, 8)]
    assert estimator.epochs_ == 3 and len(estimator.history_["loss"]) == 3
    assert "batch 1/1" in err.splitlines()[-2]           # the last epoch ran one batch


def test_display_prints_every_display_steps_with_loss_accuracy_and_eta(capsys):
    systemml(max_iter=6, display=2).fit(X_ROWS, CLASSES)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("step")]
    assert [line.split(" ")[1] for line in lines] == ["2/6", "4/6", "6/6"]
    assert all("loss: " in line and "accuracy: " in line and "ETA" in line for line in lines)


def test_validation_every_test_interval_steps_on_test_iter_batches(capsys):
    systemml(max_iter=6, test_interval=3, test_iter=1).fit(
        X_ROWS, CLASSES, validation_data=(X_ROWS[:10], CLASSES[:10]))
    lines = [line for line in capsys.readouterr().err.splitlines() if "validation" in line]
    assert [line.split(" ")[1] for line in lines] == ["3", "6"]
    assert all("val_loss" in line and "val_accuracy" in line for line in lines)


@pytest.mark.parametrize("activation, loss", [("softmax", "categorical_crossentropy"),
                                              ("linear", "mean_squared_error")])
def test_an_uncompiled_model_trains_with_systemmls_defaults_and_says_so(capsys, activation,
                                                                        loss):
    model = randomize(sequential((4,), L.Dense(3, activation=activation)), scale=0.5)
    estimator = Keras2DML(None, model, batch_size=8, max_iter=2, display=0)
    estimator.fit(RNG.normal(size=(16, 4)), RNG.integers(0, 3, 16) if loss != "mean_squared_error"
                  else RNG.normal(size=(16, 3)))
    notes = [line for line in capsys.readouterr().err.splitlines() if "not compiled" in line]
    assert len(notes) == 1 and f"loss='{loss}'" in notes[0]
    assert estimator.model_.loss.module == loss
    assert estimator.model_.optimizer.keras_class == "SGD"


def test_weight_decay_is_a_penalty_on_weights_only():
    estimator = systemml(weight_decay=0.01)
    model = estimator._compiled()
    penalties = {p.role: p.regularizer for p in model.parameters}
    assert penalties["kernel"] == (("l2", 0.005),) and penalties["bias"] == ()
    l1 = systemml(weight_decay=0.01, regularization_type="L1")._compiled()
    assert {p.regularizer for p in l1.parameters if p.role == "kernel"} == {(("l1", 0.01),)}
    assert "l2::backward" in estimator.get_training_script()


CAFFE = {  # Caffe's formulas, iter = updates done; base 0.1, gamma 0.5, max_iter 10
    "fixed": lambda t: 0.1,
    "step": lambda t: 0.1 * 0.5 ** np.floor(t / solver.STEPSIZE),
    "exp": lambda t: 0.1 * 0.5 ** t,
    "inv": lambda t: 0.1 * (1 + 0.5 * t) ** -solver.POWER,
    "poly": lambda t: 0.1 * (1 - t / 10) ** solver.POWER,
    "sigmoid": lambda t: 0.1 / (1 + np.exp(-0.5 * (t - solver.STEPSIZE))),
}


@pytest.mark.parametrize("policy", list(CAFFE))
def test_lr_policies_follow_caffes_formulas(policy):
    schedule = solver.learning_rate(policy, 0.1, 0.5, 10)
    arguments = [("TRUE" if v else "FALSE") if isinstance(v, bool) else repr(float(v))
                 for _, v in schedule.arguments]
    for t in (0, 1, 3, 9):
        out = run_string('source("nn/optim/schedules.dml") as schedules\n'
                         f"lr = schedules::{schedule.function}({', '.join(arguments)}, {t})",
                         outputs=["lr"])
        assert out["lr"] == pytest.approx(CAFFE[policy](t), rel=1e-12)
    with pytest.raises(CompileError, match="Caffe"):
        solver.learning_rate("cosine", 0.1, 0.5, 10)


def test_class_values_and_label_names_come_back_from_predict(tmp_path):
    names = np.array(["cat", "dog", "emu"])
    estimator = systemml().fit(X_ROWS, names[CLASSES])
    predicted = estimator.predict(X_ROWS)
    assert set(predicted) <= set(names)
    assert estimator.score(X_ROWS, names[CLASSES]) == pytest.approx(
        np.mean(predicted == names[CLASSES]))
    (tmp_path / "labels.txt").write_text("1,zero\n2,one\n3,two\n")
    named = systemml(labels=str(tmp_path / "labels.txt")).fit(X_ROWS, CLASSES)
    assert set(named.predict(X_ROWS)) <= {"zero", "one", "two"}


def test_weights_folder_save_and_load_round_trip(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model = cnn()
    trained = systemml(model, weights="weights_dir").fit(X_ROWS, CLASSES)
    assert {"weights.h5", "predict.dml", "labels.txt"} <= {p.name for p in
                                                            (tmp_path / "weights_dir").iterdir()}
    restored = systemml(model).load("weights_dir")
    np.testing.assert_array_equal(restored.predict_proba(X_ROWS), trained.predict_proba(X_ROWS))
    continued = systemml(model, weights="weights_dir", load_keras_weights=False)
    start = continued._initial_weights(continued._compiled())
    assert all(np.array_equal(start[name], value) for name, value in trained.weights_.items())
    with pytest.raises(CompileError, match="weights.h5"):
        systemml(model).load(tmp_path / "missing")


def test_set_and_the_switches(capsys):
    estimator = systemml()
    assert estimator.set(train_algo="looped_minibatch", parallel_batches=2, debug=True,
                         test_algo="batch", perform_one_hot_encoding=True) is estimator
    assert (estimator.train_algo, estimator.parallel_batches) == ("looped_minibatch", 2)
    with pytest.raises(CompileError, match="output_activations"):
        estimator.set(output_activations="dir")
    assert estimator.setGPU(True) is estimator and estimator.setForceGPU(True) is estimator
    assert capsys.readouterr().err.count("no GPU backend") == 2
    estimator.setConfigProperty("sysml.floating.point.precision", "single")
    assert estimator.precision == "single"
    with pytest.raises(CompileError, match="not a property"):
        estimator.setConfigProperty("sysml.unknown", "1")
    estimator.setStatistics(True).fit(X_ROWS, CLASSES)
    assert "Heavy hitter operations" in capsys.readouterr().err
    assert "schedules::exponential_decay" in estimator.get_training_script()
    assert "predict" in estimator.get_prediction_script().lower()
