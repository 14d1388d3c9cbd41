"""The model zoo, second part: every keras.applications family that builds offline in Keras 3
(weights=None) at a small input size, and models written the way the keras.io examples write
them; each predicts within 1e-4 of Keras (Keras' initial kernels, non-trivial biases and
normalisation statistics). The larger applications are marked slow.

Families: VGG, ResNet/ResNetV2, DenseNet, Inception(V3, ResNetV2), Xception, MobileNet V1/V2/V3,
EfficientNet/V2, NASNet, ConvNeXt. Keras 3.15.1 has no RegNet in keras.applications (no
RegNetX002 or RegNetY*; test_every_installed_family_is_in_the_zoo keeps the list honest)."""
from __future__ import annotations

import numpy as np
import pytest

from support.keras_models import keras, perturb_statistics, predict, randomize, save
from kerasdml.compiler.compile import compile_model

L = keras.layers
ATOL = 1e-4
# family -> input size (the smallest each accepts, or 32)
FAST = {"MobileNetV3Small": 32, "MobileNet": 32, "EfficientNetB0": 32}
SLOW = {"VGG16": 32, "ResNet50": 32, "ResNet50V2": 32, "DenseNet121": 32, "MobileNetV2": 32,
        "MobileNetV3Large": 32, "EfficientNetV2B0": 32, "NASNetMobile": 32, "InceptionV3": 75,
        "InceptionResNetV2": 75, "Xception": 71, "ConvNeXtTiny": 32}
# the factories of keras.applications one representative of each family stands for
SAME_FAMILY = {"VGG19": "VGG16", "ResNet101": "ResNet50", "ResNet152": "ResNet50",
               "ResNet101V2": "ResNet50V2", "ResNet152V2": "ResNet50V2",
               "DenseNet169": "DenseNet121", "DenseNet201": "DenseNet121",
               "NASNetLarge": "NASNetMobile", "ConvNeXtSmall": "ConvNeXtTiny",
               "ConvNeXtBase": "ConvNeXtTiny", "ConvNeXtLarge": "ConvNeXtTiny",
               "ConvNeXtXLarge": "ConvNeXtTiny"}
SAME_FAMILY.update({f"EfficientNetB{k}": "EfficientNetB0" for k in range(1, 8)})
SAME_FAMILY.update({f"EfficientNetV2{v}": "EfficientNetV2B0"
                    for v in ("B1", "B2", "B3", "S", "M", "L")})
# families whose first layers rescale pixels themselves take 0..255 inputs
PIXELS = ("MobileNetV3", "EfficientNet", "ConvNeXt")


def check_application(name, size, assert_predicts_like_keras, fmt="keras", **options):
    keras.utils.set_random_seed(0)
    options = options or dict(classes=5, classifier_activation=None)
    model = perturb_statistics(getattr(keras.applications, name)(
        weights=None, input_shape=(size, size, 3), **options))
    top = 255.0 if name.startswith(PIXELS) else 1.0
    x = np.random.default_rng(1).uniform(0, top, (2, size, size, 3)).astype("float32")
    assert_predicts_like_keras(model, [x], atol=ATOL, rtol=1e-4, fmt=fmt)


@pytest.mark.parametrize("name", list(FAST))
def test_application(name, assert_predicts_like_keras):
    check_application(name, FAST[name], assert_predicts_like_keras)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SLOW))
def test_large_application(name, assert_predicts_like_keras):
    check_application(name, SLOW[name], assert_predicts_like_keras)


# feature extractors as transfer learning uses them, and legacy .h5 files (which keep no module
# for MobileNetV3's keras.ops calls)
HEADLESS = {"MobileNet": dict(alpha=0.25, include_top=False, pooling="avg"),
            "MobileNetV3Small": dict(include_top=False, pooling="max",
                                     include_preprocessing=False)}
SLOW_HEADLESS = {"ResNet50": dict(include_top=False, pooling="max"),
                 "EfficientNetB0": dict(include_top=False, pooling="avg"),
                 "DenseNet121": dict(include_top=False, pooling="avg")}


