"""EfficientNet-U-Net for segmenting nanoparticles in STM images into inside / border / background.

A U-Net decoder (Ronneberger et al., *U-Net: convolutional networks for biomedical image
segmentation*, MICCAI 2015) on an EfficientNet encoder (Tan & Le, *EfficientNet: rethinking model
scaling for convolutional neural networks*, ICML 2019), as in the STM nanoparticle segmentation of
the source work. Skips come from the ``expand_activation`` of the first block of stages 2, 3, 4 and 6
(strides 2, 4, 8, 16) and the decoder starts from ``top_activation`` (stride 32), so H and W must be
divisible by 32. The three-class softmax (inside / border / background) lets a watershed split
touching particles along the predicted borders.

Inputs are single-channel images scaled to [0, 1]; they are multiplied by 255 before the backbone
because keras' EfficientNet starts with its own ``Rescaling(1/255)``. ``weights=None`` always (the
ImageNet weights are RGB and cannot be fetched at run time here).
"""

from __future__ import annotations

import functools

import keras
from keras import layers

# Keras 3 (checked up to 3.15) exposes only the fixed EfficientNetB0..B7 publicly; the compound-scaled builder
# EfficientNet(width_coefficient, depth_coefficient, default_size, ...) that "b0_half" needs lives in the private
# keras.src tree. It can move in any keras release (keras is pinned < 4 in setup.cfg); effunet_test.py checks it
# loudly. Loading a saved .keras file (e.g. the zoo's effunet_nanoparticles) never needs it: the saved graph is
# made of public layers. Only *building* a fresh "b0_half" network does.
try:
    from keras.src.applications.efficientnet import EfficientNet as _PrivateEfficientNet
except ImportError:  # pragma: no cover - depends on the installed keras
    _PrivateEfficientNet = None


def _efficientnet_scaled(width: float, depth: float, default_size: int, **kwargs):
    """keras' private compound-scaled EfficientNet builder, or a clear error if this keras moved it."""
    if _PrivateEfficientNet is None:
        raise ImportError(
            f"backbone 'b0_half' needs keras.src.applications.efficientnet.EfficientNet, which keras "
            f"{keras.__version__} does not provide (a private API). Pin keras to a version that has it "
            "(3.15 works), or use a public backbone such as 'b0'; saved .keras models still load without it."
        )
    return _PrivateEfficientNet(width, depth, default_size, **kwargs)


BACKBONES = {
    "b0": keras.applications.EfficientNetB0,
    "b1": keras.applications.EfficientNetB1,
    "b2": keras.applications.EfficientNetB2,
    "b3": keras.applications.EfficientNetB3,
    "b4": keras.applications.EfficientNetB4,
    # B0 scaled down by EfficientNet's own compound rule (width x0.5, depth x0.5): 669,731 parameters instead of
    # 4,049,564, so that a whole segmentation network fits the zoo's ~10 MB and trains on a CPU.
    "b0_half": functools.partial(_efficientnet_scaled, 0.5, 0.5, 224, name="efficientnet_b0_half"),
}
#: encoder features used as skips, fine to coarse (strides 2, 4, 8, 16), and the bottleneck (stride 32)
SKIP_LAYERS = ("block2a_expand_activation", "block3a_expand_activation", "block4a_expand_activation",
               "block6a_expand_activation")  # fmt: skip
BOTTLENECK_LAYER = "top_activation"
CLASSES = ("inside", "border", "background")


def _decoder_block(x, skip, filters: int, name: str):
    x = layers.UpSampling2D(2, interpolation="bilinear", name=f"{name}_up")(x)
    if skip is not None:
        x = layers.Concatenate(name=f"{name}_concat")([x, skip])
    for i in (1, 2):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv{i}")(x)
        x = layers.BatchNormalization(name=f"{name}_bn{i}")(x)
        x = layers.Activation("relu", name=f"{name}_relu{i}")(x)
    return x


