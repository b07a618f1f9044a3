"""Per-image intensity calibration of a STEM convolution -> multislice generator.

Every STEM image is divided by its own maximum (the source work's convention, ``stem_pairs.normalize``), so the
brightness of a max-normalised multislice image is set by its single brightest pixel, a global quantity far
outside what a U-Net's texture losses pin down: the shipped pix2pix_stem was 10 % too dark on one Pt-Mo5 test
image, and 21-22 % too bright on Mo-rich particles (issue #17). That is a calibration error, not a texture one.

:class:`MeanCalibration` fixes the mean: it predicts the multislice image's mean from the convolution image's
mean, ``m_hat = a + b * mean(conv)`` (both [0, 1] images; least squares over the training pairs' image
means - in the incoherent approximation both images' means scale with the same column intensities), and
rescales the generator's output so that its mean is ``m_hat``. The texture (relative intensities) is the
generator's. :func:`calibrated_generator` puts it inside a Keras model as the registered layer
:class:`MeanCalibrationLayer`, so a zoo export carries it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import keras
import numpy as np
from keras import ops


class MeanCalibration:
    """``m_hat = a + b * mean(conv)``; :meth:`apply` scales a [0, 1] prediction to mean ``m_hat`` (clipped at 1)."""

    def __init__(self, a: float = 0.0, b: float = 1.0):
        self.a, self.b = float(a), float(b)

    @classmethod
    def fit(cls, pairs: Iterable[tuple[np.ndarray, np.ndarray]]) -> MeanCalibration:
        """Least squares of the multislice means on the convolution means of ``pairs`` ([0, 1] images)."""
        means = np.array([(np.mean(c), np.mean(m)) for c, m in pairs], dtype=np.float64)
        if len(means) < 2:
            raise ValueError(f"MeanCalibration.fit needs at least 2 pairs, got {len(means)}.")
        b, a = np.polyfit(means[:, 0], means[:, 1], 1)
        return cls(a, b)

    def target_mean(self, conv: np.ndarray) -> float:
        return self.a + self.b * float(np.mean(conv))

    def apply(self, pred: np.ndarray, conv: np.ndarray) -> np.ndarray:
        """``pred`` ([0, 1]) rescaled to the predicted mean; values above 1 (the max by definition) are clipped."""
        pred = np.asarray(pred, dtype=np.float64)
        mean = float(pred.mean())
        if mean <= 0:
            return pred
        return np.clip(pred * (self.target_mean(conv) / mean), 0.0, 1.0)

    def to_json(self) -> str:
        return json.dumps({"a": self.a, "b": self.b})

    @classmethod
    def from_json(cls, text: str) -> MeanCalibration:
        d = json.loads(text)
        return cls(d["a"], d["b"])


@keras.saving.register_keras_serializable(package="keras_spm")
class MeanCalibrationLayer(keras.layers.Layer):
    """:class:`MeanCalibration` on [-1, 1] tensors: ``(source, generated) -> generated`` with the predicted mean.

    Means are per image over height, width and channels, in the [0, 1] frame ``(x + 1) / 2``.
    """

    def __init__(self, a: float = 0.0, b: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.a, self.b = float(a), float(b)

    def call(self, source, generated):
        src = (source + 1.0) / 2.0
        gen = (generated + 1.0) / 2.0
        target = self.a + self.b * ops.mean(src, axis=(1, 2, 3), keepdims=True)
        scale = target / ops.maximum(ops.mean(gen, axis=(1, 2, 3), keepdims=True), 1e-6)
        return ops.clip(gen * scale, 0.0, 1.0) * 2.0 - 1.0

    def compute_output_shape(self, source_shape, generated_shape):
        return generated_shape

    def get_config(self):
        return {**super().get_config(), "a": self.a, "b": self.b}


def find_calibration(model: keras.Model) -> MeanCalibration | None:
    """The :class:`MeanCalibration` of a model's :class:`MeanCalibrationLayer`, or None if it has none."""
    for layer in model.layers:
        if isinstance(layer, MeanCalibrationLayer):
            return MeanCalibration(layer.a, layer.b)
    return None


def recalibrate(calibration: MeanCalibration, source: np.ndarray, output: np.ndarray) -> np.ndarray:
    """Redo the calibration of [-1, 1] ``output`` on the unpadded [-1, 1] ``source`` (same leading shape).

    Inside the model the means are taken over the padded image (reflection padding to the network stride), which
    moved them by up to 3 % on the Pt-Mo5 pairs; ``keras_spm.models.gan.translate`` calls this after cropping back.
    """
    src, out = (np.asarray(source, np.float64) + 1) / 2, (np.asarray(output, np.float64) + 1) / 2
    if src.ndim in (2, 3) and out.shape == src.shape:
        return (2 * calibration.apply(out, src) - 1).astype(np.float32)
    fixed = [2 * calibration.apply(o, s) - 1 for o, s in zip(out, src, strict=True)]
    return np.stack(fixed).astype(np.float32)


def _history(value) -> list:
    """The single ``[name, node, index]`` of a functional config's ``input_layers`` / ``output_layers``."""
    if isinstance(value, dict):
        value = list(value.values())
    if value and isinstance(value[0], str):
        return list(value)
    if len(value) != 1:
        raise ValueError(f"calibrated_generator needs a one-input, one-output generator, got {value}.")
    return list(value[0])


def calibrated_generator(generator: keras.Model, calibration: MeanCalibration) -> keras.Model:
    """``generator`` with :class:`MeanCalibrationLayer` appended *in its own graph* ([-1, 1] in and out).

    Flat (no nested model), so ``load_generator(..., input_shape)``, ``generator_stride`` and the zoo's
    ``wrap`` (which edit or walk the top-level layers) keep working; the weights are the generator's. A zoo
    generator that scales its own input is calibrated on the scaled image.
    """
    from keras_spm.models import preprocessing

    config = generator.get_config()
    (in_name, *_), (out_name, out_node, out_index) = (
        _history(config["input_layers"]),
        _history(config["output_layers"]),
    )
    # a zoo model scales its raw input inside (keras_spm.zoo.presets.wrap): calibrate on the scaled [-1, 1] image
    scalers = [layer.name for layer in generator.layers if isinstance(layer, tuple(preprocessing.LAYERS.values()))]
    if scalers:
        in_name = scalers[0]
    shape = list(generator.input_shape)
    layer = keras.saving.serialize_keras_object(
        MeanCalibrationLayer(calibration.a, calibration.b, dtype="float32", name="mean_calibration")
    )

    def tensor(name, node=0, index=0):
        return {
            "class_name": "__keras_tensor__",
            "config": {"shape": shape, "dtype": "float32", "keras_history": [name, node, index]},
        }

    layer.update(
        name="mean_calibration",
        inbound_nodes=[{"args": [tensor(in_name), tensor(out_name, out_node, out_index)], "kwargs": {}}],
    )
    config["layers"].append(layer)
    config["output_layers"] = [["mean_calibration", 0, 0]]
    model = generator.__class__.from_config(config)
    model.set_weights(generator.get_weights())
    return model
