"""CycleGAN for unpaired image-to-image translation (Zhu et al., "Unpaired Image-to-Image Translation using
Cycle-Consistent Adversarial Networks", ICCV 2017), here for simulated <-> real AFM style.

* :func:`resnet_generator` - the paper's ResNet generator (c7s1-64, d128, d256, N x R256, u128, u64, c7s1-C, tanh);
* :func:`patchgan_discriminator` - the 70x70 PatchGAN (C64-C128-C256-C512, 1-channel patch map of logits);
* :class:`CycleGAN` - both generators and discriminators with least-squares adversarial, L1 cycle and
  identity losses, a 50-image history pool for the discriminators and Adam 2e-4 / beta1 0.5 decaying
  linearly to zero over the second half of training (:class:`LinearDecayAfter`).

Instance normalisation is ``GroupNormalization(groups=-1)`` without affine parameters by default, like the
reference implementation (PyTorch ``InstanceNorm2d(affine=False)``); the convolutions keep their biases there,
so the 3-channel 9-block generator has exactly 11,378,179 parameters and the PatchGAN 2,764,737, the published
11.378M / 2.765M. ``norm_affine=True`` adds a scale and offset per normalised channel.

The training step uses the TensorFlow backend (``tf.GradientTape``); building, saving and inference are plain
Keras 3. Save each generator alone with :meth:`CycleGAN.save_generators` and load one for inference with
:func:`load_generator`.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
from keras import layers, ops

from keras_spm.models.layers import ReflectionPadding, TanhInputSkip

_INIT_STD = 0.02  # N(0, 0.02) weight init of the reference implementation


def _init():
    return keras.initializers.RandomNormal(0.0, _INIT_STD)


def instance_norm(affine: bool = False, name: str | None = None) -> layers.Layer:
    """Instance normalisation (Ulyanov et al. 2016) as one-channel groups; eps 1e-5 like PyTorch's."""
    return layers.GroupNormalization(groups=-1, epsilon=1e-5, center=affine, scale=affine, name=name)


def _check_shape(input_shape, stride: int, what: str) -> tuple:
    input_shape = tuple(input_shape)
    if len(input_shape) != 3:
        raise ValueError(f"{what}: input_shape must be (height, width, channels), got {input_shape}.")
    if input_shape[-1] is None or input_shape[-1] < 1:
        raise ValueError(f"{what}: the channel count must be known and >= 1, got {input_shape}.")
    for size in input_shape[:2]:
        if size is not None and size % stride:
            raise ValueError(
                f"{what}: height and width must be multiples of {stride} (the network stride), got {input_shape}; "
                "pad the image with keras_spm.datasets.stem_pairs.pad_to_multiple and crop the output back."
            )
    return input_shape


