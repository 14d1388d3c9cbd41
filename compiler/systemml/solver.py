"""SystemML's Caffe solver settings (lr_policy, weight_decay, regularization_type) in kerasdml's
terms: a learning-rate schedule of nn/optim/schedules.dml and weight penalties.

Caffe's learning-rate policies, with `iter` the number of updates done (0 at the first):

    fixed    base_lr
    step     base_lr * gamma ^ floor(iter / stepsize)
    exp      base_lr * gamma ^ iter
    inv      base_lr * (1 + gamma * iter) ^ (-power)
    poly     base_lr * (1 - iter / max_iter) ^ power
    sigmoid  base_lr / (1 + exp(-gamma * (iter - stepsize)))

base_lr is the Keras optimizer's initial learning rate and gamma its decay (the decay_rate of a
decay schedule, SystemML's `optimizer.decay`), as SystemML's Keras2DML read them; stepsize and
power are SystemML's defaults (100000 and 0.75). Caffe's weight_decay with L2 adds
weight_decay * W to each weight's gradient, which is Keras' L2(weight_decay / 2); with L1 it adds
weight_decay * sign(W), Keras' L1(weight_decay). Like SystemML, only weights are decayed, not
biases or normalization parameters.
"""
from __future__ import annotations

import dataclasses

from ..errors import CompileError
from ..training.config import Schedule

STEPSIZE = 100000.0
POWER = 0.75
LR_POLICIES = ("fixed", "step", "exp", "inv", "poly", "sigmoid")
DECAYED_ROLES = ("kernel", "depthwise_kernel", "pointwise_kernel", "recurrent_kernel",
                 "embeddings")


def _fixed(base_lr, gamma, max_iter):
    return Schedule("constant", (("lr", base_lr),))


def _step(base_lr, gamma, max_iter):
    return Schedule("exponential_decay", (("initial_learning_rate", base_lr),
                                          ("decay_steps", STEPSIZE), ("decay_rate", gamma),
                                          ("staircase", True)))


def _exp(base_lr, gamma, max_iter):
    return Schedule("exponential_decay", (("initial_learning_rate", base_lr),
                                          ("decay_steps", 1.0), ("decay_rate", gamma),
                                          ("staircase", False)))


def _inv(base_lr, gamma, max_iter):
    return Schedule("inverse_power_decay", (("initial_learning_rate", base_lr),
                                            ("gamma", gamma), ("power", POWER)))


def _poly(base_lr, gamma, max_iter):
    return Schedule("polynomial_decay", (("initial_learning_rate", base_lr),
                                         ("decay_steps", float(max_iter)),
                                         ("end_learning_rate", 0.0), ("power", POWER),
                                         ("cycle", False)))


def _sigmoid(base_lr, gamma, max_iter):
    return Schedule("sigmoid_decay", (("initial_learning_rate", base_lr), ("gamma", gamma),
                                      ("stepsize", STEPSIZE)))


_POLICIES = {"fixed": _fixed, "step": _step, "exp": _exp, "inv": _inv, "poly": _poly,
             "sigmoid": _sigmoid}


def learning_rate(lr_policy: str, base_lr: float, gamma: float, max_iter: int) -> Schedule:
    """The schedule of a Caffe lr_policy."""
    policy = str(lr_policy).lower()
    if policy not in _POLICIES:
        raise CompileError(f"lr_policy {lr_policy!r} is not one of Caffe's: "
                           + ", ".join(LR_POLICIES))
    return _POLICIES[policy](float(base_lr), float(gamma), max_iter)


def base_rate_and_decay(schedule: Schedule) -> tuple[float, float]:
    """(base_lr, gamma) of a Keras optimizer's learning rate: the initial rate, and the decay
    rate of a decay schedule (0 for a constant rate, as SystemML read Keras' decay=0)."""
    values = dict(schedule.arguments)
    base = values.get("lr", values.get("initial_learning_rate"))
    if base is None:
        raise CompileError(f"the optimizer's {schedule.function} learning rate has no single "
                           "initial rate that Caffe's base_lr could take")
    return float(base), float(values.get("decay_rate", 0.0))


