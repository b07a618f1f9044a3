"""xyz: atom positions on a 16 x 16 grid of boxes, YOLO-style, from a constant-height AFM stack.

From the thesis work accompanying Alldritt et al., Sci. Adv. 6, eaay6913 (2020) (Table 4):
the ASD-AFM 3D encoder (128 -> 16 pixels by three x2 poolings, z folded into channels), three
3x3 convs of 128, then two heads on the grid:

* ``"xyz_class"`` (B, 16, 16, 2): softmax, channel 0 = background, channel 1 = atom, so
  ``argmax`` is the class label of ``keras_spm.descriptors.encode_xyz`` (1 atom / 0 background);
* ``"xyz_offset"`` (B, 16, 16, 3): no activation, (x - box centre x, y - box centre y,
  z - z_top) in Angstrom, the target channels 1:4 of ``encode_xyz``.

Each head: two 3x3 convs of 64 (LeakyReLU) and a 3x3 conv to 2 or 3 channels. For a
(128, 128, 10) stack this gives 560,941 parameters (encoder 4,456; trunk 332,160; class head
111,874; offset head 112,451).

``patch_filters`` > 0 adds keras_spm's own *patch branch* (not in the thesis): an 8 x 8, stride-8 convolution of
the full-resolution stack, one patch per grid box, whose own 3x3 conv (``patch_to_trunk``, zero at the start) adds
to the first trunk conv's output. Why: the thesis encoder average-pools 128 -> 16 with 32 channels, which leaves little of where inside its 1 A box an atom
sits; the campaigns' position error stayed at ~0.19 A in xy (median = mean: no tail) while the class map kept
improving. Copying a trained xyz's weights by layer name (:func:`keras_spm.models.afm.transfer.transfer_adding_inputs`)
starts it with exactly the old predictions, and the old layers can be frozen while the branch learns.
"""

from __future__ import annotations

import keras

from ..layers import ReflectionPadding
from .blocks import LEAKY_SLOPE, check_input_shape, check_padding_mode, conv, encoder_3d

TRUNK_FILTERS = 128
HEAD_FILTERS = 64


def xyz(
    input_shape: tuple[int, int, int] = (128, 128, 10),
    padding_mode: str = "symmetric",
    name: str = "xyz",
    patch_filters: int = 0,
) -> keras.Model:
    """Build the xyz atom-position network; the grid is (H / 8) x (W / 8) boxes; ``patch_filters`` > 0 adds the
    full-resolution patch branch (module docstring)."""
    check_input_shape(input_shape)
    check_padding_mode(padding_mode)
    if patch_filters < 0:
        raise ValueError(f"patch_filters must be >= 0 (0: no patch branch), got {patch_filters}.")
    stack = keras.Input(shape=tuple(input_shape), name="afm_stack")
    x = encoder_3d(stack, padding_mode=padding_mode)
    for i in (1, 2, 3):
        x = conv(x, TRUNK_FILTERS, 3, f"trunk_conv_{i}", padding_mode=padding_mode)
        if i == 1 and patch_filters:  # + conv(patches), zero at the start; added after the activation, because
            # TensorFlow 2.21 with oneDNN fuses conv + bias + add + LeakyReLU with the wrong slope (0.2, not 0.1)
            patches = keras.layers.Conv2D(patch_filters, 8, strides=8, name="patch_conv")(stack)
            patches = keras.layers.LeakyReLU(negative_slope=LEAKY_SLOPE, name="patch_conv_lrelu")(patches)
            patches = ReflectionPadding((1, 1), mode=padding_mode, name="patch_to_trunk_pad")(patches)
            patches = keras.layers.Conv2D(TRUNK_FILTERS, 3, kernel_initializer="zeros", name="patch_to_trunk")(patches)
            x = keras.layers.Add(name="trunk_conv_1_with_patches")([x, patches])
    outputs = {}
    for head, channels, activation in (("xyz_class", 2, "softmax"), ("xyz_offset", 3, None)):
        h = x
        for i in (1, 2):
            h = conv(h, HEAD_FILTERS, 3, f"{head}_conv_{i}", padding_mode=padding_mode)
        h = conv(h, channels, 3, f"{head}_out_conv", activation=False, padding_mode=padding_mode)
        outputs[head] = keras.layers.Activation(activation or "linear", name=head)(h)
    return keras.Model(stack, outputs, name=name)
