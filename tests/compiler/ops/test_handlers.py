"""One case per layer handler: a tiny real Keras model, saved as .keras and read back.

Each case checks the IR ops, the attributes that matter, the output shape against Keras, that the
parameters are exactly the Keras weights, and that the numpy reference interpreter of the IR gives
Keras' predictions (so every attribute was read with Keras' meaning).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import pytest

from support.keras_models import (assert_matches_keras, assert_params_are_keras_weights, compile_graph,
                           keras, predict, randomize, sample_inputs, save, sequential)
from kerasdml.compiler import ir, ops
from kerasdml.compiler.ops import adaptive_pooling as ADAPTIVE
from kerasdml.compiler.ops import augmentation as AUG
from kerasdml.compiler.ops import conv_lstm as CLSTM
from kerasdml.compiler.ops import normalization as NORM
from kerasdml.compiler.ops import volumes as VOL

L = keras.layers


@dataclass
class Case:
    id: str
    build: Callable
    ops: list
    attrs: dict = field(default_factory=dict)  # node name -> expected attrs
    vocabulary: int | None = None


CASES = [
    Case("dense_relu", lambda: sequential((6,), L.Dense(4, activation="relu", name="d")),
         ["dense", "activation"], {"d": ops.Dense(4, True), "d/relu": ops.Activation("relu")}),
    Case("dense_no_bias_3d", lambda: sequential((5, 6), L.Dense(3, use_bias=False, name="d")),
         ["dense"], {"d": ops.Dense(3, False)}),
    *[Case(f"activation_{kind}", lambda kind=kind: sequential((7,), L.Activation(kind, name="a")),
           ["activation"])
      for kind in ("relu", "sigmoid", "tanh", "softmax", "elu", "selu", "gelu", "swish", "silu",
                   "softplus", "leaky_relu", "relu6")],
    Case("activation_linear", lambda: sequential((7,), L.Dense(3), L.Activation("linear")),
         ["dense"]),
    Case("activation_linear_alone_is_kept", lambda: sequential((7,), L.Activation("linear")),
         ["activation"]),
    Case("activation_leaky_default_slope", lambda: sequential((7,), L.Activation("leaky_relu",
                                                                                  name="a")),
         ["activation"], {"a": ops.Activation("leaky_relu", alpha=0.2)}),
    Case("relu_layer", lambda: sequential((7,), L.ReLU(max_value=0.5, negative_slope=0.1,
                                                       threshold=0.2, name="r")),
         ["activation"], {"r": ops.Activation("relu", alpha=0.1, max_value=0.5, threshold=0.2)}),
    Case("leaky_relu_layer", lambda: sequential((7,), L.LeakyReLU(negative_slope=0.05, name="l")),
         ["activation"], {"l": ops.Activation("leaky_relu", alpha=0.05)}),
    Case("elu_layer", lambda: sequential((7,), L.ELU(alpha=0.7, name="e")), ["activation"],
         {"e": ops.Activation("elu", alpha=0.7)}),
    Case("softmax_layer", lambda: sequential((3, 7), L.Softmax(name="s")), ["activation"],
         {"s": ops.Activation("softmax", axis=1)}),
    Case("dropout", lambda: sequential((6,), L.Dropout(0.5), L.Dense(2)), ["dense"]),
    Case("random_flip", lambda: sequential((4, 5, 3), L.RandomFlip("horizontal", name="f")),
         ["random_flip"], {"f": AUG.RandomFlip(True, False)}),
    Case("random_rotation", lambda: sequential((4, 5, 3), L.RandomRotation(
        (-0.1, 0.3), fill_mode="constant", fill_value=0.5, interpolation="nearest", name="r")),
         ["random_affine"], {"r": AUG.RandomAffine("rotation", (-0.1, 0.3), "constant", 0.5,
                                                   "nearest")}),
    Case("random_zoom_one_factor", lambda: sequential((4, 5, 3), L.RandomZoom(0.2, name="z")),
         ["random_affine"], {"z": AUG.RandomAffine("zoom", (-0.2, 0.2, -0.2, 0.2), same=True)}),
    Case("random_translation", lambda: sequential((4, 5, 3), L.RandomTranslation(
        0.1, (0.3, -0.2), fill_mode="wrap", name="t")),
         ["random_affine"], {"t": AUG.RandomAffine("translation", (-0.1, 0.1, -0.2, 0.3),
                                                   "wrap")}),
    Case("random_shear", lambda: sequential((4, 5, 3), L.RandomShear(
        (0.1, 0.3), 0.2, fill_mode="constant", fill_value=1.0, name="s")),
         ["random_affine"], {"s": AUG.RandomAffine("shear", (0.1, 0.3, -0.2, 0.2), "constant",
                                                   1.0)}),
    Case("random_crop", lambda: sequential((4, 5, 3), L.RandomCrop(4, 5, name="c")),
         ["augmentation"], {"c": AUG.Augmentation((4, 5))}),
    Case("random_contrast", lambda: sequential((4, 5, 3), L.RandomContrast(
        0.2, value_range=(0, 1), name="c")),
         ["random_contrast"], {"c": AUG.RandomContrast((0.0, 0.2), (0.0, 1.0))}),
    Case("random_brightness", lambda: sequential((4, 5, 3), L.RandomBrightness(0.2, name="b")),
         ["random_brightness"], {"b": AUG.RandomBrightness((-0.2, 0.2), (0.0, 255.0))}),
    Case("spatial_dropout2d", lambda: sequential((4, 4, 3), L.SpatialDropout2D(0.3),
                                                 L.Flatten()), ["flatten"]),
    Case("spatial_dropout3d", lambda: sequential((2, 4, 4, 3), L.SpatialDropout3D(0.3),
                                                 L.Flatten()), ["flatten"]),
    Case("flatten", lambda: sequential((3, 4, 2), L.Flatten(name="f")), ["flatten"]),
    Case("reshape", lambda: sequential((12,), L.Reshape((-1, 4), name="r")), ["reshape"],
         {"r": ops.Reshape((3, 4))}),
    Case("conv1d_same", lambda: sequential((9, 3), L.Conv1D(4, 4, strides=2, padding="same",
                                                            name="c")),
         ["conv1d"], {"c": ops.Conv1D(4, 4, 2, ir.Pad1D(1, 2), True)}),
    Case("conv1d_causal", lambda: sequential((9, 3), L.Conv1D(2, 3, padding="causal", name="c")),
         ["conv1d"], {"c": ops.Conv1D(2, 3, 1, ir.Pad1D(2, 0), True)}),
    Case("conv2d_valid", lambda: sequential((8, 7, 3), L.Conv2D(4, (3, 2), strides=(2, 1),
                                                                name="c")),
         ["conv2d"], {"c": ops.Conv2D(4, (3, 2), (2, 1), ir.Pad2D(0, 0, 0, 0), True)}),
    Case("conv2d_same_even_kernel", lambda: sequential((5, 5, 2), L.Conv2D(3, 2, padding="same",
                                                                           name="c")),
         ["conv2d"], {"c": ops.Conv2D(3, (2, 2), (1, 1), ir.Pad2D(0, 1, 0, 1), True)}),
    Case("conv2d_same_stride2", lambda: sequential((7, 8, 2), L.Conv2D(
        3, 4, strides=2, padding="same", activation="tanh", name="c")),
         ["conv2d", "activation"], {"c": ops.Conv2D(3, (4, 4), (2, 2), ir.Pad2D(1, 2, 1, 1), True)}),
    Case("depthwise", lambda: sequential((6, 6, 3), L.DepthwiseConv2D(
        3, depth_multiplier=2, strides=2, padding="same", name="dw")),
         ["depthwise_conv2d"], {"dw": ops.DepthwiseConv2D(2, (3, 3), (2, 2), ir.Pad2D(0, 1, 0, 1))}),
    Case("separable", lambda: sequential((6, 6, 3), L.SeparableConv2D(
        4, 3, padding="same", depth_multiplier=2, activation="relu", name="s")),
         ["depthwise_conv2d", "conv2d", "activation"],
         {"s/depthwise": ops.DepthwiseConv2D(2, (3, 3), (1, 1), ir.Pad2D(1, 1, 1, 1), False),
          "s": ops.Conv2D(4, (1, 1), (1, 1), ir.Pad2D(), True)}),
    *[Case(f"conv2d_transpose_{padding}_k{k}_s{s}", lambda padding=padding, k=k, s=s: sequential(
        (4, 5, 3), L.Conv2DTranspose(2, k, strides=s, padding=padding, name="t")),
           ["conv2d_transpose"])
      for padding in ("valid", "same") for k, s in ((3, 2), (4, 2), (2, 3), (3, 1))],
    Case("conv2d_transpose_output_padding", lambda: sequential((4, 4, 2), L.Conv2DTranspose(
        3, 3, strides=2, padding="same", output_padding=1, name="t")), ["conv2d_transpose"]),
    Case("max_pool2d_same", lambda: sequential((5, 7, 2), L.MaxPooling2D(3, strides=2,
                                                                         padding="same", name="p")),
         ["max_pool2d"], {"p": ops.Pool2D((3, 3), (2, 2), ir.Pad2D(1, 1, 1, 1))}),
    Case("avg_pool2d_same", lambda: sequential((5, 6, 2), L.AveragePooling2D(2, padding="same",
                                                                             name="p")),
         ["avg_pool2d"], {"p": ops.Pool2D((2, 2), (2, 2), ir.Pad2D(0, 1, 0, 0))}),
    Case("max_pool1d", lambda: sequential((9, 3), L.MaxPooling1D(2, name="p")), ["max_pool1d"],
         {"p": ops.Pool1D(2, 2, ir.Pad1D(0, 0))}),
    Case("avg_pool1d_same", lambda: sequential((9, 3), L.AveragePooling1D(
        3, strides=2, padding="same", name="p")), ["avg_pool1d"],
         {"p": ops.Pool1D(3, 2, ir.Pad1D(1, 1))}),
    *[Case(f"{cls.__name__}_keepdims{keep}", lambda cls=cls, keep=keep: sequential(
        (5, 4, 3) if cls.__name__.endswith("2D") else (6, 3), cls(keepdims=keep)),
           [op]) for cls, op in ((L.GlobalAveragePooling2D, "global_avg_pool2d"),
                                 (L.GlobalMaxPooling2D, "global_max_pool2d"),
                                 (L.GlobalAveragePooling1D, "global_avg_pool1d"),
                                 (L.GlobalMaxPooling1D, "global_max_pool1d"))
      for keep in (False, True)],
    Case("conv3d_valid_strides", lambda: sequential((5, 6, 4, 2), L.Conv3D(
        3, (3, 2, 2), strides=(2, 1, 2), name="c")),
         ["conv3d"], {"c": VOL.Conv3D(3, (3, 2, 2), (2, 1, 2), ((0, 0),) * 3, True)}),
    Case("conv3d_same_even_kernel_no_bias", lambda: sequential((4, 5, 3, 2), L.Conv3D(
        2, (2, 3, 2), strides=(1, 2, 2), padding="same", use_bias=False, activation="relu",
        name="c")),
         ["conv3d", "activation"],
         {"c": VOL.Conv3D(2, (2, 3, 2), (1, 2, 2), ((0, 1), (1, 1), (0, 1)), False)}),
    Case("conv3d_transpose_same_strides", lambda: sequential((3, 4, 3, 2), L.Conv3DTranspose(
        3, (3, 2, 2), strides=(2, 1, 2), padding="same", name="t")),
         ["conv3d_transpose"],
         {"t": VOL.Conv3DTranspose(3, (3, 2, 2), (2, 1, 2), ((0, 1), (0, 1), (0, 0)), True)}),
    Case("conv3d_transpose_valid_small_kernel", lambda: sequential((3, 4, 3, 2), L.Conv3DTranspose(
        2, (1, 2, 3), strides=(3, 2, 2), use_bias=False, activation="relu", name="t")),
         ["conv3d_transpose", "activation"],
         {"t": VOL.Conv3DTranspose(2, (1, 2, 3), (3, 2, 2), ((0, -2), (0, 0), (0, 0)), False)}),
    Case("conv3d_transpose_output_padding", lambda: sequential((3, 2, 3, 2), L.Conv3DTranspose(
        2, (3, 1, 3), strides=(2, 3, 2), padding="same", output_padding=(1, 2, 0), name="t")),
         ["conv3d_transpose"],
         {"t": VOL.Conv3DTranspose(2, (3, 1, 3), (2, 3, 2), ((0, 1), (0, -2), (1, 1)), True,
                                   (1, 2, 0))}),
    Case("max_pool3d_channels_first", lambda: sequential((2, 4, 5, 3), L.MaxPooling3D(
        2, padding="same", data_format="channels_first")),
         ["move_axis", "max_pool3d", "move_axis"]),
    Case("max_pool3d", lambda: sequential((4, 6, 5, 2), L.MaxPooling3D(2, name="p")),
         ["max_pool3d"], {"p": VOL.Pool3D((2, 2, 2), (2, 2, 2), ((0, 0),) * 3)}),
    Case("max_pool3d_same", lambda: sequential((5, 4, 5, 2), L.MaxPooling3D(
        (3, 2, 3), strides=(2, 1, 2), padding="same", name="p")),
         ["max_pool3d"], {"p": VOL.Pool3D((3, 2, 3), (2, 1, 2), ((1, 1), (0, 1), (1, 1)))}),
    Case("avg_pool3d_same", lambda: sequential((5, 4, 3, 2), L.AveragePooling3D(
        2, padding="same", name="p")),
         ["avg_pool3d"], {"p": VOL.Pool3D((2, 2, 2), (2, 2, 2), ((0, 1), (0, 0), (0, 1)))}),
    Case("avg_pool3d_valid_strides", lambda: sequential((5, 4, 6, 3), L.AveragePooling3D(
        (3, 2, 2), strides=1)), ["avg_pool3d"]),
    *[Case(f"{cls.__name__}_keepdims{keep}", lambda cls=cls, keep=keep: sequential(
        (3, 5, 4, 2), cls(keepdims=keep)), [op])
      for cls, op in ((L.GlobalAveragePooling3D, "global_avg_pool3d"),
                      (L.GlobalMaxPooling3D, "global_max_pool3d"))
      for keep in (False, True)],
    Case("adaptive_avg_pool2d", lambda: sequential((7, 9, 2), L.AdaptiveAveragePooling2D(
        (2, 3), name="p")), ["adaptive_avg_pool"], {"p": ADAPTIVE.AdaptivePool((2, 3))}),
    Case("adaptive_max_pool2d_longer", lambda: sequential((5, 2, 3), L.AdaptiveMaxPooling2D(
        (2, 4), name="p")), ["adaptive_max_pool"], {"p": ADAPTIVE.AdaptivePool((2, 4))}),
    Case("adaptive_max_pool1d", lambda: sequential((10, 3), L.AdaptiveMaxPooling1D(4, name="p")),
         ["adaptive_max_pool"], {"p": ADAPTIVE.AdaptivePool((4,))}),
    Case("adaptive_avg_pool1d_channels_first", lambda: sequential(
        (3, 7), L.AdaptiveAveragePooling1D(3, data_format="channels_first")),
         ["move_axis", "adaptive_avg_pool", "move_axis"]),
    Case("adaptive_avg_pool3d", lambda: sequential((5, 4, 6, 2), L.AdaptiveAveragePooling3D(
        (2, 4, 4), name="p")), ["adaptive_avg_pool"], {"p": ADAPTIVE.AdaptivePool((2, 4, 4))}),
    Case("adaptive_max_pool3d", lambda: sequential((5, 4, 6, 2), L.AdaptiveMaxPooling3D(
        (3, 2, 4))), ["adaptive_max_pool"]),
    Case("zero_padding3d", lambda: sequential((2, 3, 4, 2), L.ZeroPadding3D(
        ((1, 0), (2, 1), (0, 3)), name="z")),
         ["zero_pad3d"], {"z": VOL.ZeroPad3D(((1, 0), (2, 1), (0, 3)))}),
    Case("zero_padding3d_channels_first", lambda: sequential((2, 3, 4, 2), L.ZeroPadding3D(
        1, data_format="channels_first")), ["move_axis", "zero_pad3d", "move_axis"]),
    Case("upsampling3d", lambda: sequential((2, 3, 2, 3), L.UpSampling3D((2, 1, 3), name="u")),
         ["upsample3d"], {"u": VOL.UpSample3D((2, 1, 3))}),
    Case("volume_batch_norm_flatten", lambda: sequential(
        (3, 4, 2, 3), L.BatchNormalization(name="b"), L.Flatten(), L.Dense(2)),
         ["batch_norm", "flatten", "dense"]),
    Case("zero_padding2d", lambda: sequential((3, 4, 2), L.ZeroPadding2D(((1, 2), (0, 3)),
                                                                         name="z")),
         ["zero_pad2d"], {"z": ops.ZeroPad2D(ir.Pad2D(1, 2, 0, 3))}),
    Case("upsampling2d", lambda: sequential((3, 4, 2), L.UpSampling2D((2, 3), name="u")),
         ["upsample2d"], {"u": ops.UpSample2D((2, 3))}),
    Case("dilated_convolutions", lambda: sequential(
        (9, 8, 2), L.Conv2D(3, 3, dilation_rate=(2, 1), padding="same", name="c"),
        L.DepthwiseConv2D(2, dilation_rate=2), L.Reshape((-1, 3)),
        L.Conv1D(2, 3, dilation_rate=3, padding="causal")),
         ["conv2d", "depthwise_conv2d", "reshape", "conv1d"],
         {"c": ops.Conv2D(3, (3, 3), (1, 1), ir.Pad2D(2, 2, 1, 1), True, (2, 1))}),
    Case("zero_padding1d", lambda: sequential((5, 3), L.ZeroPadding1D((2, 1), name="z")),
         ["zero_pad1d"], {"z": ops.ZeroPad1D(ir.Pad1D(2, 1))}),
    Case("upsampling1d", lambda: sequential((5, 3), L.UpSampling1D(3, name="u")),
         ["upsample1d"], {"u": ops.UpSample1D(3)}),
    Case("identity", lambda: sequential((4,), L.Identity(), L.Dense(2)), ["dense"]),
    Case("batch_norm_conv", lambda: sequential((4, 4, 3), L.BatchNormalization(epsilon=0.01,
                                                                               name="b")),
         ["batch_norm"], {"b": ops.BatchNorm(0.01, True, True, 0.99, 2)}),
    Case("batch_norm_dense_no_center", lambda: sequential((5,), L.BatchNormalization(
        center=False, name="b")), ["batch_norm"], {"b": ops.BatchNorm(1e-3, False, True, 0.99, 0)}),
    Case("layer_norm", lambda: sequential((3, 6), L.LayerNormalization(name="n")),
         ["layer_norm"], {"n": ops.LayerNorm(1e-3, True, True, 1)}),
    Case("group_norm_image", lambda: sequential((4, 4, 6), L.GroupNormalization(3, name="n")),
         ["group_norm"], {"n": NORM.GroupNorm(3, 1e-3, True, True, 2)}),
    Case("group_norm_instance_sequence", lambda: sequential((5, 4), L.GroupNormalization(
        -1, epsilon=0.01, center=False, name="n")),
         ["group_norm"], {"n": NORM.GroupNorm(4, 0.01, False, True, 1)}),
    Case("embedding", lambda: sequential((5,), L.Embedding(11, 4, name="e"), dtype="int32"),
         ["embedding"], {"e": ops.Embedding(11, 4)}, vocabulary=11),
    Case("simple_rnn_sequences", lambda: sequential((5, 3), L.SimpleRNN(4, return_sequences=True,
                                                                        name="r")),
         ["simple_rnn"], {"r": ops.Recurrent(4, "tanh", "sigmoid", True, True, True)}),
    Case("lstm_last", lambda: sequential((5, 3), L.LSTM(4, name="r")), ["lstm"]),
    Case("lstm_sequences_no_bias", lambda: sequential((5, 3), L.LSTM(
        2, return_sequences=True, use_bias=False, name="r")), ["lstm"]),
    Case("gru_reset_after", lambda: sequential((5, 3), L.GRU(4, name="r")), ["gru"]),
    Case("gru_reset_before", lambda: sequential((5, 3), L.GRU(3, reset_after=False,
                                                              return_sequences=True, name="r")),
         ["gru"], {"r": ops.Recurrent(3, "tanh", "sigmoid", True, True, False)}),
    Case("conv_lstm2d_same_sequences", lambda: sequential((3, 5, 4, 2), L.ConvLSTM2D(
        3, (3, 2), padding="same", return_sequences=True, activation="relu", name="r")),
         ["conv_lstm2d"], {"r": CLSTM.ConvLSTM(3, (3, 2), ((1, 1), (0, 1)), "relu", "sigmoid",
                                               True)}),
    Case("conv_lstm2d_valid_backwards", lambda: sequential((3, 5, 4, 2), L.ConvLSTM2D(
        2, 2, go_backwards=True, use_bias=False, name="r")),
         ["reverse_steps", "conv_lstm2d"],
         {"r": CLSTM.ConvLSTM(2, (2, 2), ((0, 0), (0, 0)), use_bias=False)}),
    Case("conv_lstm1d_valid_backwards_last", lambda: sequential((4, 6, 2), L.ConvLSTM1D(
        2, 3, go_backwards=True, name="r")), ["reshape", "reverse_steps", "conv_lstm2d",
                                              "reshape"]),
    Case("conv_lstm1d_same_sequences", lambda: sequential((4, 6, 2), L.ConvLSTM1D(
        3, 2, padding="same", return_sequences=True, name="r")),
         ["reshape", "conv_lstm2d", "reshape"]),
    Case("time_distributed_dense", lambda: sequential((4, 3), L.TimeDistributed(
        L.Dense(2, activation="relu"), name="td")), ["dense", "activation"]),
]


def _build(case: Case):
    keras.utils.set_random_seed(0)
    return randomize(case.build(), seed=3)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_handler(case, tmp_path):
    model = _build(case)
    graph = compile_graph(save(model, tmp_path))
    assert [n.op for n in graph.nodes if n.op != "input"] == case.ops
    for name, attrs in case.attrs.items():
        assert graph.node(name).attrs == attrs
    inputs = sample_inputs(model, vocabulary=case.vocabulary)
    assert graph.shape(graph.outputs[0]) == predict(model, inputs)[0].shape[1:]
    assert_params_are_keras_weights(graph, model)
    assert_matches_keras(graph, model, inputs)


@pytest.mark.parametrize("case", [c for c in CASES if c.id in (
    "dense_relu", "conv2d_same_stride2", "separable", "batch_norm_conv", "lstm_last",
    "gru_reset_after", "embedding", "time_distributed_dense", "group_norm_image")],
    ids=lambda c: c.id)
def test_handler_from_legacy_h5_and_memory(case, tmp_path):
    model = _build(case)
    from_keras = compile_graph(save(model, tmp_path))
    for source in (save(model, tmp_path, "h5"), model):
        graph = compile_graph(source)
        assert [(n.name, n.op, n.attrs, n.shapes) for n in graph.nodes] == \
            [(n.name, n.op, n.attrs, n.shapes) for n in from_keras.nodes]
        assert_params_are_keras_weights(graph, model)


def test_every_supported_class_has_a_case():
    from kerasdml.compiler.frontend import supported_classes
    from test_layer_parity import MODELS
    from test_masking import MODELS as MASKED
    from test_keras_ops_math import MODELS as MATH
    from test_preprocessing import encoded_features
    from kerasdml.compiler.frontend.config import class_name_of
    covered = {type(layer).__name__ for case in CASES for layer in _build(case).layers}
    covered |= {"InputLayer", "SpatialDropout1D"}
    for build in (*MODELS.values(), *MASKED.values(), *MATH.values(),  # the parity models'
                  encoded_features):                                      # layers and ops
        covered |= {class_name_of(e) for e in build().get_config()["layers"]}
    merge = {"Add", "Subtract", "Multiply", "Average", "Maximum", "Concatenate"}  # test_graphs
    assert set(supported_classes()) - covered - merge == set()


def test_supported_table_comes_from_the_registry():
    from kerasdml.compiler.frontend import supported_table
    rows = dict(supported_table())
    assert rows["Conv2D"].startswith("Conv2D(") and rows["LSTM"]
    assert all(doc for doc in rows.values())


def test_registry_refuses_a_second_handler_for_a_class():
    from kerasdml.compiler.frontend.registry import handles
    with pytest.raises(ValueError, match="two handlers for Keras class Dense"):
        handles("Dense")(lambda ctx: [])
