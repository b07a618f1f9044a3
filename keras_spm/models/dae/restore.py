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

import numpy as np

from keras_spm.sim import tip as tipmod

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


def restore(model, image: np.ndarray, stride: int = 16, flips: bool = False) -> np.ndarray:
    """Remove tip artifacts from one height map with a trained DAE; returns heights in the input's unit.

    The image is normalised (:func:`normalize`), reflect-padded to a multiple of ``stride`` (the network's
    down-sampling factor), passed through ``model`` and mapped back. ``flips=True`` averages the outputs for
    the four left-right / up-down flips (the augmentations of training; 4x the time, a little less noise).
    Raises ``ValueError`` for non-2D input or NaN/inf values; a constant image comes back unchanged up to the
    network's (small) correction.
    """
    x, _, (lo, span) = normalize(image)
    h, w = x.shape
    ph, pw = (-h) % stride, (-w) % stride
    xp = np.pad(x, ((0, ph), (0, pw)), mode="reflect" if min(h, w) > max(ph, pw) else "edge")
    views = [(False, False), (False, True), (True, False), (True, True)] if flips else [(False, False)]

    def flip(a, ud, lr):
        return a[:: -1 if ud else 1, :: -1 if lr else 1]

    batch = np.stack([flip(xp, ud, lr) for ud, lr in views])[..., None]
    out = np.asarray(model.predict(batch, verbose=0, batch_size=1))[..., 0]
    y = np.mean([flip(o, ud, lr) for o, (ud, lr) in zip(out, views, strict=True)], axis=0)[:h, :w]
    return y.astype(np.float64) * span + lo
