"""SystemML's Keras2DML methods besides fit/predict/score: set(...), the set* switches, summary,
predict_proba, load and save. Mixed into compiler.estimator.Keras2DML; each returns what
SystemML's returned (self for the setters)."""
from __future__ import annotations

import copy
import sys
from pathlib import Path

import numpy as np

from ..errors import CompileError
from ..training.inputs import model_features
from .data import LabelCodec, keras_samples, read_labels, write_labels

NO_GPU = ("kerasdml has no GPU backend: it trains and predicts on the CPU (numpy and its native "
          "kernels, or Spark); {name}(True) is ignored")

# SystemML configuration properties: what each does here.
_PRECISIONS = {"double": "double", "single": "single", "float": "single"}
_NO_EFFECT = ("sysml.native.blas", "sysml.native.blas.directory", "sysml.localtmpdir",
              "sysml.scratch", "sysml.optlevel", "sysml.cp.parallel.ops", "sysml.cp.parallel.io",
              "sysml.codegen.enabled", "sysml.stats.finegrained", "sysml.parallel.ops")

_SET_OPTIONS = ("debug", "train_algo", "test_algo", "parallel_batches",
                "perform_one_hot_encoding")
_REFUSED_SET_OPTIONS = {
    "output_activations": "writing each layer's activations is not supported",
    "parfor_parameters": "parfor options come from the Spark runtime's planner",
    "inline_nn_library": "generated scripts always source dml_lib",
    "use_builtin_lstm_fn": "LSTMs always run dml_lib's lstm layer",
    "perform_fused_backward_update": "updates always follow the whole backward pass",
    "weight_parallel_batches": "parallel batches' gradients are always averaged",
}
TEST_ALGOS = ("minibatch", "batch", "allreduce_parallel_batches", "looped_minibatch")