@pytest.mark.parametrize("name", list(HEADLESS))
def test_headless_application_as_h5(name, assert_predicts_like_keras):
    check_application(name, 32, assert_predicts_like_keras, "h5", **HEADLESS[name])


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SLOW_HEADLESS))
def test_large_headless_application(name, assert_predicts_like_keras):
    check_application(name, 32, assert_predicts_like_keras, **SLOW_HEADLESS[name])


def test_every_installed_family_is_in_the_zoo():
    """A keras.applications factory that is neither in the zoo nor stands with a family that is
    fails here, so a Keras upgrade that adds a family (RegNet, say) cannot go unnoticed."""
    factories = {name for name, value in vars(keras.applications).items()
                 if callable(value) and name[:1].isupper()}
    covered = set(FAST) | set(SLOW) | set(SAME_FAMILY)
    assert factories - covered == set(), "add these to the zoo or to SAME_FAMILY"
    assert set(SAME_FAMILY.values()) <= set(FAST) | set(SLOW)

# --- keras.io-style models -------------------------------------------------------------------

def text_cnn():
    tokens = keras.Input((None,), dtype="int32")     # any length, as keras.io writes it
    x = L.Embedding(50, 8)(tokens)
    x = L.Dropout(0.2)(x)
    x = L.Conv1D(8, 3, padding="valid", activation="relu", strides=1)(x)
    x = L.GlobalMaxPooling1D()(x)
    x = L.Dense(8, activation="relu")(x)
    return keras.Model(tokens, L.Dense(1, activation="sigmoid")(x), name="text_cnn")


def text_bilstm():
    tokens = keras.Input((None,), dtype="int32")
    x = L.Embedding(50, 8)(tokens)
    x = L.Bidirectional(L.LSTM(6, return_sequences=True))(x)
    x = L.Bidirectional(L.LSTM(4))(x)
    return keras.Model(tokens, L.Dense(1, activation="sigmoid")(x), name="text_bilstm")


def transformer_encoder():
    tokens = keras.Input((10,), dtype="int32")
    x = L.Embedding(50, 16)(tokens)
    attention = L.MultiHeadAttention(num_heads=2, key_dim=8)(x, x)
    x = L.LayerNormalization(epsilon=1e-6)(x + L.Dropout(0.1)(attention))
    ffn = L.Dense(16)(L.Dense(32, activation="relu")(x))
    x = L.LayerNormalization(epsilon=1e-6)(x + L.Dropout(0.1)(ffn))
    x = L.GlobalAveragePooling1D()(x)
    x = L.Dense(8, activation="relu")(L.Dropout(0.1)(x))
    return keras.Model(tokens, L.Dense(2, activation="softmax")(x), name="transformer")


def conv_autoencoder():
    image = keras.Input((8, 8, 1))
    x = L.Conv2D(4, 3, activation="relu", padding="same")(image)
    x = L.MaxPooling2D(2, padding="same")(x)
    x = L.Conv2DTranspose(4, 3, strides=2, activation="relu", padding="same")(x)
    x = L.Conv2D(1, 3, activation="sigmoid", padding="same")(x)
    return keras.Model(image, x, name="autoencoder")


def timeseries_cnn():
    series = keras.Input((24, 1))
    x = series
    for _ in range(2):
        x = L.ReLU()(L.BatchNormalization()(L.Conv1D(8, 3, padding="same")(x)))
    x = L.GlobalAveragePooling1D()(x)
    return keras.Model(series, L.Dense(3, activation="softmax")(x), name="timeseries")


def preprocessing_front_end():
    image = keras.Input((12, 12, 3))
    x = L.RandomFlip("horizontal")(image)
    x = L.RandomRotation(0.1)(x)
    x = L.Rescaling(1.0 / 255)(x)
    x = L.Normalization(mean=[0.4, 0.5, 0.6], variance=[0.1, 0.2, 0.3])(x)
    x = L.Cropping2D(2)(x)
    x = L.Conv2D(4, 3, activation="relu")(x)
    x = L.GlobalAveragePooling2D()(x)
    return keras.Model(image, L.Dense(2)(x), name="preprocessing")


