"""Keras parity of the layers added beyond the core set, one small model per layer and variant:
each is saved as a .keras file, compiled, run by the generated predict.dml, and compared with
Keras' own prediction on the same weights."""
from __future__ import annotations

import numpy as np
import pytest

from support.keras_models import keras, randomize, sample_inputs, sequential

L = keras.layers
ATOL = 1e-5


def functional(inputs, outputs, name):
    return keras.Model(inputs, outputs, name=name)


ADAPT_DATA = np.random.default_rng(3).normal(2.0, 3.0, (50, 4)).astype("float32")


def _adapted_normalization():
    return sequential((4,), L.Normalization(), L.Dense(3), name="adapted")


def _layer_scale():
    from keras.src.applications.convnext import LayerScale
    return sequential((3, 3, 4), LayerScale(0.5, 4), L.Conv2D(2, 1), name="layer_scale")


def _custom_scale():
    from keras.src.applications.inception_resnet_v2 import CustomScaleLayer
    x = keras.Input((3, 3, 4))
    y = L.Conv2D(4, 1)(x)
    return functional(x, CustomScaleLayer(0.17)([x, y]), "custom_scale")


def _self_attention(causal=False, heads=2, key_dim=3, value_dim=None, use_bias=True,
                    dropout=0.0):
    x = keras.Input((5, 6))
    y = L.MultiHeadAttention(heads, key_dim, value_dim=value_dim, use_bias=use_bias,
                             dropout=dropout)(x, x, use_causal_mask=causal)
    return functional(x, y, "self_attention")


def _cross_attention():
    q, v = keras.Input((4, 6)), keras.Input((7, 5))
    k = keras.Input((7, 3))
    y = L.MultiHeadAttention(2, 4, value_dim=2)(q, v, key=k)
    return functional([q, v, k], y, "cross_attention")


def _attention_output_shape():
    """output_shape: the output projection's features instead of the query's."""
    q, v = keras.Input((4, 6)), keras.Input((7, 5))
    y = L.MultiHeadAttention(2, 4, value_dim=3, output_shape=8)(q, v)
    return functional([q, v], y, "attention_output_shape")


def _masked_attention():
    x, mask = keras.Input((4, 6)), keras.Input((4, 4))
    y = L.MultiHeadAttention(2, 3)(x, x, attention_mask=mask)
    return functional([x, mask], y, "masked_attention")


def _group_query_attention():
    """4 query heads over 2 key/value heads (more in test_group_query_attention.py)."""
    x = keras.Input((5, 6))
    return functional(x, L.GroupQueryAttention(3, 4, 2)(x, x), "group_query_attention")


def _bidirectional(cell, mode, sequences):
    layer = L.Bidirectional(cell(3, return_sequences=sequences), merge_mode=mode)
    model = sequential((5, 4), layer, name="bidirectional") if mode else None
    if mode is None:
        x = keras.Input((5, 4))
        forward, backward = layer(x)
        model = functional(x, [forward, backward], "bidirectional")
    return model


def _bidirectional_outputs_used():
    x = keras.Input((5, 4))
    forward, backward = L.Bidirectional(L.GRU(3), merge_mode=None)(x)
    return functional(x, L.Dense(2)(L.Concatenate()([backward, forward])), "bidirectional_used")


def _squeeze_excite():
    """MobileNetV3's squeeze-and-excite with keras.ops' hard sigmoid."""
    x = keras.Input((6, 6, 4))
    y = L.Conv2D(4, 1)(x)
    s = keras.ops.mean(y, axis=[1, 2], keepdims=True)
    s = L.Conv2D(2, 1, activation="relu")(s)
    s = L.Conv2D(4, 1)(s)
    s = keras.ops.relu6(s + 3.0) / 6.0
    y = L.Multiply()([y, s])
    y = y * keras.ops.relu6(y + 3.0) * (1.0 / 6.0)
    return functional(x, L.GlobalAveragePooling2D()(y), "squeeze_excite")


def _keras_ops():
    """keras.ops calls a functional model file can hold."""
    x = keras.Input((4, 6))
    y = L.Dense(6)(x)
    a = keras.ops.maximum(y, 0.5) - keras.ops.minimum(x, y) * 2.0
    b = 1.0 - keras.ops.abs(y) / (keras.ops.square(x) + 1.0)
    c = keras.ops.concatenate([a, b], axis=-1)
    c = keras.ops.transpose(keras.ops.reshape(c, (-1, 12, 4)), (0, 2, 1))
    d = keras.ops.sum(c, axis=2) + keras.ops.mean(c, axis=-1) - keras.ops.max(c, axis=-1)
    d = d + 0.01 * keras.ops.mean(keras.ops.matmul(c, keras.ops.transpose(c, (0, 2, 1))), axis=-1)
    e = keras.ops.sqrt(keras.ops.exp(keras.ops.hard_silu(d)) + 2.0) ** 2.0 + 3.0 ** keras.ops.sigmoid(d)
    f = keras.ops.log(keras.ops.softplus(e)) + keras.ops.negative(keras.ops.log_softmax(e))
    return functional(x, f, "keras_ops")


