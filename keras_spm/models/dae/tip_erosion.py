"""Learned tip estimation + Villarrubia erosion: a tip-artifact remover that can only do what the physics allows.

Why. A blunt or double tip images a surface ``s`` as the grey dilation of ``s`` by the tip, and the erosion of the
image by the *true* tip (Villarrubia, J. Res. NIST 102, 425 (1997)) undoes most of it: on the real-topography
benchmark of issue #18 it gains +5.6 dB over the corrupted input, where the U-Net DAE (``topography_dae``) gains 1 dB
and the blind tip estimate (Villarrubia's bound, 7 px) loses 0.8 dB. Erosion is also forgiving: a tip radius off by
-30 % / +40 % still gains +4 / +5 dB. What the classic method lacks is a good tip estimate from one noisy image.

So :func:`tip_erosion_dae` is a small convolutional encoder that looks at the whole (scale-aware, :mod:`.scaling`)
image, together with the image's own bound on the tip (:class:`PeakBound`: no feature is sharper than the tip), and
regresses the tip's height profile on a ``tip_size`` x ``tip_size`` pixel grid, followed by a fixed,
differentiable :class:`TipErosion` of the input heights by that tip. Properties that follow from the construction:

* the output is an erosion of the input: it never rises above the input and can only remove what a tip of the
  estimated shape could have added; a sharp estimate (the apex alone) returns the input unchanged, which is what a
  clean scan should get ("clean in, clean out");
* the tip is a monotone radial profile, round or square (pyramid) or between (:class:`TipProfile`), and global: one
  estimate per image from image-wide pooled features, so it is the same for every edge of a
  scan and the encoder sees the whole scan at inference (any size; patches only in training);
* it is trained on the :mod:`keras_spm.sim.topography` surfaces with two losses: the restoration loss on the eroded
  output and the mean absolute error of the tip profile against the tip that corrupted the pair (both in units of
  the image's robust height span; profiles below ``-depth`` spans are never probed and are clipped).

White noise and scan-line offsets are not tip effects and are left as they are (erosion slightly lowers noise maxima).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import keras
import numpy as np
from keras import layers, ops

if TYPE_CHECKING:
    from keras_spm.sim.tip import TipShape

#: tip profiles are clipped this many robust height spans below the apex (deeper parts never touch the surface)
TIP_DEPTH = 2.0
#: side of the tip grid in pixels (radius 12 px: the corruption's tips are 2-12 px; in true-tip erosion 25 px loses
#: 0.13 dB on test against the full tip)
TIP_SIZE = 25


@keras.saving.register_keras_serializable(package="keras_spm")
class TipErosion(keras.layers.Layer):
    """Grey erosion of each image by its own tip: ``out(x) = min_u [z(x - u) - P(u)]`` (Villarrubia's reconstruction).

    Inputs ``heights`` (B, H, W, 1) and ``tip`` (B, K, K, 1) with ``K`` odd, apex at the grid centre's frame (the
    tip's own array, as :class:`keras_spm.sim.tip.TipShape`, not reflected). Pixels outside the image give no
    constraint. Computed in float32 with ``tf.nn.erosion2d`` (the batch as channels, so each image gets its own tip).
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)

    def call(self, heights, tip):
        import tensorflow as tf

        z = tf.transpose(tf.cast(heights, "float32"), [3, 1, 2, 0])  # (1, H, W, B)
        p = tf.transpose(tf.cast(tip, "float32")[..., 0], [1, 2, 0])  # (K, K, B)
        out = tf.nn.erosion2d(z, p, strides=[1, 1, 1, 1], padding="SAME", data_format="NHWC", dilations=[1, 1, 1, 1])
        return tf.transpose(out, [3, 1, 2, 0])

    def compute_output_shape(self, heights_shape, tip_shape):
        return heights_shape


