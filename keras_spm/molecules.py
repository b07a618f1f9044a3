"""Molecules as the simulator sees them, their validation, their rotations and reading them from files.

A molecule is atomic numbers, Cartesian positions (Angstrom) and point charges (e), and
optionally a ``substrate`` mask: substrate atoms (a Cu slab, a NaCl layer) are simulated but
left out of the descriptors. Every element ppafm's force field has parameters for
(:data:`SIMULATION_ELEMENTS`) can be simulated; the zoo's molecule sets and networks cover
:data:`HEAVY_ELEMENTS`, which :func:`validate` checks by default.

Rotations follow the ASD-AFM / thesis recipe: about 100 near-uniform directions are
tried as the "up" direction and the ``n`` whose top atoms are most planar-exposed are
kept, ranked by S = sum_i exp(-beta (z_close - z_i)) with beta = 1/Angstrom
(Alldritt et al., Sci. Adv. 6, eaay6913, 2020). The molecule's own orientation and its
best-fit plane (both faces up) are candidates too, so a flat molecule is kept exactly flat.

:func:`read` reads a molecule from a plain ``.xyz`` file (optional charge column) or, through
ASE, from any format ``ase.io.read`` knows.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

#: Elements the bundled force-field parameters and the zoo's molecule sets cover.
LIGHT_ELEMENTS = (1, 6, 7, 8, 9)
HEAVY_ELEMENTS = (1, 6, 7, 8, 9, 14, 15, 16, 17, 35)
_PERIODIC_TABLE = (
    "H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As Se Br Kr Rb Sr Y Zr "
    "Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm Eu Gd Tb Dy Ho Er Tm Yb Lu Hf Ta W Re Os Ir Pt "
    "Au Hg Tl Pb Bi Po At Rn Fr Ra Ac Th Pa U Np Pu Am Cm Bk Cf Es Fm Md No Lr Rf Db Sg Bh Hs Mt Ds Rg Cn Nh Fl Mc Lv "
    "Ts Og"
).split()
#: Element symbols by atomic number (for messages and file formats).
SYMBOLS = {z: s for z, s in enumerate(_PERIODIC_TABLE, start=1)}
#: Atomic numbers by element symbol.
NUMBERS = {s: z for z, s in SYMBOLS.items()}
#: Elements with Lennard-Jones parameters in ppafm's default force field (``ppafm/defaults/atomtypes.ini``; the
#: Probe Particle Model, Hapala et al., PRB 90, 085421, 2014): Z 1-35, 37-57, 72-83, Th and U. Its rows for Kr, Ce-Lu,
#: Po-Ac and the other actinides say "VALUES ARE MEANINGLESS", so they are refused. ``molecules_test.py`` checks this
#: list against the installed ppafm (:func:`ppafm_elements`).
SIMULATION_ELEMENTS = (*range(1, 36), *range(37, 58), *range(72, 84), 90, 92)
#: Single-bond covalent radii (Angstrom) of Cordero et al., Dalton Trans. 2832 (2008); C is sp3.
COVALENT_RADII = {1: 0.31, 6: 0.76, 7: 0.71, 8: 0.66, 9: 0.57, 14: 1.11, 15: 1.07, 16: 1.05, 17: 1.02, 35: 1.20}


class MoleculeError(ValueError):
    """A molecule that cannot be simulated, with the reason in the message."""


class MoleculeFileError(MoleculeError):
    """A molecule file could not be read; the message names the file and, where it helps, the line."""


@dataclass(frozen=True)
class Molecule:
    """Atoms of one molecule: ``numbers`` (n,), ``positions`` (n, 3) in Angstrom, ``charges`` (n,) in e.

    ``substrate`` (n,) bool marks atoms of a surface under the molecule (None: no substrate). They are
    simulated with the rest but left out of the descriptors (:meth:`without_substrate`). Any element of
    :data:`SIMULATION_ELEMENTS` is accepted here; :func:`validate` narrows that to what a model knows.
    """

    numbers: np.ndarray
    positions: np.ndarray
    charges: np.ndarray
    name: str = ""
    substrate: np.ndarray | None = None

    def __post_init__(self):
        object.__setattr__(self, "numbers", np.asarray(self.numbers, dtype=np.int32).reshape(-1))
        object.__setattr__(self, "positions", np.asarray(self.positions, dtype=np.float64).reshape(-1, 3))
        charges = np.zeros(len(self.numbers)) if self.charges is None else self.charges
        object.__setattr__(self, "charges", np.asarray(charges, dtype=np.float64).reshape(-1))
        substrate = np.zeros(len(self.numbers), dtype=bool) if self.substrate is None else self.substrate
        object.__setattr__(self, "substrate", np.asarray(substrate, dtype=bool).reshape(-1))
        validate(self, SIMULATION_ELEMENTS)

    def __len__(self) -> int:
        return len(self.numbers)

    @property
    def has_substrate(self) -> bool:
        """True when some atoms are marked as substrate."""
        return bool(self.substrate.any())

    def without_substrate(self) -> Molecule:
        """The molecule proper: its atoms that are not substrate (what the descriptors are drawn from)."""
        if not self.has_substrate:
            return self
        keep = ~self.substrate
        return Molecule(self.numbers[keep], self.positions[keep], self.charges[keep], self.name)

    def rotated(self, rotation: np.ndarray) -> Molecule:
        """This molecule rotated about its centre by a 3x3 rotation matrix."""
        centre = self.positions.mean(axis=0)
        return replace(self, positions=(self.positions - centre) @ np.asarray(rotation).T + centre)

    @property
    def xyzq(self) -> np.ndarray:
        """(n, 4) array of x, y, z, charge, as ppafm's AuxMaps take it."""
        return np.concatenate([self.positions, self.charges[:, None]], axis=1)