def _broadcast_merges():
    x, v = keras.Input((3, 4, 5)), keras.Input((5,))
    w = L.Reshape((1, 1, 5))(v)
    y = L.Add()([x, w])
    y = L.Subtract()([y, L.Multiply()([w, y])])
    y = L.Maximum()([y, w, x])
    y = L.Minimum()([y, w])
    y = L.Average()([y, x, w])
    return functional([x, v], L.Flatten()(y), "broadcast_merges")


def _keras_ops_activations():
    """Every keras.ops activation and unary function the compiler maps, one after the other."""
    x = keras.Input((3, 5))
    y = L.Dense(5)(x)
    ops = keras.ops
    for function in (ops.relu, ops.tanh, ops.sigmoid, ops.hard_sigmoid, ops.silu, ops.gelu,
                     ops.elu, ops.selu, ops.softsign, ops.leaky_relu, ops.celu, ops.log_sigmoid,
                     ops.hard_tanh, ops.hard_shrink, ops.soft_shrink, ops.tanh_shrink,
                     ops.sparse_plus, ops.sparse_sigmoid, ops.squareplus, ops.softmax):
        y = L.Dense(5)(function(y))
    y = ops.divide(ops.abs(y) + 1.0, ops.reciprocal(ops.square(y) + 2.0))
    y = ops.divide(y, ops.absolute(y) + 1.5) + ops.min(y, axis=-1, keepdims=True)
    return functional(x, y, "keras_ops_activations")


def _augmentations():
    """Every Random* augmentation layer: the identity at inference."""
    from kerasdml.compiler.ops.augmentation import AUGMENTATIONS
    args = {"RandomBrightness": (0.2,), "RandomContrast": (0.2,), "RandomCrop": (8, 8),
            "RandomRotation": (0.2,), "RandomTranslation": (0.1, 0.1), "RandomZoom": (0.1,),
            "RandomHue": (0.1,), "RandomSaturation": (0.1,), "RandomSharpness": (0.1,),
            "RandomShear": (0.1,), "RandomPosterization": (4,), "RandomColorDegeneration": (0.2,)}
    layers = [getattr(L, name)(*args.get(name, ())) for name in AUGMENTATIONS]
    return sequential((8, 8, 3), *layers, L.Conv2D(2, 3), name="augmentations")


ACTIVATION_NAMES = sorted(set(keras.activations.__dict__) & {
    "celu", "elu", "exponential", "gelu", "hard_shrink", "hard_sigmoid", "hard_silu",
    "hard_swish", "hard_tanh", "leaky_relu", "linear", "log_sigmoid", "mish", "relu", "relu6",
    "selu", "sigmoid", "silu", "soft_shrink", "softplus", "softsign", "sparse_plus",
    "sparse_sigmoid", "squareplus", "swish", "tanh", "tanh_shrink"})


def _activations():
    return sequential((5,), *[L.Dense(6, activation=a) for a in ACTIVATION_NAMES],
                      L.Dense(4, activation="log_softmax"), name="activations")


def _row_wise_activations():
    """glu halves the last axis, which Keras' Activation layer does not tell the next layer:
    it is used through keras.ops here."""
    x = keras.Input((3, 8))
    y = L.Dense(6, activation="log_softmax")(keras.ops.glu(x))
    y = keras.ops.glu(L.Activation("softmax")(y))
    return functional(x, keras.ops.log_softmax(y), "row_wise")


def _unet():
    """keras.io's segmentation shape, tiny: skip connections concatenated after Conv2DTranspose
    and UpSampling2D, and a softmax over each pixel's classes."""
    x = keras.Input((8, 8, 1))
    c1 = L.Conv2D(3, 3, activation="relu", padding="same")(x)
    c2 = L.Conv2D(4, 3, activation="relu", padding="same")(L.MaxPooling2D(2)(c1))
    b = L.Conv2D(4, 3, activation="relu", padding="same")(L.MaxPooling2D(2)(c2))
    u2 = L.concatenate([L.Conv2DTranspose(4, 2, strides=2, padding="same")(b), c2])
    u1 = L.Concatenate()([L.UpSampling2D(2)(L.Conv2D(3, 3, padding="same")(u2)), c1])
    y = L.Conv2D(3, 1, activation="softmax")(u1)
    return functional(x, L.Softmax()(L.Conv2D(2, 1)(y)), "unet")


def _timeseries_transformer():
    """keras.io's timeseries Transformer, small: 1x1 Conv1D feed-forward, and the mean of each
    step's features (GlobalAveragePooling1D with channels_first)."""
    x = keras.Input((6, 2))
    y = L.MultiHeadAttention(2, 3)(x, x)
    res = L.LayerNormalization(epsilon=1e-6)(y) + x
    y = L.Conv1D(4, 1, activation="relu")(res)
    y = L.LayerNormalization(epsilon=1e-6)(L.Conv1D(2, 1)(y)) + res
    pooled = [L.GlobalAveragePooling1D(data_format="channels_first")(y),
              L.GlobalMaxPooling1D(data_format="channels_first", keepdims=True)(y)]
    return functional(x, [L.Dense(2, activation="softmax")(pooled[0]), pooled[1]], "ts_transformer")


def _conv1d_transpose(padding, output_padding=None):
    return sequential((5, 3), L.Conv1DTranspose(4, 3, strides=2, padding=padding,
                                                output_padding=output_padding),
                      L.Conv1DTranspose(2, 2, padding=padding, use_bias=False, activation="relu"),
                      name="conv1d_transpose")


