"""SystemML's Keras2DML methods besides fit/predict/score: set(...), the set* switches, summary,
predict_proba, transform, load, save, close and the fit_* variants; and how predict, score and
fit's start read SystemML's conventions. Mixed into compiler.estimator.Keras2DML; each returns
what SystemML's returned (self for the setters)."""
from __future__ import annotations

import copy
import math
import secrets
import sys
from pathlib import Path

import numpy as np

from kerasdml.runtime.api import is_spark_dataframe
from kerasdml.runtime.systemml_config import GPU_PREFIX, NO_GPU, PRECISION, precision_of
from kerasdml.runtime.values import dense

from ..errors import CompileError
from ..training.data import DataError, class_ids
from ..training.dataframe_data import columns_of
from ..training.initial_weights import random_weights
from ..training.inputs import model_features
from .data import (LabelCodec, accuracy, keras_samples, predicted_values, read_labels,
                   write_labels)
from .files import one_based_classes, read_matrix
from .frames import FEATURES, FIRST_CLASS, systemml_output, with_index, with_model_features

NO_EFFECT = "setConfigProperty({name!r}, {value!r}): a SystemML setting with no effect in kerasdml"

_SET_OPTIONS = ("debug", "train_algo", "test_algo", "parallel_batches",
                "perform_one_hot_encoding")
# Options kerasdml has no switch for: the values it behaves like (SystemML's defaults) are
# accepted, any other is refused with the reason.
_FIXED_SET_OPTIONS = {
    "output_activations": ((), "writing each layer's activations is not supported"),
    "parfor_parameters": (({}, ""), "parfor options come from the Spark runtime's planner"),
    "inline_nn_library": ((False,), "generated scripts always source dml_lib"),
    "use_builtin_lstm_fn": ((True,), "LSTMs always run dml_lib's lstm layer"),
    "perform_fused_backward_update": ((True,), "updates always follow the whole backward pass"),
    "weight_parallel_batches": ((True,), "parallel batches' gradients are always averaged"),
}
# SystemML's per-example allreduce sums the gradients of a batch's examples into one update:
# the update of minibatch training.
_TRAIN_ALGO_ALIASES = {"allreduce": "minibatch"}
TEST_ALGOS = ("minibatch", "batch", "allreduce_parallel_batches", "looped_minibatch",
              "allreduce")


