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

from dataclasses import dataclass, field

from .objectives import (Head, Loss, MissingLossError, TrainingConfigError,  # noqa: F401
                         class_and_config, heads_from_keras, loss_from_keras, metrics_from_keras)


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
class TrainingConfig:
    heads: tuple               # one Head per model output, in the model's output order
    optimizer: Optimizer
    # compile(run_eagerly=True): Keras then weighs each batch's <output>_loss by its rows
    # (TrainingView.batch_mean_losses); it changes no weight, so checkpoints ignore it
    eager: bool = field(default=False, repr=False)

    @property
    def loss(self) -> Loss:
        """The loss of the first (for most models the only) output."""
        return self.heads[0].loss

    @property
    def several(self) -> bool:
        return len(self.heads) > 1

    @property
    def metrics(self) -> tuple:
        """The columns the history holds after the total loss: a single output's metrics, or
        for several outputs each output's loss and then each output's metrics."""
        if not self.several:
            return self.heads[0].metrics
        return tuple(f"{h.output}_loss" for h in self.heads) + tuple(
            f"{h.output}_{m}" for h in self.heads for m in h.metrics)

    @property
    def metric_names(self) -> tuple:
        """The metrics' names as Keras' History reports them ("labels_accuracy")."""
        if not self.several:
            return self.heads[0].metric_names
        return tuple(f"{h.output}_loss" for h in self.heads) + tuple(
            f"{h.output}_{name}" for h in self.heads for name in h.metric_names)

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
    "Adamax": _OptimizerKind("adamax", 0.001, _ADAM_HYPER[:3] + (_WEIGHT_DECAY,), ("m", "u"),
                             takes_step=True),
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
    class_name, config = class_and_config(spec, "optimizer")
    refuse_weight_decay_exclusions(spec)
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


def refuse_weight_decay_exclusions(optimizer) -> None:
    """Refuses a live Keras optimizer whose exclude_from_weight_decay(...) spares some weights
    (its get_config() and a saved file leave that out, so every weight would be decayed)."""
    if not getattr(optimizer, "weight_decay", None):
        return
    if getattr(optimizer, "_exclude_from_weight_decay", None) or \
            getattr(optimizer, "_exclude_from_weight_decay_pattern", None) is not None:
        raise TrainingConfigError(
            f"optimizer {type(optimizer).__name__}: exclude_from_weight_decay(...) is not "
            "supported: kerasdml would decay the weights it excludes; compile without the "
            "exclusion (or with weight_decay=None)")


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
    class_name, config = class_and_config(spec, "learning-rate schedule")
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

# --- the whole configuration ------------------------------------------------------------------

DEFAULT_OPTIMIZER = "rmsprop"  # what keras.Model.compile uses when given no optimizer


def training_config(compile_config: dict | None, *, optimizer=None, loss=None, metrics=None,
                    learning_rate=None, loss_weights=None, outputs=("",),
                    widths=None) -> TrainingConfig:
    """The training configuration of a model: its Keras compile config (None for a model that
    was never compiled), with any of optimizer, loss, metrics, loss_weights and learning_rate
    overriding it. `outputs` names the model's outputs, in order, `widths` their last
    dimensions (which decide what "accuracy" is)."""
    compiled = compile_config or {}
    if compiled.get("weighted_metrics"):
        raise TrainingConfigError(
            f"weighted_metrics={compiled['weighted_metrics']!r} is not supported: kerasdml "
            "trains on unweighted samples; compile the model with these in metrics= instead")
    optimizer = optimizer if optimizer is not None else compiled.get("optimizer")
    optimizer = optimizer if optimizer is not None else compiled.get("optimizer_config")
    loss = loss if loss is not None else compiled.get("loss")
    if loss is None:
        raise MissingLossError(
            "the model was not compiled with a loss: call model.compile(...) before saving it, "
            "or pass loss= (e.g. loss='categorical_crossentropy') and optimizer=")
    if optimizer is None:
        optimizer = DEFAULT_OPTIMIZER
    loss_weights = loss_weights if loss_weights is not None else compiled.get("loss_weights")
    metrics = metrics if metrics is not None else compiled.get("metrics")
    heads = heads_from_keras(tuple(outputs), loss, loss_weights, metrics, widths)
    return TrainingConfig(heads, optimizer_from_keras(optimizer, learning_rate),
                          eager=bool(compiled.get("run_eagerly")))