def two_inputs():
    image, numbers = keras.Input((6, 6, 2), name="image"), keras.Input((4,), name="numbers")
    x = L.Flatten()(L.Conv2D(3, 3, activation="relu")(image))
    y = L.Dense(4, activation="relu")(numbers)
    z = L.Concatenate()([x, y])
    return keras.Model([image, numbers], [L.Dense(2)(z), L.Dense(1)(y)], name="two_inputs")


def image_classification_from_scratch():
    """keras.io's small Xception: augmentation as a nested Sequential, separable convolutions,
    residuals through strided 1x1 projections, one sigmoid-free logit."""
    image = keras.Input((16, 16, 3))
    augment = keras.Sequential([L.RandomFlip("horizontal"), L.RandomRotation(0.1)],
                               name="augment")
    x = L.Rescaling(1.0 / 255)(augment(image))
    x = L.Activation("relu")(L.BatchNormalization()(L.Conv2D(8, 3, strides=2, padding="same")(x)))
    previous = x
    for size in (8, 12):
        x = L.BatchNormalization()(L.SeparableConv2D(size, 3, padding="same")(
            L.Activation("relu")(x)))
        x = L.MaxPooling2D(3, strides=2, padding="same")(x)
        x = L.add([x, L.Conv2D(size, 1, strides=2, padding="same")(previous)])
        previous = x
    x = L.GlobalAveragePooling2D()(L.Activation("relu")(x))
    return keras.Model(image, L.Dense(1)(L.Dropout(0.25)(x)), name="xception_small")


def segmentation_unet():
    """keras.io's U-Net-like segmentation: separable encoder, Conv2DTranspose and UpSampling2D
    decoder with projected residuals, and a per-pixel softmax."""
    image = keras.Input((16, 16, 3))
    x = L.Activation("relu")(L.BatchNormalization()(L.Conv2D(4, 3, strides=2, padding="same")(
        image)))
    previous = x
    x = L.BatchNormalization()(L.SeparableConv2D(8, 3, padding="same")(L.Activation("relu")(x)))
    x = L.MaxPooling2D(3, strides=2, padding="same")(x)
    x = L.add([x, L.Conv2D(8, 1, strides=2, padding="same")(previous)])
    previous = x
    for filters in (8, 4):
        x = L.BatchNormalization()(L.Conv2DTranspose(filters, 3, padding="same")(
            L.Activation("relu")(x)))
        x = L.UpSampling2D(2)(x)
        residual = L.Conv2D(filters, 1, padding="same")(L.UpSampling2D(2)(previous))
        x = L.add([x, residual])
        previous = x
    return keras.Model(image, L.Conv2D(3, 3, activation="softmax", padding="same")(x),
                       name="segmentation")


def timeseries_autoencoder():
    """keras.io's timeseries anomaly detection: strided Conv1D down, Conv1DTranspose up."""
    return keras.Sequential([
        keras.Input((16, 1)),
        L.Conv1D(8, 7, padding="same", strides=2, activation="relu"), L.Dropout(0.2),
        L.Conv1D(4, 7, padding="same", strides=2, activation="relu"),
        L.Conv1DTranspose(4, 7, padding="same", strides=2, activation="relu"), L.Dropout(0.2),
        L.Conv1DTranspose(8, 7, padding="same", strides=2, activation="relu"),
        L.Conv1DTranspose(1, 7, padding="same")], name="timeseries_autoencoder")


def pointnet():
    """keras.io's PointNet: learned transforms applied with Dot(axes=(2, 1))."""
    def transform(x, features):
        y = L.Activation("relu")(L.BatchNormalization()(L.Conv1D(8, 1)(x)))
        y = L.Dense(features * features)(L.GlobalMaxPooling1D()(y))
        return L.Dot(axes=(2, 1))([x, L.Reshape((features, features))(y)])
    points = keras.Input((10, 3))
    x = transform(points, 3)
    x = L.Activation("relu")(L.BatchNormalization()(L.Conv1D(6, 1)(x)))
    x = L.GlobalMaxPooling1D()(transform(x, 6))
    return keras.Model(points, L.Dense(4, activation="softmax")(L.Dropout(0.3)(x)),
                       name="pointnet")


