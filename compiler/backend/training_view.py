"""How a training configuration (compiler.training.config: loss, optimizer, schedule, metrics)
reads in a generated train.dml: every dml_lib call spelled out with DML literals.

    view = TrainingView(config, parameters)
    view.init_lines(p)       # ['conv1_W_v = sgd::init(conv1_W)']
    view.update_lines(p)     # ['[conv1_W, conv1_W_v] = sgd::update(conv1_W, dconv1_W, lr, ...)']
"""
from __future__ import annotations

from dataclasses import dataclass

from ..training.config import Loss, Optimizer, TrainingConfig
from ..training import metric_state
from ..training.objectives import LOSS_METRICS, TrainingConfigError, takes_logits
from .names import identifier
from .registry import LIBRARY

TRAIN_ALGOS = ("minibatch", "batch", "looped_minibatch", "allreduce_parallel_batches", "paramserv")
PARALLEL_ALGOS = ("looped_minibatch", "allreduce_parallel_batches")  # k batches per update


def dml_literal(value) -> str:
    """A Python value as DML source; floats keep 7 significant digits, which is what Keras
    stores them with (float32): 0.1 rather than 0.10000000149011612."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = repr(float(f"{value:.7g}"))
        return text.replace("e-0", "e-").replace("e+0", "e+")
    if isinstance(value, tuple):  # a column matrix
        return f'matrix("{" ".join(dml_literal(float(v)) for v in value)}", ' \
               f'rows={len(value)}, cols=1)'
    raise TypeError(f"no DML literal for {value!r}")


def _arguments(pairs: tuple) -> list[str]:
    return [dml_literal(value) for _, value in pairs]


# the column of each row's first largest value, as Keras' argmax (rowIndexMax takes the last of
# equal ones: a multi-label target row holds several ones)
_FIRST_LARGEST = "rowIndexMax(({m} == rowMaxs({m})) * t(seq(ncol({m}), 1)))"

# whether the target's class (its column, 1-based) is among the k largest predictions of its row:
# fewer than k predictions above its own, as TensorFlow's in_top_k counts ties (all in). Its
# predictions are float32 always (in_top_k takes no other), and TensorFlow's float32 softmax
# gives 0 below 2^-125 (its exp flushes there; measured on TF 2.21's CPU kernels): a saturated
# softmax's tiny probabilities tie at 0, which counts them all in
_FLUSHED = "({p} * (abs({p}) >= 2.3509887e-38))"
_IN_TOP_K = "(rowSums({f} > rowSums({f} * outer({t}, t(seq(1, ncol({p}))), \"==\"))) < {k})" \
    .replace("{f}", _FLUSHED)

# metric -> DML expression of its sum over the rows of one batch (pred, target, and the
# metric's settings by name: objectives.METRICS)
_METRIC_SUMS = {
    "accuracy": "sum({p} == {y}) / ncol({p})",  # keras.metrics.Accuracy: exact equality
    "categorical_accuracy": "sum(" + _FIRST_LARGEST.format(m="{p}") + " == "
                            + _FIRST_LARGEST.format(m="{y}") + ")",
    "sparse_categorical_accuracy": "sum(" + _FIRST_LARGEST.format(m="{p}") + " - 1 == {y})",
    "binary_accuracy": "sum(({p} > {threshold}) == {y}) / ncol({y})",
    "mean_squared_error": "sum(({p} - {y})^2) / ncol({y})",
    "mean_absolute_error": "sum(abs({p} - {y})) / ncol({y})",
    "top_k_categorical_accuracy": "sum(" + _IN_TOP_K.replace(
        "{t}", _FIRST_LARGEST.format(m="{y}")) + ")",
    "sparse_top_k_categorical_accuracy": "sum(" + _IN_TOP_K.replace("{t}", "{y} + 1") + ")",
    # the square root of the epoch's mean (finish)
    "root_mean_squared_error": "sum(({p} - {y})^2) / ncol({y})",
    # a row of counts the epoch sums (nn/metrics/confusion.dml); `finish` makes the metric
    "precision": "confusion::threshold_counts({p}, {y}, {thresholds})",
    "recall": "confusion::threshold_counts({p}, {y}, {thresholds})",
    "auc": "confusion::curve_counts({p}, {y}, {num_thresholds})",
    "f_beta_score": "confusion::class_counts({p}, {y}, {threshold}, {micro})",
}
# metric -> DML of its epoch value from its summed state (`s`) and the rows it covers (`n`)
_FINISH = {
    "root_mean_squared_error": "sqrt({s} / {n})",
    "precision": "confusion::precision({s})",
    "recall": "confusion::recall({s})",
    "auc": 'confusion::auc({s}, "{curve}", "{summation_method}")',
    "f_beta_score": 'confusion::fbeta({s}, {beta}, "{average}")',
}
# a loss's mean over the batch (`loss`: the call loss_lines makes, _loss_call) times its rows
# (objectives.LOSS_METRICS)
_METRIC_SUMS.update({name: ("-" if sign < 0 else "") + "{loss} * nrow({p})"
                     for name, sign in LOSS_METRICS.items()})


@dataclass(frozen=True)
class TrainingView:
    """What train.dml.j2 reads (`tr` in the template)."""
    config: TrainingConfig
    algo: str = "minibatch"

    @property
    def loss(self) -> Loss:
        return self.config.loss

    @property
    def optimizer(self) -> Optimizer:
        return self.config.optimizer

    @property
    def metrics(self) -> tuple:
        return self.config.metrics

    @property
    def parallel(self) -> bool:
        """Gradients of k batches, then one averaged update."""
        return self.algo in PARALLEL_ALGOS

    @property
    def sources(self) -> tuple:
        sources = tuple(_loss_modules(self.config.heads)) + (self.optimizer.module,)
        if _confusion(self.config.heads):
            sources += ("confusion",)
        if self.optimizer.learning_rate.function != "constant":
            sources += ("schedules",)
        return sources

    def loss_arguments(self, loss: Loss | None = None) -> str:
        return "".join(", " + text for text in _arguments((loss or self.loss).arguments))

    def metric_sum(self, metric: str, pred: str, target: str, arguments: tuple = ()) -> str:
        settings = dict(arguments)
        loss = _loss_call(metric, pred, target, arguments) if metric in LOSS_METRICS else ""
        if settings.get("class_id", -1) >= 0:  # Keras' class_id: that column only
            pred, target = (f"{m}[, {settings['class_id'] + 1}]" for m in (pred, target))
        if settings.get("from_logits") and not loss:  # a loss module takes from_logits itself
            pred = f"1 / (1 + exp(-{pred}))"
        if "average" in settings:
            settings["micro"] = settings["average"] == "micro"
        return _METRIC_SUMS[metric].format(
            p=pred, y=target, loss=loss,
            **{key: dml_literal(value) for key, value in settings.items()
               if not isinstance(value, str)})

    # --- metrics Keras finishes at the epoch's end (training.metric_state) -------------------

    @staticmethod
    def finished(heads) -> bool:
        """Whether a metric's epoch value is other than its sum over the rows / their count."""
        return any(m in metric_state.FINISHED_METRICS for h in heads for m in h.head.metrics)

    def layout(self, heads) -> list[tuple]:
        """(metric or None for an output's loss, its arguments, first state column (0-based),
        state columns) per history column after `loss`, in batch_sums' order."""
        columns = [(None, (), 1) for _ in heads] if len(heads) > 1 else []
        for h in heads:
            for metric, arguments in zip(h.head.metrics, h.head.metric_arguments):
                columns.append((metric, arguments, _state_columns(h, metric, arguments)))
        layout, first = [], 0
        for metric, arguments, width in columns:
            layout.append((metric, arguments, first, width))
            first += width
        return layout

    def state_columns(self, heads) -> int:
        """The columns of batch_metrics / epoch_metrics: one per history column after `loss`,
        the counts of Precision, Recall, AUC and FBetaScore several."""
        return sum(width for _, _, _, width in self.layout(heads))

    def finish(self, metric: str | None, arguments: tuple, state: str, count: str) -> str:
        """DML of a history value from its `state` (summed over the epoch) and the `count` of
        rows (or masked-in positions) the sums cover."""
        if metric not in _FINISH:
            return f"{state} / {count}"
        settings = {key: value if isinstance(value, str) else dml_literal(value)
                    for key, value in arguments}
        return _FINISH[metric].format(s=state, n=count, **settings)

    def history_lines(self, heads, sums: str = "epoch_metrics", count: str = "N",
                      counted: bool = False, row: str = "e") -> list[str]:
        """The history row's metrics from the epoch's state sums (`counted`: `count` is a row
        matrix with a count per column, else a scalar)."""
        layout = self.layout(heads)
        # the outputs' losses, summed as batch_size * each batch's: the mean over the batches
        per_batch = [] if counted or not self.batch_mean_losses(heads) else \
            [k for k, (metric, *_) in enumerate(layout, 2) if metric is None]
        if not self.finished(heads):
            return [f"history[{row}, 2:{1 + len(layout)}] = {sums} / {count}"] + [
                f"history[{row}, {k}] = as.scalar({sums}[1, {k - 1}]) / (batches * batch_size)"
                for k in per_batch]
        lines = ["# metrics Keras finishes at the epoch's end, from the epoch's sums"]
        for k, (metric, arguments, first, width) in enumerate(layout, 2):
            if width == 1:
                state = f"as.scalar({sums}[1, {first + 1}])"
            else:
                state = f"{sums}[1, {first + 1}:{first + width}]"
            n = f"as.scalar({count}[1, {first + 1}])" if counted else \
                "(batches * batch_size)" if k in per_batch else count
            lines.append(f"history[{row}, {k}] = {self.finish(metric, arguments, state, n)}")
        return lines

    def batch_mean_losses(self, heads, evaluation: bool = False) -> bool:
        """Whether each output's loss is reported as the mean of its batches' losses, as
        Keras' TensorFlow backend reports `<output>_loss` (in fit and evaluate): it weighs
        each batch by the batch's static size, None in its compiled step, so a last partial
        batch counts as much as a whole one (the total `loss` is weighted by the rows); not
        when compiled with run_eagerly=True, where the size is known. paramserv's batches
        are its workers', not Keras': it keeps the mean over the rows."""
        return len(heads) > 1 and not self.config.eager and \
            (evaluation or self.algo != "paramserv")

    # --- the outputs' losses (heads: backend.model.HeadSpec, outs: their DML variables) -----

    @staticmethod
    def head_loss(head) -> str:
        """The variable holding one output's unweighted loss (several outputs)."""
        return f"loss_{identifier(head.output.name)}"

    def target_lines(self, heads) -> list[str]:
        """Each output's targets of this batch, cut from y_batch (several outputs)."""
        if len(heads) == 1:
            return []
        lines = []
        for h in heads:
            cut = f"y_batch[, {h.first}:{h.last}]"
            if h.spec.image:
                cut = f"layout::channels_first({cut}, {', '.join(map(str, h.spec.image))})"
            lines.append(f"{h.spec.batch} = {cut}")
        return lines

    def loss_lines(self, heads, outs, keras_layout: bool = False, masks=None,
                   logits=None) -> list[str]:
        """`loss`: the weighted sum of the outputs' losses, as Keras' loss_weights weigh them.
        A loss over the last axis of an output of several axes (model._PER_POSITION_LOSSES),
        and the loss of an output with a Keras mask, run on one row per position (`keras_layout`: the outputs are
        in Keras' layout already, not DML's; `masks`: the outputs' mask variables, default
        the heads'). A masked output's loss is the mean over the rows its mask keeps:
        Keras' sum(mask * loss) / sum(mask). `logits`: per output, the variable holding the
        logits its loss takes (HeadSpec.logits) or None: that loss is the cross-entropy
        from_logits of them, as Keras' TensorFlow backend takes it."""
        masks, logits = _masks(heads, masks), _per_head(heads, logits)
        lines = [line for h, out, mask, z in zip(heads, outs, masks, logits) if h.positions
                 for line in _position_rows(h, out, keras_layout, mask, z)]
        logits = [_loss_logits(h, z) for h, z in zip(heads, logits)]
        if any(logits):
            lines.append("# from the logits of the softmax or sigmoid, as Keras (TensorFlow) "
                         "takes this loss")
        calls = [_loss_call(h.head.loss.module, _kept(h, 'logits' if z else 'pred', z or out),
                            _kept(h, 'target', out), _loss_of(h, z).arguments)
                 for h, out, z in zip(heads, outs, logits)]
        if len(heads) == 1:
            return lines + [f"loss = {_weighted(heads[0], calls[0])}"]
        lines += [f"{self.head_loss(h)} = {call}" for h, call in zip(heads, calls)]
        return lines + ["loss = " + " + ".join(_weighted(h, self.head_loss(h)) for h in heads)]

    def batch_sums(self, heads, outs, logits=None, evaluation: bool = False) -> list[str]:
        """DML sums over the batch's rows of every reported column (history's after `loss`):
        the single output's metrics, or each output's loss and then each output's metrics. A
        per-position head's metrics are means over its positions (Keras' mean over them); a
        masked head's are sums over the positions its mask keeps (metric_counts counts them).
        `logits` (as loss_lines'): a cross-entropy metric takes them as Keras does its loss.
        `evaluation`: for evaluation_script (batch_mean_losses)."""
        batch_mean = self.batch_mean_losses(heads, evaluation)
        sums = [f"{self.head_loss(h)} * " + ("batch_size" if batch_mean else f"nrow({out})")
                for h, out in zip(heads, outs)] if len(heads) > 1 else []
        return sums + [self.metric_sum(metric, *_metric_inputs(h, out, z, metric, arguments))
                       + (f" / (ncol({out}) / {h.classes})" if h.classes and not h.mask
                          and metric not in metric_state.CONFUSION_METRICS else "")
                       for h, out, z in zip(heads, outs, _per_head(heads, logits))
                       for metric, arguments in zip(h.head.metrics, h.head.metric_arguments)]

    def batch_columns(self, heads, outs, logits=None) -> list[str]:
        """batch_sums as the pieces of one row (cbind): sums as 1 x 1 matrices, the counts of
        the confusion metrics as the rows their functions return."""
        metrics = ([None] * len(heads) if len(heads) > 1 else []) + \
            [metric for h in heads for metric in h.head.metrics]
        return [total if metric in metric_state.CONFUSION_METRICS else f"as.matrix({total})"
                for metric, total in zip(metrics, self.batch_sums(heads, outs, logits))]

    def metric_counts(self, heads, outs, masks=None, evaluation: bool = False) -> list[str]:
        """What each column of batch_sums is divided by over the epoch, where an output carries
        a Keras mask (else [], the rows; `evaluation`: always): Keras weights a masked
        output's metrics by the mask, so they are the epoch's sums over the masked-in positions
        over their count."""
        masks = _masks(heads, masks)
        if not any(masks) and not evaluation:
            return []
        losses = ["batch_size" if self.batch_mean_losses(heads, evaluation) else f"nrow({out})"
                  for out in outs] if len(heads) > 1 else []
        return losses + [f"sum({_rows_name(h, 'mask')})" if mask else f"nrow({out})"
                         for h, out, mask in zip(heads, outs, masks) for _ in h.head.metrics]

    def gradient_lines(self, heads, outs, gradients, logits=None) -> list[str]:
        """The loss's gradient with respect to each output, into `gradients` (a per-position
        head's back from its rows per position to the output's layout). A masked head's rows
        are weighted by mask * rows / sum(mask): the gradient of Keras' masked mean. An output
        whose loss takes its logits (`logits`, as loss_lines) gets the gradient with respect
        to them (its gradient variable is the logits': Program.loss_gradients)."""
        lines = []
        for h, out, g, z in zip(heads, outs, gradients, _per_head(heads, logits)):
            z = _loss_logits(h, z)
            pred = (_rows_name(h, "logits") if h.positions else z) if z else _pred(h, out)
            lines.append(f"{g} = " + _weighted(h, f"{h.head.loss.module}::backward("
                                                  f"{pred}, {_target(h)}"
                                                  f"{self.loss_arguments(_loss_of(h, z))})"))
            if h.mask:
                m = _rows_name(h, "mask")
                lines.append(f"{g} = {g} * ({m} * nrow({m}) / sum({m}))")
            if h.positions:
                lines.append(f"{g} = matrix({g}, rows=nrow({out}), cols=ncol({out}))")
                if h.output.image:
                    lines.append(f"{g} = layout::channels_first({g}, "
                                 f"{', '.join(map(str, h.output.image))})")
        return lines

    # --- learning rate ---------------------------------------------------------------------

    @property
    def constant_rate(self) -> str | None:
        """The literal learning rate, or None when a schedule sets it per step."""
        rate = self.optimizer.learning_rate
        return dml_literal(rate.arguments[0][1]) if rate.function == "constant" else None

    def rate_expression(self, step: str) -> str:
        """The learning rate of update number `step` (1-based); schedules count from 0."""
        rate = self.optimizer.learning_rate
        if rate.function == "constant":
            return "learning_rate"
        names = [f"lr_{key}" if isinstance(value, tuple) else dml_literal(value)
                 for key, value in rate.arguments]
        return f"schedules::{rate.function}({', '.join(names + [f'{step} - 1'])})"

    def schedule_matrices(self) -> list[str]:
        """Matrices a schedule reads (piecewise_constant_decay's boundaries and values)."""
        return [f"lr_{key} = {dml_literal(value)}"
                for key, value in self.optimizer.learning_rate.arguments
                if isinstance(value, tuple)]

    # --- optimizer -------------------------------------------------------------------------

    def state(self, p) -> list[str]:
        return [f"{p.variable}_{name}" for name in self.optimizer.state]

    def state_variables(self, parameters) -> list[str]:
        """Every optimizer-state variable of the script: what a caller carries from one run of
        the bound train script to the next."""
        names = [name for p in parameters if p.trainable for name in self.state(p)]
        return names + list(self.optimizer.scalar_state)

    def init_lines(self, p) -> list[str]:
        """State of one parameter; shared scalar state (Nadam's mu_prod) is one variable that
        every parameter's init sets to the same start value."""
        o = self.optimizer
        call = f"{o.module}::init({', '.join([p.variable] + _arguments(o.init_arguments))})"
        names = self.state(p) + list(o.scalar_state)
        target = names[0] if len(names) == 1 else f"[{', '.join(names)}]"
        return [f"{target} = {call}"]

    def update_lines(self, p, rate: str = "lr", step: str = "step") -> list[str]:
        o = self.optimizer
        inputs = [p.variable, f"d{p.variable}", rate] + _arguments(o.arguments) + self.state(p)
        inputs += list(o.scalar_state) + ([step] if o.takes_step else [])
        outputs = [p.variable] + self.state(p) + [f"{s}_next" for s in o.scalar_state]
        return [f"[{', '.join(outputs)}] = {o.module}::update({', '.join(inputs)})"] + \
            constraint_lines(p)

    def scalar_state_carry(self) -> list[str]:
        return [f"{s} = {s}_next" for s in self.optimizer.scalar_state]

    def clip_lines(self, p) -> list[str]:
        o, g = self.optimizer, f"d{p.variable}"
        lines = []
        if o.clipnorm is not None:
            c = dml_literal(float(o.clipnorm))
            lines.append(f"{g} = {g} * {c} / max(sqrt(sum({g}^2)), {c})")
        if o.clipvalue is not None:
            c = dml_literal(float(o.clipvalue))
            lines.append(f"{g} = min(max({g}, -{c}), {c})")
        return lines

    def global_clip_lines(self, trainable) -> list[str]:
        if self.optimizer.global_clipnorm is None:
            return []
        c = dml_literal(float(self.optimizer.global_clipnorm))
        total = " + ".join(f"sum(d{p.variable}^2)" for p in trainable)
        lines = [f"global_norm = sqrt({total})"]
        lines += [f"d{p.variable} = d{p.variable} * {c} / max(global_norm, {c})"
                  for p in trainable]
        return lines

    # --- regularizers ----------------------------------------------------------------------

    @staticmethod
    def penalties(parameters) -> list[tuple]:
        """(parameter, kind, DML factor) for every weight penalty of a trainable parameter."""
        return [(p, kind, dml_literal(factor)) for p in parameters if p.trainable
                for kind, factor in p.regularizer]

    # --- evaluation ------------------------------------------------------------------------

    def evaluation_script(self, parameters, heads, logits: bool = False) -> str:
        """DML giving `loss` (with the weight penalties, as Keras reports it) and metric_1, ...
        (the history's columns) of bound predictions P (the outputs side by side, Keras'
        layout) and targets Y (as y), the parameters bound by name. Where an output carries a
        Keras mask, M holds the masked outputs' masks side by side and the script runs batch
        by batch ($batch_size), as Keras' evaluate: each batch's loss is its own masked mean;
        so it does for several outputs, whose losses are means over the batches
        (batch_mean_losses).
        With `logits`, L holds the logits of the outputs whose loss or a metric takes them (the
        heads' with HeadSpec.logits) side by side, Keras' layout, and those read them."""
        penalties = self.penalties(parameters)
        modules = tuple(dict.fromkeys(_loss_modules([h.head for h in heads])
                                      + [kind for _, kind, _ in penalties]
                                      + (["confusion"] if _confusion([h.head for h in heads])
                                         else [])))
        lines = [f'source("{LIBRARY[module]}") as {module}' for module in modules]
        # batch by batch where a batch's loss is not its rows' share of the whole
        batched = any(h.mask for h in heads) or self.batch_mean_losses(heads, evaluation=True)
        rows = "beg:end" if batched else ""
        outs, masks, zs, first, first_mask, first_logits = [], [], [], 1, 1, 1
        body = []
        for h in heads:
            zs.append(None)
            if logits and h.logits:
                zs[-1] = f"L[{rows}, {first_logits}:{first_logits + h.output.columns - 1}]"
                first_logits += h.output.columns
            outs.append(f"P[{rows}, {first}:{first + h.output.columns - 1}]")
            if any(dict(arguments).get("class_id", -1) >= 0
                   for arguments in h.head.metric_arguments):  # a metric takes one column
                body.append(f"pred_{len(outs)} = {outs[-1]}")
                outs[-1] = f"pred_{len(outs)}"
            body.append(f"{h.spec.batch} = Y[{rows}, {h.first}:{h.last}]")
            first += h.output.columns
            masks.append(None)
            if h.mask:
                width = h.output.columns // h.positions
                masks[-1] = f"M[{rows}, {first_mask}:{first_mask + width - 1}]"
                first_mask += width
        body += self.loss_lines(heads, outs, keras_layout=True, masks=masks, logits=zs)
        sums = self.batch_sums(heads, outs, zs, evaluation=True)
        layout = self.layout(heads)
        if not batched:
            lines += body
            lines += [f"loss = loss + {kind}::forward({p.variable}, {factor})"
                      for p, kind, factor in penalties]
            return "\n".join(lines + [
                f"metric_{k} = {self.finish(metric, arguments, total, 'nrow(P)')}"
                for k, (total, (metric, arguments, _, _)) in enumerate(zip(sums, layout), 1)]) \
                + "\n"
        counts = self.metric_counts(heads, outs, masks, evaluation=True)
        lines += ["N = nrow(P)", "batch_size = ifdef($batch_size, 32)", "loss_sum = 0"]
        lines += [f"{name}_{k} = 0" for k in range(1, len(sums) + 1)
                  for name in ("metric_sum", "metric_count")]
        lines.append("for (i in 1:as.integer(ceil(N / batch_size))) {")
        lines += ["  beg = (i - 1) * batch_size + 1", "  end = min(i * batch_size, N)"]
        lines += ["  " + line for line in body]
        lines.append("  loss_sum = loss_sum + loss * (end - beg + 1)")
        for k, (total, count) in enumerate(zip(sums, counts), 1):
            lines += [f"  metric_sum_{k} = metric_sum_{k} + {total}",
                      f"  metric_count_{k} = metric_count_{k} + {count}"]
        lines += ["}", "loss = loss_sum / N"]
        lines += [f"loss = loss + {kind}::forward({p.variable}, {factor})"
                  for p, kind, factor in penalties]
        lines += [f"metric_{k} = "
                  + self.finish(metric, arguments, f"metric_sum_{k}", f"metric_count_{k}")
                  for k, (metric, arguments, _, _) in enumerate(layout, 1)]
        return "\n".join(lines) + "\n"


