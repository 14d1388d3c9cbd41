"""Dense, activations, dropout, flatten, reshape and embedding."""
from __future__ import annotations

from ..registry import op_template
from ..step import Step, Unsupported, image, known, size, steps_and_features
from ...passes.layout import flatten_dense_pairs

_ACCEPTED_DENSE = "a vector or a sequence (a Dense on images is not supported)"


def zeros(rows: int, cols: int) -> str:
    return f"matrix(0, rows={rows}, cols={cols})"


def ones(rows: int, cols: int) -> str:
    return f"matrix(1, rows={rows}, cols={cols})"


def rows_of(n: Step, shape: tuple, what: str) -> tuple:
    """(T, D) of a vector or sequence input, or an Unsupported naming the op's need."""
    if len(shape) == 3:
        raise Unsupported("input shape", shape, what)
    return steps_and_features(known(shape, "shape"))


@op_template("dense", "dense.dml.j2", "affine")
def dense(n: Step) -> dict:
    steps, features = rows_of(n, n.in_shape, _ACCEPTED_DENSE)
    units = n.a.units
    bias = n.p.get("bias") or zeros(1, units)
    return dict(T=steps, D=features, units=units, b=bias,
                db=n.dp.get("bias") or f"{n.out}_dzero")


# kind -> (dml_lib module, extra forward/backward arguments from the attributes)
_ACTIVATIONS = {
    "relu": ("relu", lambda a: ""),
    "sigmoid": ("sigmoid", lambda a: ""),
    "tanh": ("tanh", lambda a: ""),
    "softmax": ("softmax", lambda a: ""),
    "elu": ("elu", lambda a: f", {a.alpha!r}"),
    "selu": ("selu", lambda a: ""),
    "gelu": ("gelu", lambda a: ", TRUE" if a.approximate else ", FALSE"),
    "swish": ("swish", lambda a: ""),
    "softplus": ("softplus", lambda a: ""),
    "leaky_relu": ("leaky_relu", lambda a: f", {a.alpha!r}"),
}


def _plain_relu(a) -> bool:
    return a.alpha == 0 and a.max_value is None and a.threshold == 0


@op_template("activation", "activation.dml.j2")
def activation(n: Step) -> dict:
    a = n.a
    if a.kind == "linear":
        return dict(form="identity")
    if a.kind == "relu" and not _plain_relu(a):
        # ReLU(max_value, negative_slope, threshold): not in dml_lib, two lines of DML
        return dict(form="clipped_relu", alpha=a.alpha, threshold=a.threshold,
                    max_value=a.max_value)
    module, args = _ACTIVATIONS[a.kind]
    steps = 1
    if a.kind == "softmax":
        steps, _ = rows_of(n, n.in_shape, "a vector or a sequence (softmax over the last axis)")
    return dict(form="library", module=module, args=args(a), T=steps,
                D=n.in_shape[-1], sources=(module,))


@op_template("dropout", "dropout.dml.j2", "dropout")
def dropout(n: Step) -> dict:
    if n.training and n.a.spatial:
        raise Unsupported("spatial dropout in training", True,
                          "Dropout (SpatialDropout trains only in Keras for now)")
    # each dropout layer draws its own mask: the batch's seed plus the node's position
    return dict(rate=n.a.rate, seed_offset=[node.name for node in n.graph.nodes].index(n.node.name))


def flatten_feeds_only_denses(graph, node) -> bool:
    """True when every use of the flattened image is a Dense whose kernel the weights writer
    permutes (layout.flatten_dense_pairs), so the rows can stay channels first."""
    denses = flatten_dense_pairs(graph)

    def fine(tensor: str) -> bool:
        if tensor in graph.outputs:
            return False
        for user in graph.consumers(tensor):
            if user.op in ("activation", "dropout"):
                if not fine(user.output):
                    return False
            elif user.op != "dense" or user.name not in denses:
                return False
        return True
    return fine(node.output)


def needs_reorder(graph, node) -> bool:
    """Whether a Flatten of an image writes its values in Keras' (h, w, c) order."""
    return len(graph.shape(node.inputs[0])) == 3 and not flatten_feeds_only_denses(graph, node)


@op_template("flatten", "flatten.dml.j2")
def flatten(n: Step) -> dict:
    if len(n.in_shape) != 3:
        return dict(reorder=False)
    reorder = needs_reorder(n.graph, n.node)
    c, h, w = image(known(n.in_shape, "image size"))
    return dict(reorder=reorder, C=c, H=h, W=w,
                helpers=("channels_last", "channels_first") if reorder else ())


@op_template("reshape", "reshape.dml.j2")
def reshape(n: Step) -> dict:
    shape_in, shape_out = known(n.in_shape, "shape"), n.out_shape
    src = image(shape_in) if len(shape_in) == 3 and shape_in[-1] > 1 else None
    dst = image(shape_out) if len(shape_out) == 3 and shape_out[-1] > 1 else None
    return dict(src=src, dst=dst, helpers=("channels_last", "channels_first") if src or dst
                else ())


@op_template("embedding", "embedding.dml.j2", "embedding")
def embedding(n: Step) -> dict:
    return dict(no_input_gradient=True, cols=size(n.out_shape))
