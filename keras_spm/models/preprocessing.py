"""Input scaling as Keras layers, so a zoo model takes raw data and every caller gets the same numbers.

Each zoo network was trained on inputs scaled one particular way (per-slice standardisation for the ASD-AFM
networks, [-1, 1] for the GANs, robust percentiles for the height-map networks). Kept outside the model, that
scaling was re-done by hand in the CLI, the demo and the benchmarks; as layers saved inside the ``.keras`` file
it cannot be forgotten or done differently. Every layer here is idempotent on data it already scaled, so code
that still scales by hand gets the same prediction.

* :class:`StandardizeSlices` - per sample and per channel (slice): mean 0, std 1 over the image (ASD-AFM);
* :class:`MinMaxScale` - per image to [-1, 1] by its min and max (the AFM style CycleGANs);
* :class:`PeakScale` - per image ``2 x / max(x) - 1`` (the STEM pix2pix: intensities over their peak);
* :class:`PercentileScale` / :class:`PercentileUnscale` - per image by its 0.5 / 99.5 percentiles to about
  [0, 1], and a network output back to the input's units (tip-artifact DAE, nanoparticle U-Net).
"""

from __future__ import annotations

import keras
from keras import ops

#: Registered names of the layers; ``keras_spm.zoo.presets`` refers to them by these names.
__all__ = ["MinMaxScale", "PeakScale", "PercentileScale", "PercentileUnscale", "StandardizeSlices"]


def _image_axes(x) -> tuple[int, ...]:
    """The spatial axes of a channels-last batch: (1, 2) of (B, H, W, C)."""
    return tuple(range(1, len(x.shape) - 1))


@keras.saving.register_keras_serializable(package="keras_spm")
class StandardizeSlices(keras.layers.Layer):
    """Each channel of each sample to mean 0, std 1 over the image; a constant channel becomes 0.

    The ASD-AFM input normalisation (Alldritt et al., Sci. Adv. 6, eaay6913 (2020)), the same arithmetic as
    :func:`keras_spm.models.afm.standardize_stack`. Statistics in float32 whatever the compute dtype.
    """

    def call(self, x):
        x = ops.cast(x, "float32")
        axes = _image_axes(x)
        mean = ops.mean(x, axis=axes, keepdims=True)
        std = ops.sqrt(ops.mean(ops.square(x - mean), axis=axes, keepdims=True))
        return (x - mean) / ops.where(std > 0, std, ops.ones_like(std))

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="keras_spm")
class MinMaxScale(keras.layers.Layer):
    """Each image to [-1, 1] by its own min and max (all channels together); a constant image becomes 0.

    ``keras_spm.datasets.afm_style.normalize`` followed by ``2 x - 1``: what the AFM style CycleGANs saw.
    """

    def call(self, x):
        x = ops.cast(x, "float32")
        axes = tuple(range(1, len(x.shape)))
        lo = ops.min(x, axis=axes, keepdims=True)
        span = ops.max(x, axis=axes, keepdims=True) - lo
        return ops.where(span > 0, 2.0 * (x - lo) / ops.where(span > 0, span, ops.ones_like(span)) - 1.0, 0.0 * x)

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="keras_spm")
class PeakScale(keras.layers.Layer):
    """``2 max(x, 0) / max(x) - 1`` per image: STEM intensities clipped at 0 over their peak, to the tanh range.

    ``keras_spm.datasets.stem_pairs.to_tanh_range(normalize(img))``, what the STEM pix2pix saw; an image whose
    peak is not positive is left at ``-1``.
    """

    def call(self, x):
        x = ops.maximum(ops.cast(x, "float32"), 0.0)
        peak = ops.max(x, axis=tuple(range(1, len(x.shape))), keepdims=True)
        return ops.where(peak > 0, 2.0 * x / ops.where(peak > 0, peak, ops.ones_like(peak)) - 1.0, 0.0 * x - 1.0)

    def compute_output_shape(self, input_shape):
        return input_shape


def _percentiles(x, low: float, high: float):
    """(lo, span) per image: the ``low`` / ``high`` percentiles (linear, as ``np.percentile``); span 1 if 0."""
    axes = tuple(range(1, len(x.shape)))
    lo = ops.quantile(x, low / 100.0, axis=axes, keepdims=True)
    hi = ops.quantile(x, high / 100.0, axis=axes, keepdims=True)
    span = hi - lo
    return lo, ops.where(span > 0, span, ops.ones_like(span))


@keras.saving.register_keras_serializable(package="keras_spm")
class PercentileScale(keras.layers.Layer):
    """Each image to about [0, 1] by its ``low`` / ``high`` percentiles (robust to scars and spikes).

    The input scaling of the tip-artifact DAE (:func:`keras_spm.models.dae.restore.normalize`) and of the
    nanoparticle U-Net (:func:`keras_spm.models.effunet.prepare_image`). A constant image maps to 0.
    """

    def __init__(self, low: float = 0.5, high: float = 99.5, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= low < high <= 100.0:
            raise ValueError(f"PercentileScale needs 0 <= low < high <= 100, got low={low}, high={high}.")
        self.low, self.high = float(low), float(high)

    def call(self, x):
        x = ops.cast(x, "float32")
        lo, span = _percentiles(x, self.low, self.high)
        return (x - lo) / span

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "low": self.low, "high": self.high}


@keras.saving.register_keras_serializable(package="keras_spm")
class PercentileUnscale(keras.layers.Layer):
    """``y * span + lo`` with ``lo, span`` of :class:`PercentileScale` on ``raw``: an output back in input units."""

    def __init__(self, low: float = 0.5, high: float = 99.5, **kwargs):
        super().__init__(**kwargs)
        self.low, self.high = float(low), float(high)

    def call(self, y, raw):
        lo, span = _percentiles(ops.cast(raw, "float32"), self.low, self.high)
        return ops.cast(y, "float32") * span + lo

    def compute_output_shape(self, y_shape, raw_shape):
        return y_shape

    def get_config(self):
        return {**super().get_config(), "low": self.low, "high": self.high}


#: name used in the presets -> layer class
LAYERS = {
    "standardize_slices": StandardizeSlices,
    "minmax_to_tanh": MinMaxScale,
    "peak_to_tanh": PeakScale,
    "percentiles": PercentileScale,
}

# the scale-aware tip-artifact DAE scales [heights, pixel size] itself (keras_spm.models.dae.scaling, issue #18)
from keras_spm.models.dae.scaling import SlopeScale  # noqa: E402

LAYERS["slope_scale"] = SlopeScale
