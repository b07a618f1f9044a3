"""2x upsampling blocks for the generators, with and without the checkerboard of transposed convolutions.

A stride-2 transposed convolution whose kernel size is not a multiple of 2 overlaps unevenly, so even and odd
output pixels see different numbers of kernel taps: a period-2 checkerboard, present at initialisation and
hard for training to remove (Odena, Dumoulin & Olah, "Deconvolution and checkerboard artifacts", Distill 2016).

* ``"transpose"`` - the published blocks (``Conv2DTranspose``, stride 2); what the shipped weights use;
* ``"resize"`` - nearest-neighbour 2x resize, then a 3x3 convolution (Odena et al.'s resize-convolution);
* ``"subpixel"`` - a 3x3 convolution to ``4 x filters`` channels and :class:`PixelShuffle` (Shi et al. 2016),
  its kernel initialised with :class:`ICNR` (Aitken et al., "Checkerboard artifact free sub-pixel convolution",
  arXiv:1707.02937, 2017), so that at initialisation it *is* a resize-convolution and starts artefact-free,
  while keeping the four sub-pixel kernels free to differ later.

Both new layers are registered Keras serializables, so saved generators reload without custom code.
"""

from __future__ import annotations

import keras
from keras import layers, ops

UPSAMPLING = ("transpose", "resize", "subpixel")


@keras.saving.register_keras_serializable(package="keras_spm")
class PixelShuffle(layers.Layer):
    """Depth to space: (B, H, W, C r^2) -> (B, H r, W r, C), channel ``(dy r + dx) C + c`` to offset (dy, dx).

    The same ordering as ``tf.nn.depth_to_space``; written with ``keras.ops`` so it runs on any backend and on
    images of any size.
    """

    def __init__(self, factor: int = 2, **kwargs):
        super().__init__(**kwargs)
        if factor < 1:
            raise ValueError(f"PixelShuffle factor must be >= 1, got {factor}.")
        self.factor = int(factor)

    def call(self, x):
        r = self.factor
        shape = ops.shape(x)
        b, h, w, c = shape[0], shape[1], shape[2], x.shape[-1] // (r * r)
        x = ops.reshape(x, (b, h, w, r, r, c))
        x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
        return ops.reshape(x, (b, h * r, w * r, c))

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        r = self.factor
        if c % (r * r):
            raise ValueError(f"PixelShuffle({r}) needs channels divisible by {r * r}, got {c}.")
        return (b, None if h is None else h * r, None if w is None else w * r, c // (r * r))

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


@keras.saving.register_keras_serializable(package="keras_spm")
class ICNR(keras.initializers.Initializer):
    """Initialise a sub-pixel convolution kernel (k, k, in, out r^2) as ``r^2`` copies of one (k, k, in, out)
    kernel drawn from ``initializer``: after :class:`PixelShuffle` every r x r block is constant, i.e. the layer
    starts as nearest-neighbour resize + convolution and has no checkerboard (Aitken et al. 2017)."""

    def __init__(self, initializer=None, factor: int = 2):
        self.initializer = keras.initializers.get(initializer or "glorot_uniform")
        self.factor = int(factor)

    def __call__(self, shape, dtype=None):
        n = self.factor**2
        if shape[-1] % n:
            raise ValueError(f"ICNR({self.factor}) needs output channels divisible by {n}, got shape {shape}.")
        sub = self.initializer((*shape[:-1], shape[-1] // n), dtype=dtype)
        return ops.tile(sub, (1,) * (len(shape) - 1) + (n,))

    def get_config(self):
        return {"initializer": keras.initializers.serialize(self.initializer), "factor": self.factor}


def upsample(
    x,
    filters: int,
    mode: str,
    label: str,
    kernel_initializer,
    transpose_kernel: int = 3,
    use_bias: bool = True,
    reflect: bool = False,
):
    """One 2x upsampling of ``x`` to ``filters`` channels (no norm / activation: the caller adds them).

    ``transpose_kernel`` is the transposed convolution's size (3 in CycleGAN, 4 in pix2pix); the resize and
    sub-pixel convolutions are 3x3, reflection-padded if ``reflect`` (CycleGAN's style) else zero-padded.
    Layer names: ``{label}_convt`` (transpose, as the shipped weights), ``{label}_resize`` / ``{label}_shuffle``
    and ``{label}_conv``.
    """
    from keras_spm.models.layers import ReflectionPadding

    if mode not in UPSAMPLING:
        raise ValueError(f"upsampling must be one of {UPSAMPLING}, got {mode!r}.")
    if mode == "transpose":
        return layers.Conv2DTranspose(
            filters,
            transpose_kernel,
            strides=2,
            padding="same",
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            name=f"{label}_convt",
        )(x)

    def conv3(y, f, init):
        padding = "same"
        if reflect:
            y = ReflectionPadding((1, 1), name=f"{label}_pad")(y)
            padding = "valid"
        return layers.Conv2D(f, 3, padding=padding, use_bias=use_bias, kernel_initializer=init, name=f"{label}_conv")(y)

    if mode == "resize":
        x = layers.UpSampling2D(2, interpolation="nearest", name=f"{label}_resize")(x)
        return conv3(x, filters, kernel_initializer)
    x = conv3(x, 4 * filters, ICNR(kernel_initializer, 2))
    return PixelShuffle(2, name=f"{label}_shuffle")(x)


def resize_kernel_from_transpose(kernel, flip: bool = True):
    """A resize-convolution kernel (k, k, in, out) standing in for a transposed one (k, k, out, in).

    A stride-2 transposed convolution gives each output parity its own subset of the kernel taps (the
    checkerboard); nearest 2x + a convolution with the spatially flipped, in/out-swapped kernel gives every output
    pixel all the taps over the same neighbourhood: the parity average, up to a scale the instance norm that
    follows removes. A warm start for retraining a published generator without its checkerboard.
    """
    import numpy as np

    k = np.transpose(np.asarray(kernel), (0, 1, 3, 2))
    return k[::-1, ::-1] if flip else k


def copy_generator_weights(source: keras.Model, target: keras.Model) -> list[str]:
    """Copy ``source``'s weights into ``target`` layer by layer (by name); returns the target layers left as built.

    Transposed up-convolutions (``{label}_convt``) fill the resize convolutions (``{label}_conv``) of a target built
    with ``upsampling="resize"`` (:func:`resize_kernel_from_transpose`). A layer whose shapes differ is refused with
    both shapes named: the two networks must have the same sizes.
    """
    by_name = {layer.name: layer for layer in source.layers if layer.weights}
    left = []
    for layer in target.layers:
        if not layer.weights:
            continue
        src = by_name.get(layer.name)
        if src is None and layer.name.endswith("_conv") and f"{layer.name[:-5]}_convt" in by_name:
            src = by_name[f"{layer.name[:-5]}_convt"]
            kernel, *rest = src.get_weights()
            values = [resize_kernel_from_transpose(kernel), *rest]
        elif src is None:
            left.append(layer.name)
            continue
        else:
            values = src.get_weights()
        shapes = [tuple(w.shape) for w in layer.weights]
        if shapes != [tuple(v.shape) for v in values]:
            raise ValueError(
                f"layer {layer.name!r}: the source has weights of shapes {[tuple(v.shape) for v in values]}, the "
                f"target {shapes}; build the target with the source's sizes (filters, blocks)."
            )
        layer.set_weights(values)
    return left
