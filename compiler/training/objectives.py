"""What a model is trained to minimise and what training reports: Keras losses and metrics as
dml_lib's nn/losses and the metric sums of train.dml, one Head per model output (its loss, the
loss's weight in the total, its metrics), read from the forms Keras' compile takes.

    heads_from_keras(("labels", "values"), {"labels": "sparse_categorical_crossentropy",
                     "values": "mse"}, {"labels": 1.0, "values": 0.5}, {"labels": ["accuracy"]})
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from ..errors import CompileError
from ..frontend.weights import snake_case
from .metric_state import FINISHED_METRICS


class TrainingConfigError(CompileError):
    """The loss, optimizer or metrics cannot be trained as configured."""


class MissingLossError(TrainingConfigError):
    """The model was never compiled with a loss and none was given."""



@dataclass(frozen=True)
class Loss:
    """One loss of nn/losses: forward() and backward() take (pred, y, *arguments)."""
    module: str
    arguments: tuple = ()
    sparse_labels: bool = False  # y holds class indices, not one-hot rows

@dataclass(frozen=True)
class Head:
    """What one model output contributes to training: its loss, the loss's weight in the
    total (Keras' loss_weights) and its metrics. `output` is empty for a single output."""
    output: str
    loss: Loss
    weight: float = 1.0
    metrics: tuple = ()        # resolved names, see METRICS
    metric_names: tuple = ()   # as Keras reports them in its History ("accuracy")
    metric_arguments: tuple = ()  # each metric's ((setting, value), ...), see METRICS


# --- losses -----------------------------------------------------------------------------------

# Keras loss name -> (nn/losses module, its arguments: (Keras key, default), sparse labels).
# Scripts pass every argument (SystemDS fills no default of a positional call).
_SMOOTHED = (("from_logits", False), ("label_smoothing", 0.0))
LOSSES = {
    "categorical_crossentropy": ("categorical_crossentropy", _SMOOTHED, False),
    "sparse_categorical_crossentropy": ("sparse_categorical_crossentropy",
                                        (("from_logits", False),), True),
    "binary_crossentropy": ("binary_crossentropy", _SMOOTHED, False),
    "mean_squared_error": ("mean_squared_error", (), False),
    "mean_absolute_error": ("mean_absolute_error", (), False),
    "huber": ("huber", (("delta", 1.0),), False),
    "log_cosh": ("log_cosh", (), False),
    "kl_divergence": ("kl_divergence", (), False),
    "poisson": ("poisson", (), False),
    "hinge": ("hinge", (), False),
    "squared_hinge": ("squared_hinge", (), False),
    "categorical_hinge": ("categorical_hinge", (), False),
    "cosine_similarity": ("cosine_similarity", (), False),
    "mean_absolute_percentage_error": ("mean_absolute_percentage_error", (), False),
    "mean_squared_logarithmic_error": ("mean_squared_logarithmic_error", (), False),
}
_LOSS_ALIASES = {"mse": "mean_squared_error", "mae": "mean_absolute_error", "huber_loss": "huber",
                 "logcosh": "log_cosh", "kld": "kl_divergence",
                 "kullback_leibler_divergence": "kl_divergence",
                 "mape": "mean_absolute_percentage_error",
                 "msle": "mean_squared_logarithmic_error"}
# settings a loss supports only at these values (unless its module takes them: LOSSES)
_LOSS_OFF = {"label_smoothing": 0.0, "reduction": "sum_over_batch_size", "axis": -1,
             "ignore_class": None}


def loss_from_keras(spec) -> Loss:
    """A Loss from a Keras loss name, a serialized loss or a loss object."""
    if isinstance(spec, (list, tuple, dict)) and not is_serialized(spec):
        raise TrainingConfigError(f"a list or dict of losses ({spec!r}) is for a model with "
                                  "several outputs; this model has one: give one loss")
    class_name, config = class_and_config(spec, "loss")
    if class_name == "function":  # a serialized loss function: its name is the config
        class_name, config = str(config), {}
    name = snake_case(class_name)  # the class CategoricalCrossentropy or the function's name
    name = _LOSS_ALIASES.get(name, name)
    if name not in LOSSES:
        raise TrainingConfigError(f"loss {class_name!r} is not supported; supported: "
                                  + ", ".join(LOSSES))
    module, keys, sparse = LOSSES[name]
    for key, off in _LOSS_OFF.items():
        if key not in dict(keys) and config.get(key, off) != off:
            raise TrainingConfigError(f"loss {class_name}: {key}={config[key]!r} is not "
                                      f"supported (only {off!r})")
    return Loss(module, _settings(config, keys), sparse)


# the cross-entropies that Keras 3's TensorFlow backend takes from the logits of a softmax or
# sigmoid output although from_logits=False (keras/src/backend/tensorflow/nn.py, _get_logits: the
# output carries its activation's input as _keras_logits), the loss and the metric alike, so that
# neither clips a saturated prediction
LOGITS_CROSSENTROPIES = ("categorical_crossentropy", "sparse_categorical_crossentropy",
                         "binary_crossentropy")


def takes_logits(module: str, arguments: tuple) -> bool:
    """Whether the loss or metric `module` with `arguments` ((setting, value), ...), on an output
    a softmax or sigmoid writes, is taken from that activation's logits."""
    return module in LOGITS_CROSSENTROPIES and not dict(arguments).get("from_logits", True)


def _settings(config: dict, keys: tuple) -> tuple:
    """((key, value), ...) of a Keras object's config for `keys` ((key, default), ...), each
    value of its default's type, the default where the config leaves it out or None."""
    return tuple((k, type(d)(d if config.get(k) is None else config[k])) for k, d in keys)


# --- metrics ----------------------------------------------------------------------------------

# metric -> its settings (Keras key, default), which the DML sum (training_view) takes by name
METRICS = {
    "accuracy": (),  # keras.metrics.Accuracy: exact equality (the name "accuracy" is _accuracy_for)
    "categorical_accuracy": (),
    "sparse_categorical_accuracy": (),
    "binary_accuracy": (("threshold", 0.5),),
    "mean_squared_error": (),
    "mean_absolute_error": (),
    "top_k_categorical_accuracy": (("k", 5),),
    "sparse_top_k_categorical_accuracy": (("k", 5),),
}
# metrics that are a loss's mean over the samples (Keras wraps the loss function): their batch
# sums call the loss module with the loss's settings (training_view), from the logits where the
# loss would take them (takes_logits); cosine similarity's sign is the metric's, +1 where pred
# points along y (the loss is its negative)
LOSS_METRICS = {"log_cosh": 1, "kl_divergence": 1, "poisson": 1, "hinge": 1, "squared_hinge": 1,
                "categorical_hinge": 1, "cosine_similarity": -1,
                "mean_absolute_percentage_error": 1, "mean_squared_logarithmic_error": 1,
                "categorical_crossentropy": 1, "sparse_categorical_crossentropy": 1,
                "binary_crossentropy": 1}
METRICS.update({name: LOSSES[name][1] for name in LOSS_METRICS})
# metrics whose targets are class ids (True) or of the output's shape (False), as their loss's:
# they read the targets the model's loss takes, so the two must agree
_METRIC_LABELS = {"top_k_categorical_accuracy": False, "sparse_top_k_categorical_accuracy": True,
                  **{name: LOSSES[name][2] for name in LOGITS_CROSSENTROPIES}}
# metrics finished at the epoch's end from the epoch's sums (training.metric_state); their
# settings are read by _finished_settings, which refuses what kerasdml does not compute
METRICS.update({"root_mean_squared_error": (),
                "precision": (("thresholds", 0.5), ("class_id", -1)),
                "recall": (("thresholds", 0.5), ("class_id", -1)),
                "auc": (("num_thresholds", 200), ("curve", "ROC"),
                        ("summation_method", "interpolation"), ("from_logits", False)),
                "f_beta_score": (("beta", 1.0), ("average", "macro"), ("threshold", -1.0))})
_METRIC_IGNORED = ("name", "dtype")  # settings that do not change a metric's value
# settings a metric supports only at these values (unless METRICS lists them)
_METRIC_OFF = {"axis": -1, "ignore_class": None, "from_sorted_ids": False}
_METRIC_ALIASES = {"mse": "mean_squared_error", "mae": "mean_absolute_error",
                   "f1_score": "f_beta_score", "fbeta_score": "f_beta_score",
                   "mape": "mean_absolute_percentage_error",
                   "msle": "mean_squared_logarithmic_error",
                   "logcosh": "log_cosh", "log_cosh_error": "log_cosh"}
_ACCURACY_FOR_LOSS = {"categorical_crossentropy": "categorical_accuracy",
                      "sparse_categorical_crossentropy": "sparse_categorical_accuracy",
                      "binary_crossentropy": "binary_accuracy"}


def metrics_from_keras(specs, loss: Loss, width: int | None = None) -> tuple:
    """((metric, name Keras reports, its settings), ...) for an output of `width` units (None:
    unknown); the names "accuracy"/"acc" resolve as Keras resolves them (_accuracy_for),
    keras.metrics.Accuracy is exact equality. Two names for one metric are both reported, and
    one name twice as Keras reports it."""
    found, repeats = [], {}
    for spec in specs or ():
        if isinstance(spec, (list, tuple)):  # per-output lists of a single-output model
            found += [m for m in metrics_from_keras(spec, loss, width) if m not in found]
            continue
        class_name, config = class_and_config(spec, "metric")
        if class_name == "function":  # a serialized metric function: its name is the config
            class_name, config = str(config), {}
        shown = spec if isinstance(spec, str) else config.get("name") or snake_case(class_name)
        key = snake_case(class_name)
        key = _METRIC_ALIASES.get(key, key)
        # Keras picks an accuracy by the shapes for the name only; keras.metrics.Accuracy is
        # exact equality
        if key in ("accuracy", "acc") and isinstance(spec, str):
            key = _accuracy_for(loss, width)
            if key is None:
                raise TrainingConfigError(f"metric 'accuracy' needs a classification loss, "
                                          f"not {loss.module}")
        if key not in METRICS:
            raise TrainingConfigError(f"metric {class_name!r} is not supported; supported: "
                                      + ", ".join(METRICS))
        # the second metric of one name reports as "<name>_1", the third "_2" (Keras'
        # CompileMetrics.result)
        repeats[shown] = repeats.get(shown, -1) + 1
        shown = f"{shown}_{repeats[shown]}" if repeats[shown] else shown
        if key in FINISHED_METRICS:
            found.append((key, shown, _finished_settings(key, class_name, config)))
            continue
        settings = dict(METRICS[key])
        for setting, value in config.items():
            if setting in settings or setting in _METRIC_IGNORED or \
                    (setting in _METRIC_OFF and value == _METRIC_OFF[setting]):
                continue
            raise TrainingConfigError(f"metric {class_name}: {setting}={value!r} is not "
                                      "supported (kerasdml computes it with Keras' defaults"
                                      + (f": only {_METRIC_OFF[setting]!r})"
                                         if setting in _METRIC_OFF else ")"))
        _check_labels(key, class_name, loss)
        found.append((key, shown, _settings(config, METRICS[key])))
    return tuple(found)


def _check_labels(key: str, class_name: str, loss: Loss) -> None:
    """A metric reads the targets the loss takes: class ids for a sparse loss, else rows of the
    output's shape; one that wants the other kind is refused (Keras fails on it too, or
    broadcasts the ids against the rows)."""
    if key in _METRIC_LABELS and _METRIC_LABELS[key] != loss.sparse_labels:
        wanted, given = ("class ids", "rows of the output's shape") if _METRIC_LABELS[key] \
            else ("rows of the output's shape (one-hot)", "class ids")
        raise TrainingConfigError(f"metric {class_name} takes {wanted} as targets, but the "
                                  f"loss {loss.module} takes {given}: give the metric that "
                                  "matches the loss's targets")


# settings of the finished metrics kerasdml computes only at these values (Keras' defaults)
_FINISHED_OFF = {"precision": {"top_k": None}, "recall": {"top_k": None},
                 "auc": {"thresholds": None, "multi_label": False, "num_labels": None,
                         "label_weights": None},
                 "root_mean_squared_error": {}, "f_beta_score": {}}
_FINISHED_CHOICES = {"curve": ("ROC", "PR"),
                     "summation_method": ("interpolation", "minoring", "majoring"),
                     "average": ("micro", "macro", "weighted")}


def _finished_settings(key: str, class_name: str, config: dict) -> tuple:
    """The settings of a metric that Keras finishes at the epoch's end (Precision, Recall, AUC,
    F1Score/FBetaScore, RootMeanSquaredError), refusing by name what kerasdml does not do:
    Precision/Recall with top_k or several thresholds (Keras then reports a vector), AUC with
    explicit thresholds, multi_label or label_weights, or curve 'PRGAIN', FBetaScore with
    average=None (one value per class)."""
    keys = dict(METRICS[key])
    for setting, value in config.items():
        if setting in _METRIC_IGNORED or (setting in keys and setting != "thresholds") or \
                (key in ("precision", "recall") and setting == "thresholds"):
            continue
        off = _FINISHED_OFF[key]
        if setting in off and value == off[setting]:
            continue
        raise TrainingConfigError(f"metric {class_name}: {setting}={value!r} is not supported"
                                  + (f" (only {off[setting]!r})" if setting in off else ""))
    values = {}
    for setting, default in METRICS[key]:
        value = config.get(setting)
        if setting == "thresholds":
            if isinstance(value, (list, tuple)):
                if len(value) != 1:
                    raise TrainingConfigError(
                        f"metric {class_name}: thresholds={value!r} is not supported: Keras "
                        "reports one value per threshold; give one threshold (a float)")
                value = value[0]
        elif setting == "class_id" and value is not None:
            value = int(value)
        elif setting == "average" and value is None:
            raise TrainingConfigError(
                f"metric {class_name}: average=None is not supported: Keras then reports one "
                "value per class; give average='micro', 'macro' or 'weighted'")
        elif setting in _FINISHED_CHOICES and value is not None:
            value = str(value)
            if value.upper() in ("ROC", "PR"):
                value = value.upper()
            if value.lower() in _FINISHED_CHOICES[setting]:
                value = value.lower()
            if value not in _FINISHED_CHOICES[setting]:
                raise TrainingConfigError(
                    f"metric {class_name}: {setting}={value!r} is not supported; supported: "
                    + ", ".join(_FINISHED_CHOICES[setting]))
        values[setting] = default if value is None else type(default)(value)
    if key == "auc" and values["num_thresholds"] < 2:
        raise TrainingConfigError(f"metric {class_name}: num_thresholds must be above 1")
    return tuple(values.items())


def _accuracy_for(loss: Loss, width: int | None) -> str | None:
    """Keras picks the accuracy by the shapes, not the loss: one output unit is binary, class
    ids as targets sparse categorical, else categorical (a multi-label output of several
    sigmoids under binary cross-entropy too). Without the width, by the loss."""
    if width is None:
        return _ACCURACY_FOR_LOSS.get(loss.module)
    if width == 1:
        return "binary_accuracy"
    if loss.module == "sparse_categorical_crossentropy":
        return "sparse_categorical_accuracy"
    return "categorical_accuracy"


def live_loss(model):
    """The loss a live keras.Model was compiled with (Keras' compile forms: one loss, a list
    or a dict) when it holds a loss object, else None: a saved compile config keeps only a
    loss's get_config(), which leaves out a wrapped function's arguments (Huber's delta)."""
    loss = None if isinstance(model, (str, os.PathLike)) else getattr(model, "loss", None)
    leaves = loss.values() if isinstance(loss, dict) else \
        loss if isinstance(loss, (list, tuple)) else (loss,)
    return loss if any(leaf is not None and not isinstance(leaf, str) for leaf in leaves) \
        else None


def class_and_config(spec, what: str) -> tuple[str, dict]:
    """(class name, config) of a name, a serialized Keras object or a live Keras object."""
    if isinstance(spec, str):
        return spec, {}
    if is_serialized(spec):
        config = spec.get("config")
        return spec["class_name"], config if config is not None else {}
    if hasattr(spec, "get_config"):
        # Keras wrappers keep a loss function's own arguments (Huber's delta) apart from
        # get_config(), which leaves them out; a saved file loses them too.
        return type(spec).__name__, {**spec.get_config(), **getattr(spec, "_fn_kwargs", {})}
    if callable(spec) and hasattr(spec, "__name__"):  # a Keras loss or metric function
        return spec.__name__, {}
    raise TrainingConfigError(f"cannot read the {what} {spec!r}: give a name, a Keras object "
                              "or its serialized form")


def is_serialized(spec) -> bool:
    return isinstance(spec, dict) and "class_name" in spec


# --- one head per model output ----------------------------------------------------------------

def heads_from_keras(outputs: tuple, loss, loss_weights=None, metrics=None,
                     widths: tuple | None = None) -> tuple:
    """One Head per output name, from Keras' compile arguments: for a single output one loss
    and a list of metrics; for several, a list of losses in output order, a dict by output
    name or one loss that every output takes; loss_weights as a list or dict (default 1.0
    each); metrics as a list with one entry per output or a dict by output name (outputs
    left out have none). `widths`: each output's last dimension, where known."""
    widths = widths or (None,) * len(outputs)
    if len(outputs) == 1:
        weight = loss_weights if isinstance(loss_weights, (int, float)) else \
            _per_output(outputs, loss_weights, "loss_weights", default=1.0)[0]
        resolved = loss_from_keras(loss)
        if isinstance(metrics, dict) and not is_serialized(metrics):  # by output name too
            metrics = _per_output(outputs, metrics, "metrics", default=None, partial=True)[0]
            metrics = [metrics] if metrics is not None and \
                not isinstance(metrics, (list, tuple)) else metrics
        return (_head("", resolved, weight, metrics_from_keras(metrics, resolved, widths[0])),)
    one_for_all = not isinstance(loss, (list, tuple, dict)) or is_serialized(loss)
    losses = [loss] * len(outputs) if one_for_all else _per_output(outputs, loss, "loss")
    weights = _per_output(outputs, loss_weights, "loss_weights", default=1.0)
    metric_specs = _per_output(outputs, metrics, "metrics", default=None, partial=True)
    heads = []
    for name, spec, weight, metric, width in zip(outputs, losses, weights, metric_specs, widths):
        if spec is None:
            raise TrainingConfigError(f"output '{name}' has no loss; give every output a loss "
                                      "(kerasdml trains every output)")
        resolved = loss_from_keras(spec)
        found = metrics_from_keras(metric if isinstance(metric, (list, tuple)) else
                                   [metric] if metric is not None else None, resolved, width)
        heads.append(_head(name, resolved, 1.0 if weight is None else weight, found))
    return tuple(heads)


def _head(output: str, loss: Loss, weight, found: tuple) -> Head:
    """A Head from metrics_from_keras' (metric, name, settings) triples."""
    metrics, names, arguments = zip(*found) if found else ((), (), ())
    return Head(output, loss, float(weight), tuple(metrics), tuple(names), tuple(arguments))


_NO_DEFAULT = object()


def _per_output(outputs: tuple, spec, what: str, default=_NO_DEFAULT, partial=False) -> list:
    """Keras' per-output form of `spec` (a list in output order or a dict by output name) as
    a list in output order."""
    if spec in (None, [], {}) and default is not _NO_DEFAULT:
        return [default] * len(outputs)
    if isinstance(spec, dict) and not is_serialized(spec):
        unknown = sorted(set(spec) - set(outputs))
        missing = [] if partial else [name for name in outputs if name not in spec]
        if unknown or (missing and default is _NO_DEFAULT):
            raise TrainingConfigError(f"{what} is a dict with keys {sorted(spec)}; the model's "
                                      f"outputs are {list(outputs)}")
        return [spec.get(name, None if default is _NO_DEFAULT else default) for name in outputs]
    if isinstance(spec, (list, tuple)) and len(spec) == len(outputs):
        return list(spec)
    raise TrainingConfigError(
        f"the model has {len(outputs)} outputs ({', '.join(outputs)}): give {what} as a list "
        f"with one entry per output or a dict by output name, got {spec!r}")
