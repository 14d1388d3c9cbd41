"""Keras2DML: train, predict and score a Keras model with generated DML, scikit-learn style.

    estimator = Keras2DML(model, epochs=5, batch_size=100, seed=42)
    estimator.fit(x_train, y_train)            # Keras-shaped features; integer or one-hot labels
    estimator.score(x_test, y_test)            # accuracy (classifiers) or R^2 (regression)
    estimator.export("trained.keras")          # opens with keras.models.load_model

`fit` runs the generated train.dml (the bound variant) once per epoch: the weights and the
optimizer state go in and come back out, so every epoch can print its progress line, be
validated, and be checkpointed (weights_dir) before the next starts; within an epoch the
runtime reports every batch (training/watch.py) for the progress line. With `spark=` (a
SparkSession) the same scripts run through the Spark planner of kerasdml.runtime.

SystemML's form, `Keras2DML(spark_or_None, keras_model, input_shape=(C, H, W), batch_size=...,
max_iter=..., ...)`, is the same class: compiler/systemml reads its arguments and gives its
methods and return values (see README.md, "Porting from SystemML").
"""
from __future__ import annotations

import contextlib
import hashlib
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from kerasdml.runtime.api import is_spark_dataframe, run_string
from kerasdml.runtime.context import Statistics
from kerasdml.runtime.values import MatrixHandle

from .backend import TrainingView
from .backend.training_view import PARALLEL_ALGOS
from .compile import compile_model
from .errors import CompileError
from .systemml.form import is_systemml_call, systemml_call
from .systemml.methods import SystemMLMethods
from .systemml.solver import solver_model
from .training import checkpoint
from .training.config import refuse_weight_decay_exclusions
from .training.objectives import live_loss
from .training.paramserv import paramserv_arguments
from .training.data import class_ids, labels, r2_score, refuse_non_finite, targets
from .training.inputs import model_features, split_inputs
from .training.export import as_keras_file, export_keras
from .training.fit_options import (KERAS_BATCH_SIZE, features_argument, refuse,
                                    scoring_features, validation_pair)
from .training.curves import plot_history
from .training.dataframe_fit import DataFrameMethods
from .training.plan import EpochPlan
from .training.progress import Progress
from .training.watch import EpochWatch, interrupted_message

_CLASSIFIER_LOSSES = ("categorical_crossentropy", "sparse_categorical_crossentropy",
                      "binary_crossentropy")
