"""The compiled model: DML scripts, weights in DML layout, and the structure a caller needs to bind
data to the scripts and read results back (inputs, outputs, parameters), without parsing DML."""
from __future__ import annotations

import math
import dataclasses
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .. import ir
from ..errors import CompileError
from .emitter import ENV, Program, backward_blocks, build_program, forward_blocks, logits_input
from .formatting import format_dml
from ..opdef import is_moving, is_trainable
from .names import identifier
from .registry import LIBRARY
from .step import LAYOUT
from ..training.config import Head, Loss, Optimizer, TrainingConfig, training_config
from ..training.data import float_array
from ..training.inputs import arrays_by_input
from ..training.metric_state import CONFUSION_METRICS
from ..training.objectives import takes_logits as objective_takes_logits
from .training_view import PARALLEL_ALGOS, TRAIN_ALGOS, TrainingView
from .weights import dataset_paths, dml_weights, keras_layout, norm_groups


@dataclass(frozen=True)
class TensorSpec:
    """A model input or output as the scripts see it."""
    name: str              # Keras tensor (layer) name
    variable: str          # DML variable holding all rows (bound, or read from $<variable>)
    batch: str             # DML variable holding one batch inside the loop
    shape: tuple           # Keras per-sample shape
    image: tuple | None    # (C, H, W) when rows are converted to channels first in the script
    key: str | None = None  # an input's key in the dict of inputs the model was built on

    @property
    def columns(self) -> int | None:
        """Columns of its rows; None when the model leaves the sequence length open."""
        return None if None in self.shape else math.prod(self.shape)

    @property
    def columns_text(self) -> str:
        """The columns as the scripts' comments give them: 20, or T*8 for an open length."""
        return str(self.columns or "*".join("T" if d is None else str(d) for d in self.shape))

    @property
    def layout(self) -> str:
        return "channels_last image rows" if len(self.shape) == 3 else "row-major rows"

    def rows(self, data) -> np.ndarray:
        """Keras-shaped data (N, *shape) as the N x columns matrix the script takes (float32
        or float64 as given: the run converts to its precision)."""
        array = float_array(data)
        if array.ndim == len(self.shape):  # one column of labels or a single vector
            array = array.reshape(-1, *self.shape)
        return array.reshape(len(array), self.columns or -1)

    def keras(self, rows) -> np.ndarray:
        """Script rows back in Keras' shape (N, *shape)."""
        rows = np.asarray(rows)
        return rows.reshape(len(rows), *(-1 if d is None else d for d in self.shape))


def side_by_side(specs, first: int, open_width: str) -> list:
    """[(spec, DML column range)] of matrices held side by side from column `first` on, as the
    scripts cut them: "2:7", or "8:8 + ncol(X_text) - 1" for an open sequence length, whose
    columns `open_width` (a format of the spec's variable) counts when the script runs."""
    ranges, column = [], first
    for spec in specs:
        if spec.columns and isinstance(column, int):
            ranges.append((spec, f"{column}:{column + spec.columns - 1}"))
            column += spec.columns
        else:
            width = spec.columns or open_width.format(variable=spec.variable)
            ranges.append((spec, f"{column}:{column} + {width} - 1"))
            column = f"{column} + {width}"
    return ranges


@dataclass(frozen=True)
class ParameterSpec:
    """One DML parameter: a dataset of weights.h5 and a variable of both scripts."""
    variable: str          # conv2d_1_W
    shape: tuple           # (rows, cols) in DML layout
    node: str              # IR node
    role: str              # kernel, bias, moving_mean, ...
    layer: str             # Keras layer it came from
    weight: str            # Keras weight name
    keras_shape: tuple     # shape Keras stores it in
    trainable: bool        # False for BatchNorm's moving statistics and frozen layers
    regularizer: tuple = ()  # Keras' weight penalty: (("l2", 0.01),)
    dataset: str = ""      # its path in weights.h5 (weights.dataset_paths)
    moving: bool = False   # updated by the training forward pass (an unfrozen BatchNorm's statistics)
    constraint: tuple = ()   # Keras' constraint after each update: ("max_norm", 3.0, 0)
    norm_group: str | None = None  # what a norm constraint takes together: all, columns or rows