def _sequence_resizing():
    """ZeroPadding1D and UpSampling1D around 1-D convolutions, as 1-D U-Nets use them."""
    x = keras.Input((6, 3))
    y = L.Conv1D(4, 3, padding="same", activation="relu")(L.ZeroPadding1D(2)(x))
    y = L.UpSampling1D(2)(L.MaxPooling1D(2)(y))
    y = L.Concatenate()([L.Cropping1D((1, 1))(L.ZeroPadding1D((0, 2))(y)), L.Identity()(y)])
    return functional(x, L.Conv1D(2, 3)(L.UpSampling1D(3)(y)), "sequence_resizing")


def _dot_vectors():
    """A Siamese pair's shared tower, compared by a plain and a cosine Dot."""
    a, b = keras.Input((5,)), keras.Input((5,))
    tower = keras.Sequential([L.Dense(4, activation="tanh")], name="tower")
    ta, tb = tower(a), tower(b)
    y = L.Concatenate()([L.Dot(axes=1)([ta, tb]), L.Dot(axes=-1, normalize=True)([ta, tb])])
    return functional([a, b], y, "dot_vectors")


def _dot_sequences():
    """Every pair of contracted axes of two sequences, and PointNet's transform."""
    a, b, c = keras.Input((4, 3)), keras.Input((4, 3)), keras.Input((3, 4))
    outputs = [L.Flatten()(L.Dot(axes=axes, normalize=normalize)([a, other]))
               for axes, normalize, other in (((2, 2), False, b), ((1, 1), True, b),
                                              ((1, 2), False, c), ((2, 1), True, c))]
    transform = L.Reshape((3, 3))(L.Dense(9)(L.GlobalMaxPooling1D()(a)))
    outputs.append(L.Flatten()(L.Dot(axes=(2, 1))([b, transform])))
    return functional([a, b, c], L.Concatenate()(outputs), "dot_sequences")


def _named_outputs():
    """Outputs given as a dict come back in the order of their sorted names (model.outputs),
    also through a nested model whose outputs are a dict."""
    x = keras.Input((6,))
    inner_in = keras.Input((6,))
    inner = keras.Model(inner_in, {"zeta": L.Dense(2)(inner_in), "alpha": L.Dense(3)(inner_in)},
                        name="inner")
    parts = inner(x)
    return functional(x, {"cls": L.Dense(3, activation="softmax")(parts["zeta"]),
                          "box": L.Dense(4)(parts["alpha"])}, "named_outputs")


def _channels_first_cnn():
    """Every layer with data_format, given channels_first images."""
    first = dict(data_format="channels_first")
    x = keras.Input((3, 9, 8))
    y = L.Conv2D(4, 3, padding="same", activation="relu", **first)(x)
    y = L.BatchNormalization(axis=1)(y)
    y = L.MaxPooling2D(2, **first)(L.ZeroPadding2D(1, **first)(y))
    y = L.SeparableConv2D(4, 3, padding="same", **first)(L.DepthwiseConv2D(3, **first)(y))
    y = L.Conv2DTranspose(3, 2, strides=2, **first)(L.AveragePooling2D(2, padding="same",
                                                                       **first)(y))
    y = L.Cropping2D(((1, 0), (0, 1)), **first)(L.UpSampling2D(2, **first)(y))
    pooled = L.GlobalAveragePooling2D(**first)(y)
    return functional(x, [L.Flatten()(y), L.Dense(2)(pooled)], "channels_first_cnn")


def _channels_first_lenet():
    """SystemML's Keras2DML guide after keras.backend.set_image_data_format('channels_first'):
    every layer channels_first, Flatten too (Keras moves the channels last before flattening)."""
    first = dict(data_format="channels_first")
    x = keras.Input((2, 8, 7))
    y = L.MaxPooling2D(2, **first)(L.Conv2D(4, 3, padding="same", activation="relu", **first)(x))
    y = L.Conv2D(3, 3, strides=2, padding="same", activation="relu", **first)(y)
    return functional(x, L.Dense(5, activation="softmax")(L.Flatten(**first)(y)),
                      "channels_first_lenet")


def _channels_first_sequence():
    first = dict(data_format="channels_first")
    x = keras.Input((3, 10))
    y = L.Conv1D(4, 3, padding="same", **first)(x)
    y = L.MaxPooling1D(2, **first)(L.BatchNormalization(axis=-2)(y))
    y = L.AveragePooling1D(2, strides=1, **first)(y)
    return functional(x, L.GlobalMaxPooling1D(**first)(y), "channels_first_sequence")


def _axis_layers():
    """Softmax, LayerNormalization and BatchNormalization over another axis than the last."""
    x = keras.Input((4, 5, 3))
    seq = L.Reshape((4, 15))(x)
    outputs = [L.Softmax(axis=1)(seq), L.LayerNormalization(axis=1)(seq),
               L.BatchNormalization(axis=1)(seq), L.Softmax(axis=-2)(x),
               L.LayerNormalization(axis=[2])(x), L.BatchNormalization(axis=1)(x)]
    return functional(x, [L.Flatten()(o) for o in outputs], "axis_layers")


