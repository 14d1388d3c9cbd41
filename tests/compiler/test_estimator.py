"""Keras2DML against real Keras: the same weights after the same epochs, the same loss curves,
and everything a scikit-learn user does with an estimator."""

import numpy as np
import pytest

from kerasdml.compiler.errors import CompileError
from kerasdml.compiler.estimator import Keras2DML
from support.keras_models import keras, randomize, sequential

pd = pytest.importorskip("pandas")

L = keras.layers
RNG = np.random.default_rng(7)
X_VEC = RNG.normal(size=(24, 6)).astype("float32")
CLASSES = RNG.integers(0, 3, 24)
X_IMG = RNG.uniform(size=(16, 6, 6, 2)).astype("float32")


def mlp(outputs=3, activation="softmax", **dense):
    return randomize(sequential((6,), L.Dense(8, activation="tanh", **dense),
                                L.Dense(outputs, activation=activation), name="mlp"), scale=0.5)


def cnn():
    return randomize(sequential((6, 6, 2), L.Conv2D(3, 3, padding="same", activation="relu"),
                                L.MaxPooling2D(2), L.Flatten(), L.Dense(3, activation="softmax"),
                                name="cnn"), scale=0.5)


def keras_weights(model):
    return [w.numpy() for w in model.weights]


def exported_weights(estimator, tmp_path):
    return keras_weights(keras.models.load_model(estimator.export(tmp_path / "out.keras")))


def assert_same_weights(estimator, model, tmp_path, atol=1e-4):
    for got, expected in zip(exported_weights(estimator, tmp_path), keras_weights(model)):
        np.testing.assert_allclose(got, expected, atol=atol, rtol=1e-4)


OPTIMIZERS = {
    "sgd_momentum": lambda: keras.optimizers.SGD(0.1, momentum=0.9),
    "sgd_nesterov_schedule": lambda: keras.optimizers.SGD(
        keras.optimizers.schedules.ExponentialDecay(0.1, 2, 0.5), momentum=0.5, nesterov=True),
    "adam": lambda: keras.optimizers.Adam(0.01),
    "adam_amsgrad_clipnorm": lambda: keras.optimizers.Adam(0.01, amsgrad=True, clipnorm=0.1),
    "adamw": lambda: keras.optimizers.AdamW(0.01),
    "nadam": lambda: keras.optimizers.Nadam(0.01),
    "adamax": lambda: keras.optimizers.Adamax(0.01, beta_2=0.99),
    "rmsprop_centered": lambda: keras.optimizers.RMSprop(0.01, momentum=0.5, centered=True),
    "adagrad_clipvalue": lambda: keras.optimizers.Adagrad(0.1, clipvalue=0.05),
    "adadelta": lambda: keras.optimizers.Adadelta(1.0),
    "sgd_piecewise": lambda: keras.optimizers.SGD(
        keras.optimizers.schedules.PiecewiseConstantDecay([2], [0.1, 0.01])),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_two_epochs_give_keras_weights(name, tmp_path):
    model = mlp()
    model.compile(optimizer=OPTIMIZERS[name](), loss="sparse_categorical_crossentropy")
    estimator = Keras2DML(model, epochs=2, batch_size=8, shuffle=False, verbose=0)
    estimator.fit(X_VEC, CLASSES)
    model.fit(X_VEC, CLASSES, epochs=2, batch_size=8, shuffle=False, verbose=0)
    assert_same_weights(estimator, model, tmp_path)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_a_cnn_epoch_gives_keras_weights(optimizer, tmp_path):
    model = cnn()
    model.compile(optimizer=keras.optimizers.get(optimizer), loss="categorical_crossentropy")
    y = np.eye(3)[CLASSES[:16]]
    estimator = Keras2DML(model, epochs=1, batch_size=4, shuffle=False, verbose=0).fit(X_IMG, y)
    model.fit(X_IMG, y, epochs=1, batch_size=4, shuffle=False, verbose=0)
    assert_same_weights(estimator, model, tmp_path)


LOSSES = {
    "categorical_crossentropy": (3, "softmax", lambda: np.eye(3)[CLASSES]),
    "sparse_categorical_crossentropy": (3, "softmax", lambda: CLASSES),
    "binary_crossentropy": (1, "sigmoid", lambda: (CLASSES > 0).astype("float32")),
    "mean_squared_error": (2, "linear", lambda: RNG.normal(size=(24, 2)).astype("float32")),
    "mean_absolute_error": (2, "linear", lambda: RNG.normal(size=(24, 2)).astype("float32")),
}


@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_loss_curve_and_metrics_follow_keras(loss):
    outputs, activation, targets = LOSSES[loss]
    y = targets()
    metrics = ["accuracy"] if "crossentropy" in loss else ["mae"]
    model = mlp(outputs, activation)
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss=loss, metrics=metrics)
    estimator = Keras2DML(model, epochs=3, batch_size=6, shuffle=False, verbose=0).fit(X_VEC, y)
    keras_history = model.fit(X_VEC, y, epochs=3, batch_size=6, shuffle=False, verbose=0).history
    assert set(estimator.history_) == set(keras_history)
    for name, values in keras_history.items():
        np.testing.assert_allclose(estimator.history_[name], values, rtol=0.01, atol=1e-6,
                                   err_msg=name)


