"""Synthetic STM topographs of metal nanoparticles on HOPG, with exact masks, and watershed post-processing.

Training data for the EfficientNet-U-Net (:mod:`keras_spm.models.effunet`) of the source work's STM
nanoparticle segmentation: every image comes with a per-pixel class map (0 inside, 1 border,
2 background - :data:`CLASSES`) and instance labels, both from the exact geometry before any imaging
artifact. Physics, simplified:

* HOPG: flat terraces separated by monatomic steps of 0.335 nm (graphite interlayer spacing) along
  random straight lines;
* particles: truncated spheres sitting on the terrace beneath their centre, log-normal diameters,
  a fraction placed touching / slightly overlapping an earlier particle (the hard case for
  segmentation); where particles overlap the higher one wins;
* imaging: tip convolution (:func:`keras_spm.sim.tip.simulate_scan` with a random blunt or double
  tip), linear thermal drift (shear along the slow scan axis, applied to image and labels alike),
  white noise, scan-line offsets and scars.

:func:`watershed_instances` turns predicted inside / border probabilities into instances: markers
are the connected "inside" cores, flooded over ``1 - p_inside`` within the particle mask.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from . import tip as tipmod

CLASSES = ("inside", "border", "background")
HOPG_STEP = 0.335  # nm, graphite interlayer spacing


@dataclass(frozen=True)
class ParticleConfig:
    """Ranges of the random scene and imaging; lengths in nm."""

    size: int = 256
    pixel_size: float = 0.2
    n_particles: tuple[int, int] = (5, 25)
    median_diameter: float = 3.0
    sigma_log: float = 0.35  # log-normal shape parameter of the diameters
    min_diameter: float = 1.0
    p_touching: float = 0.3
    overlap: tuple[float, float] = (0.0, 0.15)  # fraction of the smaller radius two touching particles overlap
    truncation: tuple[float, float] = (0.6, 1.0)  # visible height / diameter (wetting flattens particles)
    n_steps: tuple[int, int] = (0, 3)
    border_px: int = 2
    tip_radius: tuple[float, float] = (0.2, 1.0)
    p_double_tip: float = 0.15
    max_drift: float = 0.05  # shear (fast-axis px per slow-axis px)
    noise: tuple[float, float] = (0.005, 0.03)
    line_offset: tuple[float, float] = (0.0, 0.03)
    p_streaks: float = 0.3


def _terraces(shape, pixel_size, rng, n_steps: int) -> np.ndarray:
    yy, xx = np.indices(shape, dtype=np.float64) * pixel_size
    z = np.zeros(shape)
    for _ in range(n_steps):
        ang = rng.uniform(0, 2 * np.pi)
        p = rng.uniform(0.2, 0.8, 2) * np.array(shape) * pixel_size
        side = (yy - p[0]) * np.sin(ang) + (xx - p[1]) * np.cos(ang) > 0
        z += HOPG_STEP * side
    return z


def _place_particles(rng, cfg: ParticleConfig) -> list[tuple[float, float, float]]:
    """(y, x, radius) in nm: log-normal radii, some touching an earlier particle, others apart."""
    extent = cfg.size * cfg.pixel_size
    n = int(rng.integers(cfg.n_particles[0], cfg.n_particles[1] + 1))
    out: list[tuple[float, float, float]] = []
    for _ in range(50 * n):
        if len(out) == n:
            break
        r = max(cfg.min_diameter, cfg.median_diameter * np.exp(rng.normal(0, cfg.sigma_log))) / 2
        if out and rng.random() < cfg.p_touching:
            y0, x0, r0 = out[rng.integers(len(out))]
            d = r + r0 - rng.uniform(*cfg.overlap) * min(r, r0)
            a = rng.uniform(0, 2 * np.pi)
            y, x = y0 + d * np.sin(a), x0 + d * np.cos(a)
            others = [p for p in out if p != (y0, x0, r0)]
        else:
            y, x = rng.uniform(r, extent - r, 2)
            others = out
        if not (r <= y <= extent - r and r <= x <= extent - r):
            continue
        if any(np.hypot(y - q[0], x - q[1]) < r + q[2] for q in others):
            continue  # only the chosen neighbour may touch
        out.append((float(y), float(x), float(r)))
    return out


def render_particles(
    particles, shape: tuple[int, int], pixel_size: float, substrate: np.ndarray, truncation=None
) -> tuple[np.ndarray, np.ndarray]:
    """Height map and instance labels (0 background, i+1 particle i) of truncated spheres on ``substrate``.

    Particle ``i`` is a sphere of radius r whose cap above the substrate is ``truncation[i]`` x 2r high,
    sitting on the substrate height under its centre; where several overlap, the highest is visible.
    """
    yy, xx = (np.indices(shape, dtype=np.float64) + 0.5) * pixel_size
    height = substrate.copy()
    labels = np.zeros(shape, dtype=np.int32)
    for i, (y, x, r) in enumerate(particles):
        t = 1.0 if truncation is None else truncation[i]
        rho2 = (yy - y) ** 2 + (xx - x) ** 2
        inside = rho2 < r * r
        iy = min(max(int(y / pixel_size), 0), shape[0] - 1)
        ix = min(max(int(x / pixel_size), 0), shape[1] - 1)
        base = substrate[iy, ix]
        # sphere centre at base + (2 t - 1) r so that the top is 2 t r above the base
        z = np.where(inside, base + (2 * t - 1) * r + np.sqrt(np.clip(r * r - rho2, 0, None)), -np.inf)
        visible = inside & (z > height)
        height = np.where(visible, z, height)
        labels[visible] = i + 1
    return height, labels


def class_map(labels: np.ndarray, border_px: int = 2) -> np.ndarray:
    """0 inside / 1 border / 2 background from instance labels.

    A particle pixel is "inside" when every pixel within ``border_px`` (a (2b+1)^2 window) carries
    the same label, else "border" - so touching particles are separated by a border band.
    """
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f"labels must be a 2D instance map, got shape {labels.shape}.")
    size = 2 * border_px + 1
    lo = ndimage.minimum_filter(labels, size=size, mode="nearest")
    hi = ndimage.maximum_filter(labels, size=size, mode="nearest")
    out = np.full(labels.shape, 2, dtype=np.int32)
    out[labels > 0] = 1
    out[(labels > 0) & (lo == hi)] = 0
    return out


def one_hot(classes: np.ndarray, n: int = 3) -> np.ndarray:
    """(H, W) class indices -> (H, W, n) float32 one-hot targets."""
    return np.eye(n, dtype=np.float32)[classes]


def _shear(a: np.ndarray, s: float, order: int) -> np.ndarray:
    """Drift: column shift ``s`` px per row (the slow scan axis), keeping the image size."""
    matrix = np.array([[1.0, 0.0], [s, 1.0]])
    offset = np.array([0.0, -s * a.shape[0] / 2])
    return ndimage.affine_transform(a, matrix, offset=offset, order=order, mode="nearest")


def simulate_stm_particles(rng: np.random.Generator, config: ParticleConfig = ParticleConfig()) -> dict:
    """One synthetic STM image of nanoparticles on HOPG.

    Returns ``image`` (float32 (H, W) apparent height, nm), ``surface`` (the clean topography),
    ``classes`` (int32, 0 inside / 1 border / 2 background), ``labels`` (int32 instances, 0 background),
    ``particles`` ((y, x, r) nm, before drift) and ``tip``. Masks follow the drift but not the tip:
    they are the true particle footprints.
    """
    cfg = config
    shape = (cfg.size, cfg.size)
    substrate = _terraces(shape, cfg.pixel_size, rng, int(rng.integers(cfg.n_steps[0], cfg.n_steps[1] + 1)))
    particles = _place_particles(rng, cfg)
    trunc = rng.uniform(*cfg.truncation, len(particles))
    surface, labels = render_particles(particles, shape, cfg.pixel_size, substrate, trunc)
    drift = rng.uniform(-cfg.max_drift, cfg.max_drift)
    surface = _shear(surface, drift, order=1)
    labels = _shear(labels, drift, order=0).astype(np.int32)
    kind = tipmod.TIP_KINDS[rng.integers(len(tipmod.TIP_KINDS))]
    radius = rng.uniform(*cfg.tip_radius)
    tip = tipmod.make_tip(kind, radius, cfg.pixel_size, depth=cfg.median_diameter / 2)
    if rng.random() < cfg.p_double_tip:
        dist, ang = rng.uniform(2, 6) * radius, rng.uniform(0, 2 * np.pi)
        tip = tipmod.double_tip(
            tip, (dist * np.sin(ang), dist * np.cos(ang)), rng.uniform(0.1, 0.5) * cfg.median_diameter
        )
    image = tipmod.simulate_scan(surface, tip)
    image = tipmod.add_noise(image, rng.uniform(*cfg.noise), rng)
    image = tipmod.add_line_offsets(image, rng.uniform(*cfg.line_offset), rng)
    if rng.random() < cfg.p_streaks:
        image = tipmod.add_streaks(image, rng, n=int(rng.integers(1, 4)), height=0.3)
    return {
        "image": image.astype(np.float32),
        "surface": surface.astype(np.float32),
        "classes": class_map(labels, cfg.border_px),
        "labels": labels,
        "particles": particles,
        "tip": tip,
    }


def watershed_instances(
    probabilities: np.ndarray, inside_threshold: float = 0.5, mask_threshold: float = 0.5, min_core: int = 1
) -> np.ndarray:
    """Instance labels from (H, W, 3) softmax probabilities (inside, border, background).

    Markers: connected components (>= ``min_core`` px) of ``p_inside > inside_threshold``; flood
    ``1 - p_inside`` with ``skimage.segmentation.watershed`` inside the particle mask
    ``p_inside + p_border > mask_threshold``. Touching particles stay apart when the network
    predicts a border band between their cores. Connected parts of the mask that hold no core (particles
    smaller than the border band is wide) become instances of their own.
    """
    from skimage.segmentation import watershed

    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 3 or p.shape[-1] != 3:
        raise ValueError(f"probabilities must be (H, W, 3) for inside/border/background, got {p.shape}.")
    if not np.all(np.isfinite(p)):
        raise ValueError("probabilities have NaN/inf values.")
    inside, border = p[..., 0], p[..., 1]
    cores, n = ndimage.label(inside > inside_threshold)
    if n:
        sizes = ndimage.sum(np.ones_like(inside), cores, index=np.arange(1, n + 1))
        keep = np.concatenate([[0], (sizes >= min_core).astype(np.int32)])
        cores = cores * keep[cores]
        cores, _ = ndimage.label(cores > 0)
    mask = (inside + border) > mask_threshold
    out = watershed(1.0 - inside, markers=cores, mask=mask).astype(np.int32)
    # particles too small for an inside core (< ~2 border widths across) are all border: keep each such
    # marker-less blob of the mask as one instance rather than dropping it
    rest, _ = ndimage.label(mask & (out == 0))
    out[rest > 0] = rest[rest > 0] + out.max()
    return out


def match_instances(pred: np.ndarray, true: np.ndarray, iou_threshold: float = 0.5) -> dict[str, float]:
    """Greedy one-to-one matching of instances by IoU: precision, recall, F1 and mean matched IoU."""
    pred, true = np.asarray(pred), np.asarray(true)
    p_ids = [i for i in np.unique(pred) if i]
    t_ids = [i for i in np.unique(true) if i]
    pairs = []
    for t in t_ids:
        tm = true == t
        for q in np.unique(pred[tm]):
            if q == 0:
                continue
            pm = pred == q
            iou = np.logical_and(tm, pm).sum() / np.logical_or(tm, pm).sum()
            if iou >= iou_threshold:
                pairs.append((iou, t, q))
    used_t, used_p, ious = set(), set(), []
    for iou, t, q in sorted(pairs, reverse=True):
        if t in used_t or q in used_p:
            continue
        used_t.add(t)
        used_p.add(q)
        ious.append(iou)
    tp = len(ious)
    precision = tp / len(p_ids) if p_ids else float(not t_ids)
    recall = tp / len(t_ids) if t_ids else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "mean_iou": float(np.mean(ious)) if ious else 0.0}
