"""Features and labels as fit/predict/score receive them, turned into what the losses read."""

import numpy as np
import pytest

from kerasdml.compiler.training.config import loss_from_keras
from kerasdml.compiler.training.data import DataError, class_ids, features, labels, r2_score
from kerasdml.compiler.training.inputs import split_inputs

pd = pytest.importorskip("pandas")

SPARSE = loss_from_keras("sparse_categorical_crossentropy")
CATEGORICAL = loss_from_keras("categorical_crossentropy")
MSE = loss_from_keras("mse")


@pytest.mark.parametrize("shape", [(5, 28, 28), (5, 784), (5, 28, 28, 1)], ids=str)
def test_images_in_any_row_major_shape_become_the_model_input(shape):
    values = np.arange(np.prod(shape)).reshape(shape)
    out = features(values, (28, 28, 1))
    assert out.shape == (5, 28, 28, 1) and out.dtype == np.float64
    np.testing.assert_array_equal(out.reshape(5, -1), values.reshape(5, -1))


def test_a_dataframe_gives_one_row_per_example():
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": [3, 4], "c": [5, 6]})
    np.testing.assert_array_equal(features(frame, (3,)), [[1, 3, 5], [2, 4, 6]])


@pytest.mark.parametrize("values,message", [
    (np.zeros((4, 10)), r"examples of shape \(10,\), but the model's input is \(3, 3\)"),
    (np.array([["a", "b"]]), "must be numeric"),
    (np.zeros(9), "1-D with 9 values"),
], ids=["wrong_size", "strings", "one_dimensional"])
def test_features_that_do_not_fit_are_refused(values, message):
    with pytest.raises(DataError, match=message):
        features(values, (3, 3))


def test_integer_classes_become_one_hot_for_categorical_crossentropy():
    out = labels(np.array([2, 0, 1]), CATEGORICAL, outputs=3, examples=3)
    np.testing.assert_array_equal(out, np.eye(3)[[2, 0, 1]])


def test_one_hot_rows_become_class_ids_for_sparse_crossentropy():
    out = labels(pd.Series([2, 0]).to_frame().pipe(lambda f: np.eye(3)[f[0]]), SPARSE, 3, 2)
    np.testing.assert_array_equal(out, [[2], [0]])
    np.testing.assert_array_equal(labels([[1], [2]], SPARSE, 3, 2), [[1], [2]])


@pytest.mark.parametrize("values,loss,message", [
    (np.array([0, 3]), SPARSE, r"integer classes in \[0, 2\]"),
    (np.array([0.5, 1.0]), CATEGORICAL, "integer classes"),
    (np.zeros((2, 2)), MSE, "2 columns, the model has 3 outputs"),
    (np.zeros(5), SPARSE, "5 rows but X has 2 examples"),
], ids=["class_too_large", "fractional_class", "wrong_width", "wrong_count"])
def test_labels_that_do_not_fit_are_refused(values, loss, message):
    with pytest.raises(DataError, match=message):
        labels(values, loss, outputs=3, examples=2)


@pytest.mark.parametrize("examples, fraction, training", [
    (10, 0.3, 7), (48, 0.2, 38), (10, 0.25, 7), (7, 0.5, 3)], ids=str)
def test_validation_split_trains_on_keras_first_rows(examples, fraction, training):
    """floor(N * (1 - f)) training rows, as Keras' train_validation_split (48 * 0.8 = 38.4:
    38 rows, where N - int(N * f) would keep 39)."""
    X, y = np.arange(examples).reshape(examples, 1), np.arange(examples)
    ([X_train, doubled], y_train), ([_, doubled_val], y_val) = split_inputs([X, X * 2], y,
                                                                              fraction)
    assert X_train[:, 0].tolist() == list(range(training)) and len(doubled) == training
    assert doubled_val[:, 0].tolist() == [2 * k for k in range(training, examples)]
    assert y_val.tolist() == list(range(training, examples))
    assert split_inputs([X], y, 0.0)[1] is None


@pytest.mark.parametrize("examples, fraction", [(1, 0.5), (10, 1e-17)], ids=str)
def test_an_empty_validation_or_training_split_is_refused_like_keras(examples, fraction):
    X, y = np.zeros((examples, 1)), np.zeros(examples)
    with pytest.raises(DataError, match=rf"^the training data has {examples} examples, which is "
                       r"not sufficient to split it into a validation and training set as "
                       rf"specified by validation_split={fraction}: give more data"):
        split_inputs([X], y, fraction)
    with pytest.raises(DataError, match=r"validation_split must be in \[0, 1\), got 1.0"):
        split_inputs([X], y, 1.0)


def test_class_ids_and_r2():
    assert class_ids(np.array([[0.1, 0.9], [0.8, 0.2]])).tolist() == [1, 0]
    assert class_ids(np.array([[0.7], [0.2]])).tolist() == [1, 0]
    y = np.array([[1.0, 2.0], [2.0, 4.0], [3.0, 9.0]])
    rng = np.random.default_rng(0)
    pred = y + rng.normal(0, 0.3, y.shape)
    per_output = [1 - ((y[:, k] - pred[:, k]) ** 2).sum() / ((y[:, k] - y[:, k].mean()) ** 2).sum()
                  for k in range(2)]
    assert r2_score(y, pred) == pytest.approx(np.mean(per_output))
    assert r2_score(y, y) == 1.0
