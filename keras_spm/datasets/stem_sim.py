"""Simulated STEM pairs with abTEM: convolution-approximation image -> HAADF (multislice or PRISM) image.

More training pairs for pix2pix than the 20 Pt-Mo5 pairs of ``stem_pairs``, made the way those were made
(uw-cmg GAN-STEM-Conv2MultiSlice; Combs et al., Adv. Struct. Chem. Imaging 5, 2 (2019)):

* :func:`random_structure` - a random metal nanoparticle (ASE octahedron / decahedron / icosahedron, possibly
  alloyed) or fcc slab in a random zone axis, centred in a vacuum box;
* :func:`haadf_image` - the accurate image: abTEM multislice, or PRISM (Ophus 2017; about 6x faster at the
  default interpolation of 1, exact as the interpolation factor stays 1) with an annular detector;
* :func:`convolution_image` - the fast image: the probe intensity convolved with ``sum_atoms Z**1.7`` delta
  functions at the projected atom positions (Kirkland's incoherent-imaging approximation);
* :func:`simulate_pair` / :func:`pair_stream` - one pair, or an endless stream of pairs, each image
  max-normalised like ``stem_pairs.normalize`` and on the same scan grid, ready for ``stem_dataset(pairs=...)``.

* :func:`pt_mo_particle` / :func:`composition_split` / :func:`write_pairs` / :func:`load_pairs` - Pt-Mo particles
  from pure Pt to 60 % Mo down the 100 / 110 / 111 zone axes (decahedra down their 5-fold axis), a held-out split
  by composition (:data:`HELD_OUT_MO_FRACTIONS`, never used for training), and a resumable writer
  (``python -m keras_spm.datasets.stem_sim --out DIR --n 40 --split train``). The :class:`Microscope` defaults are
  used; the exact probe and detector of Combs et al.'s cl160mm simulations are not checked here. Their scale is:
  the Pt-Mo5 multislice images' strongest lattice fringe repeats every 22-23 px, i.e. ~0.09-0.10 A/px for the
  1.96-2.26 A fcc Pt spacings, and the particle fills most of the 228-258 px frame (~2.3 nm); to match it use
  ``Microscope(scan_sampling=0.1)`` and sizes 6-9, four times the scan positions of the default 0.2 A.

abTEM (Madsen & Susi, Open Res. Europe 1, 24 (2021)) is an optional dependency: ``pip install abtem``.
Made to look like the Pt-Mo5 pairs (measured on them, not taken from the paper, which does not give every
setting): ``--scan-sampling 0.1 --sizes 7 9 --off-axis 0.6 --vacuum 1.5 --source-size 0.27 --haadf-blur 0.32
--phonons 0.065 --interpolation 2``. The radial power spectra of the 20 convolution images fit a 20 mrad probe with a
0.27 A Gaussian source (log-spectrum RMS 0.39 decades over 0.3-1.6 1/A; 1.19 without the source); their multislice
images are blurrier again (see :attr:`Microscope.haadf_blur`), which a static-lattice PRISM image of the same
particle is not (r 0.997 with the convolution image; frozen phonons alone give 0.988). PRISM interpolation 2 is
within 1.2 % RMSE (mean 1.2 % low) of interpolation 1 on a 22 A, 314-atom cell, at a third of the time (~4 min).
The brightness relation needs a low-angle detector: ``--inner 35``. In the real pairs the multislice image's mean
(both images over their maxima) exceeds the convolution image's by 0.078 on average (0.053-0.101 over the 20 pairs),
and inside the particle it is 1.33-1.6x the convolution image's. Pairs made with the 65-160 mrad default gave 0.042
on average (13 pairs), and a pix2pix trained on them did worse on real validation pairs than on the real ones alone
(see the pix2pix_stem card). One PRISM run per particle with an angle-resolved detector (2026-12-03, Pt-Mo5-like
particles of 314 and 201 atoms in random orientations, the recipe above) gives, for inner angles 25 / 30 / 35 / 40 /
50 / 65 / 80 mrad (outer 160), a difference of 0.086 / 0.085 / 0.074 / 0.052 / 0.033 / 0.040 / 0.034 and
0.092 / 0.092 / 0.080 / 0.068 / 0.060 / 0.071 / 0.051 (outer 100-160 changes it by <= 0.005), and inside the particle
1.31 / 1.46x at 35 mrad: 30-35 mrad matches the real pairs; below ~40 mrad the detector takes in the edges of the
Bragg discs (Pt 311 at 21 mrad plus the 20 mrad aperture), which is why the relation depends on the orientation.
Plausible for the file names' 160 mm camera length, a long one for HAADF (a detector's angles scale as 1 / camera
length); Combs et al.'s detector is not known here. But on the first 5 particles of the recipe's training split
(same seeds, so the same particles as at 65 mrad; 147-489 atoms) 35 mrad gives 0.045 / 0.072 / 0.033 / 0.088 / 0.036
(mean 0.055) against 0.043 / 0.049 / 0.019 / 0.035 / 0.048 (0.039) at 65 mrad: closer to the real 0.078, not there,
and more spread than the real pairs (0.053-0.101). Something else differs too (the particles' thickness or shape
distribution, or the number of phonon configurations: one here).

A pair costs seconds (PRISM, small particles) to minutes (multislice, 5 nm particles). The HAADF image is scanned
on the Nyquist grid of its band limit and Fourier-interpolated (exact to 1e-5 of the mean against the full 0.1 A scan
of a 44-atom particle, 3.3x faster: 44 s instead of 144 s on this 2-core CPU); PRISM interpolation 2 is another
2.5x but 8 % RMSE on that 14 A cell, so it stays 1 (exact) by default.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

METALS = ("Pt", "Au", "Pd", "Ag", "Cu", "Ni", "Ir", "Rh")
Z_EXPONENT = 1.7


def _abtem():
    try:
        import abtem
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("simulated STEM pairs need abTEM: `pip install abtem` (PyPI).") from exc
    abtem.config.set({"device": "cpu", "fft": "numpy"})
    return abtem


@dataclass(frozen=True)
class Microscope:
    """Probe and detector: 200 kV, 20 mrad convergence, HAADF 65-160 mrad (160 fits a 0.05 A potential grid)."""

    energy: float = 200e3
    semiangle: float = 20.0
    inner: float = 65.0
    outer: float = 160.0
    potential_sampling: float = 0.05
    scan_sampling: float = 0.2
    slice_thickness: float = 2.0
    #: PRISM interpolation factor (1: exact; f: probe cropped to 1/f of the cell, ~f**4 fewer operations)
    interpolation: int = 1
    #: scan the HAADF image at the Nyquist step of its band limit and Fourier-interpolate to ``scan_sampling``
    band_limited_scan: bool = True
    #: effective source size (A, Gaussian sigma): partial spatial coherence, a blur of both images
    source_size: float = 0.0
    #: a further Gaussian blur (A, sigma) of the HAADF image only. The Pt-Mo5 multislice images are blurrier than
    #: their convolution images: a linear fit of ms to conv blurred by 0.3-0.35 A is best (RMSE/mean 0.09-0.10
    #: against 0.18-0.20 unblurred) and gives ms's mean; 0.32 reproduces that blur in simulated pairs
    haadf_blur: float = 0.0
    #: frozen phonons (Kirkland): rms thermal displacement per direction (A; Pt at 300 K ~0.065) and configurations
    #: averaged; 0 = static lattice, which leaves out thermal diffuse scattering, the bulk of the HAADF signal
    phonon_sigma: float = 0.0
    phonon_configs: int = 1


def nyquist_scan_sampling(m: Microscope) -> float:
    """Largest scan step (A) that loses nothing: an ADF image holds no spatial frequency above 2 alpha / lambda.

    The image is bilinear in the probe's aperture function, so its spectrum is the aperture's autocorrelation,
    zero beyond twice the convergence semi-angle (e.g. 0.31 A at 200 kV, 20 mrad), whatever the specimen.
    """
    from abtem.core.energy import energy2wavelength

    return energy2wavelength(m.energy) / (4e-3 * m.semiangle)


def fourier_resample(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A periodic band-limited ``image`` on a finer grid ``shape`` over the same cell (zero-padded spectrum)."""
    n1, n2 = image.shape
    m1, m2 = shape
    if m1 < n1 or m2 < n2:
        raise ValueError(f"fourier_resample only refines: {image.shape} -> {shape}.")
    spectrum = np.fft.fftshift(np.fft.fft2(image))
    padded = np.zeros((m1, m2), dtype=complex)
    o1, o2 = m1 // 2 - n1 // 2, m2 // 2 - n2 // 2
    padded[o1 : o1 + n1, o2 : o2 + n2] = spectrum
    return np.real(np.fft.ifft2(np.fft.ifftshift(padded))) * (m1 * m2) / (n1 * n2)


