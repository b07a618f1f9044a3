"""Measurement noise for simulated -> experimental translations.

A deterministic generator cannot draw noise: every call on the same simulation gives the same image, and what it adds
at the finest scale is a fixed texture (the transposed-convolution checkerboards of the first CycleGAN pair fooled
the style judge that way). Real scans carry random noise that the detector's bandwidth and the pixel dwell time
low-pass over about a pixel. :class:`MeasurementNoise` adds exactly that after the generator: Gaussian white noise
smoothed by a Gaussian of ``correlation`` px, scaled to ``stddev`` in the generator's [-1, 1] units, fresh on every
call (training or not), then clipped back to [-1, 1]. Smoothing keeps the noise off the period-2 checkerboard band
that `keras_spm.metrics.fidelity` watches for upsampling artefacts; its amplitude is bounded by the high-frequency
fidelity target (see the ``cyclegan_afm_sim2exp`` card for how it was chosen).
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops


def gaussian_kernel(correlation: float) -> np.ndarray:
    """Normalised 2D Gaussian kernel (radius ``ceil(3 sigma)``, sum of squares 1: unit-variance white noise stays
    unit-variance after it), shaped (k, k, 1, 1) for a convolution."""
    radius = max(1, math.ceil(3 * correlation))
    r = np.arange(-radius, radius + 1, dtype=np.float64)
    g = np.exp(-0.5 * (r / correlation) ** 2)
    k = np.outer(g, g)
    k /= np.sqrt((k**2).sum())
    return k[:, :, None, None].astype(np.float32)


@keras.saving.register_keras_serializable(package="keras_spm")
class MeasurementNoise(keras.layers.Layer):
    """``clip(x + stddev * smooth(white noise), -1, 1)`` with fresh noise on every call; one-channel images."""

    def __init__(self, stddev: float, correlation: float = 0.7, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if not stddev >= 0 or not correlation > 0:
            raise ValueError(f"MeasurementNoise needs stddev >= 0 and correlation > 0, got {stddev}, {correlation}.")
        self.stddev, self.correlation, self.seed = float(stddev), float(correlation), seed
        self.kernel = gaussian_kernel(self.correlation)
        self.radius = self.kernel.shape[0] // 2
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, x):
        if self.stddev == 0:
            return x
        shape = ops.shape(x)
        pad = 2 * self.radius
        white = keras.random.normal((shape[0], shape[1] + pad, shape[2] + pad, 1), seed=self.seed_generator)
        noise = ops.conv(white, ops.cast(self.kernel, white.dtype), padding="valid")
        return ops.clip(x + ops.cast(self.stddev * noise, x.dtype), -1.0, 1.0)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "stddev": self.stddev, "correlation": self.correlation, "seed": self.seed}


def with_measurement_noise(
    generator: keras.Model, stddev: float, correlation: float = 0.7, seed: int | None = None
) -> keras.Model:
    """``generator`` followed by :class:`MeasurementNoise` (the zoo's ``cyclegan_afm_sim2exp``); the generator's
    weights are shared, not copied."""
    if generator.output_shape[-1] != 1:
        raise ValueError(f"measurement noise is for one-channel generators, got output shape {generator.output_shape}.")
    inputs = keras.Input(generator.input_shape[1:], name="image")
    out = MeasurementNoise(stddev, correlation, seed, name="measurement_noise")(generator(inputs))
    return keras.Model(inputs, out, name=f"{generator.name}_noisy")


def without_measurement_noise(model: keras.Model) -> keras.Model:
    """The deterministic part of a model made by :func:`with_measurement_noise` (the model itself otherwise)."""
    if not any(isinstance(layer, MeasurementNoise) for layer in model.layers):
        return model
    return next(layer for layer in model.layers if isinstance(layer, keras.Model))
