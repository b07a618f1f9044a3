"""Custom layers shared by the zoo's networks.

Only ``keras.layers`` / ``keras.ops`` inside, every layer registered as serializable,
so a saved ``.keras`` model reloads without custom code and runs on any Keras backend.
"""

from __future__ import annotations

import keras
from keras import ops

_PAD_MODES = ("reflect", "symmetric")


@keras.saving.register_keras_serializable(package="keras_spm")
class ReflectionPadding(keras.layers.Layer):
    """Reflective padding of the spatial axes of a channels-last tensor (2D or 3D).

    ``padding`` is one int per spatial axis (pad that many pixels on both sides).
    Reflective padding keeps edge statistics of SPM images intact, unlike zeros.

    ``mode="reflect"`` mirrors about the edge pixel (``np.pad`` "reflect": ``c b | a b c``);
    ``mode="symmetric"`` mirrors about the edge itself, so the edge pixel is repeated
    (``np.pad`` "symmetric": ``b a | a b c``). The ASD-AFM networks (Alldritt et al., Sci. Adv. 6,
    eaay6913, 2020) call their padding "reflective" but build it from ``K.reverse(X[:, :k])``,
    which is the symmetric mode; it also works on axes of length 1 (a 6-slice stack pooled to
    one z-plane), where "reflect" is undefined.

    In training on TensorFlow it is one ``ops.pad`` (TF's ``MirrorPad``): the gradient of slices and concatenation
    (``StridedSliceGrad``, ``Slice``, ``ConcatV2``) was a third of a DSH training step; with ``MirrorPad`` five steps
    took 6.2 s instead of 7.2 s (float32; bf16 4.9 instead of 5.8 s; under the TF profiler). In inference slices and ``ops.flip`` are kept: traced DSH inference is 1.2x (float32) and
    1.5x (bf16) faster with them (same run, 2026-12-02). Both give the same numbers. The torch backend's reflect
    padding cannot pad four axes of a channels-last 5D tensor, so it always uses slices.
    """

    def __init__(self, padding: tuple[int, ...] = (1, 1), mode: str = "reflect", **kwargs):
        super().__init__(**kwargs)
        if mode not in _PAD_MODES:
            raise ValueError(f"ReflectionPadding mode must be one of {_PAD_MODES}, got {mode!r}.")
        self.padding = tuple(int(p) for p in padding)
        self.mode = mode

    def call(self, inputs, training=None):
        if training and keras.backend.backend() == "tensorflow":
            pad_width = [(0, 0)] + [(p, p) for p in self.padding] + [(0, 0)]
            return ops.pad(inputs, pad_width, mode=self.mode)
        return self.pad_by_slices(inputs)

    def pad_by_slices(self, x):
        """The same padding from slices and ``ops.flip`` (any backend)."""
        for axis, p in enumerate(self.padding, start=1):
            if p == 0:
                continue
            lead = (slice(None),) * axis
            if self.mode == "reflect":
                before, after = x[lead + (slice(1, p + 1),)], x[lead + (slice(-p - 1, -1),)]
            else:
                before, after = x[lead + (slice(0, p),)], x[lead + (slice(-p, None),)]
            x = ops.concatenate([ops.flip(before, axis=axis), x, ops.flip(after, axis=axis)], axis=axis)
        return x

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        for axis, p in enumerate(self.padding, start=1):
            if shape[axis] is not None:
                shape[axis] += 2 * p
        return tuple(shape)

    def get_config(self):
        return {**super().get_config(), "padding": self.padding, "mode": self.mode}


@keras.saving.register_keras_serializable(package="keras_spm")
class TanhInputSkip(keras.layers.Layer):
    """``tanh(atanh(image) + residual)``: a generator's output as its input changed in tanh space.

    A CycleGAN generator normalises every channel per image (instance norm), so it cannot see the global
    brightness and contrast of its input and a simulated -> real -> simulated cycle loses them. Adding the
    input back before the final tanh carries them past the normalisations; a zero residual is the identity.
    ``image`` must be in [-1, 1]; it is clipped to +-``limit`` so that atanh stays finite.
    """

    def __init__(self, limit: float = 0.999, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 < limit < 1.0:
            raise ValueError(f"TanhInputSkip limit must be in (0, 1), got {limit}.")
        self.limit = float(limit)

    def call(self, image, residual):
        x = ops.clip(image, -self.limit, self.limit)
        return ops.tanh(ops.arctanh(x) + residual)

    def compute_output_shape(self, image_shape, residual_shape):
        return residual_shape

    def get_config(self):
        return {**super().get_config(), "limit": self.limit}
