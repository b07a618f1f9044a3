"""Tip artifacts of SPM images: blunt / double tips, blur, noise and scan-line defects, plus the classic remedy.

A scanning tip of finite size images the surface ``s`` as the grey-scale **dilation** of ``s`` by the
reflected tip (Villarrubia, *Algorithms for scanned probe microscope image simulation, surface
reconstruction, and tip estimation*, J. Res. NIST 102, 425 (1997)). Everywhere here a tip is a
:class:`TipShape`: a 2D array ``height`` of the tip surface relative to its apex (apex = 0, lower than 0
elsewhere, in the same length unit as the image heights) on the image's pixel grid. With
``P = tip.height`` and pixel offsets ``u``::

    image(x)          = max_u [ s(x + u) + P(u) ]          (simulate_scan: dilation by the reflected tip)
    reconstruction(x) = min_u [ image(x - u) - P(u) ]      (reconstruct_surface: erosion, as Gwyddion does)

so ``reconstruction = (s dilated) eroded`` is the morphological *closing* of ``s`` by the reflected tip
(scipy's ``grey_closing``): it is >= the true surface (it fills what the tip could not reach) and <= the image.

Also here: Villarrubia's blind tip estimation (:func:`blind_tip_estimate`), the Gaussian-blur
corruption of the source work (MIC Hackathon 2024, "Mitigating tip-induced artifacts in AFM images
using autoencoder-based solutions", Rairao et al.; arXiv:2506.08423), noise and scan-line artifacts,
a seeded random corruption pipeline (:func:`corrupt`) and the loader of clean real surfaces
(:func:`clean_surfaces`).

Units: lengths (pixel size, tip radius, offsets, heights) are in one unit of your choice (nm in
:func:`clean_surfaces`); only their ratios matter.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import ndimage

TIP_KINDS = ("parabolic", "spherical", "pyramid")
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class TipShape:
    """A tip's height profile ``height`` (apex 0, <= 0 elsewhere) on a square, odd-sized pixel grid.

    ``pixel_size`` is the lateral size of a pixel, in the unit of the heights. The apex need not be at
    the array centre: an off-centre apex (``apex_offset``) shifts the image, as a tilted tip does.
    """

    height: np.ndarray
    pixel_size: float
    kind: str = "custom"
    params: dict = field(default_factory=dict)

    def __post_init__(self):
        h = np.asarray(self.height, dtype=np.float64)
        if h.ndim != 2 or h.shape[0] != h.shape[1] or h.shape[0] % 2 == 0:
            raise ValueError(f"tip height must be a square 2D array of odd size, got shape {h.shape}.")
        if not np.all(np.isfinite(h)):
            raise ValueError("tip height has NaN/inf values; use a smaller tip array instead of -inf.")
        if abs(h.max()) > 1e-9 * max(1.0, np.abs(h).max()):
            raise ValueError(f"tip apex must be at height 0 (max of the profile), got max {h.max():g}.")
        if not self.pixel_size > 0:
            raise ValueError(f"pixel_size must be > 0, got {self.pixel_size}.")
        object.__setattr__(self, "height", h)

    @property
    def size(self) -> int:
        return self.height.shape[0]

    @property
    def structure(self) -> np.ndarray:
        """The structuring element for scipy's grey morphology: the reflected tip."""
        return self.height[::-1, ::-1]


