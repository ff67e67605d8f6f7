"""AudioArt fusion (music-era paper): an audio embedding and an artist-text embedding, fused by self-attention.

The model takes mel patches and a sentence embedding of the track's artist text; it outputs
``[predictions, fused embeddings]`` like every zoo model. Its parts are layers the MMC loss calls
alone: ``audio`` (the backbone), ``text_projection`` (to the audio embedding's size) and
``fusion`` (audio and text vectors -> fused vector).
"""

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable(package="musiczoo")
class SelfAttentionFusion(layers.Layer):
    """A Transformer encoder block over the two tokens ``[audio, text]``; the attended tokens concatenated.

    Multi-head self-attention and a feed-forward layer, each with a residual connection and layer
    normalisation (post-norm, as Vaswani et al.); ``(batch, d)`` and ``(batch, d)`` -> ``(batch, 2 d)``.
    """

    def __init__(self, heads=4, hidden=128, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.heads, self.hidden, self.dropout = heads, hidden, dropout

    def build(self, audio_shape, text_shape):
        dim = audio_shape[-1]
        self.attention = layers.MultiHeadAttention(self.heads, max(1, dim // self.heads), dropout=self.dropout)
        self.attention.build((None, 2, dim), (None, 2, dim))
        self.norm1, self.norm2 = layers.LayerNormalization(), layers.LayerNormalization()
        self.norm1.build((None, 2, dim))
        self.norm2.build((None, 2, dim))
        self.feed_forward = keras.Sequential([layers.Dense(self.hidden, activation="gelu"), layers.Dense(dim)])
        self.feed_forward.build((None, 2, dim))

    def call(self, audio, text, training=None):
        tokens = ops.stack([audio, text], axis=1)
        tokens = self.norm1(tokens + self.attention(tokens, tokens, training=training))
        tokens = self.norm2(tokens + self.feed_forward(tokens, training=training))
        return ops.reshape(tokens, (-1, 2 * tokens.shape[-1]))

    def get_config(self):
        return super().get_config() | {"heads": self.heads, "hidden": self.hidden, "dropout": self.dropout}


def audio_art(backbone, classes, text_dim=384, heads=4, hidden=128, name="audio_art"):
    """AudioArt-MMC: ``[mel patches, text embeddings (text_dim)] -> [class probabilities, fused embedding]``.

    The text embedding is projected to the backbone's embedding size (64 for the era CNN); the
    classifier (softmax) reads the fused embedding.
    """
    text = keras.Input((text_dim,), name="artist_text")
    audio = keras.Model(backbone.input, backbone.output, name="audio")
    projected = layers.Dense(backbone.output.shape[-1], name="text_projection")(text)
    fused = SelfAttentionFusion(heads, hidden, name="fusion")(audio(backbone.input), projected)
    predictions = layers.Dense(classes, activation="softmax", name="main_head")(fused)
    return keras.Model([backbone.input, text], [predictions, fused], name=name)
