"""ED-AFM's attention U-Net: electrostatic (and height) maps from CO- and Xe-tip stacks.

Oinonen et al., *Electrostatic Discovery Atomic Force Microscopy*, ACS Nano 16, 89 (2022): the network that got
ES maps close to DFT ones from 6-slice CO + Xe stacks, rebuilt here as a Keras functional model from its published
hyper-parameters (the ``EDAFMNet`` of the authors' PyTorch code, ppafm / mlspm):

* per tip, a residual 3D conv block of 32 channels (2 convs); the tips' features concatenated;
* a 3D encoder of residual blocks (48, 96, 192 channels, 3 convs each), each followed by 2x2x2 average pooling with
  z strides 2, 1, 2 (a 6-slice stack: z 6 -> 3 -> 2 -> 1);
* z folded into channels, a residual 2D block of 512 channels (3 convs) at 1/8 resolution;
* three decoder stages (nearest 2x upsampling, a block of 256 / 128 / 64 channels, concatenation with the encoder
  stage of that size, another block), each encoder skip gated by an **attention map**: convs of the skip and of the
  bottleneck features (bilinearly upsampled) to 32 channels, added, a conv to one channel and a softmax over all
  pixels (Oktay et al., arXiv:1804.03999), which multiplies the skip;
* one head per output: a residual block of 64 (3 convs) and a 3x3 conv to one channel.

LeakyReLU(0.1) after every conv and block, edge-replicating padding ("symmetric" with 1-pixel pads), no dropout (as
published). ``width`` scales every channel count (1.0 = published, ~11 M parameters with two outputs, far too slow to
train on two CPU cores; 0.25 is ~0.7 M). Outputs default to ``{"es": None, "height": "softplus"}``, the zoo's es
targets (the paper's network has the ES map only). The height head is softplus, not ReLU as in ASD-AFM's DSH
heads: this network's output is nearly one sign over the whole image at initialisation, so a ReLU head starts
dead (no pixel positive, no gradient) for most seeds - 6 of 8 at quarter width; an edafm campaign run of
2026-12-06 never moved its height MSE from that start.
"""

from __future__ import annotations

import keras

from .blocks import LEAKY_SLOPE, check_input_shape, check_padding_mode, conv

#: ED-AFM's channel counts (``EDAFMNet``)
MERGE, ENCODER, MIDDLE = 32, (48, 96, 192), 512
ATTENTION, DECODER, HEAD = 32, (256, 128, 64), 64
Z_STRIDES = (2, 1, 2)
DEFAULT_OUTPUTS = {"es": None, "height": "softplus"}


def _act(x, name: str):
    return keras.layers.LeakyReLU(negative_slope=LEAKY_SLOPE, name=f"{name}_lrelu")(x)


def residual_block(x, filters: int, depth: int, name: str, ndim: int = 2, padding_mode: str = "symmetric"):
    """``depth`` 3x3 convs (LeakyReLU between them, not after the last) plus the input (1x1 conv if the channel
    counts differ), then LeakyReLU."""
    y = x
    for k in range(1, depth + 1):
        y = conv(y, filters, 3, f"{name}_conv{k}", ndim=ndim, activation=k < depth, padding_mode=padding_mode)
    if x.shape[-1] != filters:
        conv_cls = keras.layers.Conv3D if ndim == 3 else keras.layers.Conv2D
        x = conv_cls(filters, 1, name=f"{name}_skip")(x)
    return _act(keras.layers.Add(name=f"{name}_add")([x, y]), name)


def attention_gate(x, query, channels: int, name: str, padding_mode: str = "symmetric"):
    """``x`` times a softmax-over-pixels attention map computed from ``x`` and the coarser ``query``."""
    h, w = x.shape[1:3]
    factor = h // query.shape[1]
    q = keras.layers.UpSampling2D(factor, interpolation="bilinear", name=f"{name}_query_up")(query)
    q = conv(q, channels, 3, f"{name}_query_conv", padding_mode=padding_mode)
    xp = conv(x, channels, 3, f"{name}_x_conv", padding_mode=padding_mode)
    a = _act(keras.layers.Add(name=f"{name}_sum")([xp, q]), f"{name}_sum")
    a = conv(a, 1, 3, f"{name}_map_conv", activation=False, padding_mode=padding_mode)
    a = keras.layers.Reshape((h * w,), name=f"{name}_flat")(a)
    a = keras.layers.Softmax(name=f"{name}_softmax")(a)
    a = keras.layers.Reshape((h, w, 1), name=f"{name}_map")(a)
    return keras.layers.Multiply(name=f"{name}_gated")([x, a])


