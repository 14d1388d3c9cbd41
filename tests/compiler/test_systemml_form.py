"""Keras2DML called SystemML's way: its constructor arguments, Caffe solver settings, data
conventions (channels-first rows, class values in and out) and methods."""
import re
from pathlib import Path

import numpy as np
import pytest

from support.keras_models import keras, randomize, sequential
from support.local_http import serving
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


def test_class_values_come_back_from_predict_and_the_fitted_classes_win_over_labels(tmp_path):
    names = np.array(["cat", "dog", "emu"])
    estimator = systemml().fit(X_ROWS, names[CLASSES])
    predicted = estimator.predict(X_ROWS)
    assert set(predicted) <= set(names)
    assert estimator.score(X_ROWS, names[CLASSES]) == pytest.approx(
        np.mean(predicted == names[CLASSES]))
    (tmp_path / "labels.txt").write_text("1,zero\n2,one\n3,two\n")
    named = systemml(labels=str(tmp_path / "labels.txt"))
    scores = named.predict_proba(X_ROWS)                      # the Keras model's weights
    assert list(named.predict(X_ROWS)) == [["zero", "one", "two"][k] for k in
                                           scores.argmax(axis=1)]
    named.fit(X_ROWS, CLASSES)                                 # SystemML's decode: fitted first
    predicted = named.predict(X_ROWS)
    assert predicted.dtype == np.float64 and set(predicted) <= {0.0, 1.0, 2.0}
    assert named.score(X_ROWS, CLASSES) == pytest.approx(np.mean(predicted == CLASSES))
    assert named.score(X_ROWS, CLASSES) > 0


