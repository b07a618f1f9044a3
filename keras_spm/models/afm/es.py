"""ES: electrostatic map and height map from two AFM stacks, one with a CO tip, one with a Xe tip.

The two-tip idea is that of ED-AFM (Oinonen et al., *Electrostatic Discovery Atomic Force
Microscopy*, ACS Nano 16, 89 (2022)); this network is the ASD-AFM-style ES model of the thesis
accompanying Alldritt et al., Sci. Adv. 6, eaay6913 (2020) (Table 3: 169,970 parameters),
built from the DSH blocks:

* per tip, unshared: the 3D encoder (z folded into channels) and one 3x3 conv to 64 channels;
* concatenation (128 channels), a 1x1 conv back to 64;
* the DSH latent part: two 3x3 convs of 64;
* two DSH decoders: ``"es"`` (no activation, the potential is signed) and ``"height"`` (ReLU).

Why this variant: the two tip branches (2 x 22,952) and the two decoders (2 x 20,977) hold
87,858 parameters, so the 1x1 conv and the latent part must hold 82,112. A 1x1 conv 128 -> f
followed by 3x3 convs f -> 64 and 64 -> 64 gives 705 f + 36,992, which is 82,112 only for
f = 64 (8,256 + 36,928 + 36,928). A shared encoder for both tips would be 22,952 short. The
6-slice preset (ED-AFM's stack depth) has 151,538 parameters: z pools 6 -> 3 -> 1, so each
tip's first 2D conv sees 16 instead of 32 channels (2 x 9,216 fewer).

Inputs are a dict ``{"CO": stack, "Xe": stack}`` (the keys ``AFMSimulator.simulate`` returns),
each (B, H, W, slices), slice 0 farthest from the sample.
"""

from __future__ import annotations

import keras

from .blocks import check_input_shape, check_padding_mode, conv, decoder, encoder_3d

ES_OUTPUTS = {"es": None, "height": "relu"}
TIPS = ("CO", "Xe")
LATENT_FILTERS = 64


def es(
    input_shape: tuple[int, int, int] = (128, 128, 10), padding_mode: str = "symmetric", name: str = "es"
) -> keras.Model:
    """Build the two-tip ES network; ``input_shape`` (H, W, slices) is shared by both tips' stacks."""
    h, w, _ = check_input_shape(input_shape)
    check_padding_mode(padding_mode)
    inputs, features = {}, []
    for tip in TIPS:
        prefix = tip.lower() + "_"
        inputs[tip] = keras.Input(shape=tuple(input_shape), name=tip)
        x = encoder_3d(inputs[tip], prefix=prefix, padding_mode=padding_mode)
        features.append(conv(x, LATENT_FILTERS, 3, f"{prefix}conv2d", padding_mode=padding_mode))
    x = keras.layers.Concatenate(name="merge_tips")(features)
    x = conv(x, LATENT_FILTERS, 1, "merge_conv1x1", padding_mode=padding_mode)
    for i in (1, 2):
        x = conv(x, LATENT_FILTERS, 3, f"latent_conv_{i}", padding_mode=padding_mode)
    outputs = {name: decoder(x, name, act, (h, w), padding_mode=padding_mode) for name, act in ES_OUTPUTS.items()}
    return keras.Model(inputs, outputs, name=name)