def _wavenet():
    """Gated causal convolutions with growing dilation, residual and skip connections."""
    x = keras.Input((16, 1))
    y = L.Conv1D(4, 2, padding="causal")(x)
    skips = []
    for rate in (1, 2, 4):
        gate = L.Multiply()([L.Conv1D(4, 2, padding="causal", dilation_rate=rate,
                                      activation="tanh")(y),
                             L.Conv1D(4, 2, padding="causal", dilation_rate=rate,
                                      activation="sigmoid")(y)])
        gate = L.Conv1D(4, 1)(gate)
        skips.append(gate)
        y = L.Add()([y, gate])
    y = L.Activation("relu")(L.Add()(skips))
    same = L.Conv1D(3, 3, padding="same", dilation_rate=3)(y)
    return functional(x, [L.Conv1D(2, 1, activation="softmax")(y),
                          L.Conv1D(2, 2, dilation_rate=5)(same)], "wavenet")


def _dilated_images():
    """DeepLab's atrous convolutions: Conv2D, DepthwiseConv2D, SeparableConv2D and a grouped
    Conv2D with dilation_rate, same and valid."""
    x = keras.Input((11, 10, 4))
    y = L.Conv2D(4, 3, dilation_rate=2, padding="same", activation="relu")(x)
    y = L.BatchNormalization()(L.Conv2D(4, (3, 2), dilation_rate=(1, 3), use_bias=False)(y))
    y = L.DepthwiseConv2D(3, dilation_rate=2, padding="same")(y)
    y = L.SeparableConv2D(3, 3, dilation_rate=(2, 1))(y)
    z = L.Conv2D(4, 3, groups=4, dilation_rate=2, padding="same")(x)
    return functional(x, [L.Flatten()(y), L.GlobalAveragePooling2D()(z)], "dilated_images")


def _resizing():
    """Bilinear upsampling (DeepLab's decoder), Resizing up and down by uneven factors (also
    nearest neighbour, where 2 -> 3 and 6 -> 4 cells meet half-pixel ties), and CenterCrop with
    an odd margin, also on channels_first images."""
    x = keras.Input((5, 6, 2))
    up = L.UpSampling2D((2, 3), interpolation="bilinear")(L.Conv2D(3, 1)(x))
    resized = [L.Resizing(7, 4)(x), L.Resizing(3, 9)(x), L.CenterCrop(3, 3)(up),
               L.Resizing(4, 5, data_format="channels_first")(x),
               L.Resizing(7, 4, interpolation="nearest")(x),
               L.Resizing(3, 9, interpolation="nearest")(L.Resizing(2, 6)(x)),
               L.Resizing(3, 4, interpolation="nearest")(L.Resizing(2, 6)(x))]
    return functional(x, [L.Flatten()(y) for y in (up, *resized)], "resizing")


def _separable_sequences():
    """DepthwiseConv1D and SeparableConv1D (strides, dilation, channels_first), as 2-D ones."""
    x = keras.Input((12, 3))
    y = L.DepthwiseConv1D(3, depth_multiplier=2, padding="same", activation="relu")(x)
    y = L.SeparableConv1D(4, 3, strides=2, depth_multiplier=2)(y)
    z = L.SeparableConv1D(2, 2, dilation_rate=2, padding="same", use_bias=False)(x)
    w = L.DepthwiseConv1D(2, data_format="channels_first")(x)
    return functional(x, [L.Flatten()(t) for t in (y, z, w)], "separable_sequences")


def _seq2seq_attention():
    """An encoder-decoder with Luong attention: Attention([decoder, encoder]) (value as key)
    and with a separate key, concatenated with the decoder's states; UnitNormalization."""
    source, target = keras.Input((6, 3)), keras.Input((4, 2))
    encoded = L.LSTM(5, return_sequences=True)(source)
    decoded = L.GRU(5, return_sequences=True)(target)
    context = L.Attention()([decoded, encoded])
    keyed = L.Attention()([decoded, encoded, L.Dense(5)(encoded)])
    y = L.Concatenate()([decoded, context, L.UnitNormalization()(keyed)])
    y = L.TimeDistributed(L.Dense(3, activation="softmax"))(y)
    return functional([source, target], [y, L.UnitNormalization(axis=1)(context)], "seq2seq")


def _layer_norm_last_axes():
    """LayerNormalization over an image's height, width and channels (axis=[1, 2, 3], a
    per-pixel gamma and beta) and over a sequence's steps and features (axis=[-2, -1])."""
    image, sequence = keras.Input((4, 3, 2)), keras.Input((5, 3))
    a = L.LayerNormalization(axis=[1, 2, 3])(L.Conv2D(2, 1)(image))
    b = L.LayerNormalization(axis=[-2, -1], center=False)(L.Dense(3)(sequence))
    c = L.LayerNormalization(axis=[2, 3], epsilon=0.1)(image)
    return functional([image, sequence], [L.Flatten()(t) for t in (a, b, c)], "norm_axes")


def _rms_normalization():
    """RMSNormalization over a sequence's features and an image's channels (axis=3, epsilon)."""
    steps, pixels = keras.Input((5, 4)), keras.Input((3, 3, 2))
    a = L.RMSNormalization()(L.Dense(4)(steps))
    b = L.RMSNormalization(axis=3, epsilon=0.1)(pixels)
    return functional([steps, pixels], [L.Flatten()(a), L.Flatten()(b)], "rms_normalization")