class SystemMLMethods:
    """The rest of SystemML's Keras2DML interface."""

    # --- set(...) and the switches ------------------------------------------------------------

    def set(self, **options):
        """SystemML's set(debug=, train_algo=, test_algo=, parallel_batches=,
        perform_one_hot_encoding=)."""
        for name, value in options.items():
            if value is None:
                continue
            if name in _REFUSED_SET_OPTIONS:
                raise CompileError(f"set({name}=...): {_REFUSED_SET_OPTIONS[name]} in kerasdml")
            if name not in _SET_OPTIONS:
                raise CompileError(f"set(): unknown option {name!r}; known: "
                                   + ", ".join(_SET_OPTIONS + tuple(_REFUSED_SET_OPTIONS)))
            getattr(self, f"_set_{name}")(value)
        return self

    def _set_debug(self, value) -> None:
        self._settings().debug = bool(value)

    def _set_train_algo(self, value) -> None:
        self.train_algo = str(value).lower()

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
        name = str(propertyName)
        if name == "sysml.floating.point.precision":
            precision = _PRECISIONS.get(str(propertyValue).lower())
            if precision is None:
                raise CompileError(f"{name} must be double or single, got {propertyValue!r}")
            self.precision = precision
        elif name.startswith("sysml.gpu"):
            print(NO_GPU.format(name=name), file=sys.stderr)
        elif name not in _NO_EFFECT:
            raise CompileError(f"setConfigProperty: {name!r} is not a property kerasdml knows; "
                               "known: sysml.floating.point.precision, " + ", ".join(_NO_EFFECT))
        return self

    def setGPU(self, enable: bool):
        if enable:
            print(NO_GPU.format(name="setGPU"), file=sys.stderr)
        return self

    def setForceGPU(self, enable: bool):
        if enable:
            print(NO_GPU.format(name="setForceGPU"), file=sys.stderr)
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
        array = np.asarray(y)
        if not self.is_classifier() or (array.ndim == 2 and array.shape[1] > 1):
            return y  # regression targets, or one-hot rows: used as they are
        if fit or getattr(self, "label_codec_", None) is None:
            self.label_codec_ = LabelCodec.fit(array, model.outputs[0].columns,
                                               self._labels_file_names())
        return self.label_codec_.encode(array)

    def _systemml_predict(self, X) -> np.ndarray:
        """The predicted classes (decoded to the values or names fit saw), or the outputs of
        a regression model."""
        model = self._fitted()
        scores = self.predict_proba(X)
        if not self.is_classifier():
            return scores
        if getattr(self, "label_codec_", None) is None:
            self.label_codec_ = LabelCodec(np.arange(model.outputs[0].columns),
                                           self._labels_file_names())
        return self.label_codec_.decode(scores.argmax(axis=1))

    def _systemml_score(self, X, y) -> float:
        """SystemML's score: accuracy of predict(X) against y, or R^2 for regression."""
        from ..training.data import r2_score
        predicted = self._systemml_predict(X)
        if not self.is_classifier():
            return r2_score(np.asarray(y, dtype=np.float64), predicted)
        truth = np.asarray(y).ravel()
        if truth.dtype.kind in "fiub" and predicted.dtype.kind in "fiub":
            return float(np.mean(predicted.astype(np.float64) == truth.astype(np.float64)))
        return float(np.mean(predicted.astype(str) == truth.astype(str)))

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

    def _initial_weights(self, model) -> dict:
        """The Keras model's weights, or with load_keras_weights=False those saved in the
        weights folder."""
        settings = self.systemml
        if settings is None or settings.load_keras_weights:
            return dict(model.weights)
        if not settings.weights:
            raise CompileError("load_keras_weights=False needs weights=, the folder whose "
                               "weights.h5 training starts from")
        saved = copy.copy(self).load(settings.weights)
        return dict(model.weights, **saved.weights_)

    def _systemml_fitted(self) -> None:
        """SystemML's fit wrote the trained weights to the weights folder."""
        if self.systemml is not None and self.systemml.weights:
            self.save(self.systemml.weights)

    # --- the model ------------------------------------------------------------------------------

    def summary(self) -> None:
        """Prints the layers' DML parameters and the compiled inputs and outputs."""
        from ..model_folder import summary
        print(summary(self._compiled()), end="")

    def predict_proba(self, X) -> np.ndarray:
        """The model's output rows (class probabilities for a softmax classifier)."""
        predicted = self._predict_output(X)
        return predicted.reshape(len(predicted), -1)

    def save(self, outputDir, format: str = "binary", sep: str = "/"):
        """Writes the trained model's predict.dml, train.dml and weights.h5 (DML layout), and
        labels.txt ("index,name", 1-based) when the classes are known, replacing the folder."""
        from ..model_folder import write_model
        model = self._fitted()
        trained = copy.copy(model)
        trained.weights = dict(self.weights_)
        write_model(trained, outputDir)
        names = self._label_names()
        if names:
            write_labels(Path(outputDir) / "labels.txt", names)
        return self

    def load(self, weights, sep: str = "/", eager: bool = False):
        """Reads weights.h5 (and labels.txt when present) written by save() or by fit with
        weights=; the estimator then predicts and scores without fit."""
        from kerasdml.runtime.io import read_value
        model = self._compiled()
        path = Path(weights) / "weights.h5"
        if not path.is_file():
            raise CompileError(f"load({str(weights)!r}): no weights.h5 there (written by save() "
                               "or by fit with weights=)")
        self.weights_ = {p.variable: read_value(str(path), {"format": "hdf5",
                                                            "dataset": p.variable})
                         for p in model.parameters}
        self.model_, self.history_, self.epochs_ = model, {}, 0
        self.n_features_in_ = model.inputs[0].columns
        labels = Path(weights) / "labels.txt"
        if labels.is_file() and self.systemml is not None:
            self.systemml.labels = str(labels)
        return self

    def _label_names(self) -> dict:
        codec = getattr(self, "label_codec_", None)
        if codec is None:
            return {}
        if codec.names is not None:
            return dict(codec.names)
        return {k: str(v) for k, v in enumerate(codec.classes.tolist(), 1)}

    def _labels_file_names(self) -> dict | None:
        labels = self.systemml.labels if self.systemml is not None else None
        return read_labels(labels) if labels else None