def random_structure(rng: np.random.Generator, kind: str | None = None, size: int | None = None, vacuum: float = 3.0):
    """A random metal nanoparticle ("particle") or fcc slab ("slab"), centred with ``vacuum`` A around it."""
    from ase.build import fcc100, fcc110, fcc111
    from ase.cluster import Decahedron, Icosahedron, Octahedron

    kind = kind or ("particle" if rng.random() < 0.7 else "slab")
    metal = str(rng.choice(METALS))
    if kind == "particle":
        shape = str(rng.choice(["octahedron", "decahedron", "icosahedron"]))
        n = size or int(rng.integers(3, 7))
        if shape == "octahedron":
            atoms = Octahedron(metal, max(n, 2), cutoff=int(rng.integers(0, max(n // 2, 1))))
        elif shape == "decahedron":
            atoms = Decahedron(metal, max(n // 2, 1), max(n // 2, 1), 0)
        else:
            atoms = Icosahedron(metal, max(n // 2, 1))
        atoms.rotate(float(rng.uniform(0, 360)), "z", center="COM")
    elif kind == "slab":
        build = [fcc100, fcc110, fcc111][int(rng.integers(3))]
        n = size or int(rng.integers(3, 6))
        atoms = build(metal, size=(n, n, int(rng.integers(2, 6))), orthogonal=True, vacuum=0)
    else:
        raise ValueError(f"kind must be 'particle' or 'slab', got {kind!r}.")
    if rng.random() < 0.5:  # alloy: swap a random fraction of the atoms for a second metal
        other = str(rng.choice([m for m in METALS if m != metal]))
        swap = rng.random(len(atoms)) < rng.uniform(0.05, 0.5)
        symbols = atoms.get_chemical_symbols()
        atoms.set_chemical_symbols([other if s else sym for s, sym in zip(swap, symbols, strict=True)])
    atoms.center(vacuum=vacuum)
    atoms.pbc = True
    return atoms


def _potential(atoms, m: Microscope, thermal: bool = False):
    """The projected potential; ``thermal``: of ``m.phonon_configs`` frozen-phonon configurations (HAADF only:
    the convolution image is of the static lattice, as the fast method's is)."""
    abtem = _abtem()
    if thermal and m.phonon_sigma > 0:
        seed = int(abs(atoms.positions.sum()) * 1000) % 2**31  # reproducible per structure
        atoms = abtem.FrozenPhonons(atoms, m.phonon_configs, m.phonon_sigma, seed=seed)
    return abtem.Potential(
        atoms,
        sampling=m.potential_sampling,
        slice_thickness=m.slice_thickness,
        projection="infinite",
        parametrization="lobato",
    )


def _scan(potential, m: Microscope, sampling: float | None = None):
    """The periodic scan grid over the whole cell (``endpoint`` excluded), so that Fourier resampling is exact."""
    return _abtem().GridScan(start=(0, 0), end=potential.extent, sampling=sampling or m.scan_sampling)


def haadf_image(atoms, m: Microscope = Microscope(), method: str = "prism") -> np.ndarray:
    """The annular-dark-field image of ``atoms`` on the scan grid, (nx, ny) float64, by PRISM or multislice.

    With ``m.band_limited_scan`` the probe visits only the Nyquist grid of the image's band limit (4x fewer
    positions than a 0.1 A grid at 200 kV / 20 mrad) and the image is Fourier-interpolated onto the scan grid.
    """
    abtem = _abtem()
    potential = _potential(atoms, m, thermal=True)
    detector = abtem.AnnularDetector(inner=m.inner, outer=m.outer)
    target = _scan(potential, m)
    coarse = nyquist_scan_sampling(m)
    scan = _scan(potential, m, coarse) if m.band_limited_scan and coarse > m.scan_sampling else target
    if method == "prism":
        s_matrix = abtem.SMatrix(
            potential=potential, energy=m.energy, semiangle_cutoff=m.semiangle, interpolation=m.interpolation
        )
        image = s_matrix.scan(scan=scan, detectors=detector)
    elif method == "multislice":
        probe = abtem.Probe(energy=m.energy, semiangle_cutoff=m.semiangle)
        probe.grid.match(potential)
        image = probe.scan(potential, scan=scan, detectors=detector)
    else:
        raise ValueError(f"method must be 'prism' or 'multislice', got {method!r}.")
    array = np.asarray(image.compute(progress_bar=False).array, dtype=np.float64)
    return array if scan is target else fourier_resample(array, tuple(target.gpts))


def probe_intensity(extent: tuple[float, float], m: Microscope = Microscope()) -> np.ndarray:
    """|probe|^2 centred at the origin (periodic) on the potential grid of a cell of ``extent`` A."""
    abtem = _abtem()
    probe = abtem.Probe(energy=m.energy, semiangle_cutoff=m.semiangle, extent=extent, sampling=m.potential_sampling)
    waves = probe.build(scan=[(0.0, 0.0)]).compute(progress_bar=False)
    return np.asarray(waves.intensity().array, dtype=np.float64).reshape(probe.gpts)


def convolution_image(atoms, m: Microscope = Microscope(), exponent: float = Z_EXPONENT) -> np.ndarray:
    """Incoherent approximation: probe intensity convolved with ``Z**exponent`` at projected atom positions.

    Atoms are deposited bilinearly on the periodic potential grid, convolved by FFT with the probe intensity
    and read out at the same scan positions as :func:`haadf_image`.
    """
    potential = _potential(atoms, m)
    nx, ny = potential.gpts
    sx, sy = potential.sampling
    weights = np.asarray(atoms.numbers, dtype=np.float64) ** exponent
    fx, fy = atoms.positions[:, 0] / sx, atoms.positions[:, 1] / sy
    grid = np.zeros((nx, ny))
    ix, iy = np.floor(fx).astype(int), np.floor(fy).astype(int)
    dx, dy = fx - ix, fy - iy
    for ox, oy, w in ((0, 0, (1 - dx) * (1 - dy)), (1, 0, dx * (1 - dy)), (0, 1, (1 - dx) * dy), (1, 1, dx * dy)):
        np.add.at(grid, ((ix + ox) % nx, (iy + oy) % ny), weights * w)
    probe = probe_intensity(potential.extent, m)
    full = np.real(np.fft.ifft2(np.fft.fft2(grid) * np.fft.fft2(probe)))
    scan = _scan(potential, m)
    positions = scan.get_positions()  # (sx, sy, 2) in A
    px, py = positions[..., 0] / sx, positions[..., 1] / sy
    x0, y0 = np.floor(px).astype(int), np.floor(py).astype(int)
    ax, ay = px - x0, py - y0
    x1, y1 = (x0 + 1) % nx, (y0 + 1) % ny
    x0, y0 = x0 % nx, y0 % ny
    return (
        full[x0, y0] * (1 - ax) * (1 - ay)
        + full[x1, y0] * ax * (1 - ay)
        + full[x0, y1] * (1 - ax) * ay
        + full[x1, y1] * ax * ay
    )


def simulate_pair(atoms, m: Microscope = Microscope(), method: str = "prism") -> tuple[np.ndarray, np.ndarray]:
    """(convolution, HAADF) images of ``atoms``, each divided by its maximum ([0, 1], as ``stem_pairs``)."""
    from .stem_pairs import normalize

    conv, haadf = convolution_image(atoms, m), haadf_image(atoms, m, method)
    if conv.shape != haadf.shape:
        raise RuntimeError(f"convolution {conv.shape} and HAADF {haadf.shape} grids differ; report this bug.")
    from scipy.ndimage import gaussian_filter

    px = [length / n for n, length in zip(conv.shape, atoms.cell.lengths()[:2], strict=True)]
    blur_haadf = float(np.hypot(m.source_size, m.haadf_blur))
    if m.source_size > 0:  # the scan grid is periodic over the cell, as the potential is
        conv = gaussian_filter(conv, [m.source_size / p for p in px], mode="wrap")
    if blur_haadf > 0:
        haadf = gaussian_filter(haadf, [blur_haadf / p for p in px], mode="wrap")
    return normalize(conv), normalize(haadf)


def pair_stream(
    seed: int = 0, m: Microscope = Microscope(), method: str = "prism", kind: str | None = None
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Endless random (convolution, HAADF) pairs, reproducible from ``seed``."""
    rng = np.random.default_rng(seed)
    while True:
        yield simulate_pair(random_structure(rng, kind), m, method)


# --- Pt-Mo particles over compositions (issue #17: pix2pix beyond the one composition of the Pt-Mo5 pairs) ---

#: Mo fractions from pure Pt to 60 % Mo (Pt-Mo5 is ~5 %; the source work's other set is ~50 %)
MO_FRACTIONS: tuple[float, ...] = tuple(round(0.05 * k, 2) for k in range(13))
#: compositions never used for training: the held-out-composition split
HELD_OUT_MO_FRACTIONS: tuple[float, ...] = (0.15, 0.35, 0.55)
ZONE_AXES = {"100": (0, 0, 1), "110": (1, 1, 0), "111": (1, 1, 1)}
SHAPES = ("octahedron", "truncated_octahedron", "decahedron")


def composition_split(held_out: tuple[float, ...] = HELD_OUT_MO_FRACTIONS) -> dict[str, tuple[float, ...]]:
    """``{"train": ..., "held_out": ...}`` Mo fractions: the held-out ones are never simulated for training."""
    bad = [f for f in held_out if f not in MO_FRACTIONS]
    if bad:
        raise ValueError(f"held-out Mo fractions {bad} are not in MO_FRACTIONS {MO_FRACTIONS}.")
    return {"train": tuple(f for f in MO_FRACTIONS if f not in held_out), "held_out": tuple(held_out)}


def pt_mo_particle(
    rng: np.random.Generator,
    mo_fraction: float,
    shape: str | None = None,
    size: int | None = None,
    zone_axis: str | None = None,
    vacuum: float = 3.0,
    p_off_axis: float = 0.0,
    max_tilt: float = 0.0,
):
    """An fcc Pt particle with exactly ``round(mo_fraction * n)`` random sites Mo, viewed down a zone axis.

    Octahedra (``cutoff`` 0: sharp, >0: truncated) are turned so that ``zone_axis`` ("100", "110", "111") is the
    beam direction z, then spun at random about z; decahedra are viewed down their five-fold axis. The atoms of
    each column then line up. ``zone_axis="random"`` (or, when it is not given, probability ``p_off_axis``) turns
    the particle to a uniformly random orientation instead: most Pt-Mo5 pairs of Combs et al. (2019) show a
    particle off any zone axis, with lattice fringes in one direction or none. ``max_tilt`` (degrees) tilts a
    zone-axis particle by up to that angle about a random axis in the image plane: near-axis views, whose
    column contrast lies in the real pairs' range where random orientations fall below it (session 21:
    std(conv - blur4(conv)) / std(conv) is 0.385-0.505 for the 20 Pt-Mo5 pairs, 0.24-0.40 in random orientations,
    0.48-0.51 on axis; convolution images of 8 recipe particles give 0.415-0.506 at ``max_tilt=6``, 0.365-0.503 at 10).
    """
    from ase.cluster import Decahedron, Octahedron
    from scipy.spatial.transform import Rotation

    if not 0.0 <= mo_fraction <= 1.0:
        raise ValueError(f"mo_fraction must be in [0, 1], got {mo_fraction}.")
    if not 0.0 <= max_tilt <= 90.0:
        raise ValueError(f"max_tilt is an angle in degrees in [0, 90], got {max_tilt}.")
    shape = shape or str(rng.choice(SHAPES))
    if shape not in SHAPES:
        raise ValueError(f"shape must be one of {SHAPES}, got {shape!r}.")
    n = size or int(rng.integers(4, 8))
    if zone_axis is None and p_off_axis > 0 and rng.random() < p_off_axis:
        zone_axis = "random"
    if shape == "decahedron":
        atoms = Decahedron("Pt", max(n // 2, 2), max(n // 2, 1), 0)
    else:
        atoms = Octahedron("Pt", max(n, 2), cutoff=0 if shape == "octahedron" else max(n // 3, 1))
    if zone_axis == "random":
        com = atoms.get_center_of_mass()
        atoms.positions = Rotation.random(random_state=rng).apply(atoms.positions - com) + com
    elif shape == "decahedron":
        zone_axis = "5fold"
    else:
        zone_axis = zone_axis or str(rng.choice(list(ZONE_AXES)))
        if zone_axis not in ZONE_AXES:
            raise ValueError(f"zone_axis must be one of {list(ZONE_AXES)}, got {zone_axis!r}.")
        if zone_axis != "100":
            atoms.rotate(ZONE_AXES[zone_axis], (0, 0, 1), center="COM")
    if max_tilt > 0 and zone_axis != "random":  # drawn only when asked: sets made without it stay the same
        phi = float(rng.uniform(0, 2 * np.pi))
        atoms.rotate(float(rng.uniform(0, max_tilt)), (np.cos(phi), np.sin(phi), 0.0), center="COM")
        atoms.info["tilt_max"] = float(max_tilt)
    atoms.rotate(float(rng.uniform(0, 360)), "z", center="COM")
    symbols = np.array(atoms.get_chemical_symbols(), dtype=object)
    symbols[rng.permutation(len(atoms))[: int(round(mo_fraction * len(atoms)))]] = "Mo"
    atoms.set_chemical_symbols(list(symbols))
    atoms.center(vacuum=vacuum)
    atoms.pbc = True
    atoms.info.update(mo_fraction=float(mo_fraction), shape=shape, zone_axis=zone_axis)
    return atoms


def write_pairs(
    out,
    n: int,
    mo_fractions: tuple[float, ...],
    seed: int = 0,
    m: Microscope = Microscope(),
    method: str = "prism",
    simulate=None,
    sizes: tuple[int, int] | None = None,
    progress: bool = False,
    p_off_axis: float = 0.0,
    vacuum: float = 3.0,
    max_tilt: float = 0.0,
) -> list:
    """Simulate ``n`` Pt-Mo pairs into ``out/pair_{seed}_{k:04d}.npz`` (conv, haadf, metadata), cycling through
    ``mo_fractions``; files already there are kept, so a killed run continues where it stopped (each pair is
    drawn from its own seed, so the set does not depend on where it was interrupted). ``sizes``: particle sizes
    drawn from ``[lo, hi]`` (default :func:`pt_mo_particle`'s 4-7); ``progress``: a tqdm bar. Returns the paths."""
    from pathlib import Path

    from tqdm.auto import tqdm

    simulate = simulate or simulate_pair
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in tqdm(range(n), desc="STEM pairs", unit="pair", disable=not progress):
        path = out / f"pair_{seed}_{k:04d}.npz"
        paths.append(path)
        if path.exists():
            continue
        rng = np.random.default_rng([seed, k])
        size = None if sizes is None else int(rng.integers(sizes[0], sizes[1] + 1))
        atoms = pt_mo_particle(
            rng, mo_fractions[k % len(mo_fractions)], size=size, p_off_axis=p_off_axis, vacuum=vacuum,
            max_tilt=max_tilt,
        )  # fmt: skip
        conv, haadf = simulate(atoms, m, method)
        tmp = path.with_suffix(".tmp.npz")
        np.savez_compressed(
            tmp, conv=conv, haadf=haadf, n_atoms=len(atoms), scan_sampling=m.scan_sampling, **atoms.info
        )
        tmp.replace(path)
    return paths


def load_pairs(directory, mo_fractions: tuple[float, ...] | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """The [0, 1] (convolution, HAADF) pairs of a :func:`write_pairs` folder, optionally only some compositions."""
    from pathlib import Path

    pairs = []
    for path in sorted(Path(directory).glob("pair_*.npz")):
        if path.name.endswith(".tmp.npz"):
            continue
        with np.load(path) as d:
            if mo_fractions is None or round(float(d["mo_fraction"]), 2) in mo_fractions:
                pairs.append((d["conv"], d["haadf"]))
    return pairs


def main(argv=None) -> int:
    """``python -m keras_spm.datasets.stem_sim --out DIR --n 40 --split train`` (resumable: rerun to continue)."""
    import argparse

    p = argparse.ArgumentParser(description="Simulate Pt-Mo convolution / HAADF pairs over compositions (abTEM).")
    p.add_argument("--out", required=True)
    p.add_argument("--n", type=int, default=40)
    p.add_argument("--split", choices=("train", "held_out"), default="train")
    p.add_argument("--seed", type=int, default=None, help="default: 0 for train, 1 for held_out")
    p.add_argument("--method", choices=("prism", "multislice"), default="prism")
    p.add_argument(
        "--scan-sampling",
        type=float,
        default=Microscope.scan_sampling,
        help="A per scan pixel (the Pt-Mo5 pairs of Combs et al.: ~0.1; the default is 4x fewer pixels)",
    )
    p.add_argument(
        "--sizes",
        type=int,
        nargs=2,
        default=None,
        metavar=("LO", "HI"),
        help="particle sizes (ASE layers) drawn from [LO, HI]; default 4-7 (the Pt-Mo5 particles: ~6-9)",
    )
    p.add_argument("--source-size", type=float, default=0.0, help="Gaussian source size sigma, A (Pt-Mo5: ~0.27)")
    p.add_argument("--haadf-blur", type=float, default=0.0, help="further HAADF blur sigma, A (Pt-Mo5: ~0.32)")
    p.add_argument("--phonons", type=float, default=0.0, help="frozen-phonon rms displacement, A (Pt: ~0.065)")
    p.add_argument(
        "--inner",
        type=float,
        default=Microscope.inner,
        help="ADF detector inner angle, mrad (the Pt-Mo5 pairs' brightness relation: ~35, see the module docstring)",
    )
    p.add_argument("--outer", type=float, default=Microscope.outer, help="ADF detector outer angle, mrad")
    p.add_argument("--interpolation", type=int, default=1, help="PRISM interpolation factor (1: exact)")
    p.add_argument("--off-axis", type=float, default=0.0, help="fraction of particles in a random orientation")
    p.add_argument("--vacuum", type=float, default=3.0, help="A of vacuum around the particle")
    p.add_argument("--max-tilt", type=float, default=0.0, help="degrees a zone-axis particle is tilted, at most")
    args = p.parse_args(argv)
    if args.scan_sampling <= 0:
        p.error("--scan-sampling must be > 0 (A per pixel).")
    if args.sizes and not 2 <= args.sizes[0] <= args.sizes[1]:
        p.error("--sizes LO HI needs 2 <= LO <= HI.")
    fractions = composition_split()[args.split]
    seed = args.seed if args.seed is not None else (0 if args.split == "train" else 1)
    m = Microscope(
        scan_sampling=args.scan_sampling, source_size=args.source_size, interpolation=args.interpolation,
        haadf_blur=args.haadf_blur, phonon_sigma=args.phonons, inner=args.inner, outer=args.outer,
    )  # fmt: skip
    sizes = tuple(args.sizes) if args.sizes else None
    paths = write_pairs(
        args.out, args.n, fractions, seed=seed, m=m, method=args.method, sizes=sizes, progress=True,
        p_off_axis=args.off_axis, vacuum=args.vacuum, max_tilt=args.max_tilt,
    )  # fmt: skip
    print(f"{len(paths)} pairs ({args.split}: Mo fractions {fractions}) in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