def _rnn_cells():
    """keras.layers.RNN around one LSTMCell, GRUCell (backwards, sequences) or SimpleRNNCell."""
    x = keras.Input((5, 3))
    a = L.RNN(L.LSTMCell(4))(x)
    b = L.RNN(L.GRUCell(3), return_sequences=True, go_backwards=True)(x)
    c = L.RNN(L.SimpleRNNCell(3, activation="relu"), return_sequences=True)(x)
    return functional(x, [a, L.Flatten()(b), L.Flatten()(c)], "rnn_cells")


def _grouped_conv():
    """Conv2D with groups of several channels (ResNeXt's blocks): same padding with an
    activation, strides with an uneven padding and no bias, dilation, and a BatchNormalization
    that prediction folds into the grouped kernel."""
    x = keras.Input((9, 9, 8))
    a = L.Conv2D(12, 3, groups=4, padding="same", activation="relu")(x)
    b = L.Conv2D(6, 2, groups=2, strides=2, padding="same", use_bias=False)(a)
    c = L.Conv2D(4, 3, groups=2, dilation_rate=2)(x)
    d = L.BatchNormalization()(L.Conv2D(8, 1, groups=2)(x))
    return functional(x, [L.Flatten()(t) for t in (a, b, c, d)], "grouped_conv")


def _scored_attention():
    """Attention with use_scale and score_mode="concat" (with and without its scale),
    AdditiveAttention with and without use_scale, dropout (identity at inference), and
    use_causal_mask with more and fewer query steps than key steps."""
    source, target = keras.Input((6, 3)), keras.Input((4, 3))
    encoded = L.Dense(3)(source)
    outputs = [layer([target, encoded]) for layer in (
        L.Attention(use_scale=True), L.Attention(score_mode="concat"),
        L.Attention(score_mode="concat", use_scale=True, dropout=0.3),
        L.AdditiveAttention(), L.AdditiveAttention(use_scale=False, dropout=0.2))]
    outputs.append(L.AdditiveAttention()([target, encoded, L.Dense(3)(source)]))
    outputs += [L.Attention()([target, encoded], use_causal_mask=True),     # Tq < Tk
                L.AdditiveAttention()([encoded, target], use_causal_mask=True)]
    return functional([source, target], [L.Flatten()(y) for y in outputs], "scored_attention")


def _einsum_dense():
    """EinsumDense as keras.io and transformer code write it: a Dense on vectors, on the last
    axis of a sequence (with an activation), into heads ("abc,cde->abde", a softmax over the
    last of them) and back ("abcd,cde->abe"), and with an ellipsis."""
    vector, sequence = keras.Input((6,)), keras.Input((5, 4))
    flat = L.EinsumDense("ab,bc->ac", output_shape=3, bias_axes="c")(vector)
    steps = L.EinsumDense("abc,cd->abd", output_shape=(5, 6), activation="relu")(sequence)
    heads = L.EinsumDense("abc,cde->abde", output_shape=(5, 2, 3), bias_axes="de",
                          activation="softmax")(steps)
    merged = L.EinsumDense("abcd,cde->abe", output_shape=(5, 4), bias_axes="e")(heads)
    elided = L.EinsumDense("...b,bc->...c", output_shape=2)(merged)
    return functional([vector, sequence], [flat, L.Flatten()(elided)], "einsum_dense")


def _seq2seq_states(cell):
    """keras.io's character-level seq2seq: the encoder's final states start the decoder
    (return_state, initial_state), with the sequence-returning and backwards variants."""
    source, target = keras.Input((6, 3)), keras.Input((4, 2))
    _, *states = getattr(L, cell)(5, return_state=True)(source)
    sequence, *more = getattr(L, cell)(5, return_sequences=True, return_state=True,
                                       go_backwards=True)(source)
    decoded = getattr(L, cell)(5, return_sequences=True)(target, initial_state=states)
    y = L.TimeDistributed(L.Dense(3, activation="softmax"))(decoded)
    return functional([source, target], [y, L.Concatenate()([*more, *states]),
                                         L.Flatten()(sequence)], f"seq2seq_{cell}")


def _caffe_preprocessing():
    """ResNet50's and VGG's preprocess_input inside the model (as keras.io's DeepLabV3+ writes
    it): channels flipped with x[..., k] and ops.stack, a constant per channel subtracted."""
    x = keras.Input((5, 4, 3))
    y = keras.applications.resnet50.preprocess_input(x)
    seq = L.Reshape((5, 12))(x)
    picked = keras.ops.stack([seq[..., 3], seq[..., 0]], axis=-1)
    scaled = picked * keras.ops.convert_to_tensor([[0.5, 2.0]])
    return functional(x, [L.Conv2D(2, 1)(y), scaled - keras.ops.convert_to_tensor([1.0, 3.0])],
                      "caffe_preprocessing")