def resnet_generator(
    input_shape=(256, 256, 1),
    n_blocks: int = 9,
    filters: int = 64,
    out_channels: int | None = None,
    norm_affine: bool = False,
    input_skip: bool = False,
    name: str | None = None,
    upsampling: str = "transpose",
) -> keras.Model:
    """The CycleGAN ResNet generator (Johnson et al. 2016 layout as used by Zhu et al. 2017).

    7x7 conv, two stride-2 3x3 convs, ``n_blocks`` residual blocks (reflection pad + 3x3 conv twice), two
    stride-2 3x3 transposed convs, 7x7 conv and tanh, so images in [-1, 1] map to [-1, 1]. The paper uses 6
    blocks at 128x128 and 9 at 256x256. Height and width may be ``None`` (any multiple of 4 at inference).

    ``input_skip=True`` (not in the paper; no extra weights) returns ``tanh(atanh(input) + last conv)``
    (:class:`~keras_spm.models.layers.TanhInputSkip`): the instance norms make the published generator blind
    to the global brightness and contrast of its input, so a translation cycle cannot give them back; the skip
    carries them through, and an untrained generator starts near the identity. Needs ``out_channels`` equal
    to the input channels.

    ``upsampling``: ``"transpose"`` (the paper's, and the shipped zoo weights'), ``"resize"`` (nearest 2x +
    reflection-padded 3x3 conv) or ``"subpixel"`` (3x3 conv + pixel shuffle, ICNR-initialised); the last two
    have no period-2 checkerboard at initialisation (:mod:`keras_spm.models.gan.upsampling`). The two up
    blocks then have 3x3 convolutions instead of 3x3 transposed ones: same parameter count for "resize", four
    times the up-block kernels for "subpixel".
    """
    from .upsampling import UPSAMPLING, upsample

    if upsampling not in UPSAMPLING:
        raise ValueError(f"resnet_generator: upsampling must be one of {UPSAMPLING}, got {upsampling!r}.")
    input_shape = _check_shape(input_shape, 4, "resnet_generator")
    if n_blocks < 0 or filters < 1:
        raise ValueError(f"resnet_generator: need n_blocks >= 0 and filters >= 1, got {n_blocks}, {filters}.")
    out_channels = out_channels or input_shape[-1]
    inputs = keras.Input(input_shape, name="image")

    def conv(x, f, k, s, pad, label):
        if pad:
            x = layers.ZeroPadding2D(pad, name=f"{label}_pad")(x)
        return layers.Conv2D(f, k, strides=s, kernel_initializer=_init(), name=f"{label}_conv")(x)

    x = ReflectionPadding((3, 3), name="c7_in_pad")(inputs)
    x = conv(x, filters, 7, 1, 0, "c7_in")
    x = layers.ReLU(name="c7_in_relu")(instance_norm(norm_affine, "c7_in_norm")(x))
    for i, mult in enumerate((2, 4), start=1):
        # zero padding 1 + valid conv keeps the reference's pixel alignment (Keras "same" pads one side only)
        x = conv(x, filters * mult, 3, 2, 1, f"down{i}")
        x = layers.ReLU(name=f"down{i}_relu")(instance_norm(norm_affine, f"down{i}_norm")(x))
    for b in range(n_blocks):
        y = ReflectionPadding((1, 1), name=f"res{b}_pad1")(x)
        y = conv(y, filters * 4, 3, 1, 0, f"res{b}_a")
        y = layers.ReLU(name=f"res{b}_relu")(instance_norm(norm_affine, f"res{b}_a_norm")(y))
        y = ReflectionPadding((1, 1), name=f"res{b}_pad2")(y)
        y = conv(y, filters * 4, 3, 1, 0, f"res{b}_b")
        y = instance_norm(norm_affine, f"res{b}_b_norm")(y)
        x = layers.Add(name=f"res{b}_add")([x, y])
    for i, mult in enumerate((2, 1), start=1):
        x = upsample(x, filters * mult, upsampling, f"up{i}", _init(), transpose_kernel=3, reflect=True)
        x = layers.ReLU(name=f"up{i}_relu")(instance_norm(norm_affine, f"up{i}_norm")(x))
    x = ReflectionPadding((3, 3), name="c7_out_pad")(x)
    x = conv(x, out_channels, 7, 1, 0, "c7_out")
    if input_skip:
        if out_channels != input_shape[-1]:
            raise ValueError(f"resnet_generator: input_skip needs out_channels == {input_shape[-1]} (input channels).")
        outputs = TanhInputSkip(dtype="float32", name="tanh_input_skip")(inputs, x)
    else:
        outputs = layers.Activation("tanh", dtype="float32", name="tanh")(x)
    return keras.Model(inputs, outputs, name=name or f"resnet_{n_blocks}blocks_generator")