def edafm(
    input_shape: tuple[int, int, int] = (128, 128, 6),
    tips: tuple[str, ...] = ("CO", "Xe"),
    outputs: dict[str, str | None] | None = None,
    width: float = 1.0,
    padding_mode: str = "symmetric",
    name: str = "edafm",
) -> keras.Model:
    """Build the attention U-Net; ``input_shape`` (H, W, slices) is shared by the tips' stacks, H and W divisible
    by 8 and at least 4 slices (z is pooled 2, 1, 2). Inputs are a dict by tip name; outputs a dict of (B, H, W)."""
    h, w, z = check_input_shape(input_shape)
    check_padding_mode(padding_mode)
    if z < 4:
        raise ValueError(f"edafm needs at least 4 slices (z is pooled by 2, 1, 2), got {z}.")
    if not tips:
        raise ValueError("edafm needs at least one tip.")
    if width <= 0:
        raise ValueError(f"width must be > 0, got {width}.")
    outputs = DEFAULT_OUTPUTS if outputs is None else outputs

    def ch(c: int) -> int:
        return max(4, round(c * width))

    inputs, branches = {}, []
    for tip in tips:
        prefix = tip.lower()
        inputs[tip] = keras.Input(shape=tuple(input_shape), name=tip)
        x = keras.layers.Reshape((h, w, z, 1), name=f"{prefix}_add_channel")(inputs[tip])
        branches.append(residual_block(x, ch(MERGE), 2, f"{prefix}_merge", ndim=3, padding_mode=padding_mode))
    x = branches[0] if len(branches) == 1 else keras.layers.Concatenate(name="merge_tips")(branches)
    skips = []
    for i, (filters, zs) in enumerate(zip(ENCODER, Z_STRIDES, strict=True), start=1):
        x = residual_block(x, ch(filters), 3, f"enc{i}", ndim=3, padding_mode=padding_mode)
        skips.append(_fold_z(x, f"enc{i}_fold_z"))
        x = keras.layers.AveragePooling3D(pool_size=2, strides=(2, 2, zs), name=f"enc{i}_pool")(x)
    x = residual_block(_fold_z(x, "middle_fold_z"), ch(MIDDLE), 3, "middle", padding_mode=padding_mode)
    query = x
    for i, (filters, skip) in enumerate(zip(DECODER, reversed(skips), strict=True), start=1):
        gated = attention_gate(skip, query, ch(ATTENTION), f"att{i}", padding_mode=padding_mode)
        x = keras.layers.UpSampling2D(2, interpolation="nearest", name=f"dec{i}_up")(x)
        x = residual_block(x, ch(filters), 2, f"dec{i}_a", padding_mode=padding_mode)
        x = keras.layers.Concatenate(name=f"dec{i}_concat")([x, gated])
        x = residual_block(x, ch(filters), 2, f"dec{i}_b", padding_mode=padding_mode)
    out = {}
    for key, activation in outputs.items():
        y = residual_block(x, ch(HEAD), 3, f"{key}_head", padding_mode=padding_mode)
        y = conv(y, 1, 3, f"{key}_out_conv", activation=False, padding_mode=padding_mode)
        if activation is not None:
            y = keras.layers.Activation(activation, name=f"{key}_{activation}")(y)
        out[key] = keras.layers.Reshape((h, w), name=key)(y)
    return keras.Model(inputs, out, name=name)


def _fold_z(x, name: str):
    h, w, z, c = x.shape[1:]
    return keras.layers.Reshape((h, w, z * c), name=name)(x)