def _image(shape: tuple):
    return (shape[2], shape[0], shape[1]) if len(shape) == 3 and shape[2] > 1 else None


def _specs(graph: ir.Graph, tensors: dict, names: tuple, prefix: str) -> tuple:
    single = len(names) == 1
    return tuple(TensorSpec(t, prefix if single else f"{prefix}_{identifier(t)}", tensors[t],
                            graph.shape(t), _image(graph.shape(t))) for t in names)


@dataclass(frozen=True)
class HeadSpec:
    """One output as training sees it: its targets (columns first.. of y), the output tensor
    and its loss, weight and metrics."""
    spec: TensorSpec       # the targets; spec.batch is the variable holding this batch's
    output: TensorSpec     # the model output it trains
    head: Head
    first: int             # its first column of y (1-based)
    mask: str | None = None  # the DML variable of the output's Keras mask in train.dml, if any
    logits: str | None = None  # the tensor the loss or a metric takes instead of the output

    @property
    def last(self) -> int:
        return self.first + self.spec.columns - 1

    @property
    def classes(self) -> int | None:
        """The classes of a loss or metric taken at every position of an output of several
        axes (a tagger's steps, a segmentation's pixels) over its last axis, as Keras takes
        them; None where whole rows give Keras' values."""
        return _position_classes(self.head, self.output.shape)

    @property
    def positions(self) -> int | None:
        """The width of one position's row where the loss is taken per position: `classes`
        (a loss or metric over the last axis), or the last axis of an output whose Keras mask weights its
        loss per position (every Keras loss means over the last axis first)."""
        return self.classes or (self.output.shape[-1] if self.mask else None)


# losses and metrics that sum, pick or normalise along the output's last axis (Keras' axis=-1),
# which a whole row of an output of several axes would mix: they run on a row per position.
# (The others are means over the last axis, whose mean over every position is the row's mean.)
_PER_POSITION_LOSSES = ("categorical_crossentropy", "sparse_categorical_crossentropy",
                        "kl_divergence", "categorical_hinge", "cosine_similarity")
_PER_POSITION_METRICS = ("categorical_accuracy", "kl_divergence", "categorical_hinge",
                         "cosine_similarity", "categorical_crossentropy",
                         "top_k_categorical_accuracy")


def _position_classes(head: Head, shape: tuple) -> int | None:
    per_position = head.loss.module in _PER_POSITION_LOSSES or any(
        metric in _PER_POSITION_METRICS for metric in head.metrics)
    return shape[-1] if per_position and len(shape) > 1 else None


def takes_logits(loss: Loss) -> bool:
    """Whether `loss`, on an output a softmax or sigmoid writes, is taken from the logits
    (objectives.takes_logits: so that the loss and its gradient never clip)."""
    return objective_takes_logits(loss.module, loss.arguments)


def _loss_logits(graph: ir.Graph, heads, metrics: bool = False) -> dict:
    """Model output -> the logits its loss takes (takes_logits, logits_input), for the outputs
    of `graph` whose loss does (or, with `metrics`, a metric does) and whose softmax or
    sigmoid writes them."""
    found = {t: logits_input(graph, t) for t, head in zip(graph.outputs, heads)
             if takes_logits(head.loss) or metrics and any(
                 objective_takes_logits(m, a)
                 for m, a in zip(head.metrics, head.metric_arguments))}
    return {t: z for t, z in found.items() if z is not None}


def _target_spec(out: TensorSpec, head: Head, single: bool) -> TensorSpec:
    """How y holds one output's targets: class ids (one per position for an output of several
    axes), or the output's values; a per-position loss or metric reads its targets in Keras'
    layout (classes last), so its image targets stay channels last."""
    batch = "y_batch" if single else f"{out.variable}_target"
    loss = head.loss
    per_position = _position_classes(head, out.shape) is not None
    if loss.sparse_labels:
        return TensorSpec(out.name, "y", batch, out.shape[:-1] if per_position else (1,), None)
    return TensorSpec(out.name, "y", batch, out.shape, None if per_position else out.image)