CHECKPOINT = "checkpoint.h5"


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped fit: says at which step and statement, and what the checkpoint holds."""


class Keras2DML(SystemMLMethods, DataFrameMethods):
    """A Keras model (keras.Model or a .keras/.h5 path) as an estimator trained in DML.

    loss, optimizer, metrics, loss_weights and learning_rate override the model's compile
    config; a model with several outputs takes one loss per output (a list in output order or
    a dict by output name, as Keras' compile does), y as a list or dict of targets, and
    reports each output's loss and metrics under Keras' names (labels_loss, values_mae).
    train_algo: minibatch, batch (full-batch gradient descent), looped_minibatch (gradients of
    parallel_batches batches accumulated into one update) or allreduce_parallel_batches (the
    same with the batches in a parfor, which the Spark runtime distributes). precision: double
    (DML's) or single (float32 end to end). weights_dir: where a checkpoint is written after
    every epoch, which fit(..., resume=True) continues from.
    train_algo="paramserv": data-parallel training with DML's paramserv; `workers` (default:
    the executors' cores on Spark, else the local cores) each take batch_size / workers rows
    per update when they exchange every batch, `sync` is "BSP" or "ASP", `frequency` "batch",
    "epoch" or a number of batches between exchanges with the parameter server (BSP: each
    worker then takes minibatch steps of batch_size rows on its own copy of the model, and the
    server takes the mean of the workers' models).
    display: a progress line every
    `display` optimizer steps (default None: a live line, rewritten every half second).
    features_col, label_col: the columns fit(df), score(df) and predict(df) read from a Spark
    DataFrame (spark.ml's defaults; features_col may list several numeric columns).

    Called SystemML's way, Keras2DML(sparkSession_or_None, keras_model, input_shape=None,
    transferUsingDF=False, load_keras_weights=True, weights=None, labels=None, batch_size=64,
    max_iter=2000, test_iter=10, test_interval=500, display=100, lr_policy="step",
    weight_decay=5e-4, regularization_type="L2"), it takes and returns data as SystemML did.
    """

    def __init__(self, *args, **kwargs):
        self.systemml = None
        if is_systemml_call(args, kwargs):
            model, params, self.systemml = systemml_call(*args, **kwargs)
            args, kwargs = (model,), dict(params, display=self.systemml.display)
        self._keyword_form(*args, **kwargs)

    def _keyword_form(self, model, *, epochs: int = 1, batch_size: int = 32,
                 train_algo: str = "minibatch", parallel_batches: int = 4, shuffle: bool = True,
                 validation_split: float = 0.0, seed: int | None = None, verbose: int = 1,
                 spark=None, weights_dir=None, precision: str = "double", loss=None,
                 optimizer=None, metrics=None, learning_rate: float | None = None,
                 workers: int | None = None, sync: str = "BSP", frequency="batch",
                 display: int | None = None, features_col="features", label_col="label",
                 loss_weights=None):
        self.model = model
        self.epochs = epochs
        self.batch_size = batch_size
        self.train_algo = train_algo
        self.parallel_batches = parallel_batches
        self.shuffle = shuffle
        self.validation_split = validation_split
        self.seed = seed
        self.verbose = verbose
        self.spark = spark
        self.weights_dir = weights_dir
        self.precision = precision
        self.loss = loss
        self.optimizer = optimizer
        self.metrics = metrics
        self.learning_rate = learning_rate
        self.workers = workers
        self.sync = sync
        self.frequency = frequency
        self.display = display
        self.features_col = features_col
        self.label_col = label_col
        self.loss_weights = loss_weights
        self.statistics = self.explain = False
        self.statistics_top = 15
        self._statistics = Statistics()

    # --- scikit-learn protocol --------------------------------------------------------------

    _PARAMS = ("model", "epochs", "batch_size", "train_algo", "parallel_batches", "shuffle",
               "validation_split", "seed", "verbose", "spark", "weights_dir", "precision", "loss",
               "optimizer", "metrics", "learning_rate", "workers", "sync", "frequency",
               "display", "features_col", "label_col", "loss_weights")

    def get_params(self, deep: bool = True) -> dict:
        return {name: getattr(self, name) for name in self._PARAMS}

    def set_params(self, **params) -> "Keras2DML":
        unknown = sorted(set(params) - set(self._PARAMS))
        if unknown:
            raise ValueError(f"unknown parameter(s) {', '.join(unknown)}; valid: "
                             + ", ".join(self._PARAMS))
        for name, value in params.items():
            setattr(self, name, value)
        return self

    # --- compiling ----------------------------------------------------------------------------

    def _compiled(self):
        """The compiled model for the current parameters (compiled again when they change)."""
        key = (id(self.model), self.loss, self.optimizer, self.metrics, self.learning_rate,
               self.loss_weights, self.train_algo, self.systemml and self._solver_key())
        if getattr(self, "_compiled_key", None) != repr(key):
            if self.optimizer is None:  # the live model's own optimizer object
                refuse_weight_decay_exclusions(getattr(self.model, "optimizer", None))
            self._workdir = tempfile.TemporaryDirectory(prefix="kerasdml-")
            self._keras_file = as_keras_file(self.model, self._workdir.name)
            self._compiled_model = compile_model(
                self._keras_file, loss=self.loss if self.loss is not None
                else live_loss(self.model), optimizer=self.optimizer,
                metrics=self.metrics, learning_rate=self.learning_rate,
                train_algo=self.train_algo, loss_weights=self.loss_weights)
            if self.systemml is not None:
                self._compiled_model = solver_model(self._compiled_model, self.systemml,
                                                    self.systemml.max_iter, self._say)
            self._compiled_key = repr(key)
        return self._compiled_model

    def _solver_key(self) -> tuple:
        s = self.systemml
        return (s.lr_policy, s.weight_decay, s.regularization_type, s.max_iter)

    def _say(self, line: str) -> None:
        if self.verbose:
            print(line, file=sys.stderr, flush=True)

    def _run_options(self) -> dict:
        options = dict(precision=self.precision, spark=self.spark_runtime())
        if self.explain:
            options["explain"] = sys.stdout
        if self.statistics:
            options["stats"] = self._statistics
        return options

    def _begin_statistics(self) -> None:
        """A fit or a predict reports its own operations and elapsed time (as SystemML printed
        each script run's), not everything since the estimator was made."""
        self._statistics = Statistics()

    def _report_statistics(self) -> None:
        if self.statistics:
            print(self._statistics.report(self.statistics_top), file=sys.stderr)

    def get_training_script(self) -> str:
        return self._compiled().train_script

    def get_prediction_script(self) -> str:
        return self._compiled().predict_script

    # --- fit ------------------------------------------------------------------------------------

    def fit(self, X=None, y=None, validation_data=None, resume: bool = False,
            **keras_options) -> "Keras2DML":
        """Trains on X, y (numpy or pandas; X also as Keras' x=), or on a Spark DataFrame X
        with the features and labels in features_col and label_col (validation_data a
        DataFrame too). Keras' other fit() keywords are refused with what to do instead
        (fit_options.refuse)."""
        X = features_argument(X, keras_options, "fit")
        refuse(keras_options, self._PARAMS)
        if self.systemml is not None and isinstance(X, str) and isinstance(y, str):
            return self.fit_file(X, y)
        model = self._compiled()
        self._begin_statistics()
        if is_spark_dataframe(X):
            (X, y), held_out = self._dataframe_data(model, X, y, validation_data)
            self._index_classes(model)
        else:
            X, y, held_out = self._numpy_data(model, X, y, validation_data)
        self._note_validation_unused(held_out)
        examples = y.shape[0]
        batch_size = examples if self.train_algo == "batch" else \
            KERAS_BATCH_SIZE if self.batch_size is None else int(self.batch_size)
        plan = self._plan(examples, batch_size)
        state = self._start(model, resume)
        progress = Progress(plan.epochs, self.verbose, display=self.display,
                            total_steps=plan.total_updates, first_step=state.step)
        self._watch = None
        try:
            with self._kept_workers(X, y, held_out):
                for epoch in range(state.epoch + 1, plan.epochs + 1):
                    state = self._train_epoch(model, plan, X, y, epoch, state, progress, held_out)
        except KeyboardInterrupt as stop:
            progress.clear_live()
            raise TrainingInterrupted(interrupted_message(stop, self._watch, self.weights_dir,
                                                          CHECKPOINT)) from None
        self._set_fitted(model, state)
        self._systemml_fitted()
        self._report_statistics()
        return self

    def _kept_workers(self, X, y, held_out):
        """paramserv on Spark keeps its workers from one epoch to the next (one Spark job for the
        fit) where all data is on the driver: distributed data's partitions and scoring are
        Spark jobs of their own between the epochs, which need the workers' task slots. Their
        job starts now, while the first epoch's script starts."""
        runtime = self.spark_runtime() if self.train_algo == "paramserv" else None
        data = [*X, y, *([*held_out[0], held_out[1]] if held_out is not None else [])]
        if runtime is None or any(isinstance(value, MatrixHandle) for value in data):
            return contextlib.nullcontext()
        workers = paramserv_arguments(self.workers, self.sync, self.frequency, runtime)["workers"]
        return runtime.kept_paramserv_workers(workers)

    def _numpy_data(self, model, X, y, validation_data):
        if y is None:
            raise CompileError("fit(X, y) needs the labels y (only a Spark DataFrame carries "
                               "its labels, in label_col)")
        if validation_data is not None:
            validation_data = validation_pair(validation_data)
        if self.systemml is not None:
            X, y, validation_data = self._systemml_data(model, X, y, validation_data)
        X, y = self._training_data(model, X, y)
        if validation_data is not None:  # Keras then ignores validation_split
            return X, y, self._training_data(model, *validation_data, of="validation_data's ")
        (X, y), held_out = split_inputs(X, y, self.validation_split)
        return X, y, held_out

    def _plan(self, examples: int, batch_size: int) -> EpochPlan:
        per_update = int(self.parallel_batches) if self.train_algo in PARALLEL_ALGOS else 1
        if self.systemml is not None:
            return EpochPlan(examples, batch_size, self._systemml_batches(examples), per_update)
        return EpochPlan.of_epochs(examples, batch_size, int(self.epochs), per_update)

    def _train_epoch(self, model, plan, X, y, epoch, state, progress, held_out):
        X, y = plan.rows(epoch, X, y, self.shuffle, self.seed)
        X, y, shuffle = self._epoch_order(X, y, epoch)
        validate, every = self._step_validation(model, held_out, plan.batch_size)
        self._watch = EpochWatch(progress, epoch, plan.updates(epoch), y.shape[0],
                                 plan.batch_size * plan.batches_per_update, state.step,
                                 model.training.metric_names, validate, every,
                                 TrainingView(model.training).layout(model.heads))
        started = time.perf_counter()
        state = self._epoch(model, model.script("train", bound=True), X, y, plan.batch_size,
                            epoch, state, shuffle)
        seconds = time.perf_counter() - started
        if held_out is not None and not every:
            values = self._evaluate(model, state.variables, *held_out, plan.batch_size)
            for name, value in values.items():
                state.history.setdefault(f"val_{name}", []).append(value)
        progress.epoch_done(epoch, plan.updates(epoch), y.shape[0], seconds,
                            {name: values[-1] for name, values in state.history.items()})
        if self.weights_dir is not None:
            checkpoint.write(Path(self.weights_dir) / CHECKPOINT, state)
        return state

    def _data(self, model, X, y):
        X = model_features(X, model.inputs)       # one array per model input
        return X, targets(y, model.heads, len(X[0]))

    def _training_data(self, model, X, y, of: str = ""):
        """_data, refusing NaN and infinities (evaluate takes them, as Keras: a NaN loss)."""
        X, y = self._data(model, X, y)
        named = ["X"] if len(X) == 1 else [f"X[{t.name!r}]" for t in model.inputs]
        for array, what in zip([*X, y], [*named, "y"]):
            refuse_non_finite(array, of + what)
        return X, y

    def _fingerprint(self, model) -> str:
        text = "\n".join([repr(model.training), self.train_algo, str(self.batch_size),
                          str(self.seed), str(self.shuffle), str(self.parallel_batches)]
                         + ([str(self.workers), self.sync, str(self.frequency)]
                            if self.train_algo == "paramserv" else [])
                         + [f"{p.variable} {p.shape} {p.trainable}" for p in model.parameters])
        return hashlib.sha256(text.encode()).hexdigest()

    def _start(self, model, resume: bool) -> checkpoint.Checkpoint:
        fingerprint = self._fingerprint(model)
        if resume:
            if self.weights_dir is None:
                raise CompileError("fit(resume=True) needs weights_dir, where the checkpoints "
                                   "are written")
            path = Path(self.weights_dir) / CHECKPOINT
            if path.exists():
                saved = checkpoint.read(path)
                if saved.fingerprint != fingerprint:
                    raise CompileError(f"{path}: the checkpoint was written for another model "
                                       "or other training settings; remove it to start anew")
                return saved
        return checkpoint.Checkpoint(self._initial_weights(model), fingerprint=fingerprint)

    def _epoch(self, model, script, X, y, batch_size, epoch, state, shuffle: bool):
        names = [p.variable for p in model.parameters]
        names += TrainingView(model.training).state_variables(model.parameters)
        args = {"epochs": 1, "batch_size": batch_size, "shuffle": shuffle,
                "seed": -1 if self.seed is None else int(self.seed), "first_epoch": epoch,
                "step": state.step, "parallel_batches": int(self.parallel_batches)}
        if self.train_algo == "paramserv":
            args.update(paramserv_arguments(self.workers, self.sync, self.frequency,
                                            self.spark_runtime()))
        inputs = {t.variable: x if isinstance(x, MatrixHandle) else t.rows(x)
                  for t, x in zip(model.inputs, X)}
        inputs.update({model.target.variable: y, **state.variables})
        out = run_string(script, inputs=inputs, args=args, outputs=names + ["history", "step"],
                         file="train.dml", on_iteration=self._watch, **self._run_options())
        history = {name: list(values) for name, values in state.history.items()}
        row = np.asarray(out["history"]).ravel()
        for name, value in zip(("loss",) + model.training.metric_names, row):
            history.setdefault(name, []).append(float(value))
        variables = {name: out[name] for name in names}
        return checkpoint.Checkpoint(variables, epoch, int(out["step"]), history,
                                     state.fingerprint)

    def _evaluate(self, model, variables, X, y, batch_size: int = 32) -> dict:
        """Loss (with weight penalties) and metrics of the model with `variables` on X, y;
        batch by batch (Keras' evaluate, batch_size 32 unless fit's) where an output carries a
        Keras mask, whose loss is each batch's mean over the positions it keeps."""
        weights = {p.variable: variables[p.variable] for p in model.parameters}
        predictions = self._predicted(model, weights, X)
        y = self._collected(y)
        view = TrainingView(model.training)
        names = [f"metric_{k}" for k in range(1, len(model.training.metrics) + 1)]
        inputs = {"P": predictions, "Y": y, **weights}
        if any(h.mask for h in model.heads):
            inputs["M"] = model.masks(X, weights, precision=self.precision)
        # the logits a softmax or sigmoid output's cross-entropy takes (as Keras takes it)
        logits = model.logits(X, weights, precision=self.precision) \
            if any(h.logits for h in model.heads) else None
        if logits is not None:
            inputs["L"] = logits
        out = run_string(view.evaluation_script(model.parameters, model.heads,
                                                logits=logits is not None),
                         inputs=inputs, outputs=["loss"] + names, precision=self.precision,
                         args={"batch_size": int(batch_size)})
        values = {"loss": float(out["loss"])}
        values.update({shown: float(out[name])
                       for shown, name in zip(model.training.metric_names, names)})
        return values

    def _set_fitted(self, model, state) -> None:
        self.model_ = model
        self.weights_ = {p.variable: state.variables[p.variable] for p in model.parameters}
        self.history_ = state.history
        self.epochs_ = state.epoch
        self.n_features_in_ = model.inputs[0].columns

    @property
    def history(self) -> dict:
        """history_ under the name of Keras' History attribute, so that Keras code written as
        `history = model.fit(...)` and then `history.history["loss"]` runs unchanged (fit
        returns the estimator)."""
        if "history_" not in vars(self):  # an AttributeError keeps hasattr() working
            raise AttributeError("history: this Keras2DML estimator is not fitted yet: call "
                                 "fit(X, y) first")
        return self.history_

    # --- using the trained model ----------------------------------------------------------------

    def _fitted(self):
        if not hasattr(self, "weights_") and not self._keras_weights_loaded():
            raise CompileError("this Keras2DML estimator is not fitted yet: call fit(X, y) "
                               "first" + (", or load(folder)" if self.systemml else ""))
        return self.model_

    def predict(self, X=None, batch_size: int | None = None, verbose="auto",
                **keras_options) -> np.ndarray:
        """What model.predict returns for the trained model. With spark=, X may be a Spark
        DataFrame (one array or vector column, or numeric columns, of flattened samples); the
        default batch is then every row in one distributed pass (else 256 rows).
        In SystemML's form: the predicted classes, as SystemML's predict returned them.
        Keras' x= and verbose= are taken (verbose steers Keras' progress bar, which
        kerasdml's predict does not print), its other keywords refused by name."""
        X = scoring_features(X, keras_options, "predict")
        if self.systemml is not None:
            return self._systemml_predict(X)
        return self._predict_output(X, batch_size)

    def _predict_output(self, X, batch_size: int | None = None) -> np.ndarray:
        model = self._fitted()
        self._begin_statistics()
        if is_spark_dataframe(X):
            X = self._predict_frame(X)
        else:
            X = self._features(model, X)
        predicted = model.predict(X, batch_size=batch_size, weights=self.weights_,
                                  **self._run_options())
        self._report_statistics()
        return predicted

    def predict_classes(self, X) -> np.ndarray:
        self._one_output("predict_classes")
        predicted = self._predict_output(X)
        classes = self._fitted().heads[0].classes
        if classes:  # a class per position (step, pixel): Keras' argmax over the last axis
            return predicted.argmax(axis=-1)
        return class_ids(predicted.reshape(len(predicted), -1))

    def is_classifier(self) -> bool:
        """Whether the loss is a cross-entropy, which `score` answers with accuracy."""
        return self._compiled().loss.module in _CLASSIFIER_LOSSES

    def score(self, X=None, y=None, **keras_options) -> float:
        """Accuracy for classifiers (a cross-entropy loss), else R^2; X may be a Spark
        DataFrame with features_col and label_col (no y then)."""
        X = scoring_features(X, keras_options, "score")
        model = self._fitted()
        self._one_output("score")
        if self.systemml is not None:
            return self._systemml_score(X, y)
        if is_spark_dataframe(X):
            return self._score_dataframe(X)
        if not self.is_classifier():
            return r2_score(np.asarray(y, dtype=np.float64), self.predict(X))
        predicted = self.predict_classes(X)
        classes = model.heads[0].classes
        truth = labels(y, model.loss, model.outputs[0].columns, len(predicted), classes=classes)
        if classes:  # the mean over every position, as Keras' accuracy of such an output
            truth = truth if model.loss.sparse_labels else \
                truth.reshape(len(truth), -1, classes).argmax(axis=-1)
            hits = predicted.reshape(len(predicted), -1) == truth
            if model.heads[0].mask:  # Keras counts the positions the output's mask keeps
                kept = model.masks(self._features(model, X), self.weights_,
                                   precision=self.precision) != 0
                return float(np.mean(hits[kept]))
            return float(np.mean(hits))
        truth = truth.ravel() if truth.shape[1] == 1 else truth.argmax(axis=1)
        return float(np.mean(predicted == truth))

    def _one_output(self, method: str) -> None:
        outputs = self._fitted().outputs
        if len(outputs) > 1:
            raise CompileError(f"{method} answers for a model with one output; this one has "
                               f"{len(outputs)} ({', '.join(t.name for t in outputs)}): use "
                               "evaluate (each output's loss and metrics) or predict")

    def evaluate(self, X=None, y=None, batch_size: int | None = None, verbose="auto",
                 return_dict: bool = True, **keras_options):
        """Loss and metrics on X, y, as keras' model.evaluate(return_dict=True) reports them;
        with return_dict=False as Keras' default returns them: a list in the same order, or
        the loss alone where there is nothing else. batch_size as Keras' (default 32);
        verbose is taken (Keras' progress bar, which kerasdml does not print)."""
        X = scoring_features(X, keras_options, "evaluate")
        model = self._fitted()
        X, y = self._data(model, X, y)
        values = self._evaluate(model, self.weights_, X, y,
                                KERAS_BATCH_SIZE if batch_size is None else int(batch_size))
        if return_dict:
            return values
        return list(values.values()) if len(values) > 1 else values["loss"]

    def plot_history(self, path=None):
        """Loss and metrics per epoch (training and validation) as a matplotlib Figure, written
        to `path` when given (needs the `plot` extra)."""
        self._fitted()
        return plot_history(self.history_, path, title=self.model_.name)

    def export(self, path) -> Path:
        """Writes the trained model as a .keras file that keras.models.load_model opens."""
        return export_keras(self._keras_file, self._fitted(), self.weights_, path)