@keras.saving.register_keras_serializable(package="keras_spm")
class TipProfile(keras.layers.Layer):
    """Raw network outputs (B, n + 1) -> a tip profile (B, K, K, 1) in [-depth, 0], apex (0) at the centre.

    Why this form: a free K x K profile (625 numbers) regressed from pooled features came out noisy and
    non-monotone and was learnt slowly; tips are blunt cones, spheres, paraboloids or pyramids. So the network
    gives a radial profile ``f`` at radii 0, 1, ..., n px - monotone by construction, ``f(0) = 0`` and
    ``f(r_i) = -sum_{j <= i} softplus(a_j)`` - and a mix ``b = sigmoid(a_n+1)`` of the round and the square
    (pyramid) form: ``P(u) = (1 - b) f(|u|_2) + b f(|u|_inf)``, linear between knots, clipped at ``-depth``.
    Not representable: double apices and tilted (off-centre) tips; erosion with their main apex still removes
    most of their widening. The apex stays at the centre: a wrong shift would cost a clean scan far more than
    the <= 1 px apex offsets of the corruption are worth.
    """

    def __init__(self, size: int, depth: float = TIP_DEPTH, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.size, self.depth = int(size), float(depth)
        half = self.size // 2
        dy, dx = np.meshgrid(np.arange(-half, half + 1), np.arange(-half, half + 1), indexing="ij")
        self.knots = int(np.ceil(np.hypot(half, half))) + 1  # radii 0 .. n
        self._weights_for = {}
        for name, r in (("round", np.hypot(dy, dx)), ("square", np.maximum(abs(dy), abs(dx)).astype(float))):
            lo = np.floor(r).astype(int)
            frac = r - lo
            w = np.zeros((self.knots, self.size * self.size), "float32")  # linear interpolation as a matrix
            w[lo.ravel(), np.arange(r.size)] += 1 - frac.ravel()
            w[np.minimum(lo + 1, self.knots - 1).ravel(), np.arange(r.size)] += frac.ravel()
            self._weights_for[name] = w

    @property
    def outputs_needed(self) -> int:
        """Width of the raw input: ``knots - 1`` profile increments and the round / square mix."""
        return self.knots

    def call(self, raw):
        raw = ops.cast(raw, "float32")
        steps = ops.softplus(raw[:, : self.knots - 1])
        f = ops.concatenate([ops.zeros_like(steps[:, :1]), -ops.cumsum(steps, axis=1)], axis=1)  # (B, knots)
        mix = ops.sigmoid(raw[:, self.knots - 1 :])
        p = (1 - mix) * ops.matmul(f, self._weights_for["round"]) + mix * ops.matmul(f, self._weights_for["square"])
        return ops.reshape(ops.maximum(p, -self.depth), (-1, self.size, self.size, 1))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.size, self.size, 1)

    def get_config(self):
        return {**super().get_config(), "size": self.size, "depth": self.depth}


