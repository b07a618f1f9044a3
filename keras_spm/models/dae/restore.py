"""Data side of the tip-artifact autoencoders: per-image scaling, training pairs and whole-image restoration.

Scaling (:func:`normalize`): SPM heights have arbitrary offsets and ranges, so each image is mapped by
``(z - lo) / span`` with ``lo, span`` taken from the **corrupted** image (what exists at inference) and the
clean target is mapped with the same ``lo, span``. Scaling the target by its own range instead (as one
would for [0, 1] sigmoid outputs) hides from the network by how much a tip raised the image - dilation
only ever raises it - and the network has to guess that offset per image. ``lo`` and ``span`` are robust
percentiles (0.5 / 99.5), so a scar or a spike does not squash the rest of the image.

Training pairs (:func:`make_pairs`) come from :func:`keras_spm.sim.tip.corrupt` of whole clean surfaces
(so the tip sees real context at crop borders), cut into random patches with random flips / transposes.
"""

from __future__ import annotations

import warnings

import numpy as np

from keras_spm.sim import tip as tipmod

from .consistency import MAX_OPENING_EXCESS

PERCENTILES = (0.5, 99.5)


def normalization(image: np.ndarray) -> tuple[float, float]:
    """``(lo, span)`` of a corrupted height map: robust percentiles; ``span`` = 1 for a constant image."""
    a = np.asarray(image, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"image must be a 2D height map (H, W), got shape {a.shape}; squeeze channel axes first.")
    if not np.all(np.isfinite(a)):
        raise ValueError("image has NaN/inf values; fill them (e.g. with the median) before restoring.")
    lo, hi = np.percentile(a, PERCENTILES)
    span = float(hi - lo)
    if not span > 0:  # (nearly) constant: any positive span maps it to ~0 and back exactly
        span = float(np.ptp(a)) or 1.0
    return float(lo), span


def normalize(corrupted: np.ndarray, clean: np.ndarray | None = None):
    """Scale ``corrupted`` (and ``clean`` with the same map) by :func:`normalization` of ``corrupted``.

    Returns ``(x, y, (lo, span))`` as float32 (``y`` None without ``clean``); invert with ``z * span + lo``.
    """
    lo, span = normalization(corrupted)
    x = ((np.asarray(corrupted, np.float64) - lo) / span).astype(np.float32)
    y = None if clean is None else ((np.asarray(clean, np.float64) - lo) / span).astype(np.float32)
    return x, y, (lo, span)