def _grid(size: int, pixel_size: float, apex_offset: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates (row, col) relative to the apex, in length units."""
    if size < 1 or size % 2 == 0:
        raise ValueError(f"tip size must be a positive odd number of pixels, got {size}.")
    c = (np.arange(size) - size // 2) * pixel_size
    yy, xx = np.meshgrid(c - apex_offset[0], c - apex_offset[1], indexing="ij")
    return yy, xx


def _finish(h: np.ndarray, pixel_size: float, kind: str, params: dict) -> TipShape:
    return TipShape(h - h.max(), pixel_size, kind, params)


def _default_size(radius: float, pixel_size: float, depth: float, slope: float | None) -> int:
    """Odd size wide enough that the tip is ``depth`` below its apex at the array edge (capped at 65 px)."""
    if slope is None:  # parabola: depth = r^2 / 2R
        half = np.sqrt(2 * radius * depth)
    else:
        half = radius + depth / slope
    n = int(np.ceil(half / pixel_size))
    return int(min(2 * max(n, 1) + 1, 65))


def parabolic_tip(
    radius: float,
    pixel_size: float,
    size: int | None = None,
    apex_offset: tuple[float, float] = (0.0, 0.0),
    depth: float | None = None,
) -> TipShape:
    """Paraboloid ``z = -r^2 / (2 R)``, the usual blunt-tip model (apex radius of curvature ``R``).

    ``size`` (odd, pixels) defaults to where the tip is ``depth`` (default ``2 R``) below the apex.
    """
    _check_positive(radius=radius, pixel_size=pixel_size)
    size = size or _default_size(radius, pixel_size, depth or 2 * radius, None)
    yy, xx = _grid(size, pixel_size, apex_offset)
    h = -(yy**2 + xx**2) / (2 * radius)
    return _finish(h, pixel_size, "parabolic", {"radius": radius, "apex_offset": tuple(apex_offset)})


def spherical_tip(
    radius: float,
    pixel_size: float,
    half_angle: float = 20.0,
    size: int | None = None,
    apex_offset: tuple[float, float] = (0.0, 0.0),
    depth: float | None = None,
) -> TipShape:
    """Spherical cap of radius ``R`` on a cone of half-angle ``half_angle`` (degrees), joined tangentially.

    This is the common "sphere on a cone" probe model: the cap is ``sqrt(R^2 - r^2) - R`` out to
    ``r0 = R cos(alpha)``, then the cone drops with slope ``cot(alpha)``.
    """
    _check_positive(radius=radius, pixel_size=pixel_size)
    if not 0 < half_angle < 90:
        raise ValueError(f"half_angle must be in (0, 90) degrees, got {half_angle}.")
    a = np.deg2rad(half_angle)
    slope = 1 / np.tan(a)
    size = size or _default_size(radius, pixel_size, depth or 2 * radius, slope)
    yy, xx = _grid(size, pixel_size, apex_offset)
    r = np.hypot(yy, xx)
    r0, h0 = radius * np.cos(a), radius * np.sin(a) - radius
    cap = np.sqrt(np.clip(radius**2 - np.minimum(r, r0) ** 2, 0, None)) - radius
    h = np.where(r <= r0, cap, h0 - (r - r0) * slope)
    params = {"radius": radius, "half_angle": half_angle, "apex_offset": tuple(apex_offset)}
    return _finish(h, pixel_size, "spherical", params)


def pyramid_tip(
    radius: float,
    pixel_size: float,
    half_angle: float = 35.0,
    size: int | None = None,
    apex_offset: tuple[float, float] = (0.0, 0.0),
    depth: float | None = None,
) -> TipShape:
    """Square pyramid of face half-angle ``half_angle`` (degrees) with an apex rounded to radius ``R``.

    With ``d = max(|x|, |y|)`` the profile is the parabola ``-d^2 / 2R`` near the apex, joined
    tangentially to the faces ``-d cot(alpha) + R cot(alpha)^2 / 2`` (silicon-nitride/silicon probes
    are pyramids; ``R`` -> 0 gives a sharp pyramid).
    """
    _check_positive(radius=radius, pixel_size=pixel_size)
    if not 0 < half_angle < 90:
        raise ValueError(f"half_angle must be in (0, 90) degrees, got {half_angle}.")
    slope = 1 / np.tan(np.deg2rad(half_angle))
    size = size or _default_size(radius, pixel_size, depth or 2 * radius, slope)
    yy, xx = _grid(size, pixel_size, apex_offset)
    d = np.maximum(np.abs(yy), np.abs(xx))
    d0 = radius * slope
    h = np.where(d <= d0, -(d**2) / (2 * radius), -d * slope + radius * slope**2 / 2)
    params = {"radius": radius, "half_angle": half_angle, "apex_offset": tuple(apex_offset)}
    return _finish(h, pixel_size, "pyramid", params)


def make_tip(kind: str, radius: float, pixel_size: float, **kwargs) -> TipShape:
    """Build a tip of ``kind`` in :data:`TIP_KINDS`."""
    builders = {"parabolic": parabolic_tip, "spherical": spherical_tip, "pyramid": pyramid_tip}
    if kind not in builders:
        raise ValueError(f"unknown tip kind {kind!r}; choose one of {TIP_KINDS}.")
    return builders[kind](radius, pixel_size, **kwargs)


def double_tip(tip: TipShape, offset: tuple[float, float], drop: float) -> TipShape:
    """Add a second apex, ``offset`` (row, col; length units) from the first and ``drop`` >= 0 lower.

    The profile is ``max(P(u), P(u - offset) - drop)``: wherever the second apex meets a feature
    first, the image shows a ghost copy of it, shifted by ``-offset``.
    """
    if drop < 0:
        raise ValueError(f"double-tip drop must be >= 0 (the second apex is not above the first), got {drop}.")
    shift = np.round(np.asarray(offset, dtype=float) / tip.pixel_size).astype(int)
    half = tip.size // 2 + int(np.abs(shift).max())
    n = 2 * half + 1
    floor = tip.height.min() - drop
    big = np.full((n, n), floor)
    lo = half - tip.size // 2
    first = big.copy()
    first[lo : lo + tip.size, lo : lo + tip.size] = tip.height
    second = np.full((n, n), floor)
    r0, c0 = lo + shift[0], lo + shift[1]
    second[r0 : r0 + tip.size, c0 : c0 + tip.size] = tip.height - drop
    params = {**tip.params, "base_kind": tip.kind, "double_offset": tuple(offset), "double_drop": drop}
    return TipShape(np.maximum(first, second), tip.pixel_size, "double", params)


def _check_image(image: np.ndarray, name: str = "image") -> np.ndarray:
    a = np.asarray(image)
    if a.ndim != 2:
        raise ValueError(f"{name} must be a 2D height map (H, W), got shape {a.shape}; squeeze channel axes first.")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} has NaN/inf values; fill or crop them before simulating.")
    return a.astype(np.float64)


def _check_positive(**values):
    for k, v in values.items():
        if not v > 0:
            raise ValueError(f"{k} must be > 0, got {v}.")


def simulate_scan(surface: np.ndarray, tip: TipShape, mode: str = "nearest") -> np.ndarray:
    """Image of ``surface`` scanned with ``tip``: grey dilation by the reflected tip (Villarrubia 1997, Eq. 5)."""
    s = _check_image(surface, "surface")
    structure = tip.structure
    # exact speed-up: a tip point lower than the surface's height range can never touch first, so crop the tip to
    # the (centred, odd) box where P >= -ptp(s); on shallow surfaces a 65 px tip shrinks to a few pixels
    reach = np.argwhere(structure >= -np.ptp(s) - 1e-12 * max(1.0, np.abs(structure).max()))
    m = int(np.abs(reach - structure.shape[0] // 2).max())
    c = structure.shape[0] // 2
    structure = structure[c - m : c + m + 1, c - m : c + m + 1]
    return ndimage.grey_dilation(s, structure=structure, mode=mode)


def reconstruct_surface(image: np.ndarray, tip: TipShape) -> np.ndarray:
    """Villarrubia's surface reconstruction (Gwyddion's "surface reconstruction"): erosion of the image by the tip.

    The result is the tightest upper bound of the true surface that the image and tip allow. Pixels
    outside the image give no constraint (``cval=+inf``), so ``reconstruction >= surface`` holds up to
    the border; in the interior (>= tip size from the border) it equals ``grey_closing(surface)``.
    """
    im = _check_image(image)
    return ndimage.grey_erosion(im, structure=tip.structure, mode="constant", cval=np.inf)


def blind_tip_estimate(
    image: np.ndarray,
    pixel_size: float,
    size: int,
    threshold: float = 0.0,
    max_iter: int = 20,
) -> TipShape:
    """Villarrubia's blind tip estimation (1997, Sec. 6, Eqs. 28-30 in spirit), vectorised over the image.

    Start from the bluntest tip allowed (``P = 0`` on a ``size`` x ``size`` grid) and refine it with
    the bound that every image point ``x`` gives (``u0``: the unknown offset of the contact point)::

        P(u) <= max_{u0 feasible} [ I(x + u0 - u) - I(x) + P(u0) ] + threshold
        u0 feasible  <=>  I(x) - I(x + u0) <= P(u0) + threshold

    Feasibility is sound with the current outer bound ``P`` (the surface under the contact point is at
    most ``I(x + u0)``), so the estimate stays an outer bound of the true tip (``>=`` it, pixelwise) for
    noise-free images; at a strict local maximum only ``u0 = 0`` is feasible, which gives the classic
    "inverted image around a peak" bound. Repeat until nothing changes.

    Simplifications (documented as allowed): every interior point (>= ``size - 1`` px from the border) is
    used in each sweep, with no "certainty" bookkeeping; ``threshold`` is Villarrubia's noise
    threshold (tolerance of the inequalities) - noisy images need ~ the noise amplitude, and then
    give a blunter, not a wrong, tip. Only the part of the tip that the surface's features
    actually probe is recovered: deeper than the features' height the estimate stays blunt.
    """
    im = _check_image(image)
    if size < 3 or size % 2 == 0:
        raise ValueError(f"tip size must be an odd number >= 3 pixels, got {size}.")
    m = size // 2
    reach = 2 * m
    h, w = im.shape
    if min(h, w) <= 2 * reach:
        raise ValueError(f"image {im.shape} too small for a {size} px tip; need > {2 * reach} px a side.")
    inner = im[reach : h - reach, reach : w - reach]

    def shifted(di: int, dj: int) -> np.ndarray:  # I(x + (di, dj)) on the interior points x
        return im[reach + di : h - reach + di, reach + dj : w - reach + dj]

    offs = [(i, j) for i in range(-m, m + 1) for j in range(-m, m + 1)]
    slack = threshold + 1e-9 * max(1.0, float(np.ptp(im)))  # equality cases must survive rounding
    P = np.zeros((size, size))
    for _ in range(max_iter):
        bound = np.full((size, size) + inner.shape, -np.inf)
        for i0, j0 in offs:
            p0 = P[i0 + m, j0 + m] + slack
            feasible = inner - shifted(i0, j0) <= p0
            if not feasible.any():
                continue
            for i, j in offs:
                cand = np.where(feasible, shifted(i0 - i, j0 - j) + p0, -np.inf)
                np.maximum(bound[i + m, j + m], cand, out=bound[i + m, j + m])
        new = np.minimum(P, (bound - inner).min(axis=(2, 3)))
        new = np.minimum(new, 0.0)
        new[m, m] = 0.0
        if np.array_equal(new, P):
            break
        P = new
    return TipShape(P, pixel_size, "blind_estimate", {"threshold": threshold})


def gaussian_blur(image: np.ndarray, sigma: float, pixel_size: float = 1.0) -> np.ndarray:
    """The source work's tip model: Gaussian blur of width ``sigma`` (length units). Not height-aware, unlike dilation."""
    _check_positive(sigma=sigma, pixel_size=pixel_size)
    return ndimage.gaussian_filter(_check_image(image), sigma / pixel_size, mode="nearest")