def _constant_arrays():
    """Constant arrays that layers called on keras.ops.arange(...) computed while the model was
    built (Keras stores their values): a position embedding added to token embeddings, an
    image-shaped constant (H, W, C) and one with the batch axis (1, H, W, C) against images,
    a constant over steps (T, 1) multiplying, and a constant minus the tensor."""
    tokens, image = keras.Input((5,), dtype="int32"), keras.Input((3, 4, 2))
    positions = L.Embedding(5, 6)(keras.ops.arange(0, 5, 1))
    sequence = L.Embedding(9, 6)(tokens) + positions
    weights = L.Embedding(5, 1)(keras.ops.arange(0, 5, 1))
    sequence = positions - sequence * weights
    planes = keras.ops.reshape(L.Embedding(1, 24)(keras.ops.zeros((1,), dtype="int32")),
                               (1, 3, 4, 2))
    pixels = keras.ops.reshape(L.Embedding(24, 1)(keras.ops.arange(0, 24, 1)), (3, 4, 2))
    picture = L.Conv2D(3, 1)((image + planes) / pixels)
    return functional([tokens, image], [L.Dense(2)(sequence), picture], "constant_arrays")


def _step_indexes():
    """x[:, 0] (a class token), x[:, -1], x[:, 1:4], x[:, 2, :] of a sequence, and an image's
    row x[:, 1], column x[:, :, 2] and window x[:, 1:3, 0:2]."""
    sequence, image = keras.Input((5, 3)), keras.Input((4, 3, 2))
    steps = L.Dense(4)(sequence)
    picked = L.Concatenate()([steps[:, 0], steps[:, -1], L.Flatten()(steps[:, 1:4]),
                              steps[:, 2, :]])
    pixels = L.Conv2D(3, 1)(image)
    parts = [L.Flatten()(pixels[:, 1]), L.Flatten()(pixels[:, :, 2]),
             L.Flatten()(pixels[:, 1:3, 0:2])]
    return functional([sequence, image], [picked, L.Concatenate()(parts)], "step_indexes")


def _unit_axes():
    """keras.ops.expand_dims before a Conv1D and a Conv2D, squeeze after a pooling that keeps
    its axes and of a last unit axis."""
    x = keras.Input((6, 2))
    along = L.Flatten()(L.Conv1D(2, 3)(keras.ops.expand_dims(L.Flatten()(x), -1)))
    image = L.Conv2D(2, 1)(keras.ops.expand_dims(x, 1))
    pooled = keras.ops.squeeze(L.GlobalAveragePooling2D(keepdims=True)(image), axis=[1, 2])
    last = keras.ops.squeeze(L.Dense(1)(x), -1)
    return functional(x, [along, pooled, last], "unit_axes")


