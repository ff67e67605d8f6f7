"""Backbones: log-mel patches ``(batch, frames, bands)`` -> embeddings ``(batch, dim)``.

Each builder returns a Keras model whose input is the rank-3 mel patch itself: no hidden
rescaling or normalisation of the log-mels. ``width`` scales every layer's channels, for quick
tests and small catalogues; ``width=1`` is the architecture of the paper.
"""

import functools
import math

import keras
from keras import layers


def _patch_input(frames, bands):
    """The rank-3 input and its single-channel image view (any frame count: see :func:`any_length`)."""
    inputs = keras.Input((frames, bands), name="melspectrogram")
    return inputs, layers.Reshape((-1, bands, 1), name="as_image")(inputs)


def any_length(model):
    """``model`` with a dynamic time axis: the same layers and weights on ``(batch, None, bands)`` patches.

    For backbones that end in global pooling (EfficientNet-B0, ResNet50, era CNN); VGGish's
    flatten fixes its input length.
    """
    inputs = keras.Input((None, model.input.shape[-1]), name=model.input.name)
    return keras.models.clone_model(model, input_tensors=inputs, clone_function=lambda layer: layer)


def _channels(count, width):
    return max(1, round(count * width))


# EfficientNet-B0 stages: kernel, repeats, output channels, expansion, stride (squeeze-excite 0.25).
EFFICIENTNET_B0_STAGES = [
    (3, 1, 16, 1, 1),
    (3, 2, 24, 6, 2),
    (5, 2, 40, 6, 2),
    (3, 3, 80, 6, 2),
    (5, 3, 112, 6, 1),
    (5, 4, 192, 6, 2),
    (3, 1, 320, 6, 1),
]


# Keras' EfficientNet initialisation (He-style, fan-out): keeps activations alive through 16 blocks.
# A config, never an instance: each layer deserialises its own initializer, seeded at build time
# from the run's `keras.utils.set_random_seed` (a shared instance gives same-shaped kernels equal
# values, seeded whenever this module happened to be imported).
HE_FAN_OUT = {
    "class_name": "VarianceScaling",
    "config": {"scale": 2.0, "mode": "fan_out", "distribution": "truncated_normal"},
}
_conv = functools.partial(layers.Conv2D, kernel_initializer=HE_FAN_OUT)


def _round_filters(filters, width, divisor=8):
    """EfficientNet's channel rounding: a multiple of 8, never more than 10% below the target."""
    scaled = filters * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * scaled else rounded


def _mbconv(x, filters, kernel, expansion, stride, drop_rate, name):
    """Inverted residual block: expand, depthwise conv, squeeze-excite, project (+ residual)."""
    channels = x.shape[-1]
    inputs = x
    if expansion != 1:
        x = _conv(channels * expansion, 1, use_bias=False, name=f"{name}_expand")(x)
        x = layers.Activation("swish", name=f"{name}_expand_swish")(
            layers.BatchNormalization(epsilon=1e-3, name=f"{name}_expand_bn")(x)
        )
    x = layers.DepthwiseConv2D(
        kernel, stride, padding="same", use_bias=False, depthwise_initializer=HE_FAN_OUT, name=f"{name}_dwconv"
    )(x)
    x = layers.Activation("swish", name=f"{name}_swish")(layers.BatchNormalization(epsilon=1e-3, name=f"{name}_bn")(x))
    squeeze = layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_se_pool")(x)
    squeeze = _conv(max(1, int(channels * 0.25)), 1, activation="swish", name=f"{name}_se_reduce")(squeeze)
    squeeze = _conv(x.shape[-1], 1, activation="sigmoid", name=f"{name}_se_expand")(squeeze)
    x = layers.Multiply(name=f"{name}_se")([x, squeeze])
    x = _conv(filters, 1, use_bias=False, name=f"{name}_project")(x)
    x = layers.BatchNormalization(epsilon=1e-3, name=f"{name}_project_bn")(x)
    if stride == 1 and channels == filters:
        x = layers.Dropout(drop_rate, noise_shape=(None, 1, 1, 1), name=f"{name}_drop")(x) if drop_rate else x
        x = layers.Add(name=f"{name}_add")([x, inputs])
    return x