KERAS_IO = {f.__name__: f for f in (text_cnn, text_bilstm, transformer_encoder, conv_autoencoder,
                                    timeseries_cnn, preprocessing_front_end, two_inputs,
                                    image_classification_from_scratch, segmentation_unet,
                                    timeseries_autoencoder, pointnet)}


@pytest.mark.parametrize("name", list(KERAS_IO))
def test_keras_io_model(name, assert_predicts_like_keras):
    model = randomize(KERAS_IO[name](), seed=2, scale=0.6)
    assert_predicts_like_keras(model, sample(model, name, length=12), atol=ATOL, rtol=1e-4)


@pytest.mark.parametrize("name", ["text_cnn", "text_bilstm"])
def test_text_model_predicts_like_keras_at_two_lengths(name, tmp_path):
    """One compiled model over Input(shape=(None,)): the script takes the length from the data."""
    model = randomize(KERAS_IO[name](), seed=2, scale=0.6)
    compiled = compile_model(save(model, tmp_path))
    for length in (9, 23):
        (tokens,) = sample(model, name, length)
        np.testing.assert_allclose(compiled.predict(tokens), predict(model, [tokens])[0],
                                   atol=ATOL, rtol=1e-4, err_msg=f"length {length}")


def deeplab_v3_plus(size=32):
    """keras.io's DeepLabV3+, small: ResNet50 with caffe preprocess_input in the model, atrous
    spatial pyramid pooling (dilated convolutions, keras.ops.nn.relu), bilinear upsampling."""
    def conv_block(x, filters=4, kernel_size=3, dilation_rate=1, use_bias=False):
        x = L.Conv2D(filters, kernel_size, dilation_rate=dilation_rate, padding="same",
                     use_bias=use_bias)(x)
        return keras.ops.nn.relu(L.BatchNormalization()(x))
    image = keras.Input((size, size, 3))
    backbone = keras.applications.ResNet50(weights=None, include_top=False, input_tensor=(
        keras.applications.resnet50.preprocess_input(image)))
    x = backbone.get_layer("conv4_block6_2_relu").output
    pooled = conv_block(L.AveragePooling2D(pool_size=x.shape[1:3])(x), kernel_size=1,
                        use_bias=True)
    pooled = L.UpSampling2D(size=x.shape[1:3], interpolation="bilinear")(pooled)
    x = conv_block(L.Concatenate()([pooled, conv_block(x, kernel_size=1),
                                    *(conv_block(x, dilation_rate=r) for r in (2, 3))]),
                   kernel_size=1)
    low = conv_block(backbone.get_layer("conv2_block3_2_relu").output, kernel_size=1)
    x = L.UpSampling2D(size=(low.shape[1] // x.shape[1],) * 2, interpolation="bilinear")(x)
    x = conv_block(L.Concatenate()([x, low]))
    x = L.UpSampling2D(size=(size // x.shape[1],) * 2, interpolation="bilinear")(x)
    return keras.Model(image, L.Conv2D(3, 1)(x), name="deeplab_v3_plus")


@pytest.mark.slow
def test_deeplab_v3_plus(assert_predicts_like_keras):
    keras.utils.set_random_seed(0)
    model = perturb_statistics(deeplab_v3_plus())
    x = np.random.default_rng(1).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    assert_predicts_like_keras(model, [x], atol=1e-3, rtol=1e-4)


def sample(model, name, length):
    """Three samples per input; an open sequence length gets `length` steps."""
    rng = np.random.default_rng(4 + length)
    inputs = []
    for tensor in model.inputs:
        shape = (3, *(length if d is None else d for d in tensor.shape[1:]))
        if "int" in str(tensor.dtype):
            inputs.append(rng.integers(0, 50, shape).astype("int32"))
        else:
            top = 255.0 if name == "preprocessing_front_end" else 1.0
            inputs.append(rng.uniform(0, top, shape).astype("float32"))
    return inputs