def add_noise(image: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """White Gaussian height noise of std ``sigma``."""
    im = _check_image(image)
    return im + rng.normal(0.0, sigma, im.shape)


def add_line_offsets(image: np.ndarray, sigma: float, rng: np.random.Generator, drift: float = 0.0) -> np.ndarray:
    """Per-scan-line (row) height offsets: iid N(0, sigma) plus a random walk of step std ``drift``."""
    im = _check_image(image)
    off = rng.normal(0.0, sigma, im.shape[0]) + np.cumsum(rng.normal(0.0, drift, im.shape[0])) * (drift > 0)
    return im + off[:, None]


def add_streaks(
    image: np.ndarray, rng: np.random.Generator, n: int = 3, max_length: float = 0.3, height: float = 1.0
) -> np.ndarray:
    """Scars: ``n`` segments along scan lines (up to ``max_length`` x width long) raised by ~``height``.

    They mimic the tip briefly losing/regaining feedback (Gwyddion's "scars").
    """
    im = _check_image(image).copy()
    h, w = im.shape
    for _ in range(n):
        r = rng.integers(0, h)
        length = max(2, int(rng.uniform(0.05, max_length) * w))
        c = rng.integers(0, max(1, w - length))
        im[r, c : c + length] += height * rng.uniform(0.5, 1.5) * rng.choice([-1.0, 1.0])
    return im


@dataclass(frozen=True)
class CorruptionConfig:
    """Ranges of the random corruption in :func:`corrupt`; lengths in units of the image's pixel size.

    ``radius`` / ``double_offset`` are in pixels (multiplied by the pixel size), heights are fractions
    of the surface's peak-to-peak height range, so one config suits surfaces at any scale.
    """

    kinds: tuple[str, ...] = TIP_KINDS
    radius_px: tuple[float, float] = (2.0, 12.0)
    apex_offset_px: float = 1.0
    p_double: float = 0.3
    double_offset_px: tuple[float, float] = (3.0, 12.0)
    double_drop: tuple[float, float] = (0.0, 0.15)
    p_gaussian: float = 0.0  # chance of the source work's Gaussian blur instead of a tip
    gaussian_sigma_px: tuple[float, float] = (1.0, 4.0)
    noise: tuple[float, float] = (0.0, 0.02)
    line_offset: tuple[float, float] = (0.0, 0.02)
    p_streaks: float = 0.3
    streak_height: float = 0.1


def random_tip(
    pixel_size: float, rng: np.random.Generator, config: CorruptionConfig = CorruptionConfig(), span: float = 1.0
) -> TipShape:
    """A random blunt tip (kind, radius, apex offset), double with probability ``config.p_double``.

    ``span`` is the surface's height range: the second apex is ``config.double_drop`` x ``span`` lower.
    """
    kind = config.kinds[rng.integers(len(config.kinds))]
    radius = rng.uniform(*config.radius_px) * pixel_size
    offset = tuple(rng.uniform(-1, 1, 2) * config.apex_offset_px * pixel_size)
    tip = make_tip(kind, radius, pixel_size, apex_offset=offset, depth=4 * radius)
    if rng.random() < config.p_double:
        dist = rng.uniform(*config.double_offset_px) * pixel_size
        ang = rng.uniform(0, 2 * np.pi)
        drop = rng.uniform(*config.double_drop) * span
        tip = double_tip(tip, (dist * np.sin(ang), dist * np.cos(ang)), drop)
    return tip


def corrupt(
    surface: np.ndarray,
    pixel_size: float,
    rng: np.random.Generator,
    config: CorruptionConfig = CorruptionConfig(),
) -> tuple[np.ndarray, dict]:
    """Random tip artifact + noise + scan-line defects of a clean ``surface``; returns (image, info).

    ``info`` holds the ``tip`` (or the Gaussian ``sigma``) used, so the classic baseline can be
    run with the true tip.
    """
    s = _check_image(surface, "surface")
    span = float(np.ptp(s)) or 1.0
    info: dict = {}
    if rng.random() < config.p_gaussian:
        sigma = rng.uniform(*config.gaussian_sigma_px) * pixel_size
        img = gaussian_blur(s, sigma, pixel_size)
        info["sigma"] = sigma
    else:
        tip = random_tip(pixel_size, rng, config, span)
        img = simulate_scan(s, tip)
        info["tip"] = tip
    img = add_noise(img, rng.uniform(*config.noise) * span, rng)
    img = add_line_offsets(img, rng.uniform(*config.line_offset) * span, rng)
    if rng.random() < config.p_streaks:
        img = add_streaks(img, rng, n=int(rng.integers(1, 5)), height=config.streak_height * span)
    return img, info


# ---------------------------------------------------------------------------------------------------------------
# Clean real surfaces


@dataclass(frozen=True)
class Surface:
    """A clean real height map (float64, ``unit``) with its pixel size; ``calibrated`` False for PNGs."""

    name: str
    height: np.ndarray
    pixel_size: float
    unit: str = "nm"
    calibrated: bool = True


def default_data_dir() -> Path:
    """``<repo>/../shared/data``, where the project's real data lives (CI clones with ``shared/`` beside it)."""
    return Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


def _group(name: str) -> str:
    """Series key of a file: ``Ying_Jiang_2_1_7.png`` -> ``Ying_Jiang_2_1``, simulated ``12.07.png`` -> ``sim12``
    (one scene at several heights)."""
    stem = Path(name).stem
    if re.fullmatch(r"\d+\.\d+", stem):
        return "sim" + stem.split(".")[0]
    return re.sub(r"_\d+$", "", stem)


def split_of(name: str) -> str:
    """Deterministic split of a file by the sha256 of its series key: ~60 % train, 20 % val, 20 % test.

    Whole series (the same scene imaged at several tip heights) stay together, so near-duplicates
    never straddle train and test. The hash is salted with ``"tip-artifacts/"``; on the shared data
    this gives 82 / 7 / 9 images (series Ying_Jiang_4 -> val, Ying_Jiang_3 -> test; the .gwy is train).
    """
    u = int(hashlib.sha256(("tip-artifacts/" + _group(name)).encode()).hexdigest()[:8], 16) / 16**8
    return "train" if u < 0.6 else ("val" if u < 0.8 else "test")


def clean_surfaces(
    split: str,
    data_dir: str | Path | None = None,
    png_pixel_size: float = 0.02,
    png_height_range: float = 0.2,
    simulated: bool = False,
) -> list[Surface]:
    """The real clean surfaces of ``split`` ("train", "val", "test" or "all"), as float height maps in nm.

    * ``afm-exp/experimental/*.png``: 97 real nc-AFM images (8-bit, uncalibrated); grey levels are
      mapped linearly to ``[0, png_height_range]`` nm on a nominal ``png_pixel_size`` nm grid
      (defaults: a 512 px image spans ~10 nm, features ~0.2 nm high, typical of these scans).
    * ``spm-files/PTO_110_Virgin0001.gwy``: the calibrated ``HeightRetrace`` channel (10 um, 256 px),
      read with ``gwyfile``, in nm, minimum set to 0.

    * with ``simulated=True`` also ``afm-exp/ppafm_simulated/*.png``: 630 noise-free Probe-Particle-Model
      images (42 structures x 15 tip heights, 256 px), scaled like the real PNGs and split by structure.

    Held out by image series (:func:`split_of`).
    """
    if split not in SPLITS + ("all",):
        raise ValueError(f"split must be one of {SPLITS + ('all',)}, got {split!r}.")
    root = Path(data_dir) if data_dir is not None else default_data_dir()
    png_dir = root / "afm-exp" / "experimental"
    gwy = root / "spm-files" / "PTO_110_Virgin0001.gwy"
    if not png_dir.is_dir() and not gwy.is_file():
        raise FileNotFoundError(
            f"no clean surfaces under {root.resolve()}: expected afm-exp/experimental/*.png or "
            "spm-files/PTO_110_Virgin0001.gwy; pass data_dir= pointing at the shared data folder."
        )
    out: list[Surface] = []
    if png_dir.is_dir():
        from PIL import Image

        for f in sorted(png_dir.glob("*.png")):
            if split != "all" and split_of(f.name) != split:
                continue
            grey = np.asarray(Image.open(f).convert("L"), dtype=np.float64)
            out.append(Surface(f.stem, grey / 255.0 * png_height_range, png_pixel_size, "nm", False))
    sim_dir = root / "afm-exp" / "ppafm_simulated"
    if simulated and sim_dir.is_dir():
        from PIL import Image

        for f in sorted(sim_dir.glob("*.png")):
            if split != "all" and split_of(f.name) != split:
                continue
            grey = np.asarray(Image.open(f).convert("L"), dtype=np.float64)
            if np.ptp(grey) > 0:
                out.append(Surface(f"sim_{f.stem}", grey / 255.0 * png_height_range, png_pixel_size, "nm", False))
    if gwy.is_file() and (split == "all" or split_of(gwy.name) == split):
        out.append(_read_gwy_height(gwy))
    return out


def _read_gwy_height(path: Path) -> Surface:
    try:
        import gwyfile
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("reading .gwy files needs gwyfile: pip install 'keras_spm[io]'") from e
    fields = gwyfile.util.get_datafields(gwyfile.load(str(path)))
    name = next((k for k in fields if k.lower().startswith("height")), None)
    if name is None:
        raise ValueError(f"{path.name} has no height channel; channels: {sorted(fields)}.")
    f = fields[name]
    z = np.asarray(f.data, dtype=np.float64) * 1e9  # m -> nm
    pixel = f.xreal / f.data.shape[1] * 1e9
    return Surface(f"{path.stem}:{name}", z - z.min(), float(pixel), "nm", True)
