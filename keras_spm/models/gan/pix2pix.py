"""pix2pix for paired image-to-image translation (Isola et al., "Image-to-Image Translation with Conditional
Adversarial Networks", CVPR 2017), here for STEM convolution -> multislice images.

* :func:`unet_generator` - U-Net with skip connections: encoder C64-C128-C256-C512-C512-C512-C512-C512 of
  4x4 stride-2 convs (BatchNorm except on the first and innermost, LeakyReLU 0.2), decoder of 4x4 stride-2
  transposed convs (BatchNorm, ReLU, dropout 0.5 on the first three), tanh output;
* :func:`conditional_patchgan` - the 70x70 PatchGAN on the input and the (real or generated) target
  concatenated along channels (BatchNorm, so its convs have no bias);
* :class:`Pix2Pix` - adversarial + ``l1_weight`` * L1 (100 in the paper, vanilla from-logits GAN loss);
  ``Pix2Pix.stem()`` is the weighting of the STEM conv->multislice work (uw-cmg GAN-STEM-Conv2MultiSlice):
  least-squares adversarial (MSE) and MAE, 50 each.

As in the reference implementation, every conv followed by BatchNorm has no bias and neither has the first
encoder conv; so the 3-channel U-Net-256 has 54,413,955 trainable parameters (published 54.4M) plus the
BatchNorm moving statistics, which Keras counts as non-trainable parameters (PyTorch keeps them as buffers).
The paper runs the generator in training mode at test time too (dropout on, batch statistics); ``call`` here
uses inference mode (no dropout, moving statistics) unless ``training=True`` is passed.
"""

from __future__ import annotations

import keras
from keras import layers, ops

from .cyclegan import _check_shape, _init, gan_adam, patchgan_discriminator


def _bn(name: str) -> layers.Layer:
    return layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name=name)


def unet_generator(
    input_shape=(256, 256, 1),
    out_channels: int | None = None,
    filters: int = 64,
    num_downs: int = 8,
    dropout: float = 0.5,
    max_mult: int = 8,
    name: str | None = None,
    upsampling: str = "transpose",
) -> keras.Model:
    """The pix2pix U-Net; ``num_downs=8`` is "unet_256" (256x256 down to 1x1), 7 is "unet_128".

    Height and width must be multiples of ``2**num_downs`` (``None`` allowed at inference). Level ``i`` has
    ``filters * min(2**i, max_mult)`` channels; the paper's cap is 8, a lower cap removes most parameters
    (they sit in the innermost levels) for the small CPU-trained zoo networks.

    ``upsampling``: ``"transpose"`` (the paper's 4x4 stride-2 transposed convs; the shipped weights),
    ``"resize"`` (nearest 2x + 3x3 conv) or ``"subpixel"`` (3x3 conv + pixel shuffle, ICNR init); see
    :mod:`keras_spm.models.gan.upsampling`. A 4x4 stride-2 transposed conv overlaps evenly, so its checkerboard
    comes from its learnt kernels, not from the overlap; the other two rule it out by construction.
    """
    from .upsampling import UPSAMPLING, upsample

    if upsampling not in UPSAMPLING:
        raise ValueError(f"unet_generator: upsampling must be one of {UPSAMPLING}, got {upsampling!r}.")
    if max_mult < 1:
        raise ValueError(f"unet_generator: max_mult must be >= 1, got {max_mult}.")
    if num_downs < 5:
        raise ValueError(
            f"unet_generator: num_downs must be >= 5 (five fixed levels + dropout levels), got {num_downs}."
        )
    input_shape = _check_shape(input_shape, 2**num_downs, "unet_generator")
    out_channels = out_channels or input_shape[-1]
    widths = [filters * min(2**i, max_mult) for i in range(num_downs)]  # 64, 128, 256, 512, 512, ...
    inputs = keras.Input(input_shape, name="image")

    skips = []
    x = inputs
    for i, f in enumerate(widths):
        if i > 0:
            x = layers.LeakyReLU(0.2, name=f"enc{i}_lrelu")(x)
        x = layers.Conv2D(
            f, 4, strides=2, padding="same", use_bias=False, kernel_initializer=_init(), name=f"enc{i}_conv"
        )(x)
        if 0 < i < num_downs - 1:
            x = _bn(f"enc{i}_bn")(x)
        skips.append(x)

    for j, i in enumerate(range(num_downs - 2, -1, -1)):  # decoder level j mirrors encoder level i
        x = layers.ReLU(name=f"dec{j}_relu")(x)
        x = upsample(x, widths[i], upsampling, f"dec{j}", _init(), transpose_kernel=4, use_bias=False)
        x = _bn(f"dec{j}_bn")(x)
        if j < 3 and dropout > 0:
            x = layers.Dropout(dropout, name=f"dec{j}_dropout")(x)
        x = layers.Concatenate(name=f"dec{j}_skip")([x, skips[i]])
    x = layers.ReLU(name="out_relu")(x)
    x = upsample(x, out_channels, upsampling, "out", _init(), transpose_kernel=4)
    outputs = layers.Activation("tanh", dtype="float32", name="tanh")(x)
    return keras.Model(inputs, outputs, name=name or f"unet_{2**num_downs}_generator")