# --- losses per position (a loss or metric over the last axis of an output of several axes, or
# the loss of an output that carries a Keras mask) ----------------------------------------------

def _rows_name(h, what: str) -> str:
    return f"{what}_{identifier(h.output.name)}_positions"


def _masks(heads, masks) -> list:
    return [h.mask for h in heads] if masks is None else list(masks)


def _per_head(heads, values) -> list:
    return [None] * len(heads) if values is None else list(values)


def _loss_of(h, logits: str | None) -> Loss:
    """The head's loss, from_logits where it takes the logits of its output's activation."""
    loss = h.head.loss
    if not logits:
        return loss
    return Loss(loss.module, _from_logits(loss.arguments), loss.sparse_labels)


def _from_logits(arguments: tuple) -> tuple:
    return tuple((key, True if key == "from_logits" else value) for key, value in arguments)


def _loss_logits(h, logits: str | None) -> str | None:
    """The head's logits where its loss takes them (HeadSpec.logits may be a metric's only)."""
    return logits if logits and takes_logits(h.head.loss.module, h.head.loss.arguments) \
        else None


def _loss_call(module: str, pred: str, target: str, arguments: tuple) -> str:
    """A loss module's mean over the rows: what an output's loss is, and what a metric that is
    that loss's mean sums (objectives.LOSS_METRICS)."""
    return f"{module}::forward({pred}, {target}" \
        + "".join(", " + text for text in _arguments(arguments)) + ")"


