"""Larger planar organic molecules, made offline: fused aromatic ring systems with heteroatoms and substituents.

The molecules users image with CO-tip AFM are mostly planar aromatics lying flat (PTCDA, pentacene, porphyrin
fragments, azaacenes, ...): the published ASD-AFM / ED-AFM training sets are dominated by them, while QM9 (the
*light* set) has at most nine heavy atoms and RDKit's NCI sample (the *heavy* set) is drug-like and often not flat.
No such database ships with a PyPI package, so this module *generates* them, deterministically from a seed:

1. a random benzenoid ring system of 2-5 fused hexagons (a polyhex grown cell by cell on the hexagonal lattice;
   linear, angular and compact shapes alike), Kekulé structures checked by RDKit (non-Kekulé ones are dropped);
2. in a quarter of them a second small ring system joined by an ethynylene (-C#C-) bridge, still planar;
3. aza substitution: each CH of the rings becomes an aromatic N with probability 0.12 (pyridine-like);
4. substituents on some of the remaining CH: F, Cl, Br, OH, NH2, CH3, CHO, CN, NO2, COOH, OCH3.

The canonical SMILES is the molecule's id (``planar:<smiles>``), so the train/val/test split (by a hash of the id,
as for the other sets) keeps every molecule in one split. :func:`planar_candidates` feeds
``keras_spm.data.sets`` (set ``"planar"``), which embeds them like the NCI set (ETKDGv3 + MMFF94, Gasteiger
charges) and keeps those that fit the scan window.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

#: Substituents as SMILES fragments bonded through their first atom, with their relative frequencies.
SUBSTITUENTS = {
    "F": 3,
    "Cl": 1,
    "Br": 1,
    "O": 3,  # OH
    "N": 2,  # NH2
    "C": 3,  # CH3
    "C=O": 2,  # CHO
    "C#N": 2,
    "[N+](=O)[O-]": 1,
    "C(=O)O": 2,
    "OC": 1,
}
#: Axial neighbour directions on the hexagonal lattice of ring centres.
_HEX_NEIGHBOURS = ((1, 0), (-1, 0), (0, 1), (0, -1), (1, -1), (-1, 1))
SEED = 20261201


def polyhex(n_rings: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    """Axial coordinates of ``n_rings`` edge-sharing hexagons grown at random from one."""
    cells = [(0, 0)]
    while len(cells) < n_rings:
        q, r = cells[rng.integers(len(cells))]
        dq, dr = _HEX_NEIGHBOURS[rng.integers(6)]
        if (q + dq, r + dr) not in cells:
            cells.append((q + dq, r + dr))
    return cells


def _ring_system(rw, cells: list[tuple[int, int]]) -> list[int]:
    """Add the carbon skeleton of a polyhex to the RDKit ``RWMol``; returns its atom indices."""
    from rdkit import Chem

    index: dict[tuple[int, int], int] = {}
    bonds = set()
    for q, r in cells:
        cx, cy = np.sqrt(3) * (q + r / 2), 1.5 * r
        corners = []
        for k in range(6):
            angle = np.pi / 6 + k * np.pi / 3
            key = (round(2 * (cx + np.cos(angle))), round(2 * (cy + np.sin(angle))))
            if key not in index:
                atom = Chem.Atom(6)
                atom.SetIsAromatic(True)
                index[key] = rw.AddAtom(atom)
            corners.append(index[key])
        for k in range(6):
            bonds.add(tuple(sorted((corners[k], corners[(k + 1) % 6]))))
    for a, b in sorted(bonds):
        rw.AddBond(a, b, Chem.BondType.AROMATIC)
    return sorted(index.values())


def random_planar_smiles(rng: np.random.Generator) -> str | None:
    """One random planar aromatic molecule as canonical SMILES, or ``None`` if the draw is not a valid molecule."""
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")  # non-Kekulé draws are expected; they are dropped, not reported
    rw = Chem.RWMol()
    first = _ring_system(rw, polyhex(int(rng.integers(2, 6)), rng))
    atoms = list(first)
    if rng.random() < 0.25:  # a second ring system through an ethynylene bridge
        second = _ring_system(rw, polyhex(int(rng.integers(1, 3)), rng))
        atoms += second
        a = rw.AddAtom(Chem.Atom(6))
        b = rw.AddAtom(Chem.Atom(6))
        rw.AddBond(a, b, Chem.BondType.TRIPLE)
        rw.AddBond(_free_ch(rw, first, rng), a, Chem.BondType.SINGLE)
        rw.AddBond(_free_ch(rw, second, rng), b, Chem.BondType.SINGLE)
    for i in atoms:  # aza substitution of ring CH
        if rw.GetAtomWithIdx(i).GetDegree() == 2 and rng.random() < 0.12:
            rw.GetAtomWithIdx(i).SetAtomicNum(7)
    names = list(SUBSTITUENTS)
    weights = np.array([SUBSTITUENTS[n] for n in names], dtype=float)
    for i in atoms:
        atom = rw.GetAtomWithIdx(i)
        if atom.GetAtomicNum() == 6 and atom.GetDegree() == 2 and rng.random() < 0.18:
            fragment = Chem.MolFromSmiles(names[rng.choice(len(names), p=weights / weights.sum())])
            offset = rw.GetNumAtoms()
            combined = Chem.RWMol(Chem.CombineMols(rw, fragment))
            combined.AddBond(i, offset, Chem.BondType.SINGLE)
            rw = combined
    try:
        mol = rw.GetMol()
        Chem.SanitizeMol(mol)
    except Exception:  # non-Kekulé ring systems, impossible valences
        return None
    return Chem.MolToSmiles(mol)


def _free_ch(rw, atoms: list[int], rng: np.random.Generator) -> int:
    free = [i for i in atoms if rw.GetAtomWithIdx(i).GetDegree() == 2]
    return free[rng.integers(len(free))]


def planar_candidates(limit: int | None = 6000, seed: int = SEED) -> Iterator:
    """Candidates of the ``planar`` set (``keras_spm.data.sets.Candidate``): ``limit`` distinct molecules."""
    from rdkit import RDLogger

    from .sets import Candidate

    RDLogger.DisableLog("rdApp.*")
    rng = np.random.default_rng(seed)
    seen: set[str] = set()
    tries = 0
    limit = 6000 if limit is None else limit
    while len(seen) < limit and tries < 50 * limit:
        tries += 1
        smiles = random_planar_smiles(rng)
        if smiles is None or smiles in seen:
            continue
        seen.add(smiles)
        yield Candidate(f"planar:{smiles}", smiles, smiles)
