"""Molecules as the simulator sees them, their validation and their rotations.

A molecule is atomic numbers, Cartesian positions (Angstrom) and point charges (e).
Rotations follow the ASD-AFM / thesis recipe: about 100 near-uniform directions are
tried as the "up" direction and the ``n`` whose top atoms are most planar-exposed are
kept, ranked by S = sum_i exp(-beta (z_close - z_i)) with beta = 1/Angstrom
(Alldritt et al., Sci. Adv. 6, eaay6913, 2020).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Elements the bundled force-field parameters and the zoo's molecule sets cover.
LIGHT_ELEMENTS = (1, 6, 7, 8, 9)
HEAVY_ELEMENTS = (1, 6, 7, 8, 9, 14, 15, 16, 17, 35)
_PERIODIC_TABLE = (
    "H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As Se Br Kr Rb Sr Y Zr "
    "Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm Eu Gd Tb Dy Ho Er Tm Yb Lu Hf Ta W Re Os Ir Pt "
    "Au Hg Tl Pb Bi Po At Rn"
).split()
#: Element symbols by atomic number (for messages and file formats).
SYMBOLS = {z: s for z, s in enumerate(_PERIODIC_TABLE, start=1)}
#: Single-bond covalent radii (Angstrom) of Cordero et al., Dalton Trans. 2832 (2008); C is sp3.
COVALENT_RADII = {1: 0.31, 6: 0.76, 7: 0.71, 8: 0.66, 9: 0.57, 14: 1.11, 15: 1.07, 16: 1.05, 17: 1.02, 35: 1.20}


class MoleculeError(ValueError):
    """A molecule that cannot be simulated, with the reason in the message."""


@dataclass(frozen=True)
class Molecule:
    """Atoms of one molecule: ``numbers`` (n,), ``positions`` (n, 3) in Angstrom, ``charges`` (n,) in e."""

    numbers: np.ndarray
    positions: np.ndarray
    charges: np.ndarray
    name: str = ""

    def __post_init__(self):
        object.__setattr__(self, "numbers", np.asarray(self.numbers, dtype=np.int32).reshape(-1))
        object.__setattr__(self, "positions", np.asarray(self.positions, dtype=np.float64).reshape(-1, 3))
        charges = np.zeros(len(self.numbers)) if self.charges is None else self.charges
        object.__setattr__(self, "charges", np.asarray(charges, dtype=np.float64).reshape(-1))
        validate(self)

    def __len__(self) -> int:
        return len(self.numbers)

    def rotated(self, rotation: np.ndarray) -> Molecule:
        """This molecule rotated about its centre by a 3x3 rotation matrix."""
        centre = self.positions.mean(axis=0)
        return Molecule(
            self.numbers, (self.positions - centre) @ np.asarray(rotation).T + centre, self.charges, self.name
        )

    @property
    def xyzq(self) -> np.ndarray:
        """(n, 4) array of x, y, z, charge, as ppafm's AuxMaps take it."""
        return np.concatenate([self.positions, self.charges[:, None]], axis=1)


def validate(molecule: Molecule, elements: tuple[int, ...] = HEAVY_ELEMENTS) -> None:
    """Raise :class:`MoleculeError` naming what is wrong with ``molecule``."""
    label = f"molecule '{molecule.name}'" if molecule.name else "molecule"
    n = len(molecule.numbers)
    if n == 0:
        raise MoleculeError(f"{label} is empty: it has no atoms.")
    if molecule.positions.shape != (n, 3) or molecule.charges.shape != (n,):
        raise MoleculeError(
            f"{label}: {n} atomic numbers but positions of shape {molecule.positions.shape} and charges of "
            f"shape {molecule.charges.shape}; expected ({n}, 3) and ({n},)."
        )
    if not np.all(np.isfinite(molecule.positions)):
        raise MoleculeError(
            f"{label} has NaN or infinite coordinates (atoms {np.where(~np.isfinite(molecule.positions).all(1))[0].tolist()})."
        )
    if not np.all(np.isfinite(molecule.charges)):
        raise MoleculeError(f"{label} has NaN or infinite charges.")
    unknown = sorted(set(molecule.numbers.tolist()) - set(elements))
    if unknown:
        names = ", ".join(f"Z={z}" + (f" ({SYMBOLS[z]})" if z in SYMBOLS else "") for z in unknown)
        supported = ", ".join(SYMBOLS[z] for z in elements)
        raise MoleculeError(f"{label} contains unsupported element(s) {names}; supported: {supported}.")