class CompiledModel:
    """A Keras model compiled to DML.

    predict_script / train_script: the scripts as written to disk (data and weights from files
    named by $-arguments); script("predict", bound=True) gives the variant whose inputs and
    weights the caller binds (`inputs=`) and whose results it reads back (`outputs=`).
    """

    def __init__(self, graph: ir.Graph, train_graph: ir.Graph | None = None, *,
                 compile_config: dict | None = None, loss=None, optimizer=None, metrics=None,
                 learning_rate=None, train_algo: str = "minibatch", source: str = "",
                 frozen=(), loss_weights=None):
        self.graph = graph
        self.train_graph = train_graph
        self.name = graph.name
        self.source = source or graph.source
        self._training_args = dict(loss=loss, optimizer=optimizer, metrics=metrics,
                                   learning_rate=learning_rate, loss_weights=loss_weights)
        self.compile_config = compile_config
        if train_algo not in TRAIN_ALGOS:
            raise CompileError(f"train_algo must be one of {', '.join(TRAIN_ALGOS)}, got "
                               f"{train_algo!r}")
        self.train_algo = train_algo
        self._scripts: dict = {}  # (kind, bound) -> rendered script
        self._folds: dict = {}    # precision -> (the weights folded, the folded variables)
        self.frozen = frozenset(frozen)  # Keras layers with trainable=False
        self._program = build_program(graph, training=False)
        self.inputs = _specs(graph, self._program.tensors, graph.inputs, "X")
        if graph.input_keys:  # Keras takes the data of a dict of inputs by its keys
            self.inputs = tuple(dataclasses.replace(t, key=key)
                                for t, key in zip(self.inputs, graph.input_keys))
        self.outputs = _specs(graph, self._program.tensors, graph.outputs, "Y")
        for t in self.outputs:
            if t.columns is None:
                raise CompileError(f"model '{self.name}': output '{t.name}' has shape {t.shape}, "
                                   "its size open with the sequence length; the scripts need "
                                   "outputs of a fixed size (pool or take the last step first)")
        self.weights = dml_weights(graph, self._program.params)
        datasets = dataset_paths(self.weights)
        groups = norm_groups(graph, self._program.params)
        # one per variable: nodes sharing a weight of the file share its variable (names.py)
        first: dict = {}
        for node, param in graph.params():
            first.setdefault(self._program.params[(node.name, param.name)], (node, param))
        self.parameters = tuple(self._parameter(node, param, datasets, groups)
                                for node, param in first.values())

    def _parameter(self, node: ir.Node, param: ir.Param, datasets: dict,
                   groups: dict) -> ParameterSpec:
        variable = self._program.params[(node.name, param.name)]
        frozen = param.layer in self.frozen
        return ParameterSpec(variable, self.weights[variable].shape, node.name, param.name,
                             param.layer, param.weight, param.shape,
                             is_trainable(node.op, param.name) and not frozen,
                             param.regularizer, datasets[variable],
                             is_moving(node.op, param.name) and not frozen, param.constraint,
                             groups.get(variable))

    def keras_weights(self, weights: dict | None = None) -> dict:
        """{(Keras layer, weight name): array in Keras' shape} for DML-layout weights by variable
        (default: the compiled ones), e.g. the trained weights a train script returns."""
        values = keras_layout(self.graph, self._program.params, weights or self.weights)
        return {(p.layer, p.weight): values[p.variable] for p in self.parameters
                if p.variable in values}

    # --- scripts ---------------------------------------------------------------------------

    @property
    def predict_script(self) -> str:
        return self.script("predict")

    @property
    def train_script(self) -> str:
        return self.script("train")

    def script(self, kind: str, bound: bool = False) -> str:
        """Rendered once per (kind, bound): the estimator asks for the bound scripts on every
        epoch and every prediction. Besides "predict" and "train", two bound scripts serve
        predict() here: "fold" computes the folded weights alone, "predict_folded" is the
        prediction script taking them as inputs."""
        renderers = {"predict": self._render_predict, "train": self._render_train,
                     "fold": self._render_fold, "predict_folded": self._render_predict_folded,
                     "masks": self._render_masks, "logits": self._render_logits}
        if kind not in renderers:
            raise ValueError(f"script kind must be one of {', '.join(renderers)}, got {kind!r}")
        if (kind, bound) not in self._scripts:
            self._scripts[(kind, bound)] = format_dml(renderers[kind](bound))
        return self._scripts[(kind, bound)]

    def _view(self, program: Program, extra_sources=()) -> dict:
        sources = tuple(dict.fromkeys(tuple(program.sources) + tuple(extra_sources)))
        return dict(name=self.name, source=self.source, inputs=self.inputs,
                    outputs=self.outputs, parameters=self.parameters, sources=sources)

    @staticmethod
    def _boundary_sources(specs) -> tuple:
        """The layout module when one of the tensors the script reads or writes (TensorSpecs)
        is an image, which it converts from or to Keras' order."""
        return (LAYOUT,) if any(t.image for t in specs) else ()

    def _render_predict(self, bound: bool, folds=None) -> str:
        view = self._view(self._program, self._boundary_sources(self.inputs + self.outputs))
        return ENV.get_template("predict.dml.j2").render(
            m=view, bound=bound, forward=forward_blocks(self._program),
            folds=self._program.folds if folds is None else folds, library=LIBRARY)

    def _render_predict_folded(self, bound: bool) -> str:
        return self._render_predict(bound, folds=())

    def _render_masks(self, bound: bool) -> str:
        """The prediction script writing the masked outputs' Keras masks instead of them."""
        view = self._view(self._program, self._boundary_sources(self.inputs))
        view["outputs"] = self.mask_specs
        return ENV.get_template("predict.dml.j2").render(
            m=view, bound=bound, forward=forward_blocks(self._program),
            folds=self._program.folds, library=LIBRARY)

    def _render_logits(self, bound: bool) -> str:
        """The prediction script writing the logits of logit_specs instead of the outputs."""
        view = self._view(self._program, self._boundary_sources(self.inputs + self.logit_specs))
        view["outputs"] = self.logit_specs
        return ENV.get_template("predict.dml.j2").render(
            m=view, bound=bound, forward=forward_blocks(self._program),
            folds=self._program.folds, library=LIBRARY)

    @cached_property
    def mask_specs(self) -> tuple:
        """The Keras mask of each output that carries one, as the prediction script holds it
        (one value per position of the output)."""
        masks = [(out, self.graph.output_mask(out.name)) for out in self.outputs]
        return tuple(TensorSpec(tensor, f"M_{identifier(out.name)}", self._program.tensors[tensor],
                                self.graph.shape(tensor), None) for out, tensor in masks if tensor)

    def masks(self, inputs, weights: dict | None = None, **run_options) -> np.ndarray:
        """The masked outputs' Keras masks of `inputs` (arrays in the model's input order), side
        by side: N x (the positions of each): what Keras weights their loss and metrics by."""
        if any(_is_distributed(x) for x in inputs):
            raise CompileError(f"model '{self.name}': the Keras masks of its outputs weight the "
                               "validation loss; they are computed from numpy inputs, not "
                               "from a distributed matrix or DataFrame")
        return self._side_by_side("masks", self.mask_specs, inputs, weights, run_options)

    def _side_by_side(self, kind: str, specs, inputs, weights: dict | None,
                      run_options: dict) -> np.ndarray:
        """The `kind` script (masks, logits) run on numpy `inputs`: the specs' variables side by
        side."""
        from kerasdml.runtime.api import run_string
        bound = {t.variable: t.rows(x) for t, x in zip(self.inputs, inputs)}
        bound.update(self.weights if weights is None else weights)
        results = run_string(self.script(kind, bound=True), inputs=bound,
                             args={"batch_size": 256}, **run_options,
                             outputs=[t.variable for t in specs])
        return np.hstack([np.asarray(results[t.variable]) for t in specs])

    def _render_fold(self, bound: bool) -> str:
        return ENV.get_template("fold.dml.j2").render(folds=self._program.folds)

    # --- training --------------------------------------------------------------------------

    @cached_property
    def training(self) -> TrainingConfig:
        """Loss, optimizer and metrics: the model's compile config, overridden by the
        arguments given to the compiler."""
        return training_config(self.compile_config, **self._training_args,
                               outputs=tuple(t.name for t in self.outputs),
                               widths=tuple(t.shape[-1] if t.shape else 1 for t in self.outputs))

    @property
    def loss(self) -> Loss:
        return self.training.loss

    @property
    def optimizer(self) -> Optimizer:
        return self.training.optimizer

    @cached_property
    def target(self) -> TensorSpec:
        """The training targets: y, one column of class indices for sparse losses; for several
        outputs, the outputs' targets side by side (`heads` says which columns are whose)."""
        heads = self.heads
        if len(heads) == 1:
            return heads[0].spec
        columns = sum(h.spec.columns for h in heads)
        return TensorSpec(", ".join(h.spec.name for h in heads), "y", "y_batch", (columns,), None)

    @cached_property
    def heads(self) -> tuple:
        """One HeadSpec per output: its targets' spec and columns of y, loss and weight."""
        heads, first = [], 1
        graph = self.graph if self.train_graph is None else self.train_graph
        logits = _loss_logits(graph, self.training.heads, metrics=True)
        for k, (out, head) in enumerate(zip(self.outputs, self.training.heads)):
            spec = _target_spec(out, head, len(self.outputs) == 1)
            heads.append(HeadSpec(spec, out, head, first, self._training_mask(k, out),
                                  logits.get(graph.outputs[k])))
            first += spec.columns
        return tuple(heads)

    @cached_property
    def logit_specs(self) -> tuple:
        """The logits of each output whose loss or a metric takes them (HeadSpec.logits), as
        the prediction script holds them (the output's layout): what validation reads."""
        specs = []
        for k, h in enumerate(self.heads):
            if h.logits:
                # the prediction graph's own (a Dropout before the softmax is not in it)
                tensor = logits_input(self.graph, self.graph.outputs[k])
                if tensor is None:
                    return ()
                specs.append(TensorSpec(tensor, f"L_{identifier(h.output.name)}",
                                        self._program.tensors[tensor], h.output.shape,
                                        h.output.image))
        return tuple(specs)

    def logits(self, inputs, weights: dict | None = None, **run_options) -> np.ndarray | None:
        """The logits of the outputs whose loss takes them (logit_specs) for `inputs` (arrays
        in the model's input order), side by side in Keras' layout; None where there are none
        or an input is distributed (the validation loss then falls back to the
        probabilities)."""
        if not self.logit_specs or any(_is_distributed(x) for x in inputs):
            return None
        return self._side_by_side("logits", self.logit_specs, inputs, weights, run_options)

    def _training_mask(self, k: int, out: TensorSpec) -> str | None:
        """The train script's variable of the Keras mask output k carries (None without one):
        Keras weights that output's loss and metrics by it, per position, so the mask must
        give one value per position of the output (its shape without the last axis)."""
        if self.train_graph is None:
            return None
        tensor = self.train_graph.output_mask(self.train_graph.outputs[k])
        if tensor is None:
            return None
        variable = self._train_program.tensors.get(tensor)
        if variable is None or self.train_graph.shape(tensor) != out.shape[:-1]:
            raise CompileTrainingError(self.name, f"the Keras mask of output '{out.name}' "
                                       f"(shape {self.train_graph.shape(tensor)}) does not give "
                                       f"one value per position of the output {out.shape}, "
                                       "which is how Keras weights its loss")
        counted = [m for m in self.training.heads[k].metrics if m in CONFUSION_METRICS]
        if counted:
            raise CompileTrainingError(self.name, f"output '{out.name}' carries a Keras mask, "
                                       f"which Keras' {counted[0]} takes as sample weights; "
                                       "kerasdml does not weight these counts: compile the "
                                       "model without that metric")
        if self.training.metrics and self.train_algo in ("paramserv", *PARALLEL_ALGOS):
            raise CompileTrainingError(self.name, f"output '{out.name}' carries a Keras mask, "
                                       "whose metrics count the masked-in positions; "
                                       f"train_algo='{self.train_algo}' does not count them: "
                                       "use 'minibatch' or 'batch', or no metrics")
        return variable

    @cached_property
    def _train_program(self) -> Program:
        if self.train_graph is None:
            raise CompileTrainingError(self.name, "compiled for prediction only")
        # an output whose loss takes its logits: the loss reads them instead of the output, so
        # its gradient goes straight to them (emitter.build_program routes the rest)
        return build_program(self.train_graph, training=True, frozen=self.frozen,
                             logits=_loss_logits(self.train_graph, self.training.heads))

    def _render_train(self, bound: bool) -> str:
        program, target = self._train_program, self.target
        training = TrainingView(self.training, self.train_algo)
        moving = list(dict.fromkeys(p.layer for p in self.parameters if p.moving))
        if moving and self.train_algo == "allreduce_parallel_batches":
            # a parfor may not write a variable of the enclosing scope (SystemDS refuses to
            # merge them), and the k batches' updates of the statistics would collide
            raise CompileTrainingError(self.name, f"BatchNormalization layers ({', '.join(moving)})"
                                       " update their moving statistics batch by batch, which "
                                       "allreduce_parallel_batches cannot merge; use "
                                       "train_algo='minibatch' or 'looped_minibatch'")
        penalties = tuple(dict.fromkeys(kind for _, kind, _ in
                                        training.penalties(self.parameters)))
        targets = (target,) + tuple(h.spec for h in self.heads)
        # a per-position loss of an image output reads it channels last
        per_position = tuple(h.output for h in self.heads if h.positions)
        view = self._view(program, training.sources + penalties
                          + self._boundary_sources(self.inputs + targets + per_position))
        template = "train_paramserv.dml.j2" if self.train_algo == "paramserv" else "train.dml.j2"
        return ENV.get_template(template).render(
            m=view, bound=bound, forward=forward_blocks(program),
            backward=backward_blocks(program), library=LIBRARY,
            target=target, tr=training, heads=self.heads,
            loss_gradients=program.loss_gradients(), side_by_side=side_by_side,
            outs=[program.tensors[t] for t in self.train_graph.outputs],
            logits=[program.tensors[h.logits] if h.logits else None for h in self.heads])

    # --- running on the local runtime ------------------------------------------------------

    def predict(self, inputs, batch_size: int | None = None, weights: dict | None = None,
                scoring: str = "auto", **run_options):
        """What keras' model.predict returns, computed by the prediction script on the local
        runtime (or as `run_options` of runtime.api.run_string say: precision, spark):
        one array, or a list for several outputs. `inputs` as Keras takes them: one array, a
        list in the model's input order, or a dict by input name. `weights` replace the
        compiled ones.

        With `spark`, an input may also be a Spark DataFrame or a distributed matrix (rows as
        the script takes them); the default batch is then all rows, so the forward pass runs
        once over the distributed rows instead of collecting them 256 at a time. Locally the
        default batch is 256 rows.

        A Spark DataFrame with one array (or image) column is scored partition by partition on
        the executors (the script is row-local; spark_ml/scoring.py) unless scoring="blocks".

        A model returning a dict (or dicts and lists nested) gets it back the same way, as
        Keras' predict returns it; predict_arrays gives the outputs as a flat list."""
        arrays = self.predict_arrays(inputs, batch_size, weights, scoring, **run_options)
        if self.graph.output_structure is not None:
            return _arranged(self.graph.output_structure, arrays)
        return arrays[0] if len(arrays) == 1 else arrays

    def predict_arrays(self, inputs, batch_size: int | None = None, weights: dict | None = None,
                       scoring: str = "auto", **run_options):
        """predict's outputs as a list in the order of `outputs`, whatever structure the Keras
        model returns them in."""
        from kerasdml.runtime.api import run_string
        if isinstance(inputs, dict):  # by input name, as Keras' predict takes them
            inputs = arrays_by_input(inputs, self.inputs, "inputs")
        data = inputs if isinstance(inputs, (list, tuple)) else [inputs]
        if len(data) != len(self.inputs):
            raise ValueError(f"the model has {len(self.inputs)} inputs, got {len(data)} arrays")
        if run_options.get("spark") is not None:
            from ..spark_ml.scoring import predict_dataframe
            scored = predict_dataframe(self, data, batch_size, weights, scoring, run_options)
            if scored is not None:
                return scored if isinstance(scored, list) else [scored]
        bound = {t.variable: x if _is_distributed(x) else t.rows(x) for t, x in zip(self.inputs, data)}
        for t in self.inputs:  # the script's batch loop `for (i in 1:0)` would run backwards
            if not _is_distributed(bound[t.variable]) and len(bound[t.variable]) == 0:
                raise ValueError(f"input {t.name!r} has no samples (0 rows)")
        if batch_size is None:
            batch_size = 256 if run_options.get("spark") is None else max(_row_count(bound[t.variable])
                                                                            for t in self.inputs)
        weights = self.weights if weights is None else weights
        if run_options.get("spark") is None:
            script, weights = self.bound_prediction(weights, run_options.get("precision", "double"),
                                                    run_options.get("stats"))
        else:          # the folds' statements are planned with the rest of the script
            script = self.script("predict", bound=True)
        bound.update(weights)
        results = run_string(script, inputs=bound, args={"batch_size": max(1, int(batch_size))},
                             outputs=[t.variable for t in self.outputs], **run_options)
        return [t.keras(results[t.variable]) for t in self.outputs]

    def bound_prediction(self, weights: dict, precision: str, stats=None) -> tuple[str, dict]:
        """The bound prediction script and the weights to bind for a local run (or a Spark
        task's): with BatchNormalization layers folded into the layers before them, the script
        that takes the folded weights, and the weights with those added (_folded)."""
        if not self._program.folds:
            return self.script("predict", bound=True), weights
        return (self.script("predict_folded", bound=True),
                {**weights, **self._folded(weights, precision, stats)})

    def _folded(self, weights: dict, precision: str, stats) -> dict:
        """The folded weights, computed by the prediction script's own fold statements once per
        set of weight arrays and precision, not on every predict call (for one small batch of a
        big model the fold costs as much as the prediction). The arrays count by identity:
        weights change by new arrays (as fit makes them), not by writes into the old ones."""
        from kerasdml.runtime.api import run_string
        names = [p.variable for p in self.parameters]
        key = tuple(id(weights[name]) for name in names)
        cached = self._folds.get(precision)
        if cached is None or cached[0] != key:
            folded = run_string(self.script("fold", bound=True), inputs=weights,
                                outputs=list(self._program.folded), precision=precision,
                                stats=stats)
            # the arrays are kept with their ids, so no other array can take one of them
            cached = (key, folded, [weights[name] for name in names])
            self._folds[precision] = cached
        return cached[1]


def _arranged(structure, arrays: list):
    """The outputs as Keras' predict returns a model's dict (or nested) outputs
    (ir.Graph.output_structure)."""
    if isinstance(structure, int):
        return arrays[structure]
    kind, items = structure
    if kind == "dict":
        return {key: _arranged(item, arrays) for key, item in items}
    return [_arranged(item, arrays) for item in items]


def _is_distributed(value) -> bool:
    """A Spark DataFrame or a distributed matrix of the runtime (already the script's rows)."""
    from kerasdml.runtime.api import is_spark_dataframe
    from kerasdml.runtime.values import MatrixHandle
    return isinstance(value, MatrixHandle) or is_spark_dataframe(value)


def _row_count(value) -> int:
    shape = getattr(value, "shape", None)
    return int(shape[0]) if shape is not None else int(value.count())


class CompileTrainingError(CompileError):
    """The model compiles for prediction, but no training script can be written for it."""

    def __init__(self, model: str, problem: str):
        super().__init__(f"model '{model}': no training script: {problem}")
