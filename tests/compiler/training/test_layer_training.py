"""Training parity of the newer layers: two epochs of Keras2DML give the weights model.fit gives
(to 1e-4), for a Transformer encoder block, a BiLSTM classifier and a MobileNetV3-style block
with squeeze-and-excite and hard-swish built from keras.ops. Attention dropout draws its own
masks, so a block with it is compared with Keras only at a rate that keeps every probability."""
from __future__ import annotations

import numpy as np
import pytest

from support.keras_models import (assert_trains_like_keras, ct_scan_classifier, encoder_block,
                                  keras, randomize)
from kerasdml.compiler.estimator import Keras2DML

L = keras.layers
RNG = np.random.default_rng(11)


def transformer_block(dropout=0.0):
    return encoder_block(lambda x: L.MultiHeadAttention(2, 4, dropout=dropout)(x, x),
                         "transformer")


def attention_output_shape():
    """MultiHeadAttention(output_shape=6) projects to 6 features, not the query's 4."""
    x = keras.Input((5, 4))
    y = L.MultiHeadAttention(2, 3, output_shape=6)(x, x)
    return keras.Model(x, L.Dense(3, activation="softmax")(L.GlobalAveragePooling1D()(y)),
                       name="attention_output_shape")


def positioned_transformer():
    """A position embedding computed while the model was built (Keras stores its values, a
    constant): added to the steps, and a per-step constant scaling them; the classifier reads
    the first step and a span of steps."""
    x = keras.Input((6, 8))
    positions = L.Embedding(6, 8)(keras.ops.arange(0, 6, 1))
    scales = L.Embedding(6, 1, embeddings_initializer="ones")(keras.ops.arange(0, 6, 1))
    y = (x + positions) * scales
    attention = L.MultiHeadAttention(2, 4)(y, y)
    y = L.LayerNormalization()(L.Add()([y, attention]))
    token = L.Concatenate()([y[:, 0], L.Flatten()(y[:, 2:4])])    # a class token, a span
    return keras.Model(x, L.Dense(3, activation="softmax")(token), name="positioned_transformer")


def bilstm():
    x = keras.Input((5, 4))
    y = L.Bidirectional(L.LSTM(4, return_sequences=True))(x)
    y = L.Bidirectional(L.GRU(3), merge_mode="ave")(y)
    return keras.Model(x, L.Dense(3, activation="softmax")(y), name="bilstm")


def squeeze_excite_block():
    x = keras.Input((6, 6, 3))
    y = L.Conv2D(4, 3, padding="same")(x)
    y = y * keras.ops.relu6(y + 3.0) / 6.0  # hard swish, as MobileNetV3 writes it
    y = L.DepthwiseConv2D(3, padding="same")(y)
    s = L.GlobalAveragePooling2D(keepdims=True)(y)
    s = L.Conv2D(2, 1, activation="relu")(s)
    s = L.Conv2D(4, 1, activation="hard_sigmoid")(s)
    y = L.Multiply()([y, s])
    y = L.Conv2D(3, 1)(y)
    y = L.Add()([x, y])
    y = L.GlobalAveragePooling2D()(y)
    return keras.Model(x, L.Dense(3, activation="softmax")(y), name="se_block")


def channel_softmax():
    """Row-wise activations over an image's channels (a segmentation head's softmax)."""
    x = keras.Input((4, 4, 3))
    y = L.Conv2D(4, 1, activation="softmax")(x)
    y = L.Activation("log_softmax")(L.Conv2D(3, 1)(y))
    return keras.Model(x, L.Dense(3, activation="softmax")(L.Flatten()(y)), name="channel_softmax")


def backwards_rnn():
    x = keras.Input((5, 4))
    y = L.GRU(3, go_backwards=True, return_sequences=True)(x)
    return keras.Model(x, L.Dense(3, activation="softmax")(L.LSTM(3, go_backwards=True)(y)),
                       name="backwards_rnn")


def sequence_autoencoder_head():
    """keras.io's timeseries autoencoder pieces (Conv1DTranspose) and its Transformer's pooling
    of each step's features (GlobalAveragePooling1D with channels_first)."""
    x = keras.Input((8, 2))
    y = L.Conv1D(4, 3, strides=2, padding="same", activation="relu")(x)
    y = L.SeparableConv1D(4, 2, padding="same", depth_multiplier=2)(L.DepthwiseConv1D(2)(y))
    y = L.Conv1DTranspose(3, 3, strides=2, padding="same", activation="relu")(y)
    y = L.UpSampling1D(2)(L.ZeroPadding1D((1, 0))(y))
    y = L.Conv1DTranspose(2, 2, strides=1, padding="valid")(y)
    y = L.GlobalAveragePooling1D(data_format="channels_first")(y)
    return keras.Model(x, L.Dense(3, activation="softmax")(y), name="sequence_autoencoder")