def make_pairs(
    surfaces,
    n: int,
    patch: int,
    rng: np.random.Generator,
    config: tipmod.CorruptionConfig | None = None,
    crops_per_corruption: int = 8,
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` (corrupted, clean) patch pairs ``(n, patch, patch, 1)`` float32 from :class:`~keras_spm.sim.tip.Surface` s.

    Each step corrupts one whole surface (chosen with probability ~ its area) with a fresh random tip and
    takes ``crops_per_corruption`` patches of it; each patch is normalised on its own (:func:`normalize`),
    as a user's image would be. ``config`` defaults to :class:`~keras_spm.sim.tip.CorruptionConfig`. Surfaces smaller than ``patch`` are reflect-padded.
    """
    if not surfaces:
        raise ValueError("no surfaces to make training pairs from.")
    config = config or tipmod.CorruptionConfig()
    heights = []
    for s in surfaces:
        h = np.asarray(s.height, dtype=np.float64)
        if min(h.shape) < patch:
            h = np.pad(h, [(0, max(0, patch - d)) for d in h.shape], mode="reflect")
        heights.append(h)
    area = np.array([h.size for h in heights], dtype=np.float64)
    xs = np.empty((n, patch, patch, 1), np.float32)
    ys = np.empty_like(xs)
    i = 0
    while i < n:
        k = rng.choice(len(heights), p=area / area.sum())
        clean = heights[k]
        bad, _ = tipmod.corrupt(clean, surfaces[k].pixel_size, rng, config)
        for _ in range(min(crops_per_corruption, n - i)):
            r = rng.integers(0, clean.shape[0] - patch + 1)
            c = rng.integers(0, clean.shape[1] - patch + 1)
            x, y, _ = normalize(bad[r : r + patch, c : c + patch], clean[r : r + patch, c : c + patch])
            if rng.random() < 0.5:
                x, y = x[:, ::-1], y[:, ::-1]
            if rng.random() < 0.5:
                x, y = x[::-1], y[::-1]
            xs[i, ..., 0], ys[i, ..., 0] = x, y
            i += 1
    return xs, ys


def restore(
    model,
    image: np.ndarray,
    stride: int = 16,
    flips: bool = False,
    pixel_size: float | None = None,
    max_opening_excess: float | None = MAX_OPENING_EXCESS,
) -> np.ndarray:
    """Remove tip artifacts from one height map with a trained DAE; returns heights in the input's unit.

    Scale-aware models (2 input channels, :mod:`.scaling`; the zoo's ``dae_tip_artifacts``) need ``pixel_size`` in
    the unit of the heights: **metres in, metres out** is the convention (nm and nm works the same, only the ratio
    counts). They get heights centred on their float64 median first, so a large piezo offset does not eat float32
    precision. Single-channel DAEs (the older presets) ignore ``pixel_size``.

    The image is normalised, reflect-padded to a multiple of ``stride`` (the network's down-sampling factor),
    passed through ``model`` and mapped back. ``flips=True`` averages the outputs for the four left-right / up-down
    flips (4x the time). Raises ``ValueError`` for non-2D input, NaN/inf values or a missing pixel size.

    Tip-erosion models (the zoo's ``dae_tip_artifacts``): the scan is returned unchanged when it refutes the tip the
    network estimated, i.e. has features sharper than that tip could have drawn by more than ``max_opening_excess``
    noise sigmas (:mod:`.consistency`); ``None`` turns the check off.
    """
    from . import scaling

    channels = model.inputs[0].shape[-1]
    need = _min_size(model)
    if min(np.shape(image)[:2]) < need:
        raise ValueError(
            f"image is {np.shape(image)[0]} x {np.shape(image)[1]} px; this model needs >= {need} px a side."
        )
    if channels == 2:
        a = np.asarray(image, dtype=np.float64)
        scaling.normalization(a, pixel_size)  # checks shape, finiteness and the pixel size
        if max_opening_excess is not None and _has_tip(model):  # before the network pass: a refused scan needs none
            from .consistency import opening_excess
            from .tip_erosion import estimate_tip

            excess = opening_excess(a, estimate_tip(model, a, pixel_size).height)
            if excess > max_opening_excess:
                warnings.warn(
                    f"the scan has features sharper than the estimated tip could have drawn (opening excess "
                    f"{excess:.1f} noise sigmas > {max_opening_excess:g}): returned unchanged; "
                    "max_opening_excess=None erodes anyway",
                    UserWarning,
                    stacklevel=2,
                )
                return a.copy()
        offset = float(np.median(a))
        if scaling.is_raw_model(model):  # the zoo model scales inside: give it raw (centred) heights + pixel size
            x = np.stack([a - offset, np.full(a.shape, pixel_size)], axis=-1).astype(np.float32)
            lo, span = offset, 1.0
        else:  # a training checkpoint: the core network on normalised input
            x, _, (lo, span, _) = scaling.normalize(a - offset, pixel_size)
            lo += offset
    else:
        x2, _, (lo, span) = normalize(image)
        x = x2[..., None]
    h, w = x.shape[:2]
    ph, pw = (-h) % stride, (-w) % stride
    pad = ((0, ph), (0, pw), (0, 0))
    xp = np.pad(x, pad, mode="reflect" if min(h, w) > max(ph, pw) else "edge")
    views = [(False, False), (False, True), (True, False), (True, True)] if flips else [(False, False)]

    def flip(a, ud, lr):
        return a[:: -1 if ud else 1, :: -1 if lr else 1]

    batch = np.stack([flip(xp, ud, lr) for ud, lr in views])
    out = model.predict(batch, verbose=0, batch_size=1)
    out = np.asarray(out[0] if isinstance(out, (list, tuple)) else out)[..., 0]  # a training checkpoint's extra outputs
    y = np.mean([flip(o, ud, lr) for o, (ud, lr) in zip(out, views, strict=True)], axis=0)[:h, :w]
    return y.astype(np.float64) * span + lo


def _has_tip(model) -> bool:
    """Whether ``model`` (zoo form or training checkpoint) is a tip-erosion network with a ``tip`` layer."""
    from .scaling import core_network

    return any(layer.name == "tip" for layer in core_network(model).layers)


def _min_size(model) -> int:
    """Smallest image side ``model`` takes: a tip-erosion model's peak bound needs ``2 radii + 3`` px, others 1."""
    from .tip_erosion import PeakBound

    layers = list(model.layers)
    while layers:
        layer = layers.pop()
        if isinstance(layer, PeakBound):
            return 2 * layer.radii + 3
        layers += list(getattr(layer, "layers", []))
    return 1


def corrupt_keeping_noise(
    surface: np.ndarray,
    pixel_size: float,
    rng: np.random.Generator,
    config: tipmod.CorruptionConfig | None = None,
    info: dict | None = None,
    with_tip: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`keras_spm.sim.tip.corrupt` (same steps, same random draws) returning ``(image, target)`` where the
    target is the clean surface **plus the white noise** that was added.

    ``with_tip=False`` skips the tip (or blur) and adds only the noise, scan-line offsets and scars: a *clean* scan
    as the instrument records it, so that noise says nothing about whether a tip artifact is there.

    Why: real clean scans carry white noise of the same size (1-3 % of their range on the shared topographies) as
    the corruption adds (0-2 %); a network taught to remove it cannot tell the two apart and smooths every clean
    scan (the old model: 30-35 dB on clean input). Taught to remove only what the tip and the scan added (dilation,
    scan-line offsets, scars), it can leave a clean scan alone. ``info`` (a dict), when given, receives the ``tip``.
    """
    config = config or tipmod.CorruptionConfig()
    s = np.asarray(surface, dtype=np.float64)
    span = float(np.ptp(s)) or 1.0
    if not with_tip:
        img = s
    elif rng.random() < config.p_gaussian:
        img = tipmod.gaussian_blur(s, rng.uniform(*config.gaussian_sigma_px) * pixel_size, pixel_size)
    else:
        tip = tipmod.random_tip(pixel_size, rng, config, span)
        img = tipmod.simulate_scan(s, tip)
        if info is not None:
            info["tip"] = tip
    noise = tipmod.add_noise(np.zeros_like(s), rng.uniform(*config.noise) * span, rng)
    img = tipmod.add_line_offsets(img + noise, rng.uniform(*config.line_offset) * span, rng)
    if rng.random() < config.p_streaks:
        img = tipmod.add_streaks(img, rng, n=int(rng.integers(1, 5)), height=config.streak_height * span)
    return img, s + noise


def scale_aware_pairs(
    surfaces,
    n: int,
    patch: int,
    rng: np.random.Generator,
    config: tipmod.CorruptionConfig | None = None,
    p_clean: float = 0.2,
    tip_size: int | None = None,
) -> tuple[np.ndarray, ...]:
    """``n`` scale-aware pairs cropped from given :class:`~keras_spm.sim.topography.Topography` s (the real
    validation files): each pair corrupts one whole surface (:func:`corrupt_keeping_noise`; ``p_clean`` of them
    left clean) and crops one patch. ``tip_size`` adds a third array, the tips' targets
    (:func:`.tip_erosion.tip_target`, ``(n, tip_size, tip_size, 1)``)."""
    from .scaling import normalize as scale_aware
    from .tip_erosion import tip_target

    xs = np.empty((n, patch, patch, 2), np.float32)
    ys = np.empty((n, patch, patch, 1), np.float32)
    ts = np.empty((n, tip_size or 1, tip_size or 1, 1), np.float32)
    for i in range(n):
        t = surfaces[i % len(surfaces)]
        clean = t.height
        info: dict = {}
        bad, target = (
            (clean, clean)
            if rng.random() < p_clean
            else corrupt_keeping_noise(clean, t.pixel_size, rng, config, info=info)
        )
        r = rng.integers(0, clean.shape[0] - patch + 1)
        c = rng.integers(0, clean.shape[1] - patch + 1)
        xs[i], ys[i], (_, span, _) = scale_aware(
            bad[r : r + patch, c : c + patch], t.pixel_size, target[r : r + patch, c : c + patch]
        )
        if tip_size:
            tip = info.get("tip")
            ts[i, ..., 0] = tip_target(None if tip is None else tip.height, span, tip_size)
    return (xs, ys, ts) if tip_size else (xs, ys)


def make_topography_pairs(
    n: int,
    patch: int,
    rng: np.random.Generator,
    config: tipmod.CorruptionConfig | None = None,
    p_clean: float = 0.2,
    margin: int = 16,
    tip_size: int | None = None,
    noisy_clean: bool = True,
) -> tuple[np.ndarray, ...]:
    """``n`` scale-aware (corrupted, clean) pairs ``(n, patch, patch, 2)`` / ``(n, patch, patch, 1)`` float32 from
    :func:`keras_spm.sim.topography.random_topography` surfaces (metres, 0.1 A to 100 nm per pixel).

    Each surface is made ``margin`` px larger on every side than the patch, corrupted whole with
    :func:`corrupt_keeping_noise` (so the tip sees context at the patch border; the target keeps the added white
    noise) and cropped; a share ``p_clean`` is left without a tip artifact ("clean in, clean out"). With
    ``noisy_clean`` (the default since session 17) those clean pairs get the same noise, scan-line offsets and scars
    as the corrupted ones (``corrupt_keeping_noise(with_tip=False)``): before, only corrupted inputs carried the
    added 0-2 % noise, so a network could read "noisy, hence tip-widened" and eroded noisy real clean scans (the
    STM lattice of the validation files); ``noisy_clean=False`` gives the old pairs (input = target). Normalised by
    :func:`.scaling.normalize` of the input, randomly flipped / transposed. ``tip_size`` adds a third array, the
    tips in the network's units (:func:`.tip_erosion.tip_target`; a clean pair's tip is the apex alone).
    """
    from keras_spm.sim.topography import random_topography

    from .scaling import normalize as scale_aware
    from .tip_erosion import tip_target

    config = config or tipmod.CorruptionConfig()
    xs = np.empty((n, patch, patch, 2), np.float32)
    ys = np.empty((n, patch, patch, 1), np.float32)
    ts = np.empty((n, tip_size or 1, tip_size or 1, 1), np.float32)
    size = patch + 2 * margin
    for i in range(n):
        topo = random_topography(rng, (size, size))
        clean = topo.height
        info: dict = {}
        if rng.random() >= p_clean:
            bad, target = corrupt_keeping_noise(clean, topo.pixel_size, rng, config, info=info)
        elif noisy_clean:
            bad, target = corrupt_keeping_noise(clean, topo.pixel_size, rng, config, with_tip=False)
        else:
            bad, target = clean, clean
        r, c = rng.integers(0, 2 * margin + 1, 2)
        x, y, (_, span, _) = scale_aware(
            bad[r : r + patch, c : c + patch], topo.pixel_size, target[r : r + patch, c : c + patch]
        )
        t = tip_target(info["tip"].height if "tip" in info else None, span, tip_size) if tip_size else np.zeros((1, 1))
        if rng.random() < 0.5:
            x, y, t = x.transpose(1, 0, 2), y.transpose(1, 0, 2), t.T
        xs[i], ys[i], ts[i, ..., 0] = x, y, t
    return (xs, ys, ts) if tip_size else (xs, ys)