MODELS = {
    "scored_attention": _scored_attention,
    "einsum_dense": _einsum_dense,
    "constant_arrays": _constant_arrays,
    "unit_axes": _unit_axes,
    "step_indexes": _step_indexes,
    "simple_rnn_activations": lambda: sequential(
        (6, 3), L.SimpleRNN(4, activation="relu", return_sequences=True),
        L.SimpleRNN(4, activation="sigmoid", return_sequences=True),
        L.SimpleRNN(3, activation=None), name="irnn"),
    # the time-series tutorials' relu LSTM, Keras 2's hard_sigmoid recurrent activation
    "recurrent_activations": lambda: sequential(
        (6, 3), L.LSTM(4, activation="relu", return_sequences=True),
        L.GRU(4, activation="softsign", recurrent_activation="hard_sigmoid",
              return_sequences=True),
        L.GRU(3, activation="relu", recurrent_activation="hard_sigmoid", reset_after=False,
              return_sequences=True),
        L.SimpleRNN(3, activation="hard_tanh", return_sequences=True),
        L.LSTM(2, recurrent_activation="hard_sigmoid"), name="recurrent_activations"),
    # prediction ignores the rates, as Keras does
    "recurrent_dropout": lambda: sequential(
        (6, 3), L.LSTM(4, dropout=0.3, recurrent_dropout=0.2, return_sequences=True),
        L.Bidirectional(L.GRU(3, dropout=0.5, recurrent_dropout=0.5, return_sequences=True)),
        L.SimpleRNN(2, dropout=0.4, recurrent_dropout=0.1), name="recurrent_dropout"),
    "caffe_preprocessing": _caffe_preprocessing,
    "seq2seq_states_LSTM": lambda: _seq2seq_states("LSTM"),
    "seq2seq_states_GRU": lambda: _seq2seq_states("GRU"),
    "seq2seq_states_SimpleRNN": lambda: _seq2seq_states("SimpleRNN"),
    "seq2seq_attention": _seq2seq_attention,
    "separable_sequences": _separable_sequences,
    "resizing": _resizing,
    "wavenet_dilated_causal": _wavenet,
    "dilated_images": _dilated_images,
    "channels_first_cnn": _channels_first_cnn,
    "channels_first_lenet": _channels_first_lenet,
    "channels_first_sequence": _channels_first_sequence,
    "axis_layers": _axis_layers,
    "named_outputs": _named_outputs,
    "dot_vectors": _dot_vectors,
    "dot_sequences": _dot_sequences,
    "sequence_resizing": _sequence_resizing,
    "timeseries_transformer": _timeseries_transformer,
    "conv1d_transpose_same": lambda: _conv1d_transpose("same"),
    "conv1d_transpose_valid": lambda: _conv1d_transpose("valid"),
    "conv1d_transpose_output_padding": lambda: _conv1d_transpose("same", 1),
    "unet_channel_softmax": _unet,
    "bidirectional_outputs_used": _bidirectional_outputs_used,
    "squeeze_excite": _squeeze_excite,
    "keras_ops": _keras_ops,
    "broadcast_merges": _broadcast_merges,
    "activations": _activations,
    "custom_scale_layer": _custom_scale,
    "dense_on_image": lambda: sequential((3, 4, 5), L.Dense(6, activation="gelu"),
                                         L.Conv2D(2, 1), name="dense_on_image"),
    "group_norm_image": lambda: sequential((4, 4, 6), L.GroupNormalization(3),
                                           L.Conv2D(2, 1), name="group_norm_image"),
    "group_norm_instance_image": lambda: sequential((3, 4, 4), L.GroupNormalization(
        -1, epsilon=0.01, center=False), L.Flatten(), name="instance_norm"),
    "group_norm_one_group_sequence": lambda: sequential((5, 6), L.GroupNormalization(
        1, scale=False), L.GRU(2), name="group_norm_one_group"),
    "group_norm_sequence": lambda: sequential((5, 6), L.GroupNormalization(2),
                                              name="group_norm_sequence"),
    "group_norm_vector": lambda: sequential((6,), L.GroupNormalization(3), name="gn_vector"),
    "group_norm_axis_1": lambda: sequential((4, 3, 3), L.GroupNormalization(2, axis=1),
                                            L.Flatten(), name="group_norm_axis_1"),
    "layer_norm_image": lambda: sequential((3, 4, 5), L.LayerNormalization(), L.Conv2D(2, 1),
                                           name="layer_norm_image"),
    "grouped_conv_as_depthwise": lambda: sequential((5, 5, 4), L.Conv2D(8, 3, groups=4,
                                                                        padding="same"),
                                                    name="grouped"),
    "grouped_conv": _grouped_conv,
    "layer_norm_last_axes": lambda: _layer_norm_last_axes(),
    "rms_normalization": lambda: _rms_normalization(),
    "rnn_cells": lambda: _rnn_cells(),
    "keras_ops_activations": _keras_ops_activations,
    "augmentations": _augmentations,
    "row_wise_activations": _row_wise_activations,
    "rescaling": lambda: sequential((4, 4, 3), L.Rescaling(1 / 255.0, offset=-0.5), L.Conv2D(2, 1),
                                    name="rescaling"),
    "rescaling_per_channel": lambda: sequential((5,), L.Rescaling([1.0, 2, 3, 4, 5], offset=1.0),
                                                name="rescaling_vector"),
    "normalization": lambda: sequential((4, 4, 3), L.Normalization(mean=[1, 2, 3],
                                                                  variance=[1, 4, 9]),
                                        L.Conv2D(2, 1), name="normalization"),
    "normalization_invert": lambda: sequential((3,), L.Normalization(
        mean=[1, 2, 3], variance=[1, 4, 9], invert=True), name="denormalization"),
    "normalization_adapted": _adapted_normalization,
    "cropping1d": lambda: sequential((7, 3), L.Cropping1D((2, 1)), L.Conv1D(2, 2),
                                     name="cropping1d"),
    "cropping2d": lambda: sequential((7, 6, 3), L.Cropping2D(((1, 2), (0, 3))), L.Conv2D(2, 2),
                                     L.Flatten(), name="cropping2d"),
    "cropping3d": lambda: sequential((5, 6, 4, 2), L.Cropping3D(((1, 0), (2, 1), (0, 1))),
                                     L.Reshape((-1,)), L.Dense(3), name="cropping3d"),
    "layer_scale": _layer_scale,
    "prelu": lambda: sequential((4, 3, 2), L.PReLU(), L.Flatten(), name="prelu"),
    "prelu_shared": lambda: sequential((4, 3, 2), L.PReLU(shared_axes=[1, 2]), L.Conv2D(2, 1),
                                       name="prelu_shared"),
    "prelu_sequence": lambda: sequential((5, 3), L.PReLU(shared_axes=[1]), name="prelu_seq"),
    "permute_sequence": lambda: sequential((5, 3), L.Permute((2, 1)), L.Dense(2), name="perm"),
    "permute_image": lambda: sequential((4, 3, 2), L.Permute((3, 1, 2)), L.Conv2D(2, 1),
                                        name="permute_image"),
    "repeat_vector": lambda: sequential((4,), L.RepeatVector(3), L.LSTM(2), name="repeat"),
    "noise_layers": lambda: sequential((6,), L.GaussianNoise(0.3), L.GaussianDropout(0.2),
                                       L.AlphaDropout(0.1), L.ActivityRegularization(0.1, 0.2),
                                       L.Dense(2), name="noise"),
    "auto_contrast": lambda: sequential((5, 5, 3), L.AutoContrast((0, 1)), L.Conv2D(2, 3),
                                        name="auto_contrast"),
    "spectral_normalization": lambda: sequential(
        (6, 6, 3), L.SpectralNormalization(L.Conv2D(4, 3)), L.Flatten(),
        L.SpectralNormalization(L.Dense(2), power_iterations=2), name="spectral_normalization"),
    "augmentation": lambda: sequential((8, 8, 3), L.RandomFlip(), L.RandomRotation(0.2),
                                       L.RandomZoom(0.1), L.RandomContrast(0.2),
                                       L.RandomTranslation(0.1, 0.1), L.Conv2D(2, 3),
                                       name="augmentation"),
    "self_attention": _self_attention,
    "self_attention_causal": lambda: _self_attention(causal=True),
    "self_attention_no_bias": lambda: _self_attention(heads=3, key_dim=2, value_dim=4,
                                                      use_bias=False),
    "self_attention_dropout": lambda: _self_attention(dropout=0.5),  # prediction ignores it
    "cross_attention": _cross_attention,
    "attention_output_shape": _attention_output_shape,
    "masked_attention": _masked_attention,
    "group_query_attention": _group_query_attention,
}
for _cell in ("SimpleRNN", "LSTM", "GRU"):
    for _sequences in (False, True):
        # go_backwards: Keras keeps a sequence output in the reversed order it computed it in
        MODELS[f"go_backwards_{_cell}_{'seq' if _sequences else 'last'}"] = (
            lambda c=_cell, s=_sequences: sequential(
                (6, 3), getattr(L, c)(4, go_backwards=True, return_sequences=s), L.Dense(2),
                name="go_backwards"))
    for _mode in ("concat", "sum", "mul", "ave", None):
        for _sequences in (False, True):
            MODELS[f"bidirectional_{_cell}_{_mode}_{'seq' if _sequences else 'last'}"] = (
                lambda c=_cell, m=_mode, s=_sequences: _bidirectional(getattr(L, c), m, s))