def patchgan_discriminator(
    input_shape=(256, 256, 1),
    n_layers: int = 3,
    filters: int = 64,
    norm: str = "instance",
    norm_affine: bool = False,
    name: str | None = None,
) -> keras.Model:
    """PatchGAN discriminator (Isola et al. 2017): a map of real/fake logits, one per overlapping patch.

    ``n_layers=3`` gives the 70x70 receptive field: C64 (no norm) - C128 - C256 (4x4, stride 2) - C512
    (stride 1) - 1-channel 4x4 conv, LeakyReLU 0.2. ``norm="instance"`` (CycleGAN) keeps the conv biases;
    ``norm="batch"`` (pix2pix) drops them, as the reference implementation does. The output has no
    activation: use it with a least-squares or a from-logits cross-entropy loss.
    """
    input_shape = _check_shape(input_shape, 1, "patchgan_discriminator")
    if norm not in ("instance", "batch", "none"):
        raise ValueError(f"patchgan_discriminator: norm must be 'instance', 'batch' or 'none', got {norm!r}.")
    use_bias = norm != "batch"
    inputs = keras.Input(input_shape, name="image")

    def block(x, f, stride, label, normalise=True):
        x = layers.ZeroPadding2D(1, name=f"{label}_pad")(x)
        x = layers.Conv2D(
            f, 4, strides=stride, use_bias=use_bias or not normalise, kernel_initializer=_init(), name=f"{label}_conv"
        )(x)
        if normalise and norm == "instance":
            x = instance_norm(norm_affine, f"{label}_norm")(x)
        elif normalise and norm == "batch":
            x = layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name=f"{label}_norm")(x)
        return layers.LeakyReLU(0.2, name=f"{label}_lrelu")(x)

    x = block(inputs, filters, 2, "c0", normalise=False)
    mult = 1
    for i in range(1, n_layers):
        mult = min(2**i, 8)
        x = block(x, filters * mult, 2, f"c{i}")
    x = block(x, filters * min(2**n_layers, 8), 1, f"c{n_layers}")
    x = layers.ZeroPadding2D(1, name="logits_pad")(x)
    outputs = layers.Conv2D(1, 4, kernel_initializer=_init(), dtype="float32", name="logits")(x)
    return keras.Model(inputs, outputs, name=name or f"patchgan_{n_layers}layers")


@keras.saving.register_keras_serializable(package="keras_spm")
class LinearDecayAfter(keras.optimizers.schedules.LearningRateSchedule):
    """Constant ``initial_learning_rate`` for ``decay_start`` steps, then linear to 0 at ``total_steps``.

    CycleGAN / pix2pix train 100 epochs at 2e-4 and 100 more decaying to zero; ``decay_start`` defaults
    to half of ``total_steps``.
    """

    def __init__(self, initial_learning_rate: float, total_steps: int, decay_start: int | None = None):
        if total_steps < 1:
            raise ValueError(f"LinearDecayAfter: total_steps must be >= 1, got {total_steps}.")
        decay_start = total_steps // 2 if decay_start is None else decay_start
        if not 0 <= decay_start < total_steps:
            raise ValueError(
                f"LinearDecayAfter: need 0 <= decay_start < total_steps, got {decay_start}, {total_steps}."
            )
        self.initial_learning_rate = float(initial_learning_rate)
        self.total_steps = int(total_steps)
        self.decay_start = int(decay_start)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        frac = (step - self.decay_start) / float(self.total_steps - self.decay_start)
        return self.initial_learning_rate * (1.0 - ops.clip(frac, 0.0, 1.0))

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "total_steps": self.total_steps,
            "decay_start": self.decay_start,
        }


def gan_adam(total_steps: int | None = None, learning_rate: float = 2e-4, decay_start: int | None = None):
    """Adam(2e-4, beta_1=0.5) of CycleGAN / pix2pix; with ``total_steps`` the rate decays as :class:`LinearDecayAfter`."""
    lr = learning_rate if total_steps is None else LinearDecayAfter(learning_rate, total_steps, decay_start)
    return keras.optimizers.Adam(learning_rate=lr, beta_1=0.5, beta_2=0.999)


