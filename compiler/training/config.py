"""What a training script needs besides the model: loss, optimizer (with its learning-rate
schedule) and metrics, read from a Keras compile config or given by name.

    config = training_config(model_compile_config)                    # from the model file
    config = training_config(None, optimizer="adam", loss="mse")      # or given
    config.optimizer.module       # "adam": nn/optim/adam.dml
    config.optimizer.arguments    # (("beta1", 0.9), ...): update()'s hyper-parameters, in order

Every value keeps Keras' meaning and default, and maps onto a dml_lib function: the optimizers of
nn/optim, the schedules of nn/optim/schedules.dml, the losses of nn/losses. What Keras has and
dml_lib does not model is refused with an error naming it, never silently dropped.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import CompileError
from ..frontend.weights import snake_case


class TrainingConfigError(CompileError):
    """The loss, optimizer or metrics cannot be trained as configured."""


class MissingLossError(TrainingConfigError):
    """The model was never compiled with a loss and none was given."""


@dataclass(frozen=True)
class Schedule:
    """A learning rate: a function of nn/optim/schedules.dml and its arguments, `step` excluded
    (tuples are the column matrices of piecewise_constant_decay)."""
    function: str
    arguments: tuple = ()


@dataclass(frozen=True)
class Optimizer:
    """One optimizer of nn/optim. `arguments` are update()'s hyper-parameters in its signature
    order (X, dX, lr, the state and t excluded); `state` names what init() returns."""
    keras_class: str
    module: str
    learning_rate: Schedule
    arguments: tuple = ()
    init_arguments: tuple = ()
    state: tuple = ()
    scalar_state: tuple = ()   # state shared by all parameters (Nadam's mu_prod)
    takes_step: bool = False   # update() takes the 1-based step t
    clipnorm: float | None = None
    clipvalue: float | None = None
    global_clipnorm: float | None = None


@dataclass(frozen=True)
class Loss:
    """One loss of nn/losses: forward() and backward() take (pred, y, *arguments)."""
    module: str
    arguments: tuple = ()
    sparse_labels: bool = False  # y holds class indices, not one-hot rows


@dataclass(frozen=True)
class TrainingConfig:
    loss: Loss
    optimizer: Optimizer
    metrics: tuple = ()        # resolved names, see METRICS
    metric_names: tuple = ()   # as Keras reports them in its History ("accuracy")


# --- optimizers -------------------------------------------------------------------------------

@dataclass(frozen=True)
class _OptimizerKind:
    module: str
    learning_rate: float
    hyper: tuple               # (Keras config key, DML argument, Keras default), update() order
    state: tuple
    scalar_state: tuple = ()
    takes_step: bool = False
    init: tuple = ()           # (Keras key, DML argument, default) of init()


_WEIGHT_DECAY = ("weight_decay", "weight_decay", 0.0)
_ADAM_HYPER = (("beta_1", "beta1", 0.9), ("beta_2", "beta2", 0.999), ("epsilon", "epsilon", 1e-7),
               ("amsgrad", "amsgrad", False))
OPTIMIZERS = {
    "SGD": _OptimizerKind("sgd", 0.01, (("momentum", "momentum", 0.0),
                                        ("nesterov", "nesterov", False), _WEIGHT_DECAY), ("v",)),
    "RMSprop": _OptimizerKind("rmsprop", 0.001, (
        ("rho", "rho", 0.9), ("momentum", "momentum", 0.0), ("epsilon", "epsilon", 1e-7),
        ("centered", "centered", False), _WEIGHT_DECAY), ("s", "mom", "g")),
    "Adagrad": _OptimizerKind("adagrad", 0.001, (("epsilon", "epsilon", 1e-7), _WEIGHT_DECAY),
                              ("acc",), init=(("initial_accumulator_value",
                                               "initial_accumulator_value", 0.1),)),
    "Adadelta": _OptimizerKind("adadelta", 0.001, (("rho", "rho", 0.95),
                                                   ("epsilon", "epsilon", 1e-7), _WEIGHT_DECAY),
                               ("Eg", "Edx")),
    "Adam": _OptimizerKind("adam", 0.001, _ADAM_HYPER + (_WEIGHT_DECAY,), ("m", "v", "vhat"),
                           takes_step=True),
    "AdamW": _OptimizerKind("adamw", 0.001, (("weight_decay", "weight_decay", 0.004),)
                            + _ADAM_HYPER, ("m", "v", "vhat"), takes_step=True),
    "Nadam": _OptimizerKind("nadam", 0.001, _ADAM_HYPER[:3] + (_WEIGHT_DECAY,), ("m", "v"),
                            scalar_state=("mu_prod",), takes_step=True),
}
_OPTIMIZER_ALIASES = {name.lower(): name for name in OPTIMIZERS}
# Keras options with no DML counterpart, and the values that mean "off".
_UNMODELLED = {"use_ema": (None, False), "loss_scale_factor": (None, 1, 1.0),
               "gradient_accumulation_steps": (None, 1)}
_IGNORED = {"name", "ema_momentum", "ema_overwrite_frequency", "clipnorm", "clipvalue",
            "global_clipnorm", "learning_rate", "decay", "is_legacy_optimizer", "jit_compile"}


def optimizer_from_keras(spec, learning_rate=None) -> Optimizer:
    """An Optimizer from a Keras optimizer name ("adam"), a serialized optimizer (the
    `optimizer` entry of a compile config) or a keras optimizer object; `learning_rate`
    overrides the configured one."""
    class_name, config = _class_and_config(spec, "optimizer")
    canonical = _OPTIMIZER_ALIASES.get(class_name.lower())
    if canonical is None:
        raise TrainingConfigError(f"optimizer {class_name!r} is not supported; supported: "
                                  + ", ".join(OPTIMIZERS))
    kind = OPTIMIZERS[canonical]
    _refuse_unmodelled(canonical, config, kind)
    rate = learning_rate if learning_rate is not None else config.get("learning_rate",
                                                                      kind.learning_rate)
    return Optimizer(
        keras_class=canonical, module=kind.module, learning_rate=schedule_from_keras(rate),
        arguments=_hyper(kind.hyper, config), init_arguments=_hyper(kind.init, config),
        state=kind.state, scalar_state=kind.scalar_state, takes_step=kind.takes_step,
        clipnorm=config.get("clipnorm"), clipvalue=config.get("clipvalue"),
        global_clipnorm=config.get("global_clipnorm"))


def _hyper(table: tuple, config: dict) -> tuple:
    values = []
    for key, argument, default in table:
        value = config.get(key, default)
        values.append((argument, default if value is None else type(default)(value)))
    return tuple(values)


def _refuse_unmodelled(class_name: str, config: dict, kind: _OptimizerKind) -> None:
    known = {key for key, _, _ in kind.hyper + kind.init} | set(_UNMODELLED) | _IGNORED
    for key, off in _UNMODELLED.items():
        if config.get(key) not in off:
            raise TrainingConfigError(f"optimizer {class_name}: {key}={config[key]!r} is not "
                                      "supported (kerasdml does not model it)")
    unknown = sorted(set(config) - known)
    if unknown:
        raise TrainingConfigError(f"optimizer {class_name}: unknown option(s) "
                                  + ", ".join(unknown))


# --- learning-rate schedules ------------------------------------------------------------------

# Keras schedule class -> (DML function, its arguments: (Keras key, default or REQUIRED)).
_REQUIRED = object()
SCHEDULES = {
    "ExponentialDecay": ("exponential_decay", (("initial_learning_rate", _REQUIRED),
                                               ("decay_steps", _REQUIRED),
                                               ("decay_rate", _REQUIRED), ("staircase", False))),
    "InverseTimeDecay": ("inverse_time_decay", (("initial_learning_rate", _REQUIRED),
                                                ("decay_steps", _REQUIRED),
                                                ("decay_rate", _REQUIRED), ("staircase", False))),
    "PiecewiseConstantDecay": ("piecewise_constant_decay", (("boundaries", _REQUIRED),
                                                            ("values", _REQUIRED))),
    "PolynomialDecay": ("polynomial_decay", (("initial_learning_rate", _REQUIRED),
                                             ("decay_steps", _REQUIRED),
                                             ("end_learning_rate", 0.0001), ("power", 1.0),
                                             ("cycle", False))),
    "CosineDecay": ("cosine_decay", (("initial_learning_rate", _REQUIRED),
                                     ("decay_steps", _REQUIRED), ("alpha", 0.0))),
}


def schedule_from_keras(spec) -> Schedule:
    """A Schedule from a float, a serialized Keras schedule or a schedule object (or a
    Schedule, as is)."""
    if isinstance(spec, Schedule):
        return spec
    if isinstance(spec, (int, float)) and not isinstance(spec, bool):
        return Schedule("constant", (("lr", float(spec)),))
    class_name, config = _class_and_config(spec, "learning-rate schedule")
    if class_name not in SCHEDULES:
        raise TrainingConfigError(f"learning-rate schedule {class_name!r} is not supported; "
                                  "supported: a constant, " + ", ".join(SCHEDULES))
    function, keys = SCHEDULES[class_name]
    if class_name == "CosineDecay" and config.get("warmup_target") is not None:
        function = "cosine_decay_warmup"
        keys = keys + (("warmup_target", _REQUIRED), ("warmup_steps", 0.0))
    arguments = []
    for key, default in keys:
        value = config.get(key, default)
        if value is _REQUIRED or value is None:
            raise TrainingConfigError(f"learning-rate schedule {class_name}: {key} is missing")
        arguments.append((key, _schedule_value(value)))
    return Schedule(function, tuple(arguments))


def _schedule_value(value):
    if isinstance(value, bool):
        return value
    if isinstance(value, (list, tuple)):
        return tuple(float(v) for v in value)
    return float(value)


# --- losses -----------------------------------------------------------------------------------

# Keras loss name -> (nn/losses module, its arguments: (Keras key, default), sparse labels).
LOSSES = {
    "categorical_crossentropy": ("categorical_crossentropy", (("from_logits", False),), False),
    "sparse_categorical_crossentropy": ("sparse_categorical_crossentropy",
                                        (("from_logits", False),), True),
    "binary_crossentropy": ("binary_crossentropy", (("from_logits", False),), False),
    "mean_squared_error": ("mean_squared_error", (), False),
    "mean_absolute_error": ("mean_absolute_error", (), False),
    "huber": ("huber", (("delta", 1.0),), False),
}
_LOSS_ALIASES = {"mse": "mean_squared_error", "mae": "mean_absolute_error", "huber_loss": "huber"}
_LOSS_OFF = {"label_smoothing": 0.0, "reduction": "sum_over_batch_size", "axis": -1,
             "ignore_class": None}


def loss_from_keras(spec) -> Loss:
    """A Loss from a Keras loss name, a serialized loss or a loss object."""
    if isinstance(spec, (list, tuple, dict)) and not _is_serialized(spec):
        raise TrainingConfigError("one loss per model is supported (the model has several "
                                  "outputs with their own losses)")
    class_name, config = _class_and_config(spec, "loss")
    if class_name == "function":  # a serialized loss function: its name is the config
        class_name, config = str(config), {}
    name = snake_case(class_name)  # the class CategoricalCrossentropy or the function's name
    name = _LOSS_ALIASES.get(name, name)
    if name not in LOSSES:
        raise TrainingConfigError(f"loss {class_name!r} is not supported; supported: "
                                  + ", ".join(LOSSES))
    for key, off in _LOSS_OFF.items():
        if config.get(key, off) != off:
            raise TrainingConfigError(f"loss {class_name}: {key}={config[key]!r} is not "
                                      f"supported (only {off!r})")
    module, keys, sparse = LOSSES[name]
    return Loss(module, tuple((k, type(d)(config.get(k, d))) for k, d in keys), sparse)


# --- metrics ----------------------------------------------------------------------------------

METRICS = ("categorical_accuracy", "sparse_categorical_accuracy", "binary_accuracy",
           "mean_squared_error", "mean_absolute_error")
_METRIC_ALIASES = {"mse": "mean_squared_error", "mae": "mean_absolute_error"}
_ACCURACY_FOR_LOSS = {"categorical_crossentropy": "categorical_accuracy",
                      "sparse_categorical_crossentropy": "sparse_categorical_accuracy",
                      "binary_crossentropy": "binary_accuracy"}


def metrics_from_keras(specs, loss: Loss) -> tuple:
    """((metric, name Keras reports), ...); "accuracy"/"acc" resolve by the loss, as Keras
    resolves them."""
    names = []
    for spec in specs or ():
        if isinstance(spec, (list, tuple)):  # per-output lists of a single-output model
            names += [pair for pair in metrics_from_keras(spec, loss) if pair not in names]
            continue
        class_name, config = _class_and_config(spec, "metric")
        shown = spec if isinstance(spec, str) else config.get("name") or snake_case(class_name)
        key = snake_case(class_name)
        key = _METRIC_ALIASES.get(key, key)
        if key in ("accuracy", "acc"):
            key = _ACCURACY_FOR_LOSS.get(loss.module)
            if key is None:
                raise TrainingConfigError(f"metric 'accuracy' needs a classification loss, "
                                          f"not {loss.module}")
        if key not in METRICS:
            raise TrainingConfigError(f"metric {class_name!r} is not supported; supported: "
                                      "accuracy, " + ", ".join(METRICS))
        if key not in [metric for metric, _ in names]:
            names.append((key, shown))
    return tuple(names)


# --- the whole configuration ------------------------------------------------------------------

DEFAULT_OPTIMIZER = "rmsprop"  # what keras.Model.compile uses when given no optimizer

def training_config(compile_config: dict | None, *, optimizer=None, loss=None, metrics=None,
                    learning_rate=None) -> TrainingConfig:
    """The training configuration of a model: its Keras compile config (None for a model that
    was never compiled), with any of optimizer, loss, metrics and learning_rate overriding it."""
    compiled = compile_config or {}
    optimizer = optimizer if optimizer is not None else compiled.get("optimizer")
    optimizer = optimizer if optimizer is not None else compiled.get("optimizer_config")
    loss = loss if loss is not None else compiled.get("loss")
    if loss is None:
        raise MissingLossError(
            "the model was not compiled with a loss: call model.compile(...) before saving it, "
            "or pass loss= (e.g. loss='categorical_crossentropy') and optimizer=")
    if optimizer is None:
        optimizer = DEFAULT_OPTIMIZER
    if compiled.get("loss_weights") not in (None, [], {}):
        raise TrainingConfigError("loss_weights are not supported")
    resolved_loss = loss_from_keras(loss)
    resolved_metrics = metrics_from_keras(
        metrics if metrics is not None else compiled.get("metrics"), resolved_loss)
    return TrainingConfig(resolved_loss, optimizer_from_keras(optimizer, learning_rate),
                          tuple(m for m, _ in resolved_metrics),
                          tuple(name for _, name in resolved_metrics))


def _class_and_config(spec, what: str) -> tuple[str, dict]:
    """(class name, config) of a name, a serialized Keras object or a live Keras object."""
    if isinstance(spec, str):
        return spec, {}
    if _is_serialized(spec):
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


def _is_serialized(spec) -> bool:
    return isinstance(spec, dict) and "class_name" in spec
