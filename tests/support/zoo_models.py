"""The model zoo: small real Keras models covering every layer family the compiler translates,
built by name so that tests can parametrize over them with readable ids."""
from __future__ import annotations

from support.keras_models import keras, sequential

L = keras.layers


def mlp():
    return sequential((10,), L.Dense(16, activation="relu"), L.Dense(8, activation="tanh"),
                      L.Dense(3, activation="softmax"), name="mlp")


def mlp_activations():
    acts = ["elu", "selu", "gelu", "swish", "softplus", "sigmoid", "leaky_relu", "relu6"]
    layers = [L.Dense(6, activation=a) for a in acts]
    return sequential((5,), *layers, L.Dense(4), L.ReLU(max_value=2.0, negative_slope=0.1),
                      L.LeakyReLU(0.2), L.ELU(0.5), L.Softmax(), name="mlp_activations")


def lenet():
    """The seed's LeNet for MNIST."""
    return sequential(
        (28, 28, 1), L.Conv2D(32, 5, padding="same", activation="relu"), L.MaxPooling2D(2),
        L.Conv2D(64, 5, padding="same", activation="relu"), L.MaxPooling2D(2), L.Flatten(),
        L.Dense(512, activation="relu"), L.Dropout(0.5), L.Dense(10, activation="softmax"),
        name="lenet")


def strided_same_convs():
    return sequential(
        (11, 13, 3), L.Conv2D(4, 3, strides=2, padding="same", activation="relu"),
        L.Conv2D(5, 4, padding="same"), L.Conv2D(3, 2, strides=3, padding="same"),
        L.Conv2D(4, (2, 3), strides=(1, 2), padding="valid"), L.Flatten(), L.Dense(6),
        name="strided_same_convs")


def pooling():
    return sequential(
        (12, 10, 2), L.ZeroPadding2D(((1, 0), (2, 1))), L.AveragePooling2D(3, strides=2,
                                                                          padding="same"),
        L.MaxPooling2D(2, strides=1, padding="same"), L.Conv2D(3, 3), L.AveragePooling2D(2),
        L.GlobalAveragePooling2D(), L.Dense(4), name="pooling")


def residual():
    inputs = keras.Input((8, 8, 3))
    x = L.Conv2D(6, 3, padding="same")(inputs)
    x = L.BatchNormalization()(x)
    x = L.Activation("relu")(x)
    y = L.Conv2D(6, 3, padding="same")(x)
    y = L.BatchNormalization()(y)
    x = L.Activation("relu")(L.Add()([x, y]))
    z = L.Conv2D(8, 1, strides=2)(x)
    x = L.Add()([z, L.Conv2D(8, 3, strides=2, padding="same")(x)])
    outputs = L.Dense(3)(L.GlobalAveragePooling2D()(x))
    return keras.Model(inputs, outputs, name="residual")


def inception():
    inputs = keras.Input((9, 9, 4))
    a = L.Conv2D(3, 1, activation="relu")(inputs)
    b = L.Conv2D(4, 3, padding="same", activation="relu")(L.Conv2D(2, 1)(inputs))
    c = L.Conv2D(2, 5, padding="same", activation="relu")(inputs)
    d = L.Conv2D(2, 1)(L.MaxPooling2D(3, strides=1, padding="same")(inputs))
    x = L.Concatenate()([a, b, c, d])
    outputs = L.Dense(5, activation="softmax")(L.Flatten()(L.MaxPooling2D(3)(x)))
    return keras.Model(inputs, outputs, name="inception")


def separable():
    return sequential(
        (10, 10, 3), L.DepthwiseConv2D(3, depth_multiplier=2, activation="relu"),
        L.SeparableConv2D(5, 3, strides=2, padding="same"), L.DepthwiseConv2D(2, padding="same"),
        L.GlobalMaxPooling2D(), L.Dense(3), name="separable")



def mobilenet_style():
    """MobileNet's pieces, tiny: a strided stem, depthwise + BatchNorm + ReLU6, pointwise, a
    separable convolution and a strided depthwise one (the Spark tests' depthwise model; the
    zoo's `separable` covers these layers elsewhere)."""
    inputs = keras.Input((8, 8, 3))
    x = L.Conv2D(4, 3, strides=2, padding="same", activation="relu")(inputs)
    x = L.DepthwiseConv2D(3, padding="same", depth_multiplier=2)(x)
    x = L.ReLU(6.0)(L.BatchNormalization()(x))
    x = L.Conv2D(6, 1, activation="relu")(x)
    x = L.SeparableConv2D(6, 3, padding="same", activation="relu")(x)
    x = L.DepthwiseConv2D(3, strides=2, padding="valid")(x)
    x = L.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, L.Dense(3, activation="softmax")(x), name="mobilenet_style")