class ImagePool:
    """History of generated images (Shrivastava et al., CVPR 2017) shown to the discriminator.

    Until ``size`` images are stored, each new image is stored and returned; afterwards each new image is,
    with probability 1/2, swapped with a random stored one (the stored one is returned), otherwise returned
    as is. The buffer is a non-trainable TensorFlow variable, so it works inside the compiled train step.
    """

    def __init__(self, size: int, image_shape: tuple, name: str = "pool"):
        import tensorflow as tf

        if size < 0:
            raise ValueError(f"ImagePool: size must be >= 0, got {size}.")
        if any(s is None for s in image_shape):
            raise ValueError(
                f"ImagePool needs a fixed image shape, got {image_shape}; train the CycleGAN on fixed-size crops "
                "(pass image_shape=(h, w, c)) and run inference with a generator built for any size."
            )
        self.size = int(size)
        self.images = tf.Variable(tf.zeros((max(self.size, 1), *image_shape)), trainable=False, name=f"{name}_images")
        self.count = tf.Variable(0, dtype=tf.int32, trainable=False, name=f"{name}_count")
        # Keras traces train_step without AutoGraph; this wrapper converts the loop and branches below
        self.query = tf.function(self._query, autograph=True)

    def _query(self, images):
        import tensorflow as tf

        if self.size == 0:
            return images
        out = tf.TensorArray(images.dtype, size=tf.shape(images)[0])
        for i in tf.range(tf.shape(images)[0]):
            image = images[i]
            if self.count < self.size:
                self.images.scatter_nd_update([[self.count]], image[None])
                self.count.assign_add(1)
                out = out.write(i, image)
            elif tf.random.uniform(()) < 0.5:
                j = tf.random.uniform((), 0, self.size, dtype=tf.int32)
                out = out.write(i, self.images[j])
                self.images.scatter_nd_update([[j]], image[None])
            else:
                out = out.write(i, image)
        return out.stack()


def _mse(pred, target_value: float):
    return ops.mean(ops.square(pred - target_value))


def _l1(a, b):
    return ops.mean(ops.abs(a - b))


def high_frequency_energy(images, eps: float = 1e-6):
    """Per-image mean square of ``images - blur(images)`` (Gaussian, sigma 1 px): the band of checkerboards, ringing
    and grain, above ~0.2 cycles/px. (B, H, W, C) -> (B,), in ``keras.ops``."""
    from ..dae.dae import _gaussian_kernel

    kernel = ops.tile(_gaussian_kernel(5, 1.0), (1, 1, images.shape[-1], 1))
    images = ops.cast(images, "float32")
    padded = ops.pad(images, ((0, 0), (2, 2), (2, 2), (0, 0)), mode="reflect")
    blurred = ops.depthwise_conv(padded, kernel, strides=1, padding="valid")
    return ops.mean(ops.square(images - blurred), axis=(1, 2, 3)) + eps


def texture_excess(output, source, margin: float = 1.0):
    """Mean over the batch of ``max(0, log(HF(output) / HF(source) / margin))``: zero while a translation adds no
    more than ``margin`` x its input's high-frequency energy, scale-free otherwise (:func:`high_frequency_energy`).

    ``margin`` > 1 lets a translation add some grain (real AFM images are noisier than simulations: the sim2exp
    direction has to add some to look real) while still stopping checkerboards and mottling."""
    if not margin > 0:
        raise ValueError(f"margin must be > 0, got {margin}.")
    ratio = high_frequency_energy(output) / high_frequency_energy(source)
    return ops.mean(ops.relu(ops.log(ratio) - float(np.log(margin))))