def pointnet_transform():
    """PointNet's learned transform (Dot of a sequence and a matrix) and a cosine Dot."""
    x = keras.Input((6, 3))
    transform = L.Reshape((3, 3))(L.Dense(9)(L.GlobalMaxPooling1D()(x)))
    y = L.Dot(axes=(2, 1))([x, transform])
    y = L.GlobalMaxPooling1D()(L.Conv1D(4, 1, activation="relu")(y))
    z = L.Dense(4)(L.Flatten()(x))
    cosine = L.Dot(axes=1, normalize=True)([y, z])
    return keras.Model(x, L.Dense(3, activation="softmax")(L.Concatenate()([y, cosine])),
                       name="pointnet_transform")


def channels_first_cnn():
    """channels_first layers and normalisations over a non-last axis."""
    first = dict(data_format="channels_first")
    x = keras.Input((2, 6, 6))
    y = L.Conv2D(3, 3, padding="same", activation="relu", **first)(x)
    y = L.MaxPooling2D(2, **first)(L.BatchNormalization(axis=1)(y))
    y = L.Reshape((3, 9))(y)
    y = L.LayerNormalization(axis=1)(L.Softmax(axis=1)(y))
    return keras.Model(x, L.Dense(3, activation="softmax")(L.Flatten()(y)), name="first_cnn")


def dilated_convolutions():
    x = keras.Input((12, 2))
    y = L.Conv1D(3, 2, padding="causal", dilation_rate=2, activation="tanh")(x)
    y = L.Conv1D(3, 3, padding="same", dilation_rate=3)(y)
    image = L.Reshape((6, 6, 1))(L.Flatten()(y))
    image = L.Conv2D(2, 3, dilation_rate=(2, 1), padding="same", activation="relu")(image)
    image = L.DepthwiseConv2D(2, dilation_rate=2)(image)
    return keras.Model(x, L.Dense(3, activation="softmax")(L.Flatten()(image)), name="dilated")


def bilinear_decoder():
    x = keras.Input((4, 4, 2))
    y = L.UpSampling2D(2, interpolation="bilinear")(L.Conv2D(3, 1, activation="relu")(x))
    y = L.CenterCrop(6, 6)(L.Conv2D(2, 3, padding="same")(y))
    y = L.Resizing(3, 5)(y)
    y = L.Resizing(4, 3, interpolation="nearest")(y)
    return keras.Model(x, L.Dense(3, activation="softmax")(L.Flatten()(y)), name="bilinear")


def dot_attention():
    x = keras.Input((5, 4))
    keys = L.Dense(4)(x)
    y = L.Attention()([L.Dense(4)(x), x, keys])
    y = L.UnitNormalization()(L.GlobalAveragePooling1D()(y))
    return keras.Model(x, L.Dense(3, activation="softmax")(y), name="dot_attention")


def additive_attention():
    """Bahdanau attention: AdditiveAttention's learned scale per feature, Attention's concat
    scores with a learned scale and score weight, and causal dot scores with a learned scale."""
    x = keras.Input((5, 4))
    query = L.Dense(4)(x)
    y = L.Concatenate()([L.AdditiveAttention()([query, x]),
                         L.Attention(score_mode="concat", use_scale=True)([query, x]),
                         L.Attention(use_scale=True)([x, query], use_causal_mask=True)])
    return keras.Model(x, L.Dense(3, activation="softmax")(L.GlobalAveragePooling1D()(y)),
                       name="additive_attention")


def einsum_heads():
    """EinsumDense into heads and back, as a hand-written attention block projects."""
    x = keras.Input((5, 4))
    heads = L.EinsumDense("abc,cde->abde", output_shape=(5, 2, 3), bias_axes="de",
                          activation="tanh")(x)
    y = L.EinsumDense("abcd,cde->abe", output_shape=(5, 4), bias_axes="e")(heads)
    y = L.EinsumDense("...b,bc->...c", output_shape=3)(L.Add()([x, y]))
    return keras.Model(x, L.Dense(3, activation="softmax")(L.Flatten()(y)), name="einsum_heads")