ACCURACY_BY_SHAPE = {
    # several sigmoid units under binary cross-entropy: Keras reports categorical accuracy
    "multi_label": (3, "sigmoid", "binary_crossentropy",
                    lambda: (RNG.uniform(size=(24, 3)) > 0.5).astype("float32")),
    # one unit under a regression loss: binary accuracy
    "one_unit_regression": (1, "sigmoid", "mean_squared_error",
                            lambda: (CLASSES > 0).astype("float32").reshape(-1, 1)),
}


@pytest.mark.parametrize("case", sorted(ACCURACY_BY_SHAPE))
def test_accuracy_is_the_one_keras_picks_by_the_output_shape(case):
    outputs, activation, loss, targets = ACCURACY_BY_SHAPE[case]
    y = targets()
    model = mlp(outputs, activation)
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss=loss, metrics=["accuracy"])
    estimator = Keras2DML(model, epochs=3, batch_size=6, shuffle=False, verbose=0).fit(X_VEC, y)
    keras_history = model.fit(X_VEC, y, epochs=3, batch_size=6, shuffle=False, verbose=0).history
    np.testing.assert_allclose(estimator.history_["accuracy"], keras_history["accuracy"],
                               rtol=1e-6)


def test_weight_penalties_enter_weights_and_loss_as_in_keras(tmp_path):
    model = mlp(kernel_regularizer=keras.regularizers.L1L2(l1=0.01, l2=0.02),
                bias_regularizer="l2")
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    estimator = Keras2DML(model, epochs=2, batch_size=8, shuffle=False, verbose=0)
    estimator.fit(X_VEC, CLASSES)
    history = model.fit(X_VEC, CLASSES, epochs=2, batch_size=8, shuffle=False, verbose=0)
    assert_same_weights(estimator, model, tmp_path)
    np.testing.assert_allclose(estimator.history_["loss"], history.history["loss"], rtol=1e-4)


@pytest.mark.parametrize("algo", ["looped_minibatch", "allreduce_parallel_batches"])
def test_averaged_parallel_batches_equal_one_larger_batch(algo, tmp_path):
    model = mlp()
    model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.5),
                  loss="sparse_categorical_crossentropy")
    estimator = Keras2DML(model, epochs=2, batch_size=4, train_algo=algo, parallel_batches=2,
                          shuffle=False, verbose=0).fit(X_VEC, CLASSES)
    model.fit(X_VEC, CLASSES, epochs=2, batch_size=8, shuffle=False, verbose=0)
    assert_same_weights(estimator, model, tmp_path)


def test_batch_algorithm_is_full_batch_gradient_descent(tmp_path):
    model = mlp()
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    estimator = Keras2DML(model, epochs=3, batch_size=5, train_algo="batch", verbose=0)
    estimator.fit(X_VEC, CLASSES)
    model.fit(X_VEC, CLASSES, epochs=3, batch_size=len(X_VEC), shuffle=False, verbose=0)
    assert_same_weights(estimator, model, tmp_path)


def dropout_model():
    model = randomize(sequential((6,), L.Dense(16, activation="relu"), L.Dropout(0.5),
                                 L.Dense(3, activation="softmax"), name="dropout"), scale=0.5)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    return model


def fitted_weights(seed, **options):
    estimator = Keras2DML(dropout_model(), epochs=2, batch_size=8, seed=seed, verbose=0,
                          **options)
    return list(estimator.fit(X_VEC, CLASSES).weights_.values())  # layer names differ


def test_a_seed_fixes_shuffling_and_dropout():
    first, again, other = fitted_weights(3), fitted_weights(3), fitted_weights(4)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert any(not np.allclose(a, b) for a, b in zip(first, other))


def test_dropout_is_active_in_training_and_off_in_prediction():
    plain = fitted_weights(3, shuffle=False)
    model = dropout_model()
    model.layers[1].rate = 0.0  # the same model without dropout
    estimator = Keras2DML(model, epochs=2, batch_size=8, seed=3, verbose=0, shuffle=False)
    no_dropout = list(estimator.fit(X_VEC, CLASSES).weights_.values())
    assert any(not np.allclose(a, b) for a, b in zip(plain, no_dropout))
    np.testing.assert_array_equal(estimator.predict(X_VEC[:4]), estimator.predict(X_VEC[:4]))


