"""Synthetic SPM topographies in physical units (metres): what AFM/STM users scan, for training tip-artifact removal.

The tip-artifact networks used to be trained on constant-height frequency-shift PNGs stretched to 0.2 nm; tip
artifacts are a problem of *topographies*. :func:`random_topography` composes a substrate and zero to two kinds of
features on it, at a pixel size drawn log-uniformly from 0.1 A to 100 nm:

* substrates: flat, self-affine rough (fractional Brownian surface, Hurst 0.3-0.9), step-terrace (atomic step
  heights 0.2-0.35 nm, straight or wandering vicinal edges, sometimes bunched), atomic / molecular lattices
  (hexagonal, square, rectangular; sub-A to A corrugation), a large reconstruction (7x7-like: adatom lattice in a
  supercell with corner holes), a line grating (shallow to vertical walls), grains (polycrystalline films, or packed
  aligned rods when stretched);
* features: nanoparticles (spherical caps, Gaussians, faceted pyramids, rods; many sizes, aspect 0.15-1), islands
  and pits (one to three atomic layers, rounded or fractal edges), fibres (worm-like chains of cylinders),
  adsorbates (one- to four-lobed molecules, 0.5-3 A high).

Lateral sizes are drawn in pixels (so every feature is resolvable), heights in metres from what the feature
physically is (atomic steps and islands are 0.2-0.35 nm per layer at any pixel size; particles and fibres are as
high as a fraction of their width; lattice corrugation is a fraction of the period). Heights are float64 metres with
median 0. Every surface is already "imaged" by a real tip: mostly a sharp one (a 0.3-2 px sphere on a 10-30 degree
cone: it limits the slope of steep walls, as every AFM scan is limited), 40 % a worn one (1.5-5 px apex); some are
slightly blurred and half carry a little white noise. Real clean scans look like that, and a tip-artifact remover
must leave them alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

SUBSTRATES = ("flat", "rough", "steps", "lattice", "reconstruction", "grating", "grains")
FEATURES = ("particles", "islands", "pits", "fibres", "adsorbates")
#: pixel sizes (m) of :func:`random_topography`: 0.1 A (atomic STM) to 100 nm (tens of micrometres AFM frames)
PIXEL_RANGE = (1e-11, 1e-7)
STEP_HEIGHT = (0.2e-9, 0.35e-9)  # monatomic steps: Si(111) 0.31 nm, Au(111) 0.24 nm, HOPG 0.335 nm, Cu 0.21 nm


@dataclass(frozen=True)
class Topography:
    """A synthetic height map ``height`` (float64, metres, median 0) on pixels of ``pixel_size`` metres."""

    height: np.ndarray
    pixel_size: float
    kind: str
    params: dict = field(default_factory=dict)


def _loguniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _coords(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    return np.meshgrid(np.arange(shape[0], dtype=float), np.arange(shape[1], dtype=float), indexing="ij")


def self_affine(shape: tuple[int, int], rng: np.random.Generator, hurst: float, rms: float) -> np.ndarray:
    """Self-affine (fractional Brownian) surface of Hurst exponent ``hurst`` and RMS height ``rms``.

    Spectral synthesis: white noise filtered by ``|k|^-(H + 1)`` (power spectrum ``|k|^-(2H + 2)``), periodic.
    """
    ky = np.fft.fftfreq(shape[0])[:, None]
    kx = np.fft.rfftfreq(shape[1])[None, :]
    k = np.hypot(ky, kx)
    k[0, 0] = np.inf
    spec = (rng.normal(size=k.shape) + 1j * rng.normal(size=k.shape)) * k ** (-(hurst + 1.0))
    z = np.fft.irfft2(spec, s=shape)
    return z / (z.std() or 1.0) * rms


def smooth_noise(shape: tuple[int, int], rng: np.random.Generator, sigma: float) -> np.ndarray:
    """Gaussian-filtered white noise with unit standard deviation (``sigma`` in pixels)."""
    z = ndimage.gaussian_filter(rng.normal(size=shape), sigma, mode="wrap")
    return z / (z.std() or 1.0)


def steps(shape: tuple[int, int], rng: np.random.Generator, px: float) -> tuple[np.ndarray, dict]:
    """Step-terrace surface: 1-10 monatomic (sometimes bunched) steps, straight or wandering, up or down."""
    yy, xx = _coords(shape)
    angle = rng.uniform(0, 2 * np.pi)
    u = yy * np.cos(angle) + xx * np.sin(angle)
    n_steps = int(rng.integers(1, 11))
    terrace = max(shape) * rng.uniform(0.8, 1.4) / n_steps
    wander = rng.uniform(0, 0.35) * terrace * smooth_noise(shape, rng, rng.uniform(4, 20))
    h = _loguniform(rng, *STEP_HEIGHT) * (rng.choice([1, 1, 1, 2, 3]))
    level = np.floor((u + wander) / terrace + rng.uniform())
    z = h * level * rng.choice([-1.0, 1.0])
    return ndimage.gaussian_filter(z, rng.uniform(0.3, 1.0)), {"n_steps": n_steps, "step_height": h}


def _lattice_waves(shape, rng, period_px: float, kind: str) -> np.ndarray:
    """Sum of plane waves of a hexagonal / square / rectangular lattice, peaks sharpened into atoms, in [0, 1]."""
    yy, xx = _coords(shape)
    theta = rng.uniform(0, np.pi)
    if kind == "hexagonal":
        angles, ratios = [theta, theta + np.pi / 3, theta + 2 * np.pi / 3], [1.0, 1.0, 1.0]
    elif kind == "square":
        angles, ratios = [theta, theta + np.pi / 2], [1.0, 1.0]
    else:
        angles, ratios = [theta, theta + np.pi / 2], [1.0, rng.uniform(1.3, 2.5)]
    k = 2 * np.pi / period_px
    phase = rng.uniform(0, 2 * np.pi, len(angles))
    w = sum(
        np.cos(k / r * (yy * np.cos(a) + xx * np.sin(a)) + p) for a, r, p in zip(angles, ratios, phase, strict=True)
    )
    w = (w - w.min()) / (np.ptp(w) or 1.0)
    return w ** rng.uniform(1.0, 3.0)


def lattice(shape: tuple[int, int], rng: np.random.Generator, px: float) -> tuple[np.ndarray, dict]:
    """Atomic or molecular lattice: period 3-60 px, corrugation 0.5-20 % of the period (sub-A for atoms)."""
    kind = str(rng.choice(["hexagonal", "square", "rectangular"]))
    period_px = _loguniform(rng, 3.0, 60.0)
    corr = period_px * px * _loguniform(rng, 0.005, 0.2)
    z = _lattice_waves(shape, rng, period_px, kind) * corr
    if rng.random() < 0.3:  # vacancies / substitutions: a few atoms missing
        holes = ndimage.gaussian_filter((rng.random(shape) < 0.05 / period_px**2).astype(float), period_px / 3)
        z -= corr * holes / (holes.max() or 1.0)
    return z, {"lattice": kind, "period": period_px * px, "corrugation": corr}


def reconstruction(shape: tuple[int, int], rng: np.random.Generator, px: float) -> tuple[np.ndarray, dict]:
    """A large surface reconstruction (7x7-like): adatoms on a hexagonal lattice with deep corner holes."""
    adatom_px = _loguniform(rng, 3.0, 8.0)
    cell = adatom_px * rng.choice([3, 4, 5, 7])
    corr = adatom_px * px * _loguniform(rng, 0.02, 0.25)
    z = _lattice_waves(shape, rng, adatom_px, "hexagonal")
    holes = _lattice_waves(shape, rng, cell, "hexagonal")
    z = corr * (0.6 * z - 1.0 * (holes > 0.9) * (holes - 0.9) / 0.1)
    return ndimage.gaussian_filter(z, 0.5), {"adatom_period": adatom_px * px, "cell": cell * px, "corrugation": corr}


def grating(shape: tuple[int, int], rng: np.random.Generator, px: float) -> tuple[np.ndarray, dict]:
    """A line grating (calibration standard): trapezoidal lines of period 8-60 px, depth 3-150 % of the period.

    Deep gratings with near-vertical walls are what AFM calibration standards are (e.g. 65 nm lines on 10 nm pixels).
    """
    yy, xx = _coords(shape)
    angle = rng.uniform(0, np.pi)
    period = rng.uniform(8, 60)
    u = (yy * np.cos(angle) + xx * np.sin(angle)) / period % 1.0
    duty = rng.uniform(0.3, 0.7)
    edge = rng.uniform(0.005, 0.15)
    prof = np.clip(np.minimum(u, duty - u) / edge + 0.5, 0, 1)
    depth = period * px * _loguniform(rng, 0.03, 1.5)
    return prof * depth, {"period": period * px, "depth": depth}


def grains(shape: tuple[int, int], rng: np.random.Generator, px: float) -> tuple[np.ndarray, dict]:
    """Grains of a polycrystalline film (Voronoi cells 4-40 px across), or packed aligned rods when the cells are
    stretched 1.5-6x along one direction; domed or flat tops with grooves at the boundaries, 5-50 % as high as wide."""
    from scipy.spatial import cKDTree

    yy, xx = _coords(shape)
    size = _loguniform(rng, 4.0, 40.0)
    stretch = 1.0 if rng.random() < 0.5 else rng.uniform(1.5, 6.0)
    a = rng.uniform(0, np.pi)
    pts = np.c_[(yy * np.cos(a) + xx * np.sin(a)).ravel() / stretch, (-yy * np.sin(a) + xx * np.cos(a)).ravel()]
    lo, hi = pts.min(axis=0) - size, pts.max(axis=0) + size
    n = int(np.clip(np.prod(hi - lo) / size**2, 2, 4000))
    seeds = rng.uniform(lo, hi, (n, 2))
    d, idx = cKDTree(seeds).query(pts, k=2)
    to_boundary = ((d[:, 1] - d[:, 0]) / 2).reshape(shape)  # distance to the bisector of the two nearest seeds
    h = size * px * _loguniform(rng, 0.05, 0.5)
    tops = h * np.clip(1 + 0.25 * rng.normal(size=n), 0.3, None)[idx[:, 0]].reshape(shape)
    width = size * rng.uniform(0.05, 0.5)  # small: flat tops and steep edges; large: domes
    z = tops * (1 - np.exp(-to_boundary / width))
    return z, {"size": size * px, "stretch": stretch, "angle": a, "height": h}


def particles(shape: tuple[int, int], rng: np.random.Generator, px: float) -> tuple[np.ndarray, dict]:
    """Nanoparticles: caps, Gaussians, faceted pyramids and rods, diameters 3-60 px (log-normal), aspect 0.15-1."""
    yy, xx = _coords(shape)
    z = np.zeros(shape)
    d_med = _loguniform(rng, 3.0, 50.0)
    coverage = rng.uniform(0.02, 0.3)
    n = int(np.clip(coverage * shape[0] * shape[1] / (np.pi * d_med**2 / 4), 1, 300))
    aspect = rng.uniform(0.15, 1.0)
    shapes = rng.choice(["cap", "gauss", "pyramid", "rod"], size=3)
    for _ in range(n):
        d = float(np.clip(d_med * np.exp(rng.normal(0, 0.35)), 2.5, 60))
        r = d / 2
        cy, cx = rng.uniform(-r, shape[0] + r), rng.uniform(-r, shape[1] + r)
        h = aspect * d * px * np.exp(rng.normal(0, 0.2))
        lo0, hi0 = max(0, int(cy - 2 * r - 2)), min(shape[0], int(cy + 2 * r + 3))
        lo1, hi1 = max(0, int(cx - 2 * r - 2)), min(shape[1], int(cx + 2 * r + 3))
        if lo0 >= hi0 or lo1 >= hi1:
            continue
        dy, dx = yy[lo0:hi0, lo1:hi1] - cy, xx[lo0:hi0, lo1:hi1] - cx
        kind = shapes[rng.integers(3)]
        if kind == "cap":
            p = np.sqrt(np.clip(1 - (dy**2 + dx**2) / r**2, 0, None)) * h
        elif kind == "gauss":
            p = np.exp(-(dy**2 + dx**2) / (2 * (r / 2) ** 2)) * h
        elif kind == "pyramid":
            a = rng.uniform(0, np.pi / 2)
            u, v = dy * np.cos(a) + dx * np.sin(a), -dy * np.sin(a) + dx * np.cos(a)
            p = np.clip(1 - np.maximum(np.abs(u), np.abs(v)) / r, 0, None) * h
        else:
            a = rng.uniform(0, np.pi)
            length = r * rng.uniform(1.5, 3.0)
            u, v = dy * np.cos(a) + dx * np.sin(a), -dy * np.sin(a) + dx * np.cos(a)
            dist2 = (np.clip(np.abs(u) - length / 2, 0, None) / (r / 2)) ** 2 + (v / (r / 2)) ** 2
            p = np.sqrt(np.clip(1 - dist2, 0, None)) * h
        np.maximum(z[lo0:hi0, lo1:hi1], p, out=z[lo0:hi0, lo1:hi1])
    return z, {"n": n, "diameter": d_med * px, "aspect": aspect}


def islands(shape: tuple[int, int], rng: np.random.Generator, px: float, sign: float = 1.0) -> tuple[np.ndarray, dict]:
    """Islands (``sign`` +1) or pits (-1) one to three atomic layers high: a thresholded smooth random field."""
    field_ = smooth_noise(shape, rng, _loguniform(rng, 2.0, 15.0))
    if rng.random() < 0.4:  # rougher, fractal-looking edges
        field_ += 0.3 * smooth_noise(shape, rng, 1.0)
    coverage = rng.uniform(0.05, 0.5)
    mask = field_ > np.quantile(field_, 1 - coverage)
    layers = int(rng.integers(1, 4))
    h = _loguniform(rng, *STEP_HEIGHT)
    z = mask.astype(float)
    if layers > 1:  # terraced wedding cakes: inner levels on higher thresholds
        for k in range(2, layers + 1):
            z += field_ > np.quantile(field_, 1 - coverage / (1.8 * k))
    z = ndimage.gaussian_filter(z * h * sign, rng.uniform(0.3, 1.0))
    return z, {"coverage": coverage, "layers": layers, "layer_height": h}


def fibres(shape: tuple[int, int], rng: np.random.Generator, px: float) -> tuple[np.ndarray, dict]:
    """Worm-like fibres (DNA, nanotubes, polymers): persistent random walks rendered as cylinders of width 2-12 px."""
    yy, xx = _coords(shape)
    z = np.zeros(shape)
    n = int(rng.integers(1, 12))
    width = rng.uniform(2.0, 12.0)
    h = width * px * rng.uniform(0.1, 0.6)
    for _ in range(n):
        p = np.array([rng.uniform(0, shape[0]), rng.uniform(0, shape[1])])
        ang = rng.uniform(0, 2 * np.pi)
        stiff = rng.uniform(0.05, 0.4)
        for _ in range(int(rng.integers(10, 60))):
            q = p + 3.0 * np.array([np.cos(ang), np.sin(ang)])
            ang += rng.normal(0, stiff)
            r = width / 2
            lo0, hi0 = max(0, int(min(p[0], q[0]) - r - 2)), min(shape[0], int(max(p[0], q[0]) + r + 3))
            lo1, hi1 = max(0, int(min(p[1], q[1]) - r - 2)), min(shape[1], int(max(p[1], q[1]) + r + 3))
            if lo0 < hi0 and lo1 < hi1:
                py, px_ = yy[lo0:hi0, lo1:hi1] - p[0], xx[lo0:hi0, lo1:hi1] - p[1]
                seg = q - p
                t = np.clip((py * seg[0] + px_ * seg[1]) / (seg @ seg), 0, 1)
                d2 = (py - t * seg[0]) ** 2 + (px_ - t * seg[1]) ** 2
                prof = np.sqrt(np.clip(1 - d2 / r**2, 0, None)) * h
                np.maximum(z[lo0:hi0, lo1:hi1], prof, out=z[lo0:hi0, lo1:hi1])
            p = q
    return z, {"n": n, "width": width * px, "height": h}


def adsorbates(shape: tuple[int, int], rng: np.random.Generator, px: float) -> tuple[np.ndarray, dict]:
    """Adsorbed molecules: one- to four-lobed blobs 4-60 px across, 0.5-3 A high (or 10-40 % of their size if larger)."""
    yy, xx = _coords(shape)
    z = np.zeros(shape)
    size = _loguniform(rng, 4.0, 60.0)
    n = int(np.clip(rng.uniform(0.01, 0.25) * shape[0] * shape[1] / size**2, 1, 200))
    lobes = int(rng.integers(1, 5))
    h = max(rng.uniform(0.05e-9, 0.3e-9), 0.0) if size * px < 5e-9 else size * px * rng.uniform(0.1, 0.4)
    sig = size / (2.5 + lobes)
    for _ in range(n):
        cy, cx = rng.uniform(0, shape[0]), rng.uniform(0, shape[1])
        a = rng.uniform(0, 2 * np.pi)
        for k in range(lobes):
            off = 0 if lobes == 1 else size / 3
            ly, lx = cy + off * np.cos(a + 2 * np.pi * k / lobes), cx + off * np.sin(a + 2 * np.pi * k / lobes)
            lo0, hi0 = max(0, int(ly - 4 * sig)), min(shape[0], int(ly + 4 * sig + 1))
            lo1, hi1 = max(0, int(lx - 4 * sig)), min(shape[1], int(lx + 4 * sig + 1))
            if lo0 < hi0 and lo1 < hi1:
                g = np.exp(-((yy[lo0:hi0, lo1:hi1] - ly) ** 2 + (xx[lo0:hi0, lo1:hi1] - lx) ** 2) / (2 * sig**2))
                np.maximum(z[lo0:hi0, lo1:hi1], g * h, out=z[lo0:hi0, lo1:hi1])
    return z, {"n": n, "size": size * px, "height": h, "lobes": lobes}


def _substrate(name: str, shape, rng, px) -> tuple[np.ndarray, dict]:
    if name == "flat":
        return np.zeros(shape), {}
    if name == "rough":
        hurst = rng.uniform(0.3, 0.9)
        rms = px * _loguniform(rng, 0.03, 3.0)
        return self_affine(shape, rng, hurst, rms), {"hurst": hurst, "rms": rms}
    builders = {
        "steps": steps,
        "lattice": lattice,
        "reconstruction": reconstruction,
        "grating": grating,
        "grains": grains,
    }
    return builders[name](shape, rng, px)


def _feature(name: str, shape, rng, px) -> tuple[np.ndarray, dict]:
    if name == "pits":
        return islands(shape, rng, px, sign=-1.0)
    return {"particles": particles, "islands": islands, "fibres": fibres, "adsorbates": adsorbates}[name](
        shape, rng, px
    )


def random_topography(
    rng: np.random.Generator,
    shape: tuple[int, int] = (128, 128),
    pixel_size: float | None = None,
    substrate: str | None = None,
    features: tuple[str, ...] | None = None,
    worn_tip: bool | None = None,
) -> Topography:
    """One random clean topography in metres (see the module docstring); ``None`` arguments are drawn at random.

    ``substrate`` in :data:`SUBSTRATES`, ``features`` a tuple from :data:`FEATURES` (drawn: none, one or two).
    A step or rough substrate may get a lattice on top (atomic resolution on terraces). ``worn_tip`` says whether
    the clean scan was taken by a worn tip (default: with probability :data:`P_WORN_TIP`).
    """
    if substrate is not None and substrate not in SUBSTRATES:
        raise ValueError(f"unknown substrate {substrate!r}; choose one of {SUBSTRATES}.")
    if features is not None and not set(features) <= set(FEATURES):
        raise ValueError(f"unknown features {sorted(set(features) - set(FEATURES))}; choose from {FEATURES}.")
    if len(shape) != 2 or min(shape) < 8:
        raise ValueError(f"shape must be (H, W) with sides >= 8, got {shape}.")
    px = float(pixel_size) if pixel_size is not None else _loguniform(rng, *PIXEL_RANGE)
    if not px > 0:
        raise ValueError(f"pixel_size must be > 0 metres, got {pixel_size}.")
    substrate = substrate or str(rng.choice(SUBSTRATES, p=[0.12, 0.17, 0.2, 0.17, 0.08, 0.11, 0.15]))
    if features is None:
        k = int(rng.choice([0, 1, 2], p=[0.3, 0.5, 0.2]))
        features = tuple(str(f) for f in rng.choice(FEATURES, size=k, replace=False))
    z, params = _substrate(substrate, shape, rng, px)
    params = {"substrate": substrate, **params}
    if substrate in ("steps", "flat") and rng.random() < 0.3:
        lat, lp = lattice(shape, rng, px)
        z = z + lat
        params["lattice_on_top"] = lp
    for f in features:
        fz, fp = _feature(f, shape, rng, px)
        z = z + fz
        params[f] = fp
    if rng.random() < 0.3:  # a faint self-affine background roughness
        z = z + self_affine(shape, rng, rng.uniform(0.4, 0.9), (np.ptp(z) or px) * rng.uniform(0.005, 0.03))
    z = _as_imaged(z, rng, px, params, worn_tip)
    z = z - np.median(z)
    return Topography(z, px, "+".join((substrate, *features)), params)


#: share of clean surfaces imaged by a worn tip (:func:`_as_imaged`); the rest by a sharp one
P_WORN_TIP = 0.4
SHARP_TIP_PX = (0.3, 2.0)  # apex radius in pixels, spherical cap on a 10-30 degree cone
WORN_TIP_PX = (1.5, 5.0)  # apex radius in pixels, any tip shape, 15-35 degree walls


def _as_imaged(
    z: np.ndarray, rng: np.random.Generator, px: float, params: dict, worn: bool | None = None
) -> np.ndarray:
    """Real "clean" scans were taken with a finite tip, sometimes a little blurred, with some noise.

    Most tips are sharp (a 0.3-2 px sphere on a 10-30 degree cone), but :data:`P_WORN_TIP` of the surfaces are imaged
    by a worn one (parabolic, spherical or pyramidal, 1.5-5 px apex): real clean scans (the AFM grating, the rods, the
    STM molecular lattice of the validation/test files) are already that wide, and a tip-artifact remover must leave
    them alone; only what a further, blunter or double tip adds (``tip.corrupt``: 2-12 px) is an artifact.
    """
    from .tip import TIP_KINDS, make_tip, simulate_scan

    drawn = rng.random() < P_WORN_TIP  # drawn either way: a given ``worn`` leaves the other draws as they were
    worn = drawn if worn is None else bool(worn)
    if worn:
        kind = str(TIP_KINDS[rng.integers(len(TIP_KINDS))])
        radius = _loguniform(rng, *WORN_TIP_PX) * px
        half_angle = rng.uniform(15.0, 35.0)
    else:
        kind, radius, half_angle = "spherical", _loguniform(rng, *SHARP_TIP_PX) * px, rng.uniform(10.0, 30.0)
    depth = max(float(np.ptp(z)), 2 * radius)  # deep enough to meet the bottom of every trench the surface has
    extra = {} if kind == "parabolic" else {"half_angle": half_angle}
    z = simulate_scan(z, make_tip(kind, radius, px, depth=depth, **extra))
    params["imaged_tip"] = {"kind": kind, "radius": radius, "half_angle": half_angle if extra else None}
    if rng.random() < (0.45 if worn else 0.3):
        sigma = rng.uniform(0.3, 1.2 if worn else 0.8)
        z = ndimage.gaussian_filter(z, sigma, mode="nearest")
        params["imaged_blur_px"] = sigma
    if rng.random() < 0.5:
        noise = (np.ptp(z) or px) * _loguniform(rng, 3e-4, 5e-3)
        z = z + rng.normal(0, noise, z.shape)
        params["imaged_noise"] = noise
    return z


# ---------------------------------------------------------------------------------------------------------------
# Real topographies: validation and test only, split by file

#: file -> (split, kind). Never used for training. Sources: ../shared/data/README.md (Nanonis STM scans from
#: alexriss/SpmImageTycoon.jl and ethz-micro/matlab_nanonis, GPL-3.0; Asylum .ibw and Gwyddion files from
#: pycroscopy/SciFiDatasets, MIT). Every kind but "particles" has a test file; PTO (particles) is validation.
REAL_FILES: dict[str, tuple[str, str]] = {
    "spm-topographies/Image_166.sxm": ("val", "molecular lattice (STM)"),
    "spm-topographies/Si_7x7_051.sxm": ("val", "atomic reconstruction (STM)"),
    "spm-topographies/IgorIBWReader_ImageStack_BTFO_DSO.ibw": ("val", "rough film (AFM)"),
    "spm-files/PTO_110_Virgin0001.gwy": ("val", "particles (AFM)"),
    "spm-topographies/Image_004.sxm": ("test", "adsorbates on a lattice (STM)"),
    "spm-topographies/Image_398.sxm": ("test", "molecules (STM)"),
    "spm-topographies/Image_526.sxm": ("test", "molecular lattice + step (STM)"),
    "spm-topographies/Si_7x7_028.sxm": ("test", "atomic reconstruction (STM)"),
    "spm-topographies/IgorIBWReader_P0089OP0027.ibw": ("test", "grains / rods (AFM)"),
    "spm-topographies/GwiddionReader_bipm.gwy": ("test", "grating (AFM)"),
}


def level_plane(z: np.ndarray) -> np.ndarray:
    """``z`` minus its least-squares plane."""
    yy, xx = _coords(z.shape)
    a = np.c_[yy.ravel(), xx.ravel(), np.ones(z.size)]
    return z - (a @ np.linalg.lstsq(a, z.ravel(), rcond=None)[0]).reshape(z.shape)


def real_topographies(split: str, data_dir=None) -> list[Topography]:
    """The real height maps of ``split`` ("val", "test" or "all") of :data:`REAL_FILES`, in metres, plane-levelled,
    median 0; ``kind`` is the file's kind of surface and ``params["file"]`` its path relative to the data folder."""
    from keras_spm import io

    from .tip import default_data_dir

    if split not in ("val", "test", "all"):
        raise ValueError(
            f"split must be 'val', 'test' or 'all' (real topographies are never for training), got {split!r}."
        )
    root = default_data_dir() if data_dir is None else data_dir
    out = []
    for rel, (s, kind) in REAL_FILES.items():
        if split != "all" and s != split:
            continue
        path = root / rel
        channels = io.list_channels(path)
        channel = next((c for c in channels if c in ("Z", "HeightRetrace")), channels[0])
        image = io.read(path, channel)
        if image.unit != "m":
            raise ValueError(f"{path}: channel {channel!r} is in {image.unit!r}, expected heights in m.")
        z = np.asarray(image.data, dtype=np.float64)
        z = level_plane(np.where(np.isfinite(z), z, np.nanmedian(z)))
        out.append(Topography(z - np.median(z), image.pixel_size[0] * 1e-10, kind, {"file": rel, "split": s}))
    return out