def efficientnet_unet(
    backbone: str = "b3",
    classes: int = 3,
    input_shape: tuple[int, int, int] = (256, 256, 1),
    decoder_filters: tuple[int, ...] = (256, 128, 64, 32, 16),
    name: str | None = None,
) -> keras.Model:
    """EfficientNet-``backbone`` encoder + U-Net decoder with a ``classes``-way softmax per pixel.

    ``input_shape`` is static (keras' bilinear upsampling fails on unknown sizes under TF); train on crops and
    predict on whole images with :func:`~keras_spm.models.effunet.postprocess.at_size`. ``backbone`` is one
    of :data:`BACKBONES` (``"b0_half"``: the zoo's small variant).

    Decoder: five stages of bilinear 2x upsampling, concatenation with the skip of that scale (none
    at full resolution), and two 3x3 conv + BN + ReLU with ``decoder_filters``; a 1x1 conv + softmax.
    ``b3`` at 256x256x1 with the defaults: 17,867,022 parameters (17,777,739 trainable); the backbone
    has 10,782,811, the decoder 7,084,211 (its first stage sees 1536 + 816 channels).
    """
    if backbone not in BACKBONES:
        raise ValueError(f"unknown backbone {backbone!r}; choose one of {sorted(BACKBONES)}.")
    if len(input_shape) != 3 or None in tuple(input_shape):
        raise ValueError(
            f"input_shape must be a static (H, W, C), got {input_shape}; to predict on other sizes rebuild with "
            "keras_spm.models.effunet.postprocess.at_size(model, H, W)."
        )
    h, w, _ = input_shape
    if h % 32 or w % 32:
        raise ValueError(f"input H and W must be divisible by 32 (encoder stride), got {h}x{w}; pad or crop.")
    if classes < 2:
        raise ValueError(f"classes must be >= 2 for a softmax head, got {classes}.")
    if len(decoder_filters) != len(SKIP_LAYERS) + 1:
        raise ValueError(f"decoder_filters needs {len(SKIP_LAYERS) + 1} entries (one per upsampling stage).")
    inp = keras.Input(input_shape, name="image")
    x = layers.Rescaling(255.0, name="to_255")(inp)
    encoder = BACKBONES[backbone](weights=None, include_top=False, input_tensor=x)
    skips = [encoder.get_layer(n).output for n in SKIP_LAYERS]
    x = encoder.get_layer(BOTTLENECK_LAYER).output
    for i, f in enumerate(decoder_filters):
        skip = skips[-1 - i] if i < len(skips) else None
        x = _decoder_block(x, skip, f, f"decoder{i}")
    out = layers.Conv2D(classes, 1, activation="softmax", name="classes")(x)
    return keras.Model(inp, out, name=name or f"efficientnet_{backbone}_unet")


@keras.saving.register_keras_serializable(package="keras_spm")
class FocalDiceLoss(keras.losses.Loss):
    """Categorical focal cross-entropy (Lin et al., ICCV 2017) + ``dice_weight`` x mean per-class Dice loss.

    Both from keras (``CategoricalFocalCrossentropy``, ``Dice``); Dice is taken per image and class
    over the pixels, then averaged, so the thin border class counts as much as the background.
    ``y_true`` is one-hot (B, H, W, C), ``y_pred`` the softmax.
    """

    def __init__(
        self, alpha: float = 0.25, gamma: float = 2.0, dice_weight: float = 1.0, name: str = "focal_dice", **kwargs
    ):
        super().__init__(name=name, **kwargs)
        self.alpha = float(alpha)
        self.gamma = float(gamma)
        self.dice_weight = float(dice_weight)
        self._focal = keras.losses.CategoricalFocalCrossentropy(alpha=self.alpha, gamma=self.gamma, reduction=None)
        self._dice = keras.losses.Dice(axis=(1, 2), reduction=None)

    def call(self, y_true, y_pred):
        focal = keras.ops.mean(self._focal(y_true, y_pred), axis=(1, 2))
        dice = keras.ops.mean(self._dice(y_true, y_pred), axis=-1)
        return focal + self.dice_weight * dice

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha, "gamma": self.gamma, "dice_weight": self.dice_weight}


@keras.saving.register_keras_serializable(package="keras_spm")
class BorderWeightedLoss(keras.losses.Loss):
    """Stage-2 loss: focal cross-entropy weighted per pixel ``border_weight`` on true border pixels and
    ``other_weight`` elsewhere, plus a Dice term with the same weights per class (normalised).

    The source work fine-tunes with borders weighted 0.8 against 0.2 for the rest; it does not say how the
    weights enter the loss, so this is our reading: the border band is what lets the watershed split touching
    particles, and it is < 5 % of the pixels, so it gets 4x the weight of an inside or background pixel.
    ``border_class`` is the index of the border channel (1 in :data:`CLASSES`).
    """

    def __init__(
        self,
        border_weight: float = 0.8,
        other_weight: float = 0.2,
        border_class: int = 1,
        alpha: float = 0.25,
        gamma: float = 2.0,
        dice_weight: float = 1.0,
        name: str = "border_weighted",
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        self.border_weight = float(border_weight)
        self.other_weight = float(other_weight)
        self.border_class = int(border_class)
        self.alpha = float(alpha)
        self.gamma = float(gamma)
        self.dice_weight = float(dice_weight)
        self._focal = keras.losses.CategoricalFocalCrossentropy(alpha=self.alpha, gamma=self.gamma, reduction=None)
        self._dice = keras.losses.Dice(axis=(1, 2), reduction=None)

    def call(self, y_true, y_pred):
        ops = keras.ops
        y_true = ops.cast(y_true, y_pred.dtype)
        is_border = y_true[..., self.border_class]
        w = self.other_weight + (self.border_weight - self.other_weight) * is_border
        focal = ops.sum(w * self._focal(y_true, y_pred), axis=(1, 2)) / ops.sum(w, axis=(1, 2))
        n = ops.shape(y_true)[-1]
        cw = ops.where(ops.arange(n) == self.border_class, self.border_weight, self.other_weight)
        cw = ops.cast(cw / ops.sum(cw), y_pred.dtype)
        dice = ops.sum(self._dice(y_true, y_pred) * cw, axis=-1)
        return focal + self.dice_weight * dice

    def get_config(self):
        return {
            **super().get_config(),
            "border_weight": self.border_weight,
            "other_weight": self.other_weight,
            "border_class": self.border_class,
            "alpha": self.alpha,
            "gamma": self.gamma,
            "dice_weight": self.dice_weight,
        }