def test_weights_folder_save_and_load_round_trip(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model = cnn()
    trained = systemml(model, weights="weights_dir").fit(X_ROWS, CLASSES)
    assert {"weights.h5", "predict.dml", "labels.txt"} <= {p.name for p in
                                                            (tmp_path / "weights_dir").iterdir()}
    restored = systemml(model).load("weights_dir")
    np.testing.assert_array_equal(restored.predict_proba(X_ROWS), trained.predict_proba(X_ROWS))
    predicted = restored.predict(X_ROWS)                     # doubles, as SystemML's predict
    assert predicted.dtype == np.float64
    np.testing.assert_array_equal(predicted, trained.predict(X_ROWS))
    assert restored.score(X_ROWS, CLASSES) == trained.score(X_ROWS, CLASSES)
    start = restored._initial_weights(restored._compiled())  # fit continues from load()'s
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
    with pytest.raises(CompileError, match="double or single"):
        estimator.setConfigProperty("sysml.floating.point.precision", "half")
    estimator.setStatistics(True).fit(X_ROWS, CLASSES)
    assert "Heavy hitter operations" in capsys.readouterr().err
    assert "schedules::exponential_decay" in estimator.get_training_script()
    assert "predict" in estimator.get_prediction_script().lower()


def reported_operations(report: str) -> set[str]:
    heavy = report.split("Heavy hitter operations:")[1].split("Fused operations")[0]
    return set(re.findall(r"^\s+\d+\s+(\S+)", heavy, re.M))


def test_statistics_report_each_calls_own_operations(capsys):
    estimator = systemml(max_iter=3).setStatistics(True).setStatisticsMaxHeavyHitters(100)
    estimator.fit(X_ROWS, CLASSES)
    trained = reported_operations(capsys.readouterr().err)
    estimator.predict(X_ROWS)
    predicted = reported_operations(capsys.readouterr().err)
    backward = {name for name in trained if "backward" in name}
    assert backward and predicted and not backward & predicted


def dense(units=3):
    model = randomize(sequential((4,), L.Dense(8, activation="relu"),
                                 L.Dense(units, activation="softmax")), scale=0.5)
    model.compile(loss="categorical_crossentropy", optimizer=keras.optimizers.SGD(0.05))
    return model


X_DENSE = RNG.normal(size=(24, 4))


def test_predict_score_and_save_before_fit_use_the_keras_models_weights(tmp_path):
    model = cnn()
    estimator = systemml(model)
    np.testing.assert_allclose(estimator.predict_proba(X_ROWS), model.predict(X_IMG, verbose=0),
                               atol=1e-5)
    predicted = estimator.predict(X_ROWS)                    # SystemML's 1-based class indices
    np.testing.assert_array_equal(predicted, model.predict(X_IMG, verbose=0).argmax(axis=1) + 1)
    assert predicted.dtype == np.float64
    assert estimator.score(X_ROWS, CLASSES + 1) == pytest.approx(
        np.mean(predicted == CLASSES + 1))
    assert (estimator.save(tmp_path / "keras").transform(X_ROWS) == predicted).all()
    assert (tmp_path / "keras" / "weights.h5").is_file()
    untouched = systemml(model, load_keras_weights=False)
    with pytest.raises(CompileError, match="not fitted yet"):
        untouched.predict(X_ROWS)


def test_load_keras_weights_false_starts_from_dml_libs_seeded_random_init():
    model = dense()
    estimator = Keras2DML(None, model, batch_size=8, max_iter=3, display=0,
                          load_keras_weights=False).set_params(seed=7)
    compiled = estimator._compiled()
    start = estimator._initial_weights(compiled)
    again = estimator._initial_weights(compiled)
    assert all(np.array_equal(start[k], v) for k, v in again.items())
    first = [p.variable for p in compiled.parameters if p.layer == model.layers[0].name]
    kernel, bias = (np.asarray(start[name]) for name in first)
    limit = np.sqrt(6 / (4 + 8))                              # Glorot uniform, nn/layers/affine
    assert kernel.shape == (4, 8) and np.abs(kernel).max() <= limit and kernel.std() > limit / 4
    assert not np.allclose(kernel, model.layers[0].get_weights()[0])
    assert not bias.any()
    other = estimator.set_params(seed=8)._initial_weights(compiled)
    assert not np.array_equal(other[first[0]], kernel)
    estimator.fit(X_DENSE, CLASSES)
    assert estimator.epochs_ == 1 and np.isfinite(estimator.history_["loss"]).all()


def test_transform_is_predict_and_predict_returns_doubles_or_strings():
    estimator = Keras2DML(None, dense(), batch_size=8, max_iter=3, display=0).fit(X_DENSE,
                                                                                  CLASSES)
    predicted = estimator.transform(X_DENSE)
    assert predicted.dtype == np.float64
    np.testing.assert_array_equal(predicted, estimator.predict(X_DENSE))
    named = Keras2DML(None, dense(), batch_size=8, max_iter=3, display=0)
    classes = np.array(["a", "b", "c"])[CLASSES]
    assert named.fit(X_DENSE, classes).predict(X_DENSE).dtype.kind == "U"


def test_score_of_numpy_features_needs_y():
    estimator = Keras2DML(None, dense(), batch_size=8, max_iter=3, display=0)
    with pytest.raises(CompileError, match="needs the true labels"):
        estimator.score(X_DENSE)


def test_allreduce_algorithms_are_accepted(capsys):
    estimator = Keras2DML(None, dense(), batch_size=8, max_iter=3, display=0)
    assert estimator.set(test_algo="allreduce").systemml.test_algo == "allreduce"
    estimator.set(train_algo="allreduce")
    assert estimator.train_algo == "minibatch"
    notes = [line for line in capsys.readouterr().err.splitlines() if "allreduce" in line]
    assert len(notes) == 1 and "minibatch" in notes[0]
    estimator.fit(X_DENSE, CLASSES)
    assert estimator.epochs_ == 1


@pytest.mark.parametrize("option, default, other", [
    ("perform_fused_backward_update", True, False), ("weight_parallel_batches", True, False),
    ("use_builtin_lstm_fn", True, False), ("inline_nn_library", False, True),
    ("parfor_parameters", {}, {"par": 4}), ("parfor_parameters", "", "par=4")])
def test_set_accepts_systemmls_defaults_and_refuses_other_values(option, default, other):
    estimator = Keras2DML(None, dense(), max_iter=3)
    assert estimator.set(**{option: default}) is estimator
    with pytest.raises(CompileError, match=option):
        estimator.set(**{option: other})


def test_any_config_property_is_accepted_with_a_note(capsys):
    estimator = Keras2DML(None, dense(), max_iter=3)
    for name in ("sysml.defaultblocksize", "sysml.compressed.linalg", "sysml.caching.bufferSize",
                 "sysml.codegen.plancache", "sysml.numreducers", "sysml.jvmreuse"):
        assert estimator.setConfigProperty(name, "7") is estimator
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 6 and all("no effect in kerasdml" in line for line in err)
    estimator.setConfigProperty("sysml.gpu.sync.postProcess", "false")
    assert "'false'" in capsys.readouterr().err and estimator.precision == "double"


def test_batch_training_runs_systemmls_max_epochs():
    estimator = Keras2DML(None, dense(), batch_size=8, max_iter=4, display=0)
    estimator.set(train_algo="batch").fit(X_DENSE, CLASSES)  # ceil(4 * 8 / 24) = 2 updates
    assert estimator.epochs_ == 2 and len(estimator.history_["loss"]) == 2


def test_fit_file_reads_matrix_files_with_one_based_labels(tmp_path):
    np.savetxt(tmp_path / "X.csv", X_DENSE, delimiter=",")
    np.savetxt(tmp_path / "y.csv", CLASSES + 1, delimiter=",")
    estimator = Keras2DML(None, dense(), batch_size=8, max_iter=3, display=0)
    assert estimator.fit(str(tmp_path / "X.csv"), str(tmp_path / "y.csv")) is estimator
    predicted = estimator.predict(X_DENSE)
    assert set(predicted) <= {1.0, 2.0, 3.0}
    assert estimator.score(X_DENSE, CLASSES + 1) == pytest.approx(
        np.mean(predicted == CLASSES + 1))
    np.savetxt(tmp_path / "y0.csv", CLASSES, delimiter=",")
    with pytest.raises(CompileError, match="1-based"):
        estimator.fit_file(str(tmp_path / "X.csv"), str(tmp_path / "y0.csv"))
    with pytest.raises(CompileError, match="not found"):
        estimator.fit_file(str(tmp_path / "missing.csv"), str(tmp_path / "y.csv"))


def test_mllearn_methods():
    estimator = Keras2DML(None, dense(), batch_size=8, max_iter=3, display=0)
    estimator.set_features_col("pixels").set_label_col("digit")
    assert (estimator.features_col, estimator.label_col) == ("pixels", "digit")
    assert estimator.fit_numpy(X_DENSE, CLASSES).epochs_ == 1
    predicted = estimator.predict(X_DENSE)
    workdir = estimator._workdir.name
    assert estimator.close() is None
    assert not Path(workdir).exists()
    np.testing.assert_array_equal(estimator.predict(X_DENSE), predicted)


def binary(compiled=True):
    """A one-unit sigmoid output, as Keras' binary classifiers are built."""
    model = randomize(sequential((4,), L.Dense(1, activation="sigmoid")))
    model.compile(loss="binary_crossentropy", optimizer=keras.optimizers.SGD(0.05))
    return model


def test_a_sigmoid_output_takes_0_1_labels_as_keras_does(tmp_path):
    y = (X_DENSE[:, 0] > 0).astype(int)
    estimator = Keras2DML(None, binary(), batch_size=8, max_iter=3, display=0).fit(X_DENSE, y)
    probability = estimator.predict_proba(X_DENSE)
    assert probability.shape == (24, 1)
    predicted = estimator.predict(X_DENSE)            # the values fit saw, at threshold 0.5
    np.testing.assert_array_equal(predicted, (probability[:, 0] > 0.5).astype(float))
    assert predicted.dtype == np.float64 and 0 < predicted.sum() < 24
    assert estimator.score(X_DENSE, y) == pytest.approx(np.mean(predicted == y))
    assert estimator.score(X_DENSE, y.reshape(-1, 1).astype(float)) == \
        estimator.score(X_DENSE, y)
    assert (estimator.save(tmp_path / "m") and
            (tmp_path / "m" / "labels.txt").read_text() == "1,0\n2,1\n")
    named = Keras2DML(None, binary(), batch_size=8, max_iter=3, display=0)
    words = np.array(["no", "yes"])[y]
    assert set(named.fit(X_DENSE, words).predict(X_DENSE)) <= {"no", "yes"}
    unfitted = Keras2DML(None, binary(), display=0)   # SystemML's 1-based indices: 1 and 2
    np.testing.assert_array_equal(unfitted.predict(X_DENSE),
                                  (unfitted.predict_proba(X_DENSE)[:, 0] > 0.5) + 1.0)
    with pytest.raises(CompileError, match="3 distinct classes.*two classes, 0 and 1"):
        named.fit(X_DENSE, CLASSES)


def test_scipy_sparse_rows_train_predict_and_score():
    sparse = pytest.importorskip("scipy.sparse")
    X = sparse.random(24, 4, density=0.5, format="csr", random_state=0)
    estimator = Keras2DML(None, dense(), batch_size=8, max_iter=3, display=0).set_params(seed=1)
    estimator.fit(X, CLASSES)
    again = Keras2DML(None, dense(), batch_size=8, max_iter=3, display=0).set_params(seed=1)
    again.fit(X.toarray(), CLASSES)
    for rows in (X, X.tocsc(), X.tocoo()):
        np.testing.assert_array_equal(estimator.predict_proba(rows),
                                      again.predict_proba(X.toarray()))
        assert estimator.score(rows, CLASSES) == again.score(X.toarray(), CLASSES)
    keyword = Keras2DML(dense(), batch_size=8, seed=1).fit(X, CLASSES)   # kerasdml's own form
    np.testing.assert_array_equal(keyword.predict(X), keyword.predict(X.toarray()))
    assert keyword.score(X, CLASSES) == keyword.score(X.toarray(), CLASSES)


def test_test_iter_and_test_interval_without_validation_data_say_so_once(capsys):
    def fit(validation=None, **settings):
        Keras2DML(None, dense(), batch_size=8, max_iter=6, display=0, **settings).fit(
            X_DENSE, CLASSES, validation_data=validation)
        return [line for line in capsys.readouterr().err.splitlines() if "test_iter" in line]

    notes = fit(test_iter=2, test_interval=3)
    assert len(notes) == 1 and "apply only with fit(X, y, validation_data=" in notes[0]
    assert fit(test_interval=3) != []
    assert fit(test_iter=2, test_interval=3, validation=(X_DENSE, CLASSES)) == []
    assert fit() == [] and fit(test_interval=0) == []   # not given, or validation turned off


@pytest.mark.parametrize("name", ["LogisticRegression", "LinearRegression", "SVM", "NaiveBayes",
                                  "Caffe2DML"])
def test_systemmls_other_mllearn_estimators_are_named_at_the_import(name):
    with pytest.raises(ImportError, match=f"kerasdml provides SystemML's Keras2DML only, not "
                                          f"systemml.mllearn's {name}"):
        exec(f"from kerasdml.compiler import {name}")
    import kerasdml.compiler
    assert not hasattr(kerasdml.compiler, "RandomForest")


@pytest.mark.slow
def test_spark_dataframes_in_and_out(spark):
    from pyspark.ml.linalg import Vectors

    rows = [(Vectors.dense(X_ROWS[i].tolist()), float(CLASSES[i] + 1)) for i in range(24)]
    df = spark.createDataFrame(rows, ["features", "label"])
    estimator = systemml().fit(df)                            # SystemML's 1-based labels
    assert estimator.epochs_ == 2
    proba = estimator.predict_proba(X_ROWS)
    predicted = estimator.predict(df)
    assert predicted.columns == ["__INDEX", "features", "label", "probability", "prediction"]
    out = predicted.toPandas()
    assert list(out["__INDEX"]) == list(range(1, 25))
    np.testing.assert_allclose(np.stack(out["probability"].map(lambda v: v.toArray())), proba,
                               atol=1e-6)
    np.testing.assert_array_equal(out["prediction"], proba.argmax(axis=1) + 1)
    assert estimator.predict(X_ROWS).tolist() == (proba.argmax(axis=1) + 1).tolist()
    assert estimator.score(df) == pytest.approx(np.mean(proba.argmax(axis=1) == CLASSES))
    assert estimator.predict_proba(df).columns == predicted.columns
    with pytest.raises(CompileError, match="1, 3"):
        systemml().fit(spark.createDataFrame([(v, lab - 1) for v, lab in rows],
                                             ["features", "label"])).score(df)


def test_load_labels_and_load_with_ignore_weights(tmp_path, monkeypatch):
    """SystemML's loadLabels(file) and load(weights, sep, ignore_weights, eager)."""
    monkeypatch.chdir(tmp_path)
    model = cnn()
    (tmp_path / "names.txt").write_text("1,zero\n2,one\n3,two\n")
    named = systemml(model)
    assert named.loadLabels(tmp_path / "missing.txt") is None     # ignored, as in SystemML
    named.loadLabels(str(tmp_path / "names.txt"))
    scores = named.predict_proba(X_ROWS)
    assert list(named.predict(X_ROWS)) == [["zero", "one", "two"][k] for k in
                                           scores.argmax(axis=1)]
    trained = systemml(model, weights="weights_dir").fit(X_ROWS, CLASSES)
    dense = model.layers[-1].name
    fresh = systemml(model, load_keras_weights=False).set_params(seed=1)
    fresh.load("weights_dir", "/", [dense], False)                # SystemML's positional order
    kept = [p.variable for p in fresh._compiled().parameters if p.layer != dense]
    ignored = [p.variable for p in fresh._compiled().parameters if p.layer == dense]
    assert all(np.array_equal(fresh.weights_[v], trained.weights_[v]) for v in kept)
    assert ignored and not all(np.array_equal(fresh.weights_[v], trained.weights_[v])
                               for v in ignored)
    with pytest.raises(CompileError, match="no layers with weights of the model"):
        systemml(model).load("weights_dir", ignore_weights=["fc8"])


def test_score_takes_the_one_hot_rows_fit_took():
    """fit keeps one-hot rows as given and predict gives 1-based indices (SystemML's, without
    an encoder): score reads the rows' classes the same way."""
    onehot = np.eye(3)[CLASSES]
    estimator = systemml().fit(X_ROWS, onehot)
    predicted = estimator.predict(X_ROWS)
    assert set(predicted) <= {1.0, 2.0, 3.0}
    assert estimator.score(X_ROWS, onehot) == pytest.approx(np.mean(predicted == CLASSES + 1))
    with pytest.raises(CompileError, match="y has 2 columns, the model 3 outputs"):
        estimator.score(X_ROWS, onehot[:, :2])


def test_a_labels_url_is_downloaded_as_systemml_did(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "served").mkdir()
    (tmp_path / "served" / "labels.txt").write_text("1,zero\n2,one\n3,two\n")
    with serving(tmp_path / "served") as url:
        named = systemml(labels=f"{url}/labels.txt", weights="weights_dir")
        assert (tmp_path / "weights_dir" / "labels.txt").read_text() == "1,zero\n2,one\n3,two\n"
        assert set(named.predict(X_ROWS)) <= {"zero", "one", "two"}
        assert Path(systemml(labels=f"{url}/labels.txt").systemml.labels).is_file()
        with pytest.raises(CompileError, match=r"cannot download labels .*missing.txt: "):
            systemml(labels=f"{url}/missing.txt")


def test_a_1d_array_of_one_examples_values_says_how_to_pass_it():
    estimator = systemml()
    assert estimator.predict(X_ROWS[:1]).shape == (1,)
    with pytest.raises(CompileError, match=r"X is a 1-D array of 50 values: .*X.reshape\(1, -1\)"):
        estimator.predict(X_ROWS[0])