def validate(molecule: Molecule, elements: tuple[int, ...] = HEAVY_ELEMENTS) -> None:
    """Raise :class:`MoleculeError` naming what is wrong with ``molecule``.

    The molecule's own atoms must be of ``elements`` (default: the zoo's heavy set); substrate atoms
    of any element ppafm can simulate (:data:`SIMULATION_ELEMENTS`).
    """
    label = f"molecule '{molecule.name}'" if molecule.name else "molecule"
    n = len(molecule.numbers)
    if n == 0:
        raise MoleculeError(f"{label} is empty: it has no atoms.")
    if molecule.positions.shape != (n, 3) or molecule.charges.shape != (n,):
        raise MoleculeError(
            f"{label}: {n} atomic numbers but positions of shape {molecule.positions.shape} and charges of "
            f"shape {molecule.charges.shape}; expected ({n}, 3) and ({n},)."
        )
    substrate = getattr(molecule, "substrate", None)
    substrate = np.zeros(n, dtype=bool) if substrate is None else np.asarray(substrate, dtype=bool)
    if substrate.shape != (n,):
        raise MoleculeError(f"{label}: {n} atoms but a substrate mask of shape {substrate.shape}; expected ({n},).")
    if substrate.all():
        raise MoleculeError(
            f"{label}: all {n} atoms are marked as substrate, which leaves no molecule to draw descriptors of; "
            "mark only the surface atoms."
        )
    if not np.all(np.isfinite(molecule.positions)):
        raise MoleculeError(
            f"{label} has NaN or infinite coordinates (atoms {np.where(~np.isfinite(molecule.positions).all(1))[0].tolist()})."
        )
    if not np.all(np.isfinite(molecule.charges)):
        raise MoleculeError(f"{label} has NaN or infinite charges.")
    for atoms, allowed, what in (
        (molecule.numbers[~substrate], elements, ""),
        (molecule.numbers[substrate], SIMULATION_ELEMENTS, "substrate "),
    ):
        unknown = sorted(set(atoms.tolist()) - set(allowed))
        if unknown:
            names = ", ".join(f"Z={z}" + (f" ({SYMBOLS[z]})" if z in SYMBOLS else "") for z in unknown)
            supported = ", ".join(SYMBOLS[z] for z in allowed)
            raise MoleculeError(f"{label} contains unsupported {what}element(s) {names}; supported: {supported}.")