def efficientnet_b0(frames=128, bands=96, width=1.0, depth=1.0, drop_connect_rate=0.2):
    """EfficientNet-B0 (Tan & Le 2019; the Discogs paper's encoder): 1280-d global-average embedding.

    The architecture of ``keras.applications.EfficientNetB0`` (same layers and parameter count)
    without its RGB input rescaling/normalisation; ``width``/``depth`` are the compound-scaling
    coefficients (``width < 1`` shrinks it for tests).
    """
    inputs, x = _patch_input(frames, bands)
    x = _conv(_round_filters(32, width), 3, strides=2, padding="same", use_bias=False, name="stem_conv")(x)
    x = layers.Activation("swish", name="stem_swish")(layers.BatchNormalization(epsilon=1e-3, name="stem_bn")(x))
    blocks = [
        (stage, index, kernel, filters, expansion, stride if index == 0 else 1)
        for stage, (kernel, repeats, filters, expansion, stride) in enumerate(EFFICIENTNET_B0_STAGES)
        for index in range(math.ceil(depth * repeats))
    ]
    for number, (stage, index, kernel, filters, expansion, stride) in enumerate(blocks):
        x = _mbconv(
            x,
            _round_filters(filters, width),
            kernel,
            expansion,
            stride,
            drop_connect_rate * number / len(blocks),
            name=f"block{stage + 1}{chr(97 + index)}",
        )
    x = _conv(_round_filters(1280, width), 1, use_bias=False, name="top_conv")(x)
    x = layers.Activation("swish", name="top_swish")(layers.BatchNormalization(epsilon=1e-3, name="top_bn")(x))
    return keras.Model(inputs, layers.GlobalAveragePooling2D(name="avg_pool")(x), name="efficientnet_b0")


def vggish(frames=256, bands=96, width=1.0, first_pool=(4, 4), embedding_dim=128):
    """VGGish (Hershey et al. 2017) as the playlist paper uses it: 96 bands, 4x4 first pool."""
    inputs, x = _patch_input(frames, bands)
    pools = [first_pool, 2, 2, 2]
    for stage, (filters, convs) in enumerate([(64, 1), (128, 1), (256, 2), (512, 2)]):
        for index in range(convs):
            x = _conv(
                _channels(filters, width),
                3,
                padding="same",
                activation="relu",
                name=f"conv{stage + 1}_{index + 1}",
            )(x)
        x = layers.MaxPooling2D(pools[stage], name=f"pool{stage + 1}")(x)
    x = layers.Flatten(name="flatten")(x)
    for index in (1, 2):
        x = layers.Dense(_channels(4096, width), activation="relu", name=f"fc1_{index}")(x)
    embeddings = layers.Dense(embedding_dim, name="fc2")(x)
    return keras.Model(inputs, embeddings, name="vggish")


def _bottleneck(x, filters, stride, name):
    """ResNet v1 bottleneck block: 1x1 -> 3x3 -> 1x1 (x4), projection shortcut on change."""
    shortcut = x
    if stride != 1 or x.shape[-1] != 4 * filters:
        shortcut = _conv(4 * filters, 1, strides=stride, use_bias=False, name=f"{name}_proj")(x)
        shortcut = layers.BatchNormalization(name=f"{name}_proj_bn")(shortcut)
    for index, (kernel, channels) in enumerate([(1, filters), (3, filters), (1, 4 * filters)]):
        x = _conv(
            channels,
            kernel,
            strides=stride if index == 0 else 1,
            padding="same",
            use_bias=False,
            name=f"{name}_conv{index + 1}",
        )(x)
        x = layers.BatchNormalization(name=f"{name}_bn{index + 1}")(x)
        if index < 2:
            x = layers.ReLU(name=f"{name}_relu{index + 1}")(x)
    return layers.ReLU(name=f"{name}_out")(layers.Add(name=f"{name}_add")([shortcut, x]))


def resnet50(frames=256, bands=96, width=1.0, blocks=(3, 4, 6, 3)):
    """ResNet50 (playlist paper): 4096-d embedding, global max and mean pooling concatenated."""
    inputs, x = _patch_input(frames, bands)
    x = _conv(_channels(64, width), 7, strides=2, padding="same", use_bias=False, name="stem_conv")(x)
    x = layers.ReLU(name="stem_relu")(layers.BatchNormalization(name="stem_bn")(x))
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="stem_pool")(x)
    for stage, (filters, count) in enumerate(zip((64, 128, 256, 512), blocks)):
        for block in range(count):
            stride = 2 if stage > 0 and block == 0 else 1
            x = _bottleneck(x, _channels(filters, width), stride, name=f"stage{stage + 1}_block{block + 1}")
    embeddings = layers.Concatenate(name="max_mean")(
        [layers.GlobalMaxPooling2D(name="max_pool")(x), layers.GlobalAveragePooling2D(name="mean_pool")(x)]
    )
    return keras.Model(inputs, embeddings, name="resnet50")