def resnext_block():
    """A ResNeXt block: 1x1, a grouped 3x3 (4 groups, strided), 1x1, added to a projection."""
    x = keras.Input((6, 6, 4))
    y = L.Conv2D(8, 1, activation="relu")(x)
    y = L.Conv2D(8, 3, strides=2, padding="same", groups=4, activation="relu")(y)
    y = L.Conv2D(6, 1)(y)
    y = L.Add()([y, L.Conv2D(6, 1, strides=2)(x)])
    return keras.Model(x, L.Dense(3, activation="softmax")(L.GlobalAveragePooling2D()(y)),
                       name="resnext_block")


def layer_norm_last_axes():
    """LayerNormalization over an image's height, width and channels, trained (gamma and beta
    of the image's shape)."""
    x = keras.Input((4, 4, 2))
    y = L.LayerNormalization(axis=[1, 2, 3])(L.Conv2D(3, 3, padding="same")(x))
    return keras.Model(x, L.Dense(3, activation="softmax")(L.Flatten()(y)), name="norm_axes")


def regularized_attention():
    """MultiHeadAttention's kernel and bias penalties and bias constraint (Keras gives every
    projection the layer's)."""
    x = keras.Input((5, 4))
    y = L.MultiHeadAttention(2, 3, kernel_regularizer=keras.regularizers.L2(0.05),
                             bias_regularizer=keras.regularizers.L1(0.01),
                             bias_constraint=keras.constraints.NonNeg())(x, x)
    return keras.Model(x, L.Dense(3, activation="softmax")(L.GlobalAveragePooling1D()(y)),
                       name="regularized_attention")


def rms_normalized_block():
    """RMSNormalization before and after a feed-forward block, as LLM-style models place it."""
    x = keras.Input((5, 4))
    y = L.Dense(4, activation="gelu")(L.RMSNormalization()(x))
    y = L.RMSNormalization(epsilon=1e-3)(L.Add()([x, y]))
    return keras.Model(x, L.Dense(3, activation="softmax")(L.Flatten()(y)), name="rms_block")


def rnn_cells():
    """keras.layers.RNN around an LSTMCell returning sequences, then around a GRUCell."""
    x = keras.Input((6, 3))
    y = L.RNN(L.LSTMCell(4), return_sequences=True)(x)
    return keras.Model(x, L.Dense(3, activation="softmax")(L.RNN(L.GRUCell(3))(y)),
                       name="rnn_cells")


def encoder_decoder():
    """The encoder's final state starts the decoder: gradients flow back through
    initial_state (and through return_state's last hidden state)."""
    x = keras.Input((5, 4))
    encoded, state = L.GRU(3, return_state=True)(x)
    decoded = L.LSTM(3, return_sequences=True)(L.Dense(3)(x), initial_state=[state, encoded])
    y = L.Concatenate()([L.GlobalAveragePooling1D()(decoded), state])
    return keras.Model(x, L.Dense(3, activation="softmax")(y), name="encoder_decoder")


def irnn():
    x = keras.Input((6, 3))
    y = L.SimpleRNN(4, activation="relu", return_sequences=True)(x)
    y = L.SimpleRNN(3, activation="sigmoid")(y)
    return keras.Model(x, L.Dense(3, activation="softmax")(y), name="irnn")


def recurrent_activations():
    """The time-series tutorials' relu LSTM, then a GRU with Keras 2's hard_sigmoid gates."""
    x = keras.Input((6, 3))
    y = L.LSTM(4, activation="relu", return_sequences=True)(x)
    y = L.GRU(3, activation="softsign", recurrent_activation="hard_sigmoid",
              reset_after=False)(y)
    return keras.Model(x, L.Dense(3, activation="softmax")(y), name="recurrent_activations")


def group_norm_cnn():
    """GroupNormalization on images (2 groups, then instance normalization) and sequences."""
    x = keras.Input((6, 6, 3))
    y = L.GroupNormalization(2)(L.Conv2D(4, 3, padding="same")(x))
    y = L.GroupNormalization(-1, scale=False)(L.Activation("tanh")(y))
    y = L.Reshape((9, 4))(L.AveragePooling2D(2)(y))
    y = L.GroupNormalization(1, center=False)(L.Conv1D(4, 2)(y))
    return keras.Model(x, L.Dense(3, activation="softmax")(L.GlobalAveragePooling1D()(y)),
                       name="group_norm_cnn")


def volume_resampling():
    """Volumes with strides, uneven "same" padding, upsampling, zero padding, average pooling
    and a global maximum."""
    x = keras.Input((4, 5, 4, 2))
    y = L.Conv3D(3, (2, 3, 2), strides=(1, 2, 1), padding="same", activation="tanh")(x)
    y = L.ZeroPadding3D(((1, 0), (0, 1), (1, 1)))(L.UpSampling3D((2, 1, 2))(y))
    y = L.AveragePooling3D(2, strides=(2, 1, 2), padding="same")(L.Conv3D(4, 2)(y))
    y = L.GlobalMaxPooling3D()(y)
    return keras.Model(x, L.Dense(3, activation="softmax")(y), name="volume_resampling")