def autoencoder():
    """An image in, an image out: the output comes back in Keras' (h, w, c) order."""
    return sequential(
        (8, 8, 3), L.Conv2D(4, 3, strides=2, padding="same", activation="relu"),
        L.Conv2DTranspose(5, 3, strides=2, padding="same", activation="relu"),
        L.MaxPooling2D(2), L.UpSampling2D(2), L.Conv2DTranspose(4, 2, strides=3),
        L.Conv2DTranspose(3, 4, strides=1, padding="same"),
        L.Conv2D(2, 3, padding="same", activation="sigmoid"), name="autoencoder")


def batchnorm_mlp():
    return sequential((7,), L.Dense(9), L.BatchNormalization(), L.Activation("relu"),
                      L.Dense(5), L.BatchNormalization(center=False, epsilon=0.01),
                      L.Dense(2), name="batchnorm_mlp")


def embedding_lstm():
    return sequential((6,), L.Embedding(20, 4), L.LSTM(5, return_sequences=True),
                      L.LSTM(3), L.Dense(2, activation="sigmoid"), name="embedding_lstm",
                      dtype="int32")


def gru():
    return sequential((5, 3), L.GRU(4, return_sequences=True),
                      L.GRU(3, reset_after=False), L.Dense(2), name="gru")


def simple_rnn():
    return sequential((6, 3), L.SimpleRNN(5, return_sequences=True),
                      L.TimeDistributed(L.Dense(4)), L.Dense(2, activation="softmax"),
                      name="simple_rnn")


def conv1d_text():
    return sequential(
        (12,), L.Embedding(30, 6), L.Conv1D(8, 3, padding="same", activation="relu"),
        L.MaxPooling1D(2), L.Conv1D(6, 2, padding="causal"), L.Conv1D(5, 3, strides=2),
        L.GlobalMaxPooling1D(), L.Dense(3, activation="softmax"), name="conv1d_text",
        dtype="int32")


def sequence_ops():
    inputs = keras.Input((8, 4))
    x = L.Conv1D(6, 3, padding="same")(inputs)
    x = L.BatchNormalization()(x)
    x = L.AveragePooling1D(3, strides=2, padding="same")(x)
    y = L.LayerNormalization()(L.Dense(3)(x))
    x = L.Concatenate()([x, y])
    z = L.Concatenate(axis=1)([x, x])
    outputs = [L.GlobalAveragePooling1D()(z), L.Softmax()(x)]
    return keras.Model(inputs, outputs, name="sequence_ops")


def multi_input():
    image = keras.Input((6, 6, 2), name="image")
    vector = keras.Input((4,), name="vector")
    x = L.Flatten()(L.Conv2D(3, 3, activation="relu")(image))
    x = L.Concatenate()([x, L.Dense(5)(vector)])
    outputs = L.Dense(3, activation="softmax")(x)
    return keras.Model([image, vector], outputs, name="multi_input")


def multi_output():
    inputs = keras.Input((9,))
    x = L.Dense(8, activation="relu")(inputs)
    labels = L.Dense(3, activation="softmax", name="labels")(x)
    values = L.Dense(2, name="values")(L.Dense(4, activation="tanh")(x))
    return keras.Model(inputs, [labels, values], name="multi_output")


def merges():
    inputs = keras.Input((6,))
    a, b, c = (L.Dense(5)(inputs) for _ in range(3))
    x = L.Subtract()([a, b])
    x = L.Multiply()([x, c, a])
    x = L.Average()([x, b])
    x = L.Maximum()([x, c, L.Dense(5)(x)])
    return keras.Model(inputs, L.LayerNormalization(center=False)(x), name="merges")


def reshapes():
    """Flattened images used by something else than a Dense: the rows are reordered."""
    inputs = keras.Input((4, 4, 3))
    x = L.Conv2D(5, 3, padding="same")(inputs)
    seq = L.Reshape((16, 5))(x)
    pooled = L.GlobalAveragePooling1D()(seq)
    flat = L.Flatten()(x)
    image = L.Reshape((2, 8, 5))(L.Activation("tanh")(flat))
    image = L.Conv2D(2, 2)(image)
    return keras.Model(inputs, [pooled, L.Add()([flat, flat]), image], name="reshapes")


ZOO = {f.__name__: f for f in (
    mlp, mlp_activations, lenet, strided_same_convs, pooling, residual, inception, separable,
    autoencoder, batchnorm_mlp, embedding_lstm, gru, simple_rnn, conv1d_text, sequence_ops,
    multi_input, multi_output, merges, reshapes)}
# written as legacy .h5 files too
H5 = ("mlp", "lenet", "residual", "gru", "multi_output")