class SystemMLMethods:
    """The rest of SystemML's Keras2DML interface."""

    # --- set(...) and the switches ------------------------------------------------------------

    def set(self, **options):
        """SystemML's set(debug=, train_algo=, test_algo=, parallel_batches=,
        perform_one_hot_encoding=, ...)."""
        for name, value in options.items():
            if value is None:
                continue
            if name in _FIXED_SET_OPTIONS:
                accepted, reason = _FIXED_SET_OPTIONS[name]
                if value not in accepted:
                    raise CompileError(f"set({name}={value!r}): {reason} in kerasdml")
                continue
            if name not in _SET_OPTIONS:
                raise CompileError(f"set(): unknown option {name!r}; known: "
                                   + ", ".join(_SET_OPTIONS + tuple(_FIXED_SET_OPTIONS)))
            getattr(self, f"_set_{name}")(value)
        return self

    def _set_debug(self, value) -> None:
        self._settings().debug = bool(value)

    def _set_train_algo(self, value) -> None:
        algo = str(value).lower()
        if algo in _TRAIN_ALGO_ALIASES:
            self._say(f"set(train_algo={algo!r}): SystemML's per-example allreduce makes the "
                      f"update of a minibatch; training with train_algo="
                      f"'{_TRAIN_ALGO_ALIASES[algo]}'")
        self.train_algo = _TRAIN_ALGO_ALIASES.get(algo, algo)

    def _set_test_algo(self, value) -> None:
        if str(value).lower() not in TEST_ALGOS:
            raise CompileError(f"set(test_algo=...) must be one of {', '.join(TEST_ALGOS)}")
        self._settings().test_algo = str(value).lower()

    def _set_parallel_batches(self, value) -> None:
        self.parallel_batches = int(value)

    def _set_perform_one_hot_encoding(self, value) -> None:
        self._settings().perform_one_hot_encoding = bool(value)

    def _settings(self):
        if self.systemml is None:
            raise CompileError("set(...) belongs to SystemML's form: Keras2DML(spark_or_None, "
                               "keras_model, ...); the keyword form takes these as parameters")
        return self.systemml

    def setStatistics(self, statistics: bool):
        """Prints the heaviest operations after fit/predict (kerasdml run --stats)."""
        self.statistics = bool(statistics)
        return self

    def setStatisticsMaxHeavyHitters(self, maxHeavyHitters: int):
        self.statistics_top = int(maxHeavyHitters)
        return self

    def setExplain(self, explain: bool):
        """Prints each matrix operation's plan (where it runs, its size) as the scripts run."""
        self.explain = bool(explain)
        return self

    def setExplainLevel(self, explainLevel: str):
        self.explain = True  # one level of explanation: the planner's per-operation lines
        return self

    def setConfigProperty(self, propertyName: str, propertyValue):
        """SystemML took any property; those kerasdml has no use for are noted on stderr."""
        name = str(propertyName)
        handler = _CONFIG_PROPERTIES.get(name) or next(
            (h for prefix, h in _CONFIG_PREFIXES.items() if name.startswith(prefix)),
            _no_effect)
        handler(self, name, propertyValue)
        return self

    def setGPU(self, enable: bool):
        if enable:
            print(NO_GPU.format(name=f"setGPU({enable!r})"), file=sys.stderr)
        return self

    def setForceGPU(self, enable: bool):
        if enable:
            print(NO_GPU.format(name=f"setForceGPU({enable!r})"), file=sys.stderr)
        return self

    # --- data in and out, as SystemML took and returned them -----------------------------------

    def _features(self, model, X):
        if self.systemml is None:
            return model_features(X, model.inputs)
        return keras_samples(X, self.systemml.input_shape, model.inputs[0].shape)

    def _systemml_data(self, model, X, y, validation_data):
        """Training data of SystemML's form as the keyword form takes it."""
        X = self._features(model, X)
        y = self._encoded(model, y, fit=True)
        if validation_data is not None:
            X_val, y_val = validation_data
            validation_data = (self._features(model, X_val), self._encoded(model, y_val))
        return X, y, validation_data

    def _encoded(self, model, y, fit: bool = False):
        array = np.asarray(dense(y))
        if not self.is_classifier() or (array.ndim == 2 and array.shape[1] > 1):
            return y  # regression targets, or one-hot rows: used as they are
        if fit or getattr(self, "label_codec_", None) is None:
            self.label_codec_ = LabelCodec.fit(array, model.outputs[0].columns)
        return self.label_codec_.encode(array)

    def _index_classes(self, model) -> None:
        """Training on SystemML's 1-based class indices (a DataFrame, files): predict returns
        them, or their names from the labels file, as SystemML's did without an encoder."""
        if self.systemml is not None and self.is_classifier():
            self.label_codec_ = LabelCodec.indices(model.outputs[0].columns,
                                                   self._labels_file_names())

    def _codec(self, model) -> LabelCodec:
        """The classes fit saw; else SystemML's 1-based indices, named by the labels file."""
        codec = getattr(self, "label_codec_", None)
        if codec is not None:
            return codec
        return LabelCodec.indices(model.outputs[0].columns, self._labels_file_names())

    def _systemml_predict(self, X):
        """The predicted classes (the values fit saw, or the labels file's names) as doubles
        or strings, or the outputs of a regression model; a DataFrame for a DataFrame."""
        if is_spark_dataframe(X):
            return self._systemml_frame(X)
        model = self._fitted()
        scores = self.predict_proba(X)
        if not self.is_classifier():
            return scores
        return predicted_values(self._codec(model).decode(class_ids(scores)))

    def _systemml_score(self, X, y) -> float:
        """SystemML's score: accuracy of predict(X) against y, or R^2 for regression; a
        DataFrame's labels are its label column's 1-based class indices."""
        from ..training.data import r2_score
        if is_spark_dataframe(X):
            if y is not None:
                raise DataError(f"score(df) reads the labels from the DataFrame's column "
                                f"{self.label_col!r}; give no y")
            return self._score_dataframe(X)
        if y is None:
            raise DataError("score(X, y) needs the true labels y (only a Spark DataFrame "
                            "carries its labels, in its label column)")
        y = dense(y)
        predicted = self._systemml_predict(X)
        if not self.is_classifier():
            return r2_score(np.asarray(y, dtype=np.float64), predicted)
        rows = np.asarray(y)
        if rows.ndim == 2 and rows.shape[1] > 1:
            # one-hot rows (fit keeps them as given): their classes, as predict names them
            model = self._fitted()
            if rows.shape[1] != model.outputs[0].columns:
                raise DataError(f"score(X, y): y has {rows.shape[1]} columns, the model "
                                f"{model.outputs[0].columns} outputs; give one class per row "
                                "or one-hot rows")
            y = self._codec(model).decode(rows.argmax(axis=1))
        return accuracy(predicted, y)

    def _training_frame(self, model, df):
        """SystemML's DataFrames: channels-first feature rows, 1-based class indices."""
        if self.systemml is None:
            return super()._training_frame(model, df)
        frame = with_model_features(df, columns_of(self.features_col),
                                    self.systemml.input_shape, model.inputs[0].shape)
        return frame, FEATURES, FIRST_CLASS

    def _systemml_frame(self, df):
        """df scored as SystemML's predict(df) returned it (compiler/systemml/frames.py)."""
        from kerasdml.runtime.spark.arrow_columns import RowInputError

        from ..spark_ml.scoring import ScoringColumns, is_classifier, score_dataframe
        model = self._fitted()
        columns = columns_of(self.features_col)
        if not set(columns) <= set(df.columns):
            columns = tuple(df.columns)   # SystemML assembled every column into the features
        indexed = with_index(df)
        frame = with_model_features(indexed, columns, self.systemml.input_shape,
                                    model.inputs[0].shape)
        classifier = is_classifier(model)
        scoring = ScoringColumns((FEATURES,), "prediction", "probability" if classifier else None)
        try:
            scored = score_dataframe(model, frame, scoring, precision=self.precision,
                                     weights=self.weights_, keep=indexed.columns)
        except RowInputError as error:
            raise DataError(str(error)) from None
        return systemml_output(scored, classifier)

    def _step_validation(self, model, held_out, batch_size: int):
        """(validate(variables), every) for SystemML's test_interval: test_iter batches of the
        validation data every test_interval steps; (None, 0) to validate once per epoch."""
        settings = self.systemml
        if settings is None or held_out is None or not settings.test_interval \
                or not settings.test_iter:
            return None, 0
        rows = settings.test_iter * batch_size
        X_val, y_val = held_out
        X_val = [x[:rows] for x in X_val] if isinstance(X_val, list) else X_val[:rows]
        y_val = y_val[:rows]
        return (lambda variables: self._evaluate(model, variables, X_val, y_val),
                settings.test_interval)

    def _note_validation_unused(self, held_out) -> None:
        """test_iter/test_interval given, but fit has nothing to validate on: said once
        (SystemML held out training rows for them; kerasdml validates on validation_data)."""
        settings = self.systemml
        if settings is None or held_out is not None or not settings.validation_given \
                or not settings.test_iter or not settings.test_interval:
            return
        self._say(f"Keras2DML: test_iter={settings.test_iter} and test_interval="
                  f"{settings.test_interval} apply only with fit(X, y, validation_data=(X_val, "
                  "y_val)); none was given, so this fit does not validate (SystemML held out "
                  "the first test_iter * batch_size training rows; kerasdml trains on every row)")

    def _systemml_batches(self, examples: int) -> int:
        """max_iter as batches; full-batch training runs SystemML's
        max_epochs = ceil(max_iter * batch_size / N) updates (Caffe2DML's batch algorithm)."""
        max_iter = self.systemml.max_iter
        if self.train_algo == "batch":
            return math.ceil(max_iter * int(self.batch_size) / max(examples, 1))
        return max_iter

    # --- weights before and after fit ------------------------------------------------------------

    def _initial_weights(self, model) -> dict:
        """Where fit starts: weights load() read (SystemML's load set them as the training
        script's input), else the Keras model's, else (load_keras_weights=False) dml_lib's
        random init, seeded by `seed` when it is set."""
        settings = self.systemml
        loaded = getattr(self, "_loaded_weights", None)
        if settings is None or (loaded is None and settings.load_keras_weights):
            return dict(model.weights)
        if loaded is not None:
            return dict(model.weights, **loaded)
        seed = secrets.randbelow(2**31) if self.seed is None else int(self.seed)
        return dict(model.weights, **random_weights(model.parameters, seed, self.precision))

    def _keras_weights_loaded(self) -> bool:
        """SystemML's constructor loaded the Keras model's weights (load_keras_weights=True),
        so predict, score and save use them before any fit."""
        if self.systemml is None or not self.systemml.load_keras_weights:
            return False
        model = self._compiled()
        self._set_loaded(model, dict(model.weights))
        return True

    def _set_loaded(self, model, weights: dict) -> None:
        self.weights_ = {p.variable: weights[p.variable] for p in model.parameters}
        self.model_, self.history_, self.epochs_ = model, {}, 0
        self.n_features_in_ = model.inputs[0].columns

    def _systemml_fitted(self) -> None:
        """SystemML's fit wrote the trained weights to the weights folder."""
        if self.systemml is not None and self.systemml.weights:
            self.save(self.systemml.weights)

    # --- SystemML's other fit methods -----------------------------------------------------------

    def fit_numpy(self, X, y):
        return self.fit(X, y)

    def fit_df(self, X):
        return self.fit(X)

    def fit_file(self, X_file, y_file):
        """Trains on two matrix files (compiler/systemml/files.py): the labels are 1-based
        class indices, or a regression model's targets."""
        model = self._compiled()
        X, y = read_matrix(X_file, "X_file"), read_matrix(y_file, "y_file")
        if self.is_classifier():
            classes = model.outputs[0].columns
            ids = one_based_classes(y, classes, y_file).astype(np.int64)
            y = np.eye(classes)[ids - FIRST_CLASS]     # one-hot rows: fit keeps them as given
            self._index_classes(model)
        return self.fit(X, y)

    def set_features_col(self, colName):
        """The DataFrame column(s) of the features (default 'features')."""
        self.features_col = colName
        return self

    def set_label_col(self, colName):
        """The DataFrame column of the labels (default 'label')."""
        self.label_col = colName
        return self

    def close(self) -> None:
        """Removes the compiled model's temporary files; the estimator compiles again when
        used after."""
        workdir = getattr(self, "_workdir", None)
        if workdir is not None:
            workdir.cleanup()
        self._workdir = self._compiled_key = None

    # --- the model ------------------------------------------------------------------------------

    def summary(self) -> None:
        """Prints the layers' DML parameters and the compiled inputs and outputs."""
        from ..model_folder import summary
        print(summary(self._compiled()), end="")

    def predict_proba(self, X):
        """The model's output rows (class probabilities for a softmax classifier); in
        SystemML's form a DataFrame gets predict's DataFrame, as SystemML's did."""
        if self.systemml is not None and is_spark_dataframe(X):
            return self._systemml_frame(X)
        predicted = self._predict_output(X)
        return predicted.reshape(len(predicted), -1)

    def transform(self, X):
        """SystemML's transform: predict(X)."""
        return self.predict(X)

    def save(self, outputDir, format: str = "binary", sep: str = "/"):
        """Writes the trained model's predict.dml, train.dml and weights.h5 (DML layout), and
        labels.txt ("index,name", 1-based) when the classes are known, replacing the folder."""
        from ..model_folder import write_model
        model = self._fitted()
        trained = copy.copy(model)
        trained.weights = dict(self.weights_)
        write_model(trained, outputDir)
        names = self._label_names(model)
        if names:
            write_labels(Path(outputDir) / "labels.txt", names)
        return self

    def load(self, weights, sep: str = "/", ignore_weights=None, eager: bool = False):
        """Reads weights.h5 (and labels.txt when present) written by save() or by fit with
        weights=; the estimator then predicts and scores without fit, and fit continues from
        these weights. ignore_weights names layers (SystemML's argument, third as in
        SystemML's signature) whose weights are not read: they keep the weights fit would
        start from without load (the Keras model's, or the init functions' draw)."""
        from kerasdml.runtime.io import read_value
        model = self._compiled()
        path = Path(weights) / "weights.h5"
        if not path.is_file():
            raise CompileError(f"load({str(weights)!r}): no weights.h5 there (written by save() "
                               "or by fit with weights=)")
        ignored = _ignored_layers(model, ignore_weights)
        loaded = {p.variable: read_value(str(path), {"format": "hdf5", "dataset": p.variable})
                  for p in model.parameters if p.layer not in ignored}
        if ignored:
            self._loaded_weights = None
            start = self._initial_weights(model)
            loaded.update({p.variable: start[p.variable] for p in model.parameters
                           if p.layer in ignored})
        self._set_loaded(model, loaded)
        self._loaded_weights = loaded
        labels = Path(weights) / "labels.txt"
        if labels.is_file() and self.systemml is not None:
            self.loadLabels(labels)
        return self

    def loadLabels(self, file_path):
        """SystemML's loadLabels: predict names the 1-based classes by the file's "index,name"
        lines (unless fit(X, y) saw class values; a missing file is ignored, as there)."""
        if self.systemml is None or not Path(file_path).is_file():
            return
        self.systemml.labels = str(file_path)
        codec = getattr(self, "label_codec_", None)
        if codec is not None and codec.indexed:  # fitted on indices: the file names them
            codec.names = read_labels(file_path)

    def _label_names(self, model) -> dict:
        """labels.txt's names: the labels file's, else those of the classes fit saw."""
        if not self.is_classifier():
            return {}
        codec = self._codec(model)
        if codec.names is not None:
            return dict(codec.names)
        if getattr(self, "label_codec_", None) is None:
            return {}
        return {k: str(v) for k, v in enumerate(codec.classes.tolist(), 1)}

    def _labels_file_names(self) -> dict | None:
        labels = self.systemml.labels if self.systemml is not None else None
        return read_labels(labels) if labels else None


def _ignored_layers(model, ignore_weights) -> set:
    """load()'s ignore_weights: Keras layer names (a list, or one name) of the model."""
    if ignore_weights is None:
        return set()
    names = {ignore_weights} if isinstance(ignore_weights, str) else set(ignore_weights)
    layers = {p.layer for p in model.parameters}
    unknown = sorted(names - layers)
    if unknown:
        raise CompileError(f"load(ignore_weights={sorted(names)}): {unknown} are no layers with "
                           f"weights of the model; they are: {', '.join(sorted(layers))}")
    return names


# --- setConfigProperty's handlers ---------------------------------------------------------------

def _precision(estimator, name: str, value) -> None:
    try:
        estimator.precision = precision_of(value)
    except ValueError as err:
        raise CompileError(str(err)) from None


def _gpu_note(estimator, name: str, value) -> None:
    print(NO_GPU.format(name=f"setConfigProperty({name!r}, {value!r})"), file=sys.stderr)


def _no_effect(estimator, name: str, value) -> None:
    print(NO_EFFECT.format(name=name, value=value), file=sys.stderr)


_CONFIG_PROPERTIES = {PRECISION: _precision}
_CONFIG_PREFIXES = {GPU_PREFIX: _gpu_note}
