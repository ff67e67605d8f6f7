"""Backbones: log-mel patches ``(batch, frames, bands)`` -> embeddings ``(batch, dim)``.

Each builder returns a Keras model whose input is the rank-3 mel patch itself: no hidden
rescaling or normalisation of the log-mels. ``width`` scales every layer's channels, for quick
tests and small catalogues; ``width=1`` is the architecture of the paper.
"""
import keras
from keras import layers


def _patch_input(frames, bands):
    """The rank-3 input and its single-channel image view."""
    inputs = keras.Input((frames, bands), name="melspectrogram")
    return inputs, layers.Reshape((frames, bands, 1), name="as_image")(inputs)


def _channels(count, width):
    return max(1, round(count * width))


def efficientnet_b0(frames=128, bands=96):
    """EfficientNet-B0 (Discogs paper): 1280-d global-average embedding of 2 s patches.

    Keras' application starts with Rescaling(1/255) and Normalization for RGB images; the
    trunk is taken from the stem convolution on, so log-mels go in unscaled.
    """
    application = keras.applications.EfficientNetB0(
        include_top=False, weights=None, input_shape=(frames, bands, 1), pooling="avg"
    )
    trunk = keras.Model(application.get_layer("stem_conv_pad").input, application.output, name="trunk")
    inputs, image = _patch_input(frames, bands)
    return keras.Model(inputs, trunk(image), name="efficientnet_b0")


def vggish(frames=256, bands=96, width=1.0, first_pool=(4, 4), embedding_dim=128):
    """VGGish (Hershey et al. 2017) as the playlist paper uses it: 96 bands, 4x4 first pool."""
    inputs, x = _patch_input(frames, bands)
    pools = [first_pool, 2, 2, 2]
    for stage, (filters, convs) in enumerate([(64, 1), (128, 1), (256, 2), (512, 2)]):
        for index in range(convs):
            x = layers.Conv2D(
                _channels(filters, width), 3, padding="same", activation="relu",
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
        shortcut = layers.Conv2D(4 * filters, 1, strides=stride, use_bias=False, name=f"{name}_proj")(x)
        shortcut = layers.BatchNormalization(name=f"{name}_proj_bn")(shortcut)
    for index, (kernel, channels) in enumerate([(1, filters), (3, filters), (1, 4 * filters)]):
        x = layers.Conv2D(
            channels, kernel, strides=stride if index == 0 else 1, padding="same", use_bias=False,
            name=f"{name}_conv{index + 1}",
        )(x)
        x = layers.BatchNormalization(name=f"{name}_bn{index + 1}")(x)
        if index < 2:
            x = layers.ReLU(name=f"{name}_relu{index + 1}")(x)
    return layers.ReLU(name=f"{name}_out")(layers.Add(name=f"{name}_add")([shortcut, x]))


def resnet50(frames=256, bands=96, width=1.0, blocks=(3, 4, 6, 3)):
    """ResNet50 (playlist paper): 4096-d embedding, global max and mean pooling concatenated."""
    inputs, x = _patch_input(frames, bands)
    x = layers.Conv2D(_channels(64, width), 7, strides=2, padding="same", use_bias=False, name="stem_conv")(x)
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
        x = layers.Conv2D(count, 3, padding="same", use_bias=False, name=f"conv{index + 1}")(x)
        x = layers.ELU(name=f"elu{index + 1}")(layers.BatchNormalization(name=f"bn{index + 1}")(x))
        x = layers.AveragePooling2D(2, name=f"pool{index + 1}")(x)
    x = layers.GlobalAveragePooling2D(name="global_pool")(x)
    return keras.Model(inputs, layers.Dense(embedding_dim, name="embedding")(x), name="era_cnn")


BACKBONES = {
    "efficientnet_b0": efficientnet_b0,
    "vggish": vggish,
    "resnet50": resnet50,
    "era_cnn": era_cnn,
}