class CycleGAN(keras.Model):
    """Two generators (A->B ``g_ab``, B->A ``g_ba``) and two PatchGANs (``d_a``, ``d_b``) trained jointly.

    Fit on a dataset of unpaired ``(a, b)`` batches in [-1, 1] (e.g. ``keras_spm.datasets.afm_style``).
    Generator loss: LSGAN ``(D(G(x)) - 1)^2`` both ways + ``lambda_cycle`` * L1 cycle + ``lambda_identity``
    * ``lambda_cycle`` * L1 identity (``G_ab(b) ~ b`` and ``G_ba(a) ~ a``; a pair ``(w_ab, w_ba)`` weighs the two
    apart: an exp2sim generator that must leave simulations alone can get a strong ``w_ba`` while ``w_ab = 0``
    leaves the sim2exp generator free to add the real style) + ``lambda_texture`` * :func:`texture_excess` both ways
    (0 by default: a penalty on translations that add high-frequency energy - checkerboards, outlines, mottling - to
    their input; issue #17's fidelity targets). Discriminator loss: ``0.5 [(D(real) - 1)^2 + D(pool(fake))^2]``.
    Calling the model translates A -> B.
    """

    def __init__(
        self,
        g_ab: keras.Model,
        g_ba: keras.Model,
        d_a: keras.Model,
        d_b: keras.Model,
        lambda_cycle: float = 10.0,
        lambda_identity: float | tuple[float, float] = 0.5,
        pool_size: int = 50,
        image_shape: tuple | None = None,
        lambda_texture: float = 0.0,
        texture_margin: float = 1.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.g_ab, self.g_ba, self.d_a, self.d_b = g_ab, g_ba, d_a, d_b
        self.lambda_cycle = float(lambda_cycle)
        pair = (lambda_identity,) if isinstance(lambda_identity, (int, float)) else tuple(lambda_identity)
        pair = tuple(float(w) for w in pair)
        if len(pair) not in (1, 2) or min(pair) < 0:
            raise ValueError(f"lambda_identity must be one or two weights >= 0 (ab, ba), got {lambda_identity!r}.")
        self.identity_ab, self.identity_ba = pair * (3 - len(pair))
        self.lambda_texture = float(lambda_texture)
        self.texture_margin = float(texture_margin)
        shape_a = tuple(image_shape or g_ab.input_shape[1:])
        shape_b = tuple(image_shape or g_ba.input_shape[1:])
        if max(pair) > 0 and shape_a[-1] != shape_b[-1]:
            raise ValueError(
                f"CycleGAN: the identity loss needs the same channel count in both domains, got {shape_a[-1]} and "
                f"{shape_b[-1]}; set lambda_identity=0."
            )
        self.pool_a = ImagePool(pool_size, shape_a, "pool_a")  # generated A images, for d_a
        self.pool_b = ImagePool(pool_size, shape_b, "pool_b")
        names = ("g_loss", "d_loss", "adv_loss", "cycle_loss", "identity_loss", "texture_loss", "d_a_loss", "d_b_loss")
        self.trackers = {n: keras.metrics.Mean(name=n) for n in names}

    @classmethod
    def build_default(
        cls,
        image_shape=(192, 192, 1),
        n_blocks: int = 9,
        filters: int = 64,
        d_filters: int = 64,
        n_layers: int = 3,
        input_skip: bool = False,
        upsampling: str = "transpose",
        **kwargs,
    ) -> CycleGAN:
        """The paper's configuration: two ResNet generators and two 70x70 PatchGANs for ``image_shape``.

        ``input_skip``: generators that keep their input's brightness and contrast (see :func:`resnet_generator`).
        """
        return cls(
            resnet_generator(image_shape, n_blocks, filters, input_skip=input_skip, name="g_ab", upsampling=upsampling),
            resnet_generator(image_shape, n_blocks, filters, input_skip=input_skip, name="g_ba", upsampling=upsampling),
            patchgan_discriminator(image_shape, n_layers, d_filters, name="d_a"),
            patchgan_discriminator(image_shape, n_layers, d_filters, name="d_b"),
            image_shape=image_shape,
            **kwargs,
        )

    def compile(self, g_optimizer=None, d_optimizer=None, total_steps: int | None = None, **kwargs):
        """Adam 2e-4 / beta1 0.5 for both players unless given; ``total_steps`` adds the linear decay."""
        kwargs.setdefault("jit_compile", False)  # the history pool's loop and variable updates stay out of XLA
        super().compile(**kwargs)
        self.g_optimizer = g_optimizer or gan_adam(total_steps)
        self.d_optimizer = d_optimizer or gan_adam(total_steps)
        self.g_optimizer.build(self.g_ab.trainable_variables + self.g_ba.trainable_variables)
        self.d_optimizer.build(self.d_a.trainable_variables + self.d_b.trainable_variables)

    @property
    def metrics(self):
        return list(self.trackers.values())

    def call(self, inputs, training=False):
        return self.g_ab(inputs, training=training)

    def train_step(self, data):
        import tensorflow as tf

        real_a, real_b = data[0], data[1]
        with tf.GradientTape(persistent=True) as tape:
            fake_b = self.g_ab(real_a, training=True)
            fake_a = self.g_ba(real_b, training=True)
            adv = _mse(self.d_b(fake_b, training=True), 1.0) + _mse(self.d_a(fake_a, training=True), 1.0)
            cycle = _l1(self.g_ba(fake_b, training=True), real_a) + _l1(self.g_ab(fake_a, training=True), real_b)
            identity = tf.constant(0.0)  # the weighted sum of the two identity L1 terms
            if self.identity_ab > 0:
                identity += self.identity_ab * _l1(self.g_ab(real_b, training=True), real_b)
            if self.identity_ba > 0:
                identity += self.identity_ba * _l1(self.g_ba(real_a, training=True), real_a)
            g_loss = adv + self.lambda_cycle * cycle + self.lambda_cycle * identity
            texture = texture_excess(fake_b, real_a, self.texture_margin) + texture_excess(
                fake_a, real_b, self.texture_margin
            )
            if self.lambda_texture > 0:
                g_loss = g_loss + self.lambda_texture * texture

            pooled_a = self.pool_a.query(tf.stop_gradient(fake_a))
            pooled_b = self.pool_b.query(tf.stop_gradient(fake_b))
            d_a_loss, d_b_loss = self._critic_losses(real_a, real_b, pooled_a, pooled_b)
            d_loss = d_a_loss + d_b_loss

        g_vars = self.g_ab.trainable_variables + self.g_ba.trainable_variables
        d_vars = self.d_a.trainable_variables + self.d_b.trainable_variables
        self.g_optimizer.apply_gradients(zip(tape.gradient(g_loss, g_vars), g_vars, strict=True))
        self.d_optimizer.apply_gradients(zip(tape.gradient(d_loss, d_vars), d_vars, strict=True))
        del tape
        values = {
            "g_loss": g_loss,
            "d_loss": d_loss,
            "adv_loss": adv,
            "cycle_loss": cycle,
            "identity_loss": identity,
            "texture_loss": texture,
            "d_a_loss": d_a_loss,
            "d_b_loss": d_b_loss,
        }
        for k, v in values.items():
            self.trackers[k].update_state(v)
        return {k: t.result() for k, t in self.trackers.items()}

    def _critic_losses(self, real_a, real_b, fake_a, fake_b):
        """LSGAN discriminator losses ``0.5 [(D(real) - 1)^2 + D(fake)^2]`` of ``d_a`` and ``d_b``."""
        d_a = 0.5 * (_mse(self.d_a(real_a, training=True), 1.0) + _mse(self.d_a(fake_a, training=True), 0.0))
        d_b = 0.5 * (_mse(self.d_b(real_b, training=True), 1.0) + _mse(self.d_b(fake_b, training=True), 0.0))
        return d_a, d_b

    def warm_up_discriminators(self, dataset, steps: int, learning_rate: float = 2e-4) -> dict[str, float]:
        """Train only ``d_a`` and ``d_b`` for ``steps`` batches of ``(a, b)`` against the frozen generators.

        Why: the zoo keeps generators only, so a fine-tune from them starts with untrained critics whose first
        gradients point nowhere; the generators then drift while the game restarts (issue #17, run f lost the
        sim -> real style in its first epoch). A separate Adam (beta1 0.5) is used, so the training schedule's
        step count is untouched; the history pools fill on the way. Returns the mean losses of the last 10 %.
        Measured on the zoo pair (session 19, runs g / h in its cards): warm critics did not keep the style either.
        """
        import tensorflow as tf

        if steps < 1:
            raise ValueError(f"warm_up_discriminators: steps must be >= 1, got {steps}.")
        d_vars = self.d_a.trainable_variables + self.d_b.trainable_variables
        optimizer = keras.optimizers.Adam(learning_rate, beta_1=0.5)
        optimizer.build(d_vars)

        @tf.function
        def step(real_a, real_b):
            fake_b = self.pool_b.query(self.g_ab(real_a, training=True))
            fake_a = self.pool_a.query(self.g_ba(real_b, training=True))
            with tf.GradientTape() as tape:
                d_a, d_b = self._critic_losses(real_a, real_b, fake_a, fake_b)
                total = d_a + d_b  # inside the tape, or the gradient has no path to the weights
            optimizer.apply_gradients(zip(tape.gradient(total, d_vars), d_vars, strict=True))
            return d_a, d_b

        bar = keras.utils.Progbar(steps, stateful_metrics=("d_a_loss", "d_b_loss"))
        tail = max(1, steps // 10)
        last = []
        for i, batch in enumerate(dataset.take(steps)):
            d_a, d_b = (float(v) for v in step(batch[0], batch[1]))
            last = (last + [(d_a, d_b)])[-tail:]
            bar.update(i + 1, [("d_a_loss", d_a), ("d_b_loss", d_b)])
        if not last:
            raise ValueError("warm_up_discriminators: the dataset gave no batches.")
        return {"d_a_loss": float(np.mean([v[0] for v in last])), "d_b_loss": float(np.mean([v[1] for v in last]))}

    def test_step(self, data):
        real_a, real_b = data[0], data[1]
        fake_b, fake_a = self.g_ab(real_a), self.g_ba(real_b)
        cycle = _l1(self.g_ba(fake_b), real_a) + _l1(self.g_ab(fake_a), real_b)
        self.trackers["cycle_loss"].update_state(cycle)
        return {"cycle_loss": self.trackers["cycle_loss"].result()}

    def save_generators(self, directory) -> dict[str, Path]:
        """Write ``g_ab.keras`` and ``g_ba.keras`` (each loadable alone with :func:`load_generator`)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        paths = {"g_ab": directory / "g_ab.keras", "g_ba": directory / "g_ba.keras"}
        self.g_ab.save(paths["g_ab"])
        self.g_ba.save(paths["g_ba"])
        return paths


def load_generator(path, input_shape=None) -> keras.Model:
    """Load a saved generator (``.keras``) for inference, without its training state.

    With ``input_shape`` (e.g. ``(None, None, 1)``) the weights are moved into a fresh model of that input
    size, so a generator trained on fixed crops runs on whole images (sizes multiple of the stride).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no saved generator at {path}; save one with CycleGAN.save_generators or model.save.")
    if path.suffix != ".keras":
        raise ValueError(f"expected a Keras 3 '.keras' file, got {path.name}.")
    from keras_spm.models import preprocessing  # noqa: F401 - registers the input scaling layers of zoo models

    model = keras.saving.load_model(path, compile=False)
    if input_shape is None or tuple(input_shape) == tuple(model.input_shape[1:]):
        return model
    config = model.get_config()
    config["layers"][0]["config"]["batch_shape"] = (None, *input_shape)
    clone = model.__class__.from_config(config)
    clone.set_weights(model.get_weights())
    return clone