def test_resume_continues_from_the_last_checkpoint(tmp_path):
    whole = Keras2DML(dropout_model(), epochs=3, batch_size=8, seed=5, verbose=0)
    whole.fit(X_VEC, CLASSES)
    model = dropout_model()
    first = Keras2DML(model, epochs=2, batch_size=8, seed=5, verbose=0, weights_dir=tmp_path)
    first.fit(X_VEC, CLASSES)
    resumed = Keras2DML(model, epochs=3, batch_size=8, seed=5, verbose=0, weights_dir=tmp_path)
    resumed.fit(X_VEC, CLASSES, resume=True)
    assert resumed.epochs_ == 3 and len(resumed.history_["loss"]) == 3
    for got, value in zip(resumed.weights_.values(), whole.weights_.values()):
        np.testing.assert_allclose(got, value, rtol=1e-12, atol=1e-12)
    other = Keras2DML(model, epochs=3, batch_size=4, seed=5, verbose=0, weights_dir=tmp_path)
    with pytest.raises(CompileError, match="another model or other training settings"):
        other.fit(X_VEC, CLASSES, resume=True)


def test_progress_lines_on_stderr_and_validation_each_epoch(capsys):
    model = mlp()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    estimator = Keras2DML(model, epochs=2, batch_size=8, validation_split=0.25, verbose=1)
    estimator.fit(X_VEC, CLASSES)
    lines = capsys.readouterr().err.strip().splitlines()
    assert [line.split(" - ")[0] for line in lines] == ["Epoch 1/2", "Epoch 2/2"]
    assert "3/3 steps" in lines[0] and "val_accuracy: " in lines[1] and "samples/s" in lines[0]
    assert len(estimator.history_["val_loss"]) == 2
    quiet = Keras2DML(model, epochs=1, batch_size=8, verbose=0).fit(X_VEC, CLASSES)
    assert capsys.readouterr().err == "" and quiet.history_["loss"]


def test_predict_score_and_export_agree_with_keras(tmp_path):
    model = mlp()
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    frame = pd.DataFrame(X_VEC, columns=list("abcdef"))
    estimator = Keras2DML(model, epochs=2, batch_size=8, seed=1, verbose=0)
    estimator.fit(frame, np.eye(3)[CLASSES])                 # DataFrame and one-hot labels
    predictions = estimator.predict(X_VEC)
    exported = keras.models.load_model(estimator.export(tmp_path / "trained.keras"))
    np.testing.assert_allclose(exported.predict(X_VEC, verbose=0), predictions, atol=1e-4)
    assert estimator.predict_classes(X_VEC).tolist() == predictions.argmax(axis=1).tolist()
    assert estimator.score(X_VEC, CLASSES) == pytest.approx(
        np.mean(predictions.argmax(axis=1) == CLASSES))
    evaluated = estimator.evaluate(X_VEC, CLASSES)
    keras_loss, keras_accuracy = exported.evaluate(X_VEC, np.eye(3)[CLASSES], verbose=0)
    assert evaluated["loss"] == pytest.approx(keras_loss, rel=1e-4)
    assert evaluated["accuracy"] == pytest.approx(keras_accuracy)


def test_regression_scores_r_squared():
    model = mlp(2, "linear")
    model.compile(optimizer="sgd", loss="mse")
    y = X_VEC[:, :2] * 0.5
    estimator = Keras2DML(model, epochs=1, batch_size=8, verbose=0).fit(X_VEC, y)
    predictions = estimator.predict(X_VEC)
    residual = ((y - predictions) ** 2).sum(axis=0)
    total = ((y - y.mean(axis=0)) ** 2).sum(axis=0)
    assert estimator.score(X_VEC, y) == pytest.approx(np.mean(1 - residual / total), rel=1e-5)


def test_parameters_scripts_and_errors():
    model = mlp()
    estimator = Keras2DML(model, epochs=2, batch_size=8)
    assert estimator.get_params()["epochs"] == 2
    assert estimator.set_params(epochs=3) is estimator and estimator.epochs == 3
    with pytest.raises(ValueError, match="unknown parameter"):
        estimator.set_params(epoch=3)
    with pytest.raises(CompileError, match="not fitted yet"):
        estimator.predict(X_VEC)
    with pytest.raises(CompileError, match="not compiled with a loss"):
        estimator.fit(X_VEC, CLASSES)
    estimator.set_params(loss="sparse_categorical_crossentropy", optimizer="adam")
    assert "adam::update(" in estimator.get_training_script()
    assert "affine::forward(" in estimator.get_prediction_script()
    with pytest.raises(CompileError, match=r"but the model's input is \(6,\)"):
        estimator.fit(X_IMG, CLASSES[:16])
    with pytest.raises(CompileError, match="needs weights_dir"):
        estimator.fit(X_VEC, CLASSES, resume=True)


def test_batch_norm_is_refused_for_parallel_batches():
    model = randomize(sequential((6,), L.Dense(4), L.BatchNormalization(), L.Dense(3),
                                 name="bn"))
    model.compile(optimizer="sgd", loss="mse")
    estimator = Keras2DML(model, train_algo="allreduce_parallel_batches", verbose=0)
    with pytest.raises(CompileError, match="BatchNormalization layers .*'looped_minibatch'"):
        estimator.fit(X_VEC, X_VEC[:, :3])
