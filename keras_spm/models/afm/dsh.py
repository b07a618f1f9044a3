"""DSH: Atomic Disks, vdW Spheres and Height Map from a constant-height AFM stack.

Alldritt et al., *Automated structure discovery in atomic force microscopy*, Sci. Adv. 6,
eaay6913 (2020). The layer structure matches the published weights (SINGROUP/ASD-AFM,
``model_light.h5`` / ``model_heavy.h5``): 122,811 parameters for a (128, 128, 10) stack.

Outputs are named ``"disks"``, ``"spheres"``, ``"height"``, each of shape (B, H, W): the
single output channel is squeezed, as in the original model (its final ``Reshape``), so
targets are plain 2D maps per sample.
"""

from __future__ import annotations

import keras

from .blocks import check_input_shape, check_padding_mode, conv, decoder, encoder_3d

#: Output name -> final activation (disks are signed after the min-to-zero shift, so no ReLU).
DSH_OUTPUTS = {"disks": None, "spheres": "relu", "height": "relu"}
LATENT_FILTERS = 64


def dsh(
    input_shape: tuple[int, int, int] = (128, 128, 10), padding_mode: str = "symmetric", name: str = "dsh"
) -> keras.Model:
    """Build the DSH network (Keras functional API).

    ``input_shape`` is (H, W, slices), channels last, slice 0 farthest from the sample; H and W
    multiples of 8. ``padding_mode="symmetric"`` repeats the edge pixel as the original code did
    (its "reflective" padding); ``"reflect"`` is available for new trainings.
    """
    h, w, _ = check_input_shape(input_shape)
    check_padding_mode(padding_mode)
    stack = keras.Input(shape=tuple(input_shape), name="afm_stack")
    x = encoder_3d(stack, padding_mode=padding_mode)
    for i in (1, 2):
        x = conv(x, LATENT_FILTERS, 3, f"latent_conv_{i}", padding_mode=padding_mode)
    outputs = {name: decoder(x, name, act, (h, w), padding_mode=padding_mode) for name, act in DSH_OUTPUTS.items()}
    return keras.Model(stack, outputs, name=name)