def conv_lstm_frames():
    """Convolutional LSTMs: "same" padding returning every frame, BatchNormalization of the
    frames, then an even kernel, "valid", read backwards, returning the last frame."""
    x = keras.Input((4, 6, 6, 1))
    y = L.ConvLSTM2D(3, 3, padding="same", return_sequences=True, activation="relu")(x)
    y = L.ConvLSTM2D(2, 2, go_backwards=True)(L.BatchNormalization()(y))
    return keras.Model(x, L.Dense(3, activation="softmax")(L.GlobalAveragePooling2D()(y)),
                       name="conv_lstm_frames")


def conv_lstm_sequences():
    """ConvLSTM1D (ConvLSTM2D on frames of height 1) returning every step, then the last."""
    x = keras.Input((5, 6, 2))
    y = L.ConvLSTM1D(3, 3, padding="same", return_sequences=True)(x)
    y = L.ConvLSTM1D(2, 2, go_backwards=True, activation="relu")(y)
    return keras.Model(x, L.Dense(3, activation="softmax")(L.Flatten()(y)),
                       name="conv_lstm_sequences")


CASES = {"transformer_block": (transformer_block, (24, 6, 8)),
         "irnn": (irnn, (16, 6, 3)),
         "recurrent_activations": (recurrent_activations, (16, 6, 3)),
         "encoder_decoder": (encoder_decoder, (16, 5, 4)),
         "dot_attention": (dot_attention, (16, 5, 4)),
         "attention_output_shape": (attention_output_shape, (16, 5, 4)),
         "additive_attention": (additive_attention, (16, 5, 4)),
         "einsum_heads": (einsum_heads, (16, 5, 4)),
         "resnext_block": (resnext_block, (16, 6, 6, 4)),
         "layer_norm_last_axes": (layer_norm_last_axes, (16, 4, 4, 2)),
         "regularized_attention": (regularized_attention, (16, 5, 4)),
         "rms_normalized_block": (rms_normalized_block, (16, 5, 4)),
         "rnn_cells": (rnn_cells, (16, 6, 3)),
         "bilinear_decoder": (bilinear_decoder, (16, 4, 4, 2)),
         "dilated_convolutions": (dilated_convolutions, (16, 12, 2)),
         "channels_first_cnn": (channels_first_cnn, (16, 2, 6, 6)),
         "pointnet_transform": (pointnet_transform, (16, 6, 3)),
         "sequence_autoencoder_head": (sequence_autoencoder_head, (16, 8, 2)),
         "channel_softmax": (channel_softmax, (16, 4, 4, 3)),
         "backwards_rnn": (backwards_rnn, (16, 5, 4)),
         # the dropout path with a mask that keeps all: Keras' and the DML's scale is 1 / (1 - 1e-9)
         "transformer_block_attention_dropout": (lambda: transformer_block(dropout=1e-9),
                                                 (24, 6, 8)),
         "bilstm": (bilstm, (24, 5, 4)),
         "positioned_transformer": (positioned_transformer, (24, 6, 8)),
         "squeeze_excite_block": (squeeze_excite_block, (16, 6, 6, 3)),
         "group_norm_cnn": (group_norm_cnn, (16, 6, 6, 3)),
         "volume_resampling": (volume_resampling, (16, 4, 5, 4, 2)),
         "conv_lstm_frames": (conv_lstm_frames, (16, 4, 6, 6, 1)),
         "conv_lstm_sequences": (conv_lstm_sequences, (16, 5, 6, 2))}


@pytest.mark.parametrize("name", list(CASES))
def test_two_epochs_give_keras_weights(name, tmp_path):
    build, shape = CASES[name]
    model = randomize(build(), seed=3, scale=0.5)
    x = RNG.normal(size=shape).astype("float32")
    y = RNG.integers(0, 3, shape[0])
    assert_trains_like_keras(model, x, y, tmp_path)