def ppafm_elements() -> tuple[int, ...]:
    """Atomic numbers with real parameters in the installed ppafm's ``atomtypes.ini`` (needs ppafm)."""
    from ppafm import cpp_utils

    out = []
    for line in (Path(cpp_utils.PACKAGE_PATH) / "defaults" / "atomtypes.ini").read_text().splitlines():
        fields = line.split()
        if len(fields) >= 5 and "MEANINGLESS" not in line.upper():
            out.append(int(fields[3]))
    return tuple(sorted(out))


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
    if 1 + c < 1e-6:  # nearly -z: Rodrigues' 1 / (1 + c) blows up; turn over about x first, then the small rest
        flip = np.diag([1.0, -1.0, -1.0])
        return rotation_to_up(flip @ d) @ flip
    vx = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + vx + vx @ vx * (1 / (1 + c))


def flatness_score(positions: np.ndarray, beta: float = 1.0) -> float:
    """S = sum_i exp(-beta (z_close - z_i)): large when many atoms sit near the top (closest to the tip)."""
    z = positions[:, 2]
    return float(np.exp(-beta * (z.max() - z)).sum())


def plane_normal(positions: np.ndarray) -> np.ndarray:
    """Unit normal of the least-squares plane through ``positions`` (its direction of least spread)."""
    p = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
    _, _, vt = np.linalg.svd(p - p.mean(axis=0), full_matrices=True)
    return vt[-1] / np.linalg.norm(vt[-1])


def candidate_rotations(molecule: Molecule, n_directions: int = 100) -> np.ndarray:
    """Rotations (k, 3, 3) :func:`best_rotations` ranks, in this order (ties keep the earlier one).

    1. the identity: the orientation the molecule came in (a file's own orientation);
    2. the best-fit plane's normal turned up, the face already facing up first, then the other face (both
       exactly flat for a flat molecule);
    3. ``n_directions`` Fibonacci directions turned up (ASD-AFM's candidates).

    A candidate turning the same direction up as an earlier one (within 1e-6 rad) is dropped.
    """
    normal = plane_normal(molecule.positions)
    normal = -normal if normal[2] < 0 else normal  # the face nearer the file's top first: the smaller turn
    rotations = [np.eye(3), rotation_to_up(normal), rotation_to_up(-normal)]
    rotations += [rotation_to_up(d) for d in fibonacci_directions(n_directions)]
    kept, ups = [], []
    for r in rotations:
        up = r[2]  # r.T @ z: the direction this rotation turns onto +z
        if all(up @ u < math.cos(1e-6) for u in ups):
            kept.append(r)
            ups.append(up)
    return np.stack(kept)


def best_rotations(molecule: Molecule, n_best: int = 10, n_directions: int = 100, beta: float = 1.0) -> np.ndarray:
    """The ``n_best`` rotation matrices (n_best, 3, 3) of ``molecule`` ranked by :func:`flatness_score`.

    Candidates are those of :func:`candidate_rotations`. Before 2026-12 only the ``n_directions``
    Fibonacci directions were tried, so a flat molecule came out tilted by up to ~8-16 degrees;
    now the molecule's own orientation and its plane's two faces compete too, and a flat molecule
    is kept exactly flat. The training data still pick one of the ``n_best`` at random.
    """
    centred = molecule.positions - molecule.positions.mean(axis=0)
    rotations = candidate_rotations(molecule, n_directions)
    # Rounded so that rounding noise does not break ties: the earlier candidate wins (a flat file stays as it is).
    scores = np.round([flatness_score(centred @ r.T, beta) for r in rotations], 9)
    order = np.argsort(-scores, kind="stable")[:n_best]
    return rotations[order]