def weight_penalty(regularization_type: str, weight_decay: float) -> tuple:
    """The Keras penalty ((kind, factor),) of Caffe's weight decay; () when there is none."""
    kind = str(regularization_type).upper()
    if kind not in ("L1", "L2"):
        raise CompileError(f"regularization_type must be 'L1' or 'L2' (Caffe's), got "
                           f"{regularization_type!r}")
    if not weight_decay:
        return ()
    factor = float(weight_decay) / 2 if kind == "L2" else float(weight_decay)
    return ((kind.lower(), factor),)


def with_weight_decay(parameters: tuple, penalty: tuple) -> tuple:
    """The parameters with Caffe's weight decay added to every trainable weight's penalties."""
    if not penalty:
        return parameters
    return tuple(dataclasses.replace(p, regularizer=tuple(p.regularizer) + penalty)
                 if p.trainable and p.role in DECAYED_ROLES else p for p in parameters)


# --- a compiled model trained as SystemML's solver would -----------------------------------------

# SystemML's solver for a model that was never compiled: SGD(lr=0.01, momentum=0.95,
# decay=5e-4, nesterov=True); the decay becomes Caffe's gamma.
DEFAULT_OPTIMIZER = {"class_name": "SGD", "config": {
    "learning_rate": {"class_name": "InverseTimeDecay", "config": {
        "initial_learning_rate": 0.01, "decay_steps": 1, "decay_rate": 5e-4}},
    "momentum": 0.95, "nesterov": True}}
_CLASSIFIER_LOSSES = ("categorical_crossentropy", "sparse_categorical_crossentropy",
                      "binary_crossentropy")


def default_loss(compiled) -> str:
    """Cross-entropy for a softmax output, mean squared error otherwise."""
    node = compiled.graph.producer(compiled.graph.outputs[0])
    activation = node.attrs if node.op == "activation" else node.activation
    return "categorical_crossentropy" if getattr(activation, "kind", "") == "softmax" \
        else "mean_squared_error"


def solver_model(compiled, settings, max_iter: int, announce) -> object:
    """`compiled` trained with SystemML's solver settings: the Caffe lr_policy on the optimizer's
    base rate, Caffe's weight decay on every weight, and SystemML's loss and optimizer when the
    model was never compiled (said in one line through `announce`). Accuracy is always among
    the metrics of a classifier, as SystemML displayed it."""
    from ..backend import CompiledModel
    from ..training.config import training_config
    compile_config = compiled.compile_config or {}
    loss = optimizer = None
    if compile_config.get("loss") is None:
        loss, optimizer = default_loss(compiled), DEFAULT_OPTIMIZER
        announce(f"Keras2DML: the model was not compiled in Keras; training it with "
                 f"loss='{loss}' and SGD(learning_rate=0.01, momentum=0.95, nesterov=True, "
                 f"decay=5e-4), SystemML's defaults")
    config = training_config(compile_config, loss=loss, optimizer=optimizer)
    metrics = None
    if not config.metrics and config.loss.module in _CLASSIFIER_LOSSES:
        metrics = ["accuracy"]
    base, gamma = base_rate_and_decay(config.optimizer.learning_rate)
    schedule = learning_rate(settings.lr_policy, base, gamma, max_iter)
    adapted = CompiledModel(compiled.graph, compiled.train_graph, compile_config=compile_config,
                            loss=loss, optimizer=optimizer, metrics=metrics,
                            learning_rate=schedule, train_algo=compiled.train_algo,
                            source=compiled.source, frozen=compiled.frozen)
    penalty = weight_penalty(settings.regularization_type, settings.weight_decay)
    adapted.parameters = with_weight_decay(adapted.parameters, penalty)
    return adapted