def conditional_patchgan(
    input_shape=(256, 256, 1),
    target_channels: int | None = None,
    n_layers: int = 3,
    filters: int = 64,
    name: str | None = None,
) -> keras.Model:
    """pix2pix discriminator: PatchGAN logits for ``[input, target]`` (two inputs, concatenated channels)."""
    input_shape = _check_shape(input_shape, 1, "conditional_patchgan")
    target_channels = target_channels or input_shape[-1]
    source = keras.Input(input_shape, name="source")
    target = keras.Input((*input_shape[:2], target_channels), name="target")
    pair = layers.Concatenate(name="pair")([source, target])
    core = patchgan_discriminator(
        (*input_shape[:2], input_shape[-1] + target_channels), n_layers, filters, norm="batch", name="patchgan"
    )
    return keras.Model([source, target], core(pair), name=name or "conditional_patchgan")


def _bce_logits(logits, label: float):
    return ops.mean(ops.binary_crossentropy(ops.full_like(logits, label), logits, from_logits=True))


def _lsgan(logits, label: float):
    return ops.mean(ops.square(logits - label))


class Pix2Pix(keras.Model):
    """Conditional GAN ``x -> y`` trained on paired ``(x, y)`` batches in [-1, 1].

    Generator loss ``adv_weight * GAN(D(x, G(x)), real) + l1_weight * |G(x) - y|``; discriminator loss
    ``0.5 [GAN(D(x, y), real) + GAN(D(x, G(x)), fake)]`` (halved, as in the paper, to slow D down).
    ``gan_mode``: "vanilla" (sigmoid cross-entropy on logits) or "lsgan" (mean squared error).
    Calling the model runs the generator.
    """

    def __init__(
        self,
        generator: keras.Model,
        discriminator: keras.Model,
        l1_weight: float = 100.0,
        adv_weight: float = 1.0,
        gan_mode: str = "vanilla",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if gan_mode not in ("vanilla", "lsgan"):
            raise ValueError(f"Pix2Pix: gan_mode must be 'vanilla' or 'lsgan', got {gan_mode!r}.")
        self.generator, self.discriminator = generator, discriminator
        self.l1_weight, self.adv_weight, self.gan_mode = float(l1_weight), float(adv_weight), gan_mode
        self._gan = _bce_logits if gan_mode == "vanilla" else _lsgan
        self.trackers = {n: keras.metrics.Mean(name=n) for n in ("g_loss", "d_loss", "adv_loss", "l1_loss")}

    @classmethod
    def build_default(
        cls, image_shape=(256, 256, 1), filters: int = 64, num_downs: int = 8, upsampling: str = "transpose", **kwargs
    ) -> Pix2Pix:
        """U-Net generator + conditional 70x70 PatchGAN, lambda_L1 = 100 (Isola et al.)."""
        return cls(
            unet_generator(image_shape, filters=filters, num_downs=num_downs, name="generator", upsampling=upsampling),
            conditional_patchgan(image_shape, filters=filters, name="discriminator"),
            **kwargs,
        )

    @classmethod
    def stem(cls, image_shape=(256, 256, 1), filters: int = 64, num_downs: int = 8) -> Pix2Pix:
        """Weighting of the STEM convolution -> multislice GAN (MSE adversarial 50 + MAE 50)."""
        return cls.build_default(image_shape, filters, num_downs, l1_weight=50.0, adv_weight=50.0, gan_mode="lsgan")

    def compile(self, g_optimizer=None, d_optimizer=None, total_steps: int | None = None, **kwargs):
        """Adam 2e-4 / beta1 0.5 unless given; ``total_steps`` adds the linear decay over the second half."""
        kwargs.setdefault("jit_compile", False)
        super().compile(**kwargs)
        self.g_optimizer = g_optimizer or gan_adam(total_steps)
        self.d_optimizer = d_optimizer or gan_adam(total_steps)
        self.g_optimizer.build(self.generator.trainable_variables)
        self.d_optimizer.build(self.discriminator.trainable_variables)

    @property
    def metrics(self):
        return list(self.trackers.values())

    def call(self, inputs, training=False):
        return self.generator(inputs, training=training)

    def train_step(self, data):
        import tensorflow as tf

        source, target = data[0], data[1]
        with tf.GradientTape(persistent=True) as tape:
            fake = self.generator(source, training=True)
            adv = self._gan(self.discriminator([source, fake], training=True), 1.0)
            l1 = ops.mean(ops.abs(fake - target))
            g_loss = self.adv_weight * adv + self.l1_weight * l1
            d_real = self.discriminator([source, target], training=True)
            d_fake = self.discriminator([source, tf.stop_gradient(fake)], training=True)
            d_loss = 0.5 * (self._gan(d_real, 1.0) + self._gan(d_fake, 0.0))
        g_vars, d_vars = self.generator.trainable_variables, self.discriminator.trainable_variables
        self.g_optimizer.apply_gradients(zip(tape.gradient(g_loss, g_vars), g_vars, strict=True))
        self.d_optimizer.apply_gradients(zip(tape.gradient(d_loss, d_vars), d_vars, strict=True))
        del tape
        for k, v in {"g_loss": g_loss, "d_loss": d_loss, "adv_loss": adv, "l1_loss": l1}.items():
            self.trackers[k].update_state(v)
        return {k: t.result() for k, t in self.trackers.items()}

    def test_step(self, data):
        source, target = data[0], data[1]
        self.trackers["l1_loss"].update_state(ops.mean(ops.abs(self.generator(source) - target)))
        return {"l1_loss": self.trackers["l1_loss"].result()}
