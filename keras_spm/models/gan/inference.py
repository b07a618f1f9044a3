"""Run a trained generator on whole images of any size, with the input checks the zoo models need.

Generators are fully convolutional but their height and width must be multiples of their stride (4 for the
CycleGAN ResNet, ``2**num_downs`` for the pix2pix U-Net). :func:`translate` reflection-pads other sizes, says
so with a warning, and crops the output back; it refuses colour / multi-channel images, non-numeric arrays and
NaN/inf pixels with errors naming the fix.
"""

from __future__ import annotations

import warnings

import keras
import numpy as np


def all_layers(model: keras.Model) -> list:
    """Every layer of ``model``, nested models' layers included (a zoo model may wrap its generator)."""
    out = []
    for layer in model.layers:
        out.append(layer)
        if isinstance(layer, keras.Model):
            out += all_layers(layer)
    return out


def generator_stride(model: keras.Model) -> int:
    """2 ** (number of stride-2 convolutions on the way down): the size multiple the generator needs."""
    n = 0
    for layer in all_layers(model):
        if isinstance(layer, keras.layers.Conv2D) and not isinstance(layer, keras.layers.Conv2DTranspose):
            if tuple(layer.strides) == (2, 2):
                n += 1
    return 2**n


def _scales_own_input(model: keras.Model) -> bool:
    from keras_spm.models.preprocessing import MinMaxScale, PeakScale

    return any(isinstance(layer, (MinMaxScale, PeakScale)) for layer in all_layers(model))


def translate(model: keras.Model, images, batch_size: int = 1, tta: bool = False) -> np.ndarray:
    """Apply ``model`` to (H, W), (H, W, C) or (B, H, W, C) float images in [-1, 1]; returns float32 of that shape.

    Sizes that are not multiples of :func:`generator_stride` are reflection-padded (with a warning) and
    the output is cropped back to the input size. A zoo generator scales its own input (min-max or over the
    peak, :mod:`keras_spm.models.preprocessing`); the [-1, 1] images given here are handed to it as
    ``(x + 1) / 2``, which its scaling maps back to exactly ``x``, so this call gives what it always gave.
    A generator with a :class:`~keras_spm.models.gan.calibration.MeanCalibrationLayer` has its calibration redone
    on the cropped-back image (inside the model it saw the padding too). ``tta=True`` averages the outputs for the
    images' 8 mirror / 90-degree views (:mod:`keras_spm.inference.symmetry`): for tasks that do not depend on the
    image's orientation, such as pix2pix_stem's (Pt-Mo validation pairs: RMSE / mean 0.110 -> 0.108 real, 0.290 ->
    0.276 simulated), not for CycleGAN styles with scan lines along one axis.
    """
    from keras_spm.inference.symmetry import dihedral_average

    x = np.asarray(images)
    if x.dtype.kind not in "fiu" or x.dtype.kind == "b":
        raise TypeError(
            f"images must be a real-valued numeric array, got dtype {x.dtype}; convert with .astype('float32')."
        )
    channels = model.input_shape[-1]
    squeeze = []
    if x.ndim == 2:
        x, squeeze = x[None, ..., None], ["batch", "channel"]
    elif x.ndim == 3:
        if x.shape[-1] != channels:
            raise ValueError(
                f"a single image must be (H, W) or (H, W, {channels}), got {x.shape}; this generator takes "
                f"{channels}-channel images (convert colour images to one grayscale channel first)."
            )
        x, squeeze = x[None], ["batch"]
    elif x.ndim != 4:
        raise ValueError(f"expected (H, W), (H, W, C) or (B, H, W, C) images, got shape {x.shape}.")
    if x.shape[-1] != channels:
        raise ValueError(
            f"this generator takes {channels}-channel images, got {x.shape[-1]} channels (shape {x.shape}); "
            "convert colour images to one grayscale channel first."
        )
    if not np.all(np.isfinite(x)):
        raise ValueError(f"images hold {int(np.sum(~np.isfinite(x)))} NaN/inf pixels; fill or crop them out first.")
    x = x.astype(np.float32)
    if x.min() < -1.001 or x.max() > 1.001:
        raise ValueError(
            f"images must be scaled to [-1, 1] like the training data, got [{x.min():.3g}, {x.max():.3g}]; use "
            "keras_spm.datasets.afm_style.normalize (AFM) or stem_pairs.to_tanh_range(stem_pairs.normalize(img))."
        )
    if _scales_own_input(model):
        x = (x + 1.0) / 2.0
    run = lambda b: {"y": _translate_batch(model, b, batch_size)}  # noqa: E731
    out = dihedral_average(run, x)["y"] if tta else run(x)["y"]
    if "channel" in squeeze:
        out = out[..., 0]
    if "batch" in squeeze:
        out = out[0]
    return out


def _translate_batch(model: keras.Model, x: np.ndarray, batch_size: int) -> np.ndarray:
    """:func:`translate` of checked (B, H, W, C) float32 input in the model's own input range."""
    from keras_spm.datasets.stem_pairs import crop_back, pad_to_multiple

    from .calibration import find_calibration, recalibrate

    multiple = generator_stride(model)
    h, w = x.shape[1:3]
    if h % multiple or w % multiple:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            padded, box = pad_to_multiple(np.moveaxis(x, 0, -1), multiple)  # pad axes 0, 1 = H, W
        warnings.warn(
            f"{h}x{w} images are not multiples of the generator stride {multiple}: reflection-padded to "
            f"{padded.shape[0]}x{padded.shape[1]} and the output cropped back to {h}x{w}.",
            UserWarning,
            stacklevel=2,
        )
        x = np.moveaxis(padded, -1, 0)
    else:
        box = (0, 0, h, w)
    out = crop_back(model.predict(x, batch_size=batch_size, verbose=0), box).astype(np.float32)
    calibration = find_calibration(model)
    if calibration is not None and tuple(x.shape[1:3]) != (h, w):
        source = crop_back(x, box)
        source = 2 * source - 1 if _scales_own_input(model) else source  # back to [-1, 1]
        out = recalibrate(calibration, source, out)  # the model took its means over the padded image
    return out