@keras.saving.register_keras_serializable(package="keras_spm")
class PeakBound(keras.layers.Layer):
    """The image's own bound on the tip, per radius: the drop ``I(x) - I(x + u)`` around its local maxima.

    Where the tip's apex touched the surface at ``x``, the image obeys ``I(x + u) >= I(x) + P(u)``: no feature in
    the image is sharper than the tip (Villarrubia 1997; the start of his blind estimation). So the largest drop
    ``r`` px away from any local maximum is a lower bound on ``-P(r)``: attained by the image's sharpest feature when
    the tip was blunter than it. Inputs (B, H, W, 1) scaled heights. Maxima within ``radii`` px of the border are
    skipped (their neighbourhood is cut); images need more than ``2 radii + 2`` px a side.

    Two forms. Without ``quantiles`` (the first zoo model): output (B, 2 n), for radii 1..n the drop's maximum over
    the maxima, as the max and the mean over 8 directions. With ``quantiles`` (q_1, ...): each maximum's drop is its
    largest over the 8 directions, and the output (B, n x len(quantiles)) is, per radius, the drop exceeded by a
    fraction q of the maxima. Why: with 1-5 % noise the largest drop is a noise spike's (measured on the validation
    scans it was 5-10x the true tip's drop at 1-2 px), and a maximum over maxima grows with the image size, which
    differs between training patches and whole scans; a quantile does neither. ``sigma`` > 0 (px) first smooths
    the heights with a Gaussian, which removes most noise maxima (and blunts the features a little).
    """

    def __init__(self, radii: int, quantiles: tuple[float, ...] = (), sigma: float = 0.0, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.radii, self.quantiles, self.sigma = int(radii), tuple(float(q) for q in quantiles), float(sigma)
        if any(not 0.0 <= q < 1.0 for q in self.quantiles):
            raise ValueError(f"quantiles must be in [0, 1), got {self.quantiles}.")
        self._kernel = None
        if self.sigma > 0:
            half = int(np.ceil(3 * self.sigma))
            g = np.exp(-0.5 * (np.arange(-half, half + 1) / self.sigma) ** 2)
            self._kernel = (np.outer(g, g) / np.outer(g, g).sum()).astype("float32")[..., None, None]

    def _drops(self, z, mask, r):
        n, h, w = self.radii, ops.shape(z)[1], ops.shape(z)[2]
        inner = z[:, n:-n, n:-n, :]
        for angle in np.arange(8) * np.pi / 4:
            dy, dx = int(round(r * np.sin(angle))), int(round(r * np.cos(angle)))
            shifted = z[:, n + dy : h - n + dy, n + dx : w - n + dx, :]
            yield ops.where(mask, inner - shifted, ops.zeros_like(inner))

    def call(self, heights):
        z = ops.cast(heights, "float32")
        if self._kernel is not None:  # zero padding: drops reaching within 3 sigma of the border see it (edge bias)
            z = ops.conv(z, self._kernel, padding="same")
        n = self.radii
        peak = ops.logical_and(
            ops.equal(z, ops.max_pool(z, 3, strides=1, padding="same")),
            ops.greater(z, -ops.max_pool(-z, 3, strides=1, padding="same")),
        )
        mask = peak[:, n:-n, n:-n, :]
        feats = []
        if not self.quantiles:
            for r in range(1, n + 1):
                ring = ops.stack([ops.max(d, axis=(1, 2, 3)) for d in self._drops(z, mask, r)], axis=1)
                feats += [ops.max(ring, axis=1), ops.mean(ring, axis=1)]
            return ops.stack(feats, axis=1)
        per_radius = []  # each maximum's largest drop over the 8 directions, per radius
        for r in range(1, n + 1):
            drops = self._drops(z, mask, r)
            largest = next(drops)
            for d in drops:
                largest = ops.maximum(largest, d)
            per_radius.append(largest)
        per_peak = ops.concatenate(per_radius, axis=-1)  # (B, h', w', n)
        b = ops.shape(z)[0]
        flat = ops.reshape(per_peak, (b, -1, n))
        is_peak = ops.reshape(mask, (b, -1, 1))
        count = ops.sum(ops.cast(is_peak, "float32"), axis=1, keepdims=True)  # (B, 1, 1)
        # per radius, the maxima's drops in descending order, as far as the largest quantile needs: a partial sort
        # (top_k) of a few hundred values in a training patch; a full sort (tf.sort on CPU) made training 4x slower
        ranks = [ops.cast(ops.floor(q * ops.maximum(count - 1, 0)), "int32") for q in self.quantiles]  # (B, 1, 1)
        k = ops.minimum(ops.max(ops.stack(ranks)) + 1, ops.shape(flat)[1])
        ranked, _ = ops.top_k(ops.transpose(ops.where(is_peak, flat, ops.zeros_like(flat) - 1e9), (0, 2, 1)), k)
        for rank in ranks:  # ranked (B, n, k): the (rank + 1)-th largest drop of each image
            value = ops.take_along_axis(ranked, rank + ops.zeros_like(ranked[..., :1], "int32"), axis=2)[..., 0]
            feats.append(ops.where(count[:, 0] > 0, value, ops.zeros_like(value)))
        return ops.concatenate(feats, axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.radii * (len(self.quantiles) or 2))

    def get_config(self):
        return {**super().get_config(), "radii": self.radii, "quantiles": self.quantiles, "sigma": self.sigma}


def tip_erosion_dae(
    tip_size: int = TIP_SIZE,
    filters: tuple[int, ...] = (16, 32, 64, 96),
    hidden: int = 256,
    with_tip_output: bool = False,
    bounds: tuple[tuple[float, tuple[float, ...]], ...] = ((0.0, ()),),
    name: str = "tip_erosion_dae",
) -> keras.Model:
    """Tip estimator + erosion on scale-aware input (B, H, W, 2) = [(z - lo) / span, slope scale] (:mod:`.scaling`).

    ``with_tip_output`` adds the estimated tip (B, K, K, 1) as a second output (training: the tip loss); the zoo
    ships the single-output form inside :func:`keras_spm.models.dae.scaling.wrap_raw`. Any H, W >= 32 (the peak bound skips 12 px borders).
    ``bounds``: the :class:`PeakBound` evidence, one ``(sigma, quantiles)`` per bound (the default is the first zoo
    model's maximum-drop bound; ``dae_tip_erosion_robust`` uses noise-robust quantiles of raw and smoothed heights).
    """
    if tip_size < 3 or tip_size % 2 == 0:
        raise ValueError(f"tip_size must be an odd number >= 3 pixels, got {tip_size}.")
    inp = keras.Input((None, None, 2), name="scaled_heights_and_slope")
    x = inp
    for i, f in enumerate(filters):
        x = layers.Conv2D(f, 3, padding="same", activation="relu", name=f"enc{i}_a")(x)
        x = layers.Conv2D(f, 3, padding="same", activation="relu", name=f"enc{i}_b")(x)
        if i < len(filters) - 1:
            x = layers.MaxPooling2D(2, name=f"pool{i}")(x)
    pooled = layers.Concatenate(name="image_wide")(
        [layers.GlobalAveragePooling2D(name="mean")(x), layers.GlobalMaxPooling2D(name="max")(x)]
    )
    from .scaling import HeightChannel

    heights = HeightChannel(name="heights")(inp)
    evidence = [
        PeakBound(tip_size // 2, quantiles=q, sigma=sigma, name="peak_bound" + (f"_{i}" if i else ""))(heights)
        for i, (sigma, q) in enumerate(bounds)
    ]
    h = layers.Dense(hidden, activation="relu", name="tip_hidden")(
        layers.Concatenate(name="tip_evidence")([pooled, *evidence])
    )
    profile = TipProfile(tip_size, name="tip")
    tip = profile(layers.Dense(profile.outputs_needed, name="tip_raw")(h))
    restored = TipErosion(name="eroded")(heights, tip)
    return keras.Model(inp, [restored, tip] if with_tip_output else restored, name=name)


@keras.saving.register_keras_serializable(package="keras_spm")
class TipQuantileLoss(keras.losses.Loss):
    """Pinball (quantile) loss on the tip profile: an estimate blunter than the true tip costs ``(1 - quantile)``
    per unit, a sharper one ``quantile``; scaled by 2 so that ``quantile=0.5`` is the MAE.

    Why: whether a steep, packed surface was widened by a further blunt tip or only by the tip that took the clean scan
    is often undecidable from the image; the MAE then settles between the two and erodes clean scans. A low quantile
    (e.g. 0.2) asks for the tip that is at most that likely to be too blunt: erosion only where the evidence is
    strong, since eroding a clean scan destroys data while eroding too little only leaves some widening.

    ``apex_scale`` (px) weights each grid point by ``exp(-r / apex_scale)`` (r = distance from the apex, weights
    averaging 1). Why: on low-relief scans every tip drops past the clip within 2-4 px, so all but a few of the 625
    grid points carry the same target and the few near the apex - the ones erosion depends on there - weigh ~1 %.
    """

    def __init__(
        self, quantile: float = 0.5, apex_scale: float | None = None, name: str = "tip_quantile_loss", **kwargs
    ):
        super().__init__(name=name, **kwargs)
        if not 0.0 < quantile < 1.0:
            raise ValueError(f"quantile must be in (0, 1), got {quantile}.")
        if apex_scale is not None and not apex_scale > 0:
            raise ValueError(f"apex_scale must be > 0 px (or None for equal weights), got {apex_scale}.")
        self.quantile = float(quantile)
        self.apex_scale = None if apex_scale is None else float(apex_scale)

    def _radial_weights(self, shape) -> np.ndarray:
        h, w = int(shape[1]), int(shape[2])
        r = np.hypot(*np.meshgrid(np.arange(h) - h // 2, np.arange(w) - w // 2, indexing="ij"))
        wt = np.exp(-r / self.apex_scale)
        return (wt / wt.mean()).astype("float32").reshape((1, h, w) + (1,) * (len(shape) - 3))

    def call(self, y_true, y_pred):
        e = ops.cast(y_true, "float32") - ops.cast(y_pred, "float32")  # < 0: the estimate is blunter (higher)
        pinball = ops.maximum(self.quantile * e, (self.quantile - 1.0) * e)
        if self.apex_scale is not None:
            pinball = pinball * self._radial_weights(e.shape)
        return 2.0 * ops.mean(pinball, axis=tuple(range(1, len(e.shape))))

    def get_config(self):
        return {**super().get_config(), "quantile": self.quantile, "apex_scale": self.apex_scale}


def tip_target(tip_height: np.ndarray | None, span: float, size: int, depth: float = TIP_DEPTH) -> np.ndarray:
    """A tip's profile as the network's target: heights / ``span`` on a centred ``size`` grid, relative to the grid
    centre (the network's apex; an off-centre apex of <= 1 px makes a few values > 0, clipped) and clipped to
    [-``depth``, 0]. ``tip_height`` None (a clean pair) is the sharpest tip: the apex alone.
    """
    out = np.full((size, size), -depth, np.float32)
    if tip_height is None:
        out[size // 2, size // 2] = 0.0
        return out
    t = np.asarray(tip_height, np.float64) / span
    n, m = t.shape[0], size
    if n >= m:
        c = (n - m) // 2
        out[:] = np.maximum(t[c : c + m, c : c + m], -depth)
    else:
        c = (m - n) // 2
        out[c : c + n, c : c + n] = np.maximum(t, -depth)
    return np.clip(out - out[size // 2, size // 2], -depth, 0.0)


def tip_erosion_dae_raw(
    tip_size: int = TIP_SIZE, name: str = "dae_tip_artifacts", preset: str = "dae_tip_erosion"
) -> keras.Model:
    """DAE ``preset`` (a :func:`tip_erosion_dae` variant) inside its scaling (:func:`.scaling.wrap_raw`): ``(B, H, W,
    2)`` [heights, pixel size] in one unit (metres) in, heights in that unit out; the zoo form. Use it through
    :func:`keras_spm.models.dae.restore.restore` (``pixel_size=``)."""
    from .dae_presets import from_preset
    from .scaling import wrap_raw

    return wrap_raw(from_preset(preset, tip_size=tip_size), name=name)


def estimate_tip(model: keras.Model, image: np.ndarray, pixel_size: float) -> TipShape:
    """The tip a trained tip-erosion model (zoo form or training checkpoint) estimates for ``image``, in its units.

    Returns a :class:`keras_spm.sim.tip.TipShape` (heights relative to the apex, same unit as ``image``; profile
    depths beyond the model's clip, ``TIP_DEPTH`` robust spans, are "never probed"), e.g. to compare with a
    Gwyddion blind estimate or to track tip changes between scans. Raises ``ValueError`` for a model without a tip.
    """
    from keras_spm.sim.tip import TipShape

    from .scaling import core_network, normalize

    core = core_network(model)
    names = {layer.name for layer in core.layers}
    if "tip" not in names:
        raise ValueError(f"model {model.name!r} has no 'tip' layer: only tip-erosion models (dae_tip_erosion) do.")
    a = np.asarray(image, dtype=np.float64)
    x, _, (_, span, _) = normalize(a - np.median(a), pixel_size)
    tipper = keras.Model(core.inputs[0], core.get_layer("tip").output)
    p = np.asarray(tipper.predict(x[None], verbose=0))[0, ..., 0].astype(np.float64)
    return TipShape(p * span, pixel_size, "estimated", {"depth_clip": TIP_DEPTH * span})