# ---- reading files ------------------------------------------------------------------------------------------------


def element_number(token: str | int) -> int:
    """Atomic number of an element symbol (any case: ``Cu``, ``CU``, ``cu``) or of a number (``29``).

    Raises ``ValueError`` for a symbol or number that is no element.
    """
    text = str(token).strip()
    if text.lstrip("+").isdigit():
        z = int(text)
        if z in SYMBOLS:
            return z
        raise ValueError(f"{z} is not an atomic number (1-{len(SYMBOLS)})")
    z = NUMBERS.get(text[:1].upper() + text[1:].lower())
    if z is None:
        raise ValueError(f"'{text}' is not an element symbol")
    return z


def substrate_mask(
    numbers: np.ndarray, positions: np.ndarray, elements: Iterable[str | int] = (), below: float | None = None
) -> np.ndarray:
    """Which atoms are substrate: those of ``elements`` (symbols or numbers), or with ``z < below`` (Angstrom).

    The two rules add up; with neither, no atom is substrate. Positions are the file's own.
    """
    numbers = np.asarray(numbers).reshape(-1)
    mask = np.isin(numbers, [element_number(e) for e in elements])
    if below is not None:
        mask |= np.asarray(positions, dtype=np.float64).reshape(-1, 3)[:, 2] < below
    return mask


def _xyz_frames(path: Path, text: str) -> list[tuple[np.ndarray, np.ndarray, np.ndarray | None]]:
    """Frames of a plain XYZ file: (numbers, positions, charges or None); errors name the file and line."""
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise MoleculeFileError(f"{path} is empty: an .xyz file starts with the number of atoms.")
    frames, i = [], 0
    while i < len(lines):
        head = lines[i].split()
        try:
            count = int(head[0]) if head else -1
        except ValueError:
            count = -1
        if count < 1:
            what = "the first line" if i == 0 else f"line {i + 1} (after the {len(frames)} frame(s) read)"
            raise MoleculeFileError(
                f"{path}: {what} should hold the number of atoms (a positive integer), got {lines[i].strip()!r}."
            )
        end = i + 2 + count
        if end > len(lines):
            raise MoleculeFileError(
                f"{path}: line {i + 1} announces {count} atoms but the file ends after "
                f"{max(0, len(lines) - i - 2)} atom line(s) (line {len(lines)})."
            )
        comment = lines[i + 1]
        if "Properties=" in comment or "Lattice=" in comment:
            raise _ExtendedXYZ
        numbers, positions, charges = [], [], []
        for k in range(i + 2, end):
            fields = lines[k].split()
            where = f"{path}, line {k + 1}"
            if len(fields) not in (4, 5):
                raise MoleculeFileError(
                    f"{where}: expected 'element x y z' with an optional charge column, got {len(fields)} "
                    f"column(s): {lines[k].strip()!r}."
                )
            try:
                numbers.append(element_number(fields[0]))
            except ValueError as err:
                raise MoleculeFileError(f"{where}: unknown element: {err}.") from None
            try:
                values = [float(v) for v in fields[1:]]
            except ValueError:
                raise MoleculeFileError(f"{where}: coordinates and charge must be numbers, got {fields[1:]}.") from None
            if not all(math.isfinite(v) for v in values):
                raise MoleculeFileError(f"{where}: NaN or infinite value in {fields[1:]}.")
            positions.append(values[:3])
            charges.append(values[3] if len(values) == 4 else None)
        with_q = [c is not None for c in charges]
        if any(with_q) and not all(with_q):
            first = i + 3 + with_q.index(False if with_q[0] else True)
            raise MoleculeFileError(
                f"{path}, line {first}: some atom lines have a charge column and some do not; give all or none."
            )
        q = np.array(charges, dtype=np.float64) if all(with_q) else None
        frames.append((np.array(numbers), np.array(positions, dtype=np.float64), q))
        i = end
    return frames