def test_ct_scan_classifier_trains_like_keras(tmp_path):
    """keras.io's CT-scan volume classifier (without its Dropout, which draws its own masks),
    binary cross-entropy: Conv3D, MaxPool3D, BatchNormalization on volumes, global pooling.
    A convolution's bias before BatchNormalization has a gradient near zero, which Adam's
    default epsilon would turn from Keras' float32 rounding into whole steps: epsilon 1e-3."""
    rng = np.random.default_rng(0)
    model = randomize(ct_scan_classifier(dropout=0.0), seed=3, scale=0.5)
    x = rng.normal(size=(16, 8, 16, 16, 1)).astype("float32")
    y = rng.integers(0, 2, (16, 1)).astype("float32")
    assert_trains_like_keras(model, x, y, tmp_path, loss="binary_crossentropy",
                             optimizer=keras.optimizers.Adam(0.01, epsilon=1e-3))


def _attention_dropout_fit(dropout, x, y, epochs, seed=7):
    model = randomize(transformer_block(dropout), seed=3, scale=0.5)
    model.compile(optimizer=keras.optimizers.Adam(0.03), loss="sparse_categorical_crossentropy")
    estimator = Keras2DML(model, epochs=epochs, batch_size=8, shuffle=False, seed=seed, verbose=0)
    return estimator.fit(x, y), model


def _learnable_sequences():
    x = np.random.default_rng(5).normal(size=(32, 6, 8)).astype("float32")
    return x, np.argmax(x[:, :, :3].mean(axis=1), axis=1)


def test_attention_dropout_trains_as_keras_does():
    x, y = _learnable_sequences()
    estimator, model = _attention_dropout_fit(0.1, x, y, epochs=8)
    losses = estimator.history_["loss"]
    keras.utils.set_random_seed(7)
    keras_losses = model.fit(x, y, epochs=8, batch_size=8, shuffle=False, verbose=0).history
    assert losses[-1] < 0.7 * losses[0], losses
    assert losses[-1] < keras_losses["loss"][-1] + 0.15, (losses, keras_losses)
    assert "dropout::forward" in estimator.get_training_script()
    assert "dropout::" not in estimator.get_prediction_script()



def test_attention_dropout_masks_follow_the_seed():
    x, y = _learnable_sequences()

    def loss(rate, seed):
        return _attention_dropout_fit(rate, x, y, 1, seed)[0].history_["loss"][0]
    first = loss(0.1, 7)
    assert loss(0.1, 7) == first                  # the same seed draws the same masks
    assert loss(0.1, 8) != first                  # another seed, other masks
    assert abs(loss(0.0, 7) - first) > 1e-6       # the masks drop probabilities


def scaled_cnn():
    """Per-channel factors laid over whole images in every batch: Rescaling and Normalization
    (fixed), PReLU with one slope per channel (learned)."""
    x = keras.Input((5, 5, 3))
    y = L.Rescaling(1.0 / 255, offset=-0.5)(x)
    y = L.Normalization(mean=[0.1, 0.0, -0.1], variance=[0.5, 1.0, 2.0])(y)
    y = L.PReLU(shared_axes=[1, 2])(L.Conv2D(4, 3)(y))
    return keras.Model(x, L.Dense(3, activation="softmax")(L.Flatten()(y)), name="scaled_cnn")


def test_broadcast_factors_train_over_several_batches(tmp_path):
    model = randomize(scaled_cnn(), seed=4, scale=0.5)
    x = RNG.uniform(0, 255, (24, 5, 5, 3)).astype("float32")
    y = RNG.integers(0, 3, 24)
    assert_trains_like_keras(model, x, y, tmp_path)


def residual_block_named_like_keras():
    """keras.io's image classifier from scratch, small: the first activation feeds both the
    separable convolutions and the residual branch, and the next layers are named after it
    (act_1, act_2), as Keras names repeated classes."""
    x = keras.Input((8, 8, 3))
    y = L.Activation("relu", name="act")(L.Conv2D(4, 3, strides=2, padding="same")(x))
    y_first = y
    y = L.Activation("relu", name="act_1")(y)
    y = L.BatchNormalization()(L.SeparableConv2D(6, 3, padding="same")(y))
    y = L.Activation("relu", name="act_2")(y)
    y = L.MaxPooling2D(3, strides=2, padding="same")(L.SeparableConv2D(6, 3, padding="same")(y))
    y = L.add([y, L.Conv2D(6, 1, strides=2, padding="same")(y_first)])
    y = L.GlobalAveragePooling2D()(y)
    return keras.Model(x, L.Dense(3, activation="softmax")(y), name="residual_named")


def test_a_tensor_read_twice_beside_layers_named_after_it_trains_like_keras(tmp_path):
    model = randomize(residual_block_named_like_keras(), seed=5, scale=0.5)
    x = RNG.normal(size=(16, 8, 8, 3)).astype("float32")
    y = RNG.integers(0, 3, 16)
    assert_trains_like_keras(model, x, y, tmp_path)
