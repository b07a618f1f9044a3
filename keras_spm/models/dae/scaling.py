"""Scale-aware input of the topography DAE: heights in one robust unit plus the image's slope scale as a channel.

Why this normalisation. A tip of apex radius ``R`` dilates a surface (Villarrubia, J. Res. NIST 102, 425 (1997)) by
an amount set by *geometry*: scaling heights and lateral lengths by the same factor scales the image by that factor,
whatever the unit. What matters is the ratio of the heights to the pixel size (the slopes the tip meets): a 0.3 nm
step barely widens under a 10-pixel tip at 100 nm/px (slope 0.003) and is smeared over many pixels at 0.1 A/px.
So the network sees two channels:

* channel 0, ``(z - lo) / span``: heights by the corrupted image's robust 0.5 / 99.5 percentiles (as before), which
  keeps noise, scars and line offsets, whose amplitudes scale with the image, on one footing at every scale;
* channel 1, ``log10(span / pixel_size) / 2`` clipped to [-3, 3], constant over the image: the slope scale, i.e.
  how steep the image is in pixel units (about -1.5 for atomic steps at 100 nm/px, +1 for STM adsorbates at 0.16 A/px).

Both are dimensionless, so a surface scaled isotropically from 0.1 A/px to 100 nm/px gives *identical* network
inputs and restores that scale with it (tested); the unit only has to be the same for heights and pixel size
(metres in, metres out). Heights divided by the pixel size alone (slope units) would have put the same information
in one channel, but its range spans five decades, and noise and scan-line defects are not slopes.

:func:`normalize` is the numpy form used for training pairs; :class:`SlopeScale` / :class:`SlopeUnscale` the same
arithmetic as layers, saved inside the zoo model, whose input is ``(B, H, W, 2)``: heights and the pixel size.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

PERCENTILES = (0.5, 99.5)
SLOPE_SCALE = 2.0  # channel 1 = log10(span / pixel) / SLOPE_SCALE
SLOPE_CLIP = 3.0


def normalization(image: np.ndarray, pixel_size: float) -> tuple[float, float, float]:
    """``(lo, span, slope)`` of a corrupted height map: robust percentiles and the clipped log slope scale."""
    a = np.asarray(image, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"image must be a 2D height map (H, W), got shape {a.shape}; squeeze channel axes first.")
    if not np.all(np.isfinite(a)):
        raise ValueError("image has NaN/inf values; fill them (e.g. with the median) before restoring.")
    if not (pixel_size is not None and np.isfinite(pixel_size) and pixel_size > 0):
        raise ValueError(f"pixel_size must be a positive length in the unit of the heights, got {pixel_size}.")
    lo, hi = np.percentile(a, PERCENTILES)
    span = float(hi - lo)
    if not span > 0:
        span = float(np.ptp(a)) or 1.0
    slope = float(np.clip(np.log10(span / pixel_size) / SLOPE_SCALE, -SLOPE_CLIP, SLOPE_CLIP))
    return float(lo), span, slope


def normalize(corrupted: np.ndarray, pixel_size: float, clean: np.ndarray | None = None):
    """``(x, y, (lo, span, slope))``: ``x`` float32 (H, W, 2) network input, ``y`` (H, W, 1) the clean target
    scaled with the corrupted image's map (None without ``clean``); invert heights with ``z * span + lo``."""
    lo, span, slope = normalization(corrupted, pixel_size)
    x = np.empty(np.shape(corrupted) + (2,), np.float32)
    x[..., 0] = (np.asarray(corrupted, np.float64) - lo) / span
    x[..., 1] = slope
    y = None if clean is None else ((np.asarray(clean, np.float64) - lo) / span).astype(np.float32)[..., None]
    return x, y, (lo, span, slope)


def _stats(raw):
    """``lo, span, slope`` per image of a raw ``(B, H, W, 2)`` batch (heights, pixel size), as :func:`normalization`."""
    z = ops.cast(raw[..., :1], "float32")
    px = ops.mean(ops.cast(raw[..., 1:], "float32"), axis=(1, 2, 3), keepdims=True)
    lo = ops.quantile(z, PERCENTILES[0] / 100.0, axis=(1, 2, 3), keepdims=True)
    hi = ops.quantile(z, PERCENTILES[1] / 100.0, axis=(1, 2, 3), keepdims=True)
    span = hi - lo
    span = ops.where(span > 0, span, ops.ones_like(span))
    slope = ops.clip(ops.log(span / px) / (np.log(10.0) * SLOPE_SCALE), -SLOPE_CLIP, SLOPE_CLIP)
    return z, lo, span, slope


@keras.saving.register_keras_serializable(package="keras_spm")
class SlopeScale(keras.layers.Layer):
    """Raw ``(B, H, W, 2)`` [heights, pixel size] -> the network input [``(z - lo) / span``, slope scale]."""

    def call(self, raw):
        z, lo, span, slope = _stats(raw)
        return ops.concatenate([(z - lo) / span, ops.zeros_like(z) + slope], axis=-1)

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="keras_spm")
class SlopeUnscale(keras.layers.Layer):
    """``y * span + lo`` with the ``lo, span`` of :class:`SlopeScale` on ``raw``: the output in the input's unit."""

    def call(self, y, raw):
        _, lo, span, _ = _stats(raw)
        return ops.cast(y, "float32") * span + lo

    def compute_output_shape(self, y_shape, raw_shape):
        return y_shape


@keras.saving.register_keras_serializable(package="keras_spm")
class HeightChannel(keras.layers.Layer):
    """Channel 0 of a (B, H, W, C) tensor, kept as (B, H, W, 1): the scaled heights the correction is added to."""

    def call(self, x):
        return x[..., :1]

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 1)


def wrap_raw(core: keras.Model, name: str = "dae_topography") -> keras.Model:
    """``core`` (trained on :func:`normalize` d inputs) inside SlopeScale / SlopeUnscale: raw heights in, same out.

    The saved model takes ``(B, H, W, 2)``: heights and a constant channel with the pixel size, in one unit.
    """
    raw = keras.Input((None, None, 2), name="heights_and_pixel_size")
    scaled = SlopeScale(name="slope_scale")(raw)
    out = SlopeUnscale(name="restored")(core(scaled), raw)
    return keras.Model(raw, out, name=name)


def is_raw_model(model: keras.Model) -> bool:
    """True when ``model`` scales its own input (contains :class:`SlopeScale`)."""
    return any(isinstance(layer, SlopeScale) for layer in model.layers)


def core_network(model: keras.Model) -> keras.Model:
    """The network inside a zoo-form model (:func:`wrap_raw`), or ``model`` itself when it does not scale its input."""
    if not is_raw_model(model):
        return model
    return next(layer for layer in model.layers if isinstance(layer, keras.Model))