def diameter(positions: np.ndarray) -> float:
    """Largest interatomic distance (Angstrom): bounds the molecule's extent along any axis, in any orientation."""
    p = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
    if len(p) < 2:
        return 0.0
    return float(np.sqrt(((p[:, None, :] - p[None, :, :]) ** 2).sum(-1).max()))


def fragments(numbers: np.ndarray, positions: np.ndarray, tolerance: float = 1.25) -> list[np.ndarray]:
    """Atom indices of each covalently connected fragment, largest first.

    Atoms i, j are bonded when closer than ``tolerance`` times the sum of their covalent radii
    (:data:`COVALENT_RADII`); 1.25 keeps strained bonds and stays below hydrogen-bond lengths.
    Used to find salts, counter-ions and geometries that fell apart.
    """
    numbers = np.asarray(numbers).reshape(-1)
    p = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
    unknown = sorted(set(numbers.tolist()) - set(COVALENT_RADII))
    if unknown:
        raise MoleculeError(f"no covalent radius for element(s) Z={unknown}; known: {sorted(COVALENT_RADII)}.")
    radii = np.array([COVALENT_RADII[z] for z in numbers.tolist()])
    bonded = np.sqrt(((p[:, None, :] - p[None, :, :]) ** 2).sum(-1)) < tolerance * (radii[:, None] + radii[None, :])
    label = np.full(len(numbers), -1)
    for start in range(len(numbers)):
        if label[start] >= 0:
            continue
        label[start] = start
        stack = [start]
        while stack:
            i = stack.pop()
            for j in np.flatnonzero(bonded[i] & (label < 0)):
                label[j] = start
                stack.append(j)
    groups = [np.flatnonzero(label == g) for g in np.unique(label)]
    return sorted(groups, key=len, reverse=True)


def fibonacci_directions(n: int = 100) -> np.ndarray:
    """``n`` near-uniform unit vectors on the sphere (Fibonacci lattice), shape (n, 3)."""
    i = np.arange(n) + 0.5
    z = 1 - 2 * i / n
    phi = np.pi * (1 + 5**0.5) * i
    r = np.sqrt(1 - z**2)
    return np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=1)


def rotation_to_up(direction: np.ndarray) -> np.ndarray:
    """Rotation matrix that turns unit vector ``direction`` onto +z (Rodrigues' formula)."""
    d = np.asarray(direction, dtype=np.float64)
    d = d / np.linalg.norm(d)
    up = np.array([0.0, 0.0, 1.0])
    v = np.cross(d, up)
    c = float(d @ up)
    if np.linalg.norm(v) < 1e-12:
        return np.eye(3) if c > 0 else np.diag([1.0, -1.0, -1.0])
    vx = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + vx + vx @ vx * (1 / (1 + c))


def flatness_score(positions: np.ndarray, beta: float = 1.0) -> float:
    """S = sum_i exp(-beta (z_close - z_i)): large when many atoms sit near the top (closest to the tip)."""
    z = positions[:, 2]
    return float(np.exp(-beta * (z.max() - z)).sum())


def best_rotations(molecule: Molecule, n_best: int = 10, n_directions: int = 100, beta: float = 1.0) -> np.ndarray:
    """The ``n_best`` rotation matrices (n_best, 3, 3) of ``molecule`` ranked by :func:`flatness_score`."""
    centred = molecule.positions - molecule.positions.mean(axis=0)
    rotations = np.stack([rotation_to_up(d) for d in fibonacci_directions(n_directions)])
    scores = np.array([flatness_score(centred @ r.T, beta) for r in rotations])
    order = np.argsort(-scores, kind="stable")[:n_best]
    return rotations[order]