@pytest.mark.parametrize("name", list(MODELS))
def test_predicts_like_keras(name, assert_predicts_like_keras):
    model = randomize(MODELS[name](), seed=5, scale=0.7)
    if name == "normalization_adapted":  # statistics from adapt(), not random ones
        model.layers[0].adapt(ADAPT_DATA)
    inputs = sample_inputs(model, batch=4)
    if name == "masked_attention":
        inputs[1] = (np.random.default_rng(2).uniform(size=inputs[1].shape) > 0.3).astype(
            "float32")
        inputs[1][:, :, 0] = 1.0  # every query step sees at least one key step
    assert_predicts_like_keras(model, inputs, atol=ATOL)


# legacy .h5 files keep neither the module of a keras.ops call (told from a layer by its config)
# nor the sub-layer names of a .keras archive (MultiHeadAttention's attention_output)
H5 = ("simple_rnn_activations", "recurrent_activations", "caffe_preprocessing",
      "seq2seq_states_LSTM", "seq2seq_attention",
      "separable_sequences", "resizing", "wavenet_dilated_causal", "channels_first_cnn",
      "channels_first_lenet", "axis_layers", "named_outputs", "dot_vectors", "dot_sequences",
      "timeseries_transformer",
      "conv1d_transpose_valid", "self_attention", "cross_attention", "attention_output_shape", "keras_ops",
      "squeeze_excite", "broadcast_merges", "keras_ops_activations", "go_backwards_LSTM_seq",
      "scored_attention", "einsum_dense", "grouped_conv")


@pytest.mark.parametrize("name", H5)
def test_legacy_h5_predicts_like_keras(name, assert_predicts_like_keras):
    model = randomize(MODELS[name](), seed=6, scale=0.7)
    assert_predicts_like_keras(model, sample_inputs(model, batch=4), atol=ATOL, fmt="h5")


@pytest.mark.parametrize("fmt", ["keras", "h5"])
def test_a_last_axis_given_by_its_number_moves_nothing(fmt, tmp_path):
    """ResNet's BatchNormalization(axis=3) on images: no permutes in the prediction script (a
    legacy .h5 Sequential records no input shape, so its move_axis nodes resolve to copies and
    prediction drops them), and the batch norm still folds into its convolution."""
    from support.keras_models import compile_graph, save
    model = sequential((6, 6, 3), L.Conv2D(4, 3), L.BatchNormalization(axis=3),
                       L.Softmax(axis=3), name="last_axis")
    graph = compile_graph(save(model, tmp_path, fmt))
    assert [n.op for n in graph.nodes] == ["input", "conv2d", "batch_norm", "activation"]


def test_a_channels_first_stack_permutes_its_input_once(tmp_path):
    """Each channels_first layer is its channels_last self between two moves of the channels;
    a move back followed by the next layer's move to the end is dropped, Flatten's too, so
    only the input's move stays."""
    from support.keras_models import compile_graph, save
    graph = compile_graph(save(_channels_first_lenet(), tmp_path))
    assert [n.op for n in graph.nodes] == ["input", "move_axis", "conv2d", "activation",
                                           "max_pool2d", "conv2d", "activation", "flatten",
                                           "dense", "activation"]


def test_group_norm_over_an_open_length_is_refused_by_name(tmp_path):
    from support.keras_models import save
    from kerasdml.compiler.compile import compile_model
    from kerasdml.compiler.errors import UnsupportedAttributeError
    model = sequential((None, 4), L.GroupNormalization(2, name="gn"), name="open_length")
    with pytest.raises(UnsupportedAttributeError, match="'gn'.*fixed shape"):
        compile_model(save(model, tmp_path))