def _metric_inputs(h, out: str, logits: str | None, metric: str, arguments: tuple) -> tuple:
    """(pred, target, arguments) of one metric of a head: a cross-entropy's from the logits of
    the output's softmax or sigmoid where Keras' TensorFlow backend takes them (takes_logits),
    else from the output; the rows its mask keeps, or one per position."""
    if logits and takes_logits(metric, arguments):
        return _kept(h, "logits", logits), _kept(h, "target", out), _from_logits(arguments)
    return _kept(h, "pred", out), _kept(h, "target", out), arguments


def _pred(h, out: str) -> str:
    return _rows_name(h, "pred") if h.positions else out


def _target(h) -> str:
    return _rows_name(h, "target") if h.positions else h.spec.batch


def _kept(h, what: str, out: str) -> str:
    """The rows of `what` (pred, logits or target) the loss and metrics read: a masked head's
    masked-in positions, else all (`out`: the output's, or its logits', variable)."""
    if h.mask:
        return _rows_name(h, what + "_kept")
    if what == "logits":
        return _rows_name(h, "logits") if h.positions else out
    return _pred(h, out) if what == "pred" else _target(h)


def _position_rows(h, out: str, keras_layout: bool, mask: str | None,
                   logits: str | None = None) -> list[str]:
    """The output and targets of a per-position head with one row per position (a step, a
    pixel): Keras takes the loss over the last axis of each and means over them all, which is
    the losses' mean over these rows. DML holds an image output channels first. With a Keras
    mask (one value per position), also the mask's rows and the rows it keeps. With `logits`
    (the variable of the logits the loss takes), their rows too."""
    lines = _rows(h, "pred", out, keras_layout)
    c, y = h.positions, h.spec.batch
    width = 1 if h.head.loss.sparse_labels else c
    lines.append(f"{_target(h)} = matrix({y}, rows=nrow({y}) * ncol({y}) / {width}, "
                 f"cols={width})")
    if logits:
        lines += _rows(h, "logits", logits, keras_layout)
    if mask:
        m = _rows_name(h, "mask")
        lines.append(f"{m} = matrix({mask}, rows=nrow({mask}) * ncol({mask}), cols=1)")
        kept = ("pred", "target") + (("logits",) if logits else ())
        lines += [f"{_kept(h, what, out)} = removeEmpty(target={_rows_name(h, what)}, "
                  f"margin=\"rows\", select={m})" for what in kept]
    return lines


