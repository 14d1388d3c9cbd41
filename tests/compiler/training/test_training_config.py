"""Loss, optimizer, schedule and metrics read from real Keras compile configs."""

import pytest
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

keras = pytest.importorskip("keras")  # noqa: E402

from kerasdml.compiler.frontend import open_model  # noqa: E402
from kerasdml.compiler.training.config import (  # noqa: E402
    OPTIMIZERS, SCHEDULES, TrainingConfigError, training_config)


def saved_compile_config(tmp_path, suffix=".keras", outputs=3, **compile_args):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(outputs, activation="softmax")])
    if compile_args:
        model.compile(**compile_args)
    path = tmp_path / f"model{suffix}"
    model.save(path)
    with open_model(path) as source:
        return source.compile_config


@pytest.mark.parametrize("class_name", sorted(OPTIMIZERS))
def test_defaults_are_keras_defaults(class_name):
    keras_config = getattr(keras.optimizers, class_name)().get_config()
    optimizer = training_config(None, optimizer=class_name.lower(), loss="mse").optimizer
    assert optimizer.learning_rate.arguments == (
        ("lr", pytest.approx(keras_config["learning_rate"], rel=1e-6)),)
    kind = OPTIMIZERS[class_name]
    for key, argument, _ in kind.hyper + kind.init:
        expected = keras_config[key] if keras_config[key] is not None else 0.0
        got = dict(optimizer.arguments + optimizer.init_arguments)[argument]
        assert got == pytest.approx(expected, rel=1e-6), key


OPTIMIZER_CASES = {
    "sgd_nesterov": (keras.optimizers.SGD(0.05, momentum=0.8, nesterov=True),
                     {"momentum": 0.8, "nesterov": True}),
    "rmsprop_centered": (keras.optimizers.RMSprop(0.002, rho=0.8, momentum=0.5, centered=True),
                         {"rho": 0.8, "momentum": 0.5, "centered": True}),
    "adagrad": (keras.optimizers.Adagrad(0.1, initial_accumulator_value=0.3, epsilon=1e-5),
                {"initial_accumulator_value": 0.3, "epsilon": 1e-5}),
    "adadelta": (keras.optimizers.Adadelta(1.0, rho=0.9), {"rho": 0.9}),
    "adam_amsgrad": (keras.optimizers.Adam(0.003, beta_1=0.8, amsgrad=True, weight_decay=0.01),
                     {"beta1": 0.8, "amsgrad": True, "weight_decay": 0.01}),
    "adamw": (keras.optimizers.AdamW(0.003, weight_decay=0.02), {"weight_decay": 0.02}),
    "nadam": (keras.optimizers.Nadam(0.002, beta_2=0.99), {"beta2": 0.99}),
    "adamax": (keras.optimizers.Adamax(0.002, beta_1=0.8, epsilon=1e-6), {"beta1": 0.8,
                                                                          "epsilon": 1e-6}),
}


@pytest.mark.parametrize("case", sorted(OPTIMIZER_CASES))
def test_optimizer_hyper_parameters_come_from_the_file(tmp_path, case):
    optimizer, expected = OPTIMIZER_CASES[case]
    config = training_config(saved_compile_config(tmp_path, optimizer=optimizer, loss="mse"))
    arguments = dict(config.optimizer.arguments + config.optimizer.init_arguments)
    for argument, value in expected.items():
        assert arguments[argument] == pytest.approx(value, rel=1e-6), argument
    assert config.optimizer.keras_class == type(optimizer).__name__


@pytest.mark.parametrize("option", ["clipnorm", "clipvalue", "global_clipnorm"])
def test_clipping_options_are_kept(tmp_path, option):
    optimizer = keras.optimizers.SGD(**{option: 1.5})
    config = training_config(saved_compile_config(tmp_path, optimizer=optimizer, loss="mse"))
    clipping = {name: getattr(config.optimizer, name)
                for name in ("clipnorm", "clipvalue", "global_clipnorm")}
    assert clipping == {name: 1.5 if name == option else None for name in clipping}


SCHEDULE_CASES = {
    "ExponentialDecay": keras.optimizers.schedules.ExponentialDecay(0.1, 50, 0.5, staircase=True),
    "InverseTimeDecay": keras.optimizers.schedules.InverseTimeDecay(0.1, 20, 0.3),
    "PiecewiseConstantDecay": keras.optimizers.schedules.PiecewiseConstantDecay([10, 20],
                                                                                [0.1, 0.05, 0.01]),
    "PolynomialDecay": keras.optimizers.schedules.PolynomialDecay(0.1, 100, 0.001, power=2.0),
    "CosineDecay": keras.optimizers.schedules.CosineDecay(0.1, 100, alpha=0.1),
}


@pytest.mark.parametrize("class_name", sorted(SCHEDULE_CASES))
def test_schedules_map_to_dml_functions(tmp_path, class_name):
    schedule = SCHEDULE_CASES[class_name]
    config = training_config(saved_compile_config(
        tmp_path, optimizer=keras.optimizers.SGD(schedule), loss="mse"))
    rate = config.optimizer.learning_rate
    assert rate.function == SCHEDULES[class_name][0]
    keras_config = schedule.get_config()
    for key, value in rate.arguments:
        expected = keras_config[key]
        assert value == (tuple(expected) if isinstance(expected, list) else expected), key


