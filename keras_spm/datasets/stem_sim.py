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

abTEM (Madsen & Susi, Open Res. Europe 1, 24 (2021)) is an optional dependency: ``pip install abtem``.
A pair costs seconds (PRISM, small particles, 2 CPU threads) to minutes (multislice, 5 nm particles).
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


def _potential(atoms, m: Microscope):
    abtem = _abtem()
    return abtem.Potential(
        atoms,
        sampling=m.potential_sampling,
        slice_thickness=m.slice_thickness,
        projection="infinite",
        parametrization="lobato",
    )


def _scan(potential, m: Microscope):
    return _abtem().GridScan(start=(0, 0), end=potential.extent, sampling=m.scan_sampling)


def haadf_image(atoms, m: Microscope = Microscope(), method: str = "prism") -> np.ndarray:
    """The annular-dark-field image of ``atoms`` on the scan grid, (nx, ny) float64, by PRISM or multislice."""
    abtem = _abtem()
    potential = _potential(atoms, m)
    detector = abtem.AnnularDetector(inner=m.inner, outer=m.outer)
    scan = _scan(potential, m)
    if method == "prism":
        s_matrix = abtem.SMatrix(potential=potential, energy=m.energy, semiangle_cutoff=m.semiangle, interpolation=1)
        image = s_matrix.scan(scan=scan, detectors=detector)
    elif method == "multislice":
        probe = abtem.Probe(energy=m.energy, semiangle_cutoff=m.semiangle)
        probe.grid.match(potential)
        image = probe.scan(potential, scan=scan, detectors=detector)
    else:
        raise ValueError(f"method must be 'prism' or 'multislice', got {method!r}.")
    return np.asarray(image.compute(progress_bar=False).array, dtype=np.float64)


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
    return normalize(conv), normalize(haadf)


def pair_stream(
    seed: int = 0, m: Microscope = Microscope(), method: str = "prism", kind: str | None = None
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Endless random (convolution, HAADF) pairs, reproducible from ``seed``."""
    rng = np.random.default_rng(seed)
    while True:
        yield simulate_pair(random_structure(rng, kind), m, method)