def _rows(h, what: str, out: str, keras_layout: bool) -> list[str]:
    """`out` (the output or its logits) with one row per position, as <what>_<output>_positions."""
    rows, lines = _rows_name(h, what), []
    if h.output.image and not keras_layout:
        lines.append(f"{rows} = layout::channels_last({out}, "
                     f"{', '.join(map(str, h.output.image))})")
        out = rows
    c = h.positions
    lines.append(f"{rows} = matrix({out}, rows=nrow({out}) * ncol({out}) / {c}, cols={c})")
    return lines


def _confusion(heads) -> bool:
    """Whether a metric of the heads (training.config.Head) calls nn/metrics/confusion."""
    return any(m in metric_state.CONFUSION_METRICS for h in heads for m in h.metrics)


def _state_columns(h, metric: str, arguments: tuple) -> int:
    """State columns of one metric of a head (backend.model.HeadSpec), refusing the confusion
    metrics where Keras' value differs from counts over the output's entries."""
    if metric in metric_state.CONFUSION_METRICS:
        if h.head.loss.sparse_labels:
            raise TrainingConfigError(
                f"metric {metric} needs targets of the output's shape (one-hot or 0/1), not "
                f"the class ids that {h.head.loss.module} takes")
        settings = dict(arguments)
        if (settings.get("class_id", -1) >= 0 or metric == "f_beta_score") \
                and len(h.output.shape) != 1:
            raise TrainingConfigError(
                f"metric {metric} with class_id or per-class counts needs an output of one axis "
                f"(N x classes); this output is {h.output.shape}")
        if settings.get("class_id", -1) >= h.output.shape[-1]:
            raise TrainingConfigError(f"metric {metric}: class_id={settings['class_id']} is not "
                                      f"below the output's {h.output.shape[-1]} units")
    return metric_state.columns(metric, arguments, h.output.shape[-1])