class _ExtendedXYZ(Exception):
    """An extended XYZ file (``Properties=`` / ``Lattice=`` comment): ASE reads those."""


def _ase_frames(path: Path) -> list[tuple[np.ndarray, np.ndarray, np.ndarray | None]]:
    try:
        import ase.io
    except ImportError:
        raise MoleculeFileError(
            f"{path}: reading {path.suffix or 'this format'} needs ASE (`pip install ase`); plain .xyz files "
            "are read without it."
        ) from None
    try:
        images = ase.io.read(path, index=":")
    except Exception as err:  # ASE raises many types for files it cannot parse
        raise MoleculeFileError(f"{path}: ASE could not read it ({type(err).__name__}: {err}).") from None
    images = images if isinstance(images, list) else [images]
    frames = []
    for atoms in images:
        charges = atoms.get_initial_charges() if atoms.has("initial_charges") else None
        if charges is None and atoms.calc is not None and "charges" in getattr(atoms.calc, "results", {}):
            charges = np.asarray(atoms.calc.results["charges"], dtype=np.float64)
        frames.append((atoms.numbers.copy(), atoms.positions.copy(), charges))
    if not frames or len(frames[0][0]) == 0:
        raise MoleculeFileError(f"{path} holds no atoms.")
    return frames


def read(
    path: str | Path,
    frame: int | None = None,
    substrate: Sequence[bool] | np.ndarray | None = None,
    substrate_elements: Iterable[str | int] = (),
    substrate_below: float | None = None,
) -> Molecule:
    """Read a molecule from ``path``, in the file's own orientation and units (Angstrom, e).

    Plain ``.xyz``: the number of atoms, a comment line, then ``element x y z [charge]`` per atom
    (element as symbol or atomic number; without a charge column all charges are 0, which turns the
    CO tip's electrostatics off). Extended XYZ and every other format go through ``ase.io.read``,
    charges from the atoms' initial charges (or a calculator's ``charges``) when set. A periodic cell
    is ignored: a substrate slab is simulated as the atoms given.

    A file with several frames is refused unless ``frame`` picks one (0 = first). Substrate atoms
    (simulated, left out of the descriptors) are ``substrate`` (a mask) or, else, those of
    ``substrate_elements`` or below ``substrate_below`` (see :func:`substrate_mask`).

    Raises :class:`MoleculeFileError` (a :class:`MoleculeError`) naming the file, and the line for
    plain XYZ, and ``FileNotFoundError`` for a missing file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file" + (" (it is a directory)" if path.is_dir() else "") + ".")
    frames = None
    if path.suffix.lower() == ".xyz":
        try:
            text = path.read_text(encoding="utf-8", errors="strict")
        except UnicodeDecodeError as err:
            raise MoleculeFileError(f"{path} is not a text .xyz file ({err}).") from None
        try:
            frames = _xyz_frames(path, text)
        except _ExtendedXYZ:
            frames = None
    if frames is None:
        frames = _ase_frames(path)
    if frame is None and len(frames) > 1:
        raise MoleculeFileError(
            f"{path} holds {len(frames)} frames (structures); pick one with frame=k (`--frame k`, 0 = first)."
        )
    k = 0 if frame is None else frame
    if not -len(frames) <= k < len(frames):
        raise MoleculeFileError(f"{path} holds {len(frames)} frame(s); frame={frame} does not exist.")
    numbers, positions, charges = frames[k]
    if substrate is None:
        substrate = substrate_mask(numbers, positions, substrate_elements, substrate_below)
    elif len(np.asarray(substrate).reshape(-1)) != len(numbers):
        raise MoleculeError(f"{path}: {len(numbers)} atoms but a substrate mask of {len(substrate)} entries.")
    try:
        return Molecule(numbers, positions, charges, path.stem, substrate)
    except MoleculeError as err:
        raise MoleculeFileError(f"{path}: {err}") from None