def era_cnn(frames=256, bands=96, filters=(32, 64, 128, 256), embedding_dim=64):
    """The music-era paper's Audio-CNN: 3x3 conv, BN, ELU, average pooling, linear embedding."""
    inputs, x = _patch_input(frames, bands)
    for index, count in enumerate(filters):
        x = _conv(count, 3, padding="same", use_bias=False, name=f"conv{index + 1}")(x)
        x = layers.ELU(name=f"elu{index + 1}")(layers.BatchNormalization(name=f"bn{index + 1}")(x))
        x = layers.AveragePooling2D(2, name=f"pool{index + 1}")(x)
    x = layers.GlobalAveragePooling2D(name="global_pool")(x)
    return keras.Model(inputs, layers.Dense(embedding_dim, name="embedding")(x), name="era_cnn")


def _max_over_bands(x, name):
    """``(batch, frames, bands, channels)`` -> ``(batch, frames, channels)``: MusiCNN's max-pool over every band."""
    return layers.Reshape((-1, x.shape[-1]), name=f"{name}_squeeze")(
        layers.MaxPooling2D((1, x.shape[2]), name=f"{name}_pool")(x)
    )


def musicnn(frames=187, bands=96, midend_filters=64, embedding_dim=200, dropout=0.5, weights=None):
    """MusiCNN (Pons & Serra 2019), as the ``musicnn`` wheel builds it: timbral (7x38, 7x67) and temporal (128, 64, 32
    frames) filters each max-pooled over the bands, three densely connected 7-frame convolutions, max and mean over
    time, batch norm, dropout and a 200-d linear embedding (the ``model/dense/BiasAdd`` Essentia reads).

    Layers are named as the TensorFlow 1 variables of the wheel's checkpoints: ``weights`` (``MSD_musicnn`` or
    ``MTT_musicnn``) loads one, so that the model starts as the published tagger's embedding.
    """
    inputs, x = _patch_input(frames, bands)
    x = layers.BatchNormalization(name="batch_normalization")(x)
    padded = layers.ZeroPadding2D(((3, 3), (0, 0)), name="timbral_pad")(x)
    shapes = [("conv2d", (7, int(0.4 * bands)), "valid"), ("conv2d_1", (7, int(0.7 * bands)), "valid")]
    shapes += [(f"conv2d_{2 + i}", (length, 1), "same") for i, length in enumerate((128, 64, 32))]
    front = []
    for index, (name, kernel, padding) in enumerate(shapes):
        filters = int(1.6 * (128 if padding == "valid" else 32))
        conv = layers.Conv2D(filters, kernel, padding=padding, activation="relu", name=name)
        front.append(
            _max_over_bands(
                layers.BatchNormalization(name=f"batch_normalization_{index + 1}")(
                    conv(padded if padding == "valid" else x)
                ),
                name,
            )
        )
    features = [layers.Concatenate(name="frontend")(front)]
    for index in range(3):  # each sees all the features before it, as one image row per frame
        previous = layers.Reshape((-1, features[-1].shape[-1], 1), name=f"midend{index}_image")(
            features[0] if index == 0 else features[-1]
        )
        conv = layers.Conv2D(midend_filters, (7, previous.shape[2]), activation="relu", name=f"conv2d_{5 + index}")
        y = layers.Reshape((-1, midend_filters), name=f"midend{index}_rows")(
            layers.BatchNormalization(name=f"batch_normalization_{6 + index}")(
                conv(layers.ZeroPadding2D(((3, 3), (0, 0)), name=f"midend{index}_pad")(previous))
            )
        )
        features.append(y if index == 0 else layers.Add(name=f"midend{index}_residual")([y, features[-1]]))
    x = layers.Concatenate(name="midend")(features)
    pools = [layers.GlobalMaxPooling1D(name="max_pool")(x), layers.GlobalAveragePooling1D(name="mean_pool")(x)]
    pooled = layers.Flatten(name="max_mean")(  # per feature, its max then its mean
        layers.Concatenate(name="pools")([layers.Reshape((-1, 1), name=f"{p.name}_column")(p) for p in pools])
    )
    x = layers.Dropout(dropout, name="dropout")(layers.BatchNormalization(name="batch_normalization_9")(pooled))
    model = keras.Model(inputs, layers.Dense(embedding_dim, name="dense")(x), name="musicnn")
    if weights:
        from musiczoo.zoo.wheel import load_checkpoint

        load_checkpoint(model, weights)
    return model


BACKBONES = {
    "efficientnet_b0": efficientnet_b0,
    "vggish": vggish,
    "resnet50": resnet50,
    "era_cnn": era_cnn,
    "musicnn": musicnn,
}