def _loss_modules(heads) -> list:
    """The nn/losses modules the heads (training.config.Head) call: their losses', then those
    of their metrics that are a loss's mean (LOSS_METRICS)."""
    return list(dict.fromkeys([h.loss.module for h in heads] + [
        metric for h in heads for metric in h.metrics if metric in LOSS_METRICS]))


def _weighted(head, term: str) -> str:
    """`term` times the output's loss weight (Keras multiplies only when one is given)."""
    return term if head.head.weight == 1.0 else f"{dml_literal(head.head.weight)} * {term}"


# --- constraints -----------------------------------------------------------------------------

_NORMS = {"all": "sum({w}^2)", "columns": "colSums({w}^2)", "rows": "rowSums({w}^2)"}
_EPSILON = "1e-7"   # keras.backend.epsilon(), under the norms Keras divides by


def constraint_lines(p) -> list[str]:
    """Keras' constraint on a parameter, applied after its update as Keras' optimizers apply it:
    NonNeg max(w, 0); MaxNorm, UnitNorm and MinMaxNorm scale each group of values (a Dense
    unit's column, a convolution filter's row, or the whole weight: p.norm_group) towards the
    wanted norm, in Keras' order of operations."""
    if not p.constraint:
        return []
    w, (kind, *values) = p.variable, p.constraint
    if kind == "non_neg":
        return [f"{w} = max({w}, 0)"]
    norms = f"{w}_norms"
    lines = [f"{norms} = sqrt({_NORMS[p.norm_group].format(w=w)})"]
    if kind == "unit_norm":
        return lines + [f"{w} = {w} / ({_EPSILON} + {norms})"]
    if kind == "max_norm":
        wanted = f"min({norms}, {dml_literal(float(values[0]))})"
    else:
        low, top, rate = (dml_literal(float(v)) for v in values[:3])
        wanted = (f"{rate} * min(max({norms}, {low}), {top}) + "
                  f"{dml_literal(1.0 - float(values[2]))} * {norms}")
    return lines + [f"{w} = {w} * (({wanted}) / ({_EPSILON} + {norms}))"]
