"""Custom layers shared by the zoo's networks.

Only ``keras.layers`` / ``keras.ops`` inside, every layer registered as serializable,
so a saved ``.keras`` model reloads without custom code and runs on any Keras backend.
"""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_spm")
class ReflectionPadding(keras.layers.Layer):
    """Reflective padding of the spatial axes of a channels-last tensor (2D or 3D).

    ``padding`` is one int per spatial axis (pad that many pixels on both sides).
    Reflective padding keeps edge statistics of SPM images intact, unlike zeros.
    """

    def __init__(self, padding: tuple[int, ...] = (1, 1), **kwargs):
        super().__init__(**kwargs)
        self.padding = tuple(int(p) for p in padding)

    def call(self, inputs):
        pad = [(0, 0)] + [(p, p) for p in self.padding] + [(0, 0)]
        return ops.pad(inputs, pad, mode="reflect")

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        for axis, p in enumerate(self.padding, start=1):
            if shape[axis] is not None:
                shape[axis] += 2 * p
        return tuple(shape)

    def get_config(self):
        return {**super().get_config(), "padding": self.padding}
