"""Building blocks shared by the ASD-AFM networks (DSH, ES, xyz) and input checks.

Architecture from Alldritt et al., *Automated structure discovery in atomic force microscopy*,
Sci. Adv. 6, eaay6913 (2020) and the published Keras code (SINGROUP/ASD-AFM, ``models.py``):
every convolution is preceded by a padding layer and run with ``padding="valid"``, followed by
LeakyReLU(0.1); the 3D encoder folds the remaining z-planes into channels.

Layer names are fixed (``enc_conv3d_1``, ``latent_conv_1``, ``disks_conv_1`` ...) so that the
original weights can be mapped by name (see :mod:`.original_weights`).
"""

from __future__ import annotations

import keras
import numpy as np

from ..layers import ReflectionPadding

LEAKY_SLOPE = 0.1
#: Filters and pool sizes of the 3D encoder (ASD-AFM): z is pooled twice, then only xy.
ENCODER_FILTERS = (4, 8, 16)
ENCODER_POOLS = ((2, 2, 2), (2, 2, 2), (2, 2, 1))
DECODER_FILTERS = 16
PADDING_MODES = ("symmetric", "reflect")


def conv(
    x,
    filters: int,
    kernel_size: int,
    name: str,
    *,
    ndim: int = 2,
    activation: bool = True,
    padding_mode: str = "symmetric",
):
    """Padding + 'valid' convolution (+ LeakyReLU 0.1), the unit every ASD-AFM network is built of."""
    if kernel_size > 1:
        x = ReflectionPadding((kernel_size // 2,) * ndim, mode=padding_mode, name=f"{name}_pad")(x)
    conv_cls = keras.layers.Conv3D if ndim == 3 else keras.layers.Conv2D
    x = conv_cls(filters, kernel_size, padding="valid", name=name)(x)
    if activation:
        x = keras.layers.LeakyReLU(negative_slope=LEAKY_SLOPE, name=f"{name}_lrelu")(x)
    return x


def encoder_3d(stack, prefix: str = "", padding_mode: str = "symmetric"):
    """3D encoder on a (H, W, Z) stack: three Conv3D + AveragePooling3D stages, then z folded into channels.

    H and W shrink by 8, Z by 4 (floor); the output has ``16 * (Z // 4)`` channels
    (32 for the 10-slice ASD-AFM stack, 16 for a 6-slice stack).
    """
    h, w, z = stack.shape[1:]
    x = keras.layers.Reshape((h, w, z, 1), name=f"{prefix}add_channel")(stack)
    for i, (filters, pool) in enumerate(zip(ENCODER_FILTERS, ENCODER_POOLS, strict=True), start=1):
        x = conv(x, filters, 3, f"{prefix}enc_conv3d_{i}", ndim=3, padding_mode=padding_mode)
        x = keras.layers.AveragePooling3D(pool_size=pool, strides=pool, name=f"{prefix}enc_pool_{i}")(x)
    h, w, z, c = x.shape[1:]
    return keras.layers.Reshape((h, w, z * c), name=f"{prefix}fold_z")(x)


def decoder(x, name: str, activation: str | None, out_shape: tuple[int, int], padding_mode: str = "symmetric"):
    """One output branch: three (nearest x2 upsampling + two 3x3 convs of 16), a 3x3 conv to one channel.

    The channel axis is squeezed so the output named ``name`` has shape (B, H, W).
    """
    for stage in range(3):
        x = keras.layers.UpSampling2D(size=2, interpolation="nearest", name=f"{name}_up_{stage + 1}")(x)
        for k in (1, 2):
            x = conv(x, DECODER_FILTERS, 3, f"{name}_conv_{2 * stage + k}", padding_mode=padding_mode)
    x = conv(x, 1, 3, f"{name}_out_conv", activation=False, padding_mode=padding_mode)
    if activation is not None:
        x = keras.layers.Activation(activation, name=f"{name}_{activation}")(x)
    return keras.layers.Reshape(out_shape, name=name)(x)


def check_input_shape(input_shape, name: str = "input_shape") -> tuple[int, int, int]:
    """Validate a builder's (H, W, slices): H, W multiples of 8, at least 4 slices (z is pooled twice)."""
    shape = tuple(int(s) for s in input_shape)
    if len(shape) != 3:
        raise ValueError(f"{name} must be (height, width, slices), e.g. (128, 128, 10); got {input_shape}.")
    h, w, z = shape
    if h % 8 or w % 8 or h < 8 or w < 8:
        raise ValueError(
            f"{name}={shape}: height and width must be positive multiples of 8 (three x2 poolings); "
            "crop or resize the images, e.g. to 128 x 128."
        )
    if z < 4:
        raise ValueError(f"{name}={shape}: need at least 4 slices (z is pooled twice by 2); ASD-AFM uses 10.")
    return shape


def check_padding_mode(padding_mode: str) -> str:
    """Validate a builder's padding mode ("symmetric" reproduces the original ASD-AFM padding)."""
    if padding_mode not in PADDING_MODES:
        raise ValueError(f"padding_mode must be one of {PADDING_MODES}, got {padding_mode!r}.")
    return padding_mode


def check_stack(x, n_slices: int = 10, image_size: tuple[int, int] = (128, 128)) -> np.ndarray:
    """Validate an AFM stack before prediction; returns it as float32 with a batch axis.

    Accepts (H, W, n_slices) or (B, H, W, n_slices). Raises ValueError that names the expected
    shape and the fix for a wrong rank, image size or slice count, and for NaN / inf values.
    """
    expected = (
        f"(batch, {image_size[0]}, {image_size[1]}, {n_slices}) or ({image_size[0]}, {image_size[1]}, {n_slices})"
    )
    try:
        arr = np.asarray(x, dtype=np.float32)
    except (TypeError, ValueError) as err:
        raise ValueError(f"AFM stack must be a numeric array of shape {expected}: {err}") from err
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4:
        raise ValueError(f"AFM stack has shape {arr.shape}; expected {expected} (channels last: x, y, tip height).")
    if arr.shape[1] == n_slices and tuple(arr.shape[2:]) == tuple(image_size):
        raise ValueError(
            f"AFM stack has shape {arr.shape} (slices first); expected {expected}, slices last. "
            "Move the slice axis last with np.moveaxis(x, 1, -1)."
        )
    if tuple(arr.shape[1:3]) != tuple(image_size):
        raise ValueError(
            f"AFM stack has images of {arr.shape[1]} x {arr.shape[2]} pixels; expected {expected}. "
            f"Resample or crop the scan to {image_size[0]} x {image_size[1]} pixels."
        )
    if arr.shape[3] != n_slices:
        raise ValueError(
            f"AFM stack has {arr.shape[3]} slices; expected {expected}: select {n_slices} constant-height "
            f"images (slice 0 farthest from the sample) or use a model built for {arr.shape[3]} slices."
        )
    bad = ~np.isfinite(arr)
    if bad.any():
        raise ValueError(
            f"AFM stack of shape {arr.shape} has {int(bad.sum())} NaN/inf values; expected finite values in "
            f"{expected}. Interpolate or crop the bad pixels (e.g. np.nan_to_num) before prediction."
        )
    return arr


def standardize_stack(x: np.ndarray) -> np.ndarray:
    """Per-sample, per-slice standardisation (mean 0, std 1), the input normalisation the ASD-AFM weights expect."""
    arr = np.asarray(x, dtype=np.float32)
    mean = arr.mean(axis=(-3, -2), keepdims=True)
    std = arr.std(axis=(-3, -2), keepdims=True)
    return (arr - mean) / np.where(std > 0, std, 1.0)