def test_cosine_decay_with_warmup_selects_the_warmup_function():
    schedule = keras.optimizers.schedules.CosineDecay(0.0, 100, warmup_target=0.1, warmup_steps=10)
    config = training_config(None, optimizer=keras.optimizers.SGD(schedule), loss="mse")
    assert config.optimizer.learning_rate.function == "cosine_decay_warmup"
    assert dict(config.optimizer.learning_rate.arguments)["warmup_steps"] == 10.0


LOSS_CASES = {
    "categorical_name": ("categorical_crossentropy", "categorical_crossentropy", False, ()),
    "sparse_name": ("sparse_categorical_crossentropy", "sparse_categorical_crossentropy", True, ()),
    "logits_object": (keras.losses.CategoricalCrossentropy(from_logits=True),
                      "categorical_crossentropy", False, (("from_logits", True),)),
    "binary_object": (keras.losses.BinaryCrossentropy(), "binary_crossentropy", False, ()),
    "mse_alias": ("mse", "mean_squared_error", False, ()),
    "mae_object": (keras.losses.MeanAbsoluteError(), "mean_absolute_error", False, ()),
    # Keras 3 does not serialize Huber's delta: a saved model (and load_model) gets 1.0
    "huber_saved": (keras.losses.Huber(delta=2.5), "huber", False, (("delta", 1.0),)),
    "function": (keras.losses.mean_squared_error, "mean_squared_error", False, ()),
    "label_smoothing": (keras.losses.CategoricalCrossentropy(label_smoothing=0.1),
                        "categorical_crossentropy", False, (("label_smoothing", 0.1),)),
    "binary_label_smoothing": (keras.losses.BinaryCrossentropy(label_smoothing=0.2),
                               "binary_crossentropy", False, (("label_smoothing", 0.2),)),
}


@pytest.mark.parametrize("case", sorted(LOSS_CASES))
def test_losses_map_to_dml_modules(tmp_path, case):
    loss, module, sparse, arguments = LOSS_CASES[case]
    config = training_config(saved_compile_config(tmp_path, optimizer="sgd", loss=loss))
    assert (config.loss.module, config.loss.sparse_labels) == (module, sparse)
    for item in arguments:
        assert item in config.loss.arguments


def test_huber_delta_of_a_live_loss_object_is_kept():
    config = training_config(None, optimizer="sgd", loss=keras.losses.Huber(delta=2.5))
    assert config.loss.arguments == (("delta", 2.5),)


@pytest.mark.parametrize("loss,expected", [
    ("categorical_crossentropy", "categorical_accuracy"),
    ("sparse_categorical_crossentropy", "sparse_categorical_accuracy"),
    ("binary_crossentropy", "binary_accuracy"),
], ids=["categorical", "sparse", "binary"])
def test_accuracy_resolves_by_the_loss(tmp_path, loss, expected):
    config = training_config(saved_compile_config(tmp_path, optimizer="sgd", loss=loss,
                                                  metrics=["accuracy", "mae"]))
    assert config.metrics == (expected, "mean_absolute_error")
    assert config.metric_names == ("accuracy", "mae")


def test_legacy_h5_training_config_is_read(tmp_path):
    config = training_config(saved_compile_config(
        tmp_path, ".h5", optimizer=keras.optimizers.RMSprop(0.01), loss="mse", metrics=["mae"]))
    assert config.optimizer.module == "rmsprop"
    assert config.optimizer.learning_rate.arguments == (("lr", pytest.approx(0.01)),)
    assert config.metrics == ("mean_absolute_error",)


def test_a_loss_without_optimizer_trains_with_keras_default_optimizer():
    config = training_config(None, loss="mse")
    assert config.optimizer.keras_class == "RMSprop"


def test_arguments_override_the_compile_config(tmp_path):
    compiled = saved_compile_config(tmp_path, optimizer="adam", loss="mse")
    config = training_config(compiled, optimizer="sgd", loss="mae", learning_rate=0.5)
    assert (config.optimizer.module, config.loss.module) == ("sgd", "mean_absolute_error")
    assert config.optimizer.learning_rate.arguments == (("lr", 0.5),)


ERROR_CASES = {
    "uncompiled": (dict(), "not compiled with a loss"),
    "unknown_optimizer": (dict(optimizer="lion", loss="mse"), "optimizer 'lion' is not supported"),
    "ema": (dict(optimizer=keras.optimizers.Adam(use_ema=True), loss="mse"), "use_ema=True"),
    "unknown_loss": (dict(optimizer="sgd", loss="dice"), "loss 'dice'"),
    "ignore_class": (dict(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(
        ignore_class=0)), "ignore_class=0"),
    "restarts": (dict(optimizer=keras.optimizers.SGD(
        keras.optimizers.schedules.CosineDecayRestarts(0.1, 10)), loss="mse"),
        "schedule 'CosineDecayRestarts' is not supported"),
    "unknown_metric": (dict(optimizer="sgd", loss="mse", metrics=["r2_score"]),
                       "metric 'r2_score' is not supported"),
    "accuracy_for_regression": (dict(optimizer="sgd", loss="mse", metrics=["accuracy"]),
                                "needs a classification loss"),
}


@pytest.mark.parametrize("case", sorted(ERROR_CASES))
def test_unsupported_configurations_name_what_is_wrong(case):
    arguments, message = ERROR_CASES[case]
    with pytest.raises(TrainingConfigError, match=message):
        training_config(None, **arguments)
