"""The *light* and *heavy* molecule sets that AFM training data is simulated from.

Following ASD-AFM (Alldritt et al., *Automated structure discovery in atomic force
microscopy*, Sci. Adv. 6, eaay6913, 2020), the zoo trains on two sets:

* **light** (H, C, N, O, F): QM9 (Ramakrishnan et al., Sci. Data 1, 140022, 2014), DFT
  (B3LYP/6-31G(2df,p)) geometries and Mulliken charges, read from the ``qm9pack`` package.
* **heavy** (adds Si, P, S, Cl, Br): RDKit's NCI sample ``Data/NCI/first_5K.smi``, embedded
  in 3D with ETKDGv3 (Riniker & Landrum, J. Chem. Inf. Model. 55, 2562, 2015; fixed seed,
  one thread, so deterministic), relaxed with MMFF94 (Halgren, J. Comput. Chem. 17, 490,
  1996), explicit hydrogens and Gasteiger-Marsili charges (Tetrahedron 36, 3219, 1980).
  Salts and mixtures keep their largest organic fragment, neutralised where possible (about
  2% stay cations, e.g. quaternary ammonium). Like ASD-AFM's heavy set, it *also* holds
  molecules made of light elements only (about two thirds of it): a heavy-element model must
  still read plain organic molecules, and the NCI ones (drug-like, often aromatic, 5-87 atoms,
  median 26) differ from QM9's (at most 9 heavy atoms). Filter on ``molecule.numbers`` if you
  want heavy atoms in every sample.
* **planar** (H, C, N, O, F, Cl, Br): larger flat aromatic molecules like the ones users image (2-5 fused rings,
  aza substitution, substituents, ethynylene-bridged pairs), generated offline by :mod:`keras_spm.data.planar`
  and embedded like the NCI set; ``only_elements(molecules, LIGHT_ELEMENTS)`` keeps its light-element part.

Both sets drop molecules that cannot fit the AFM scan window (:data:`MAX_DIAMETER`) and
geometries that are not one connected molecule. Every molecule is centred at its centroid;
positions are in Angstrom, charges in e. Splits (80/10/10) are by molecule, from a SHA-256
hash of its id (``qm9:000123``, ``nci:<id column of the .smi>``; NCI duplicates are removed by canonical
SMILES first), so they do not depend on order, platform or RDKit version.

A few hundred molecules per split ship with the package (``keras_spm/data/sets/*.npz``,
made by ``python -m keras_spm.data.make_subsets``); the full sets are one command away::

    python -m keras_spm.data.sets build --set light   # 130,831 molecules, ~20 s (0.15 ms each)
    python -m keras_spm.data.sets build --set heavy   # 3,991 molecules, ~90 s (18 ms per source entry)
    python -m keras_spm.data.sets build --set planar  # 6,000 generated candidates

written to ``$KERAS_SPM_CACHE/sets`` (default ``~/.cache/keras_spm/sets``).

>>> from keras_spm.data.sets import load_set
>>> train = load_set("light", "train")            # shipped subset
>>> train = load_set("heavy", "train", full=True)  # after building the full set
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..molecules import HEAVY_ELEMENTS, LIGHT_ELEMENTS, SYMBOLS, Molecule, diameter, fragments, validate

SET_NAMES = ("light", "heavy", "planar")
SPLITS = ("train", "val", "test")
#: Fraction of molecules in each split; cumulative bounds are applied to the id hash.
SPLIT_FRACTIONS = {"train": 0.8, "val": 0.1, "test": 0.1}
SET_ELEMENTS = {"light": LIGHT_ELEMENTS, "heavy": HEAVY_ELEMENTS, "planar": HEAVY_ELEMENTS}

#: ASD-AFM scan window side (Angstrom), the margin kept free at each edge, and the room taken by
#: the +-0.5 Angstrom random tip tilt (see keras_spm.sim.afm.SimulationSettings).
SCAN_SIZE = 15.875
WINDOW_MARGIN = 0.5
TILT_ROOM = 1.0
#: Largest interatomic distance (Angstrom) a molecule may have: 15.875 - 2*0.5 - 1.0 = 13.875. The
#: diameter bounds the xy extent in every orientation, so kept molecules fit however they are rotated.
MAX_DIAMETER = SCAN_SIZE - 2 * WINDOW_MARGIN - TILT_ROOM

#: Random seed of the ETKDG embedding of the heavy set.
EMBED_SEED = 20200310
#: Default sizes of the subsets shipped in the package.
SUBSET_SIZES = {"train": 300, "val": 150, "test": 150}
SHIPPED_DIR = Path(__file__).resolve().parent / "sets"
FORMAT_VERSION = 1


def cache_dir() -> Path:
    """Where full sets live: ``$KERAS_SPM_CACHE/sets``, by default ``~/.cache/keras_spm/sets``."""
    root = os.environ.get("KERAS_SPM_CACHE")
    return (Path(root).expanduser() if root else Path.home() / ".cache" / "keras_spm") / "sets"


def _hash_unit(text: str) -> float:
    """A number in [0, 1) from SHA-256 of ``text``: the same on every platform and Python (unlike hash())."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big") / 2.0**64


def split_of(identifier: str) -> str:
    """The split ("train", "val" or "test") a molecule id belongs to, 80/10/10 by a stable hash."""
    if not isinstance(identifier, str) or not identifier:
        raise ValueError(f"a molecule id must be a non-empty string, got {identifier!r}.")
    u = _hash_unit(identifier)
    bound = 0.0
    for split in SPLITS:
        bound += SPLIT_FRACTIONS[split]
        if u < bound:
            return split
    return SPLITS[-1]


def subset_rank(identifier: str) -> float:
    """Order in which molecules enter the shipped subsets (independent of :func:`split_of`)."""
    return _hash_unit("subset:" + identifier)


def _check_set(name: str) -> None:
    if name not in SET_NAMES:
        raise ValueError(f"unknown molecule set {name!r}; valid sets: {', '.join(SET_NAMES)}.")


def _check_name_split(name: str, split: str) -> None:
    _check_set(name)
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; valid splits: {', '.join(SPLITS)}.")


# ----------------------------------------------------------------------------------------------
# Storage: concatenated atoms + offsets, one compressed .npz per set and split.


def write_molecules(path: str | Path, molecules: list[Molecule], smiles: list[str] | None = None) -> None:
    """Store molecules compactly: atoms concatenated (int8 Z, float32 xyz and q), ``offsets``, ``names``, ``smiles``."""
    smiles = [""] * len(molecules) if smiles is None else list(smiles)
    if len(smiles) != len(molecules):
        raise ValueError(f"{len(molecules)} molecules but {len(smiles)} SMILES.")
    offsets = np.zeros(len(molecules) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(m) for m in molecules])

    def cat(get, shape, dtype):
        return np.concatenate([get(m) for m in molecules]).astype(dtype) if molecules else np.zeros(shape, dtype)

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        path,
        format_version=np.int32(FORMAT_VERSION),
        numbers=cat(lambda m: m.numbers, (0,), np.int8),
        positions=cat(lambda m: m.positions, (0, 3), np.float32),
        charges=cat(lambda m: m.charges, (0,), np.float32),
        offsets=offsets,
        names=np.array([m.name for m in molecules], dtype=str),
        smiles=np.array(smiles, dtype=str),
    )


def read_molecules(path: str | Path, elements: tuple[int, ...] = HEAVY_ELEMENTS) -> list[Molecule]:
    """Molecules stored by :func:`write_molecules`, each validated against ``elements``."""
    with np.load(path, allow_pickle=False) as f:
        version = int(f["format_version"])
        if version != FORMAT_VERSION:
            raise ValueError(
                f"{path} has set format version {version}, this keras_spm reads {FORMAT_VERSION}; rebuild it."
            )
        numbers, positions, charges = f["numbers"], f["positions"], f["charges"]
        offsets, names = f["offsets"], f["names"]
    out = []
    for i, name in enumerate(names.tolist()):
        a, b = offsets[i], offsets[i + 1]
        molecule = Molecule(numbers[a:b], positions[a:b], charges[a:b], name)
        validate(molecule, elements)
        out.append(molecule)
    return out


def read_smiles(path: str | Path) -> list[str]:
    """The SMILES stored beside the molecules (QM9's, or the canonical SMILES of the embedded NCI molecule)."""
    with np.load(path, allow_pickle=False) as f:
        return f["smiles"].tolist()


def load_set(name: str, split: str, full: bool = False) -> list[Molecule]:
    """Molecules of set ``name`` ("light" or "heavy") and ``split`` ("train", "val" or "test").

    ``full=False`` gives the few hundred molecules shipped with the package; ``full=True`` the
    whole set from :func:`cache_dir`, which ``python -m keras_spm.data.sets build --set NAME`` makes.
    """
    _check_name_split(name, split)
    if full:
        path = cache_dir() / f"{name}_{split}.npz"
        if not path.exists():
            raise FileNotFoundError(
                f"the full {name!r} set is not built: {path} does not exist. Build it with "
                f"`python -m keras_spm.data.sets build --set {name}` (set KERAS_SPM_CACHE to change where), "
                "or use full=False for the shipped subset."
            )
    else:
        path = SHIPPED_DIR / f"{name}_{split}.npz"
        if not path.exists():
            raise FileNotFoundError(
                f"{path} is missing from the package; regenerate it with `python -m keras_spm.data.make_subsets`."
            )
    return read_molecules(path, SET_ELEMENTS[name])


# ----------------------------------------------------------------------------------------------
# Building the sets from their sources.


class Skip(Exception):
    """A source molecule left out of a set; the message is the reason (counted in the build report)."""


@dataclass
class Candidate:
    """One source entry: its id (also the split key), its SMILES and whatever the builder needs."""

    name: str
    smiles: str
    data: object


def _finish(name: str, numbers, positions, charges, elements: tuple[int, ...]) -> Molecule:
    """Checks common to both sets, then centring at the centroid."""
    numbers = np.asarray(numbers, dtype=np.int32)
    unknown = set(numbers.tolist()) - set(elements)
    if unknown:
        raise Skip("element outside the set: " + ",".join(SYMBOLS.get(z, str(z)) for z in sorted(unknown)))
    positions = np.asarray(positions, dtype=np.float64)
    try:
        molecule = Molecule(numbers, positions - positions.mean(axis=0), charges, name)
        validate(molecule, elements)
    except ValueError as e:  # MoleculeError, or coordinates that are not (n, 3)
        raise Skip("invalid coordinates or charges") from e
    if len(fragments(molecule.numbers, molecule.positions)) > 1:
        raise Skip("more than one fragment")
    if diameter(molecule.positions) > MAX_DIAMETER:
        raise Skip(f"larger than {MAX_DIAMETER} Angstrom")
    return molecule


# -- light: QM9 from qm9pack --

_QM9_COLUMNS = ["Index", "SMILES", "Elements", "XYZ_Ang", "Mulliken_pop"]
_ATOMIC_NUMBERS = {symbol: z for z, symbol in SYMBOLS.items()}


def qm9_data_folder() -> Path:
    """The folder of CSV files inside the installed ``qm9pack`` package.

    Found without importing qm9pack: its ``__init__`` imports ``pkg_resources``, which setuptools>=81
    no longer ships. The files are the ones ``qm9pack.get_data()`` reads.
    """
    spec = importlib.util.find_spec("qm9pack")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the light set needs the QM9 data of qm9pack: `pip install qm9pack` (or keras_spm[sim]).")
    return Path(list(spec.submodule_search_locations)[0]) / "data"


def qm9_candidates(limit: int | None = None) -> Iterator[Candidate]:
    """QM9 molecules in index order from the CSV files of the ``qm9pack`` package (id ``qm9:%06d``)."""
    import pandas as pd

    folder = qm9_data_folder()
    remaining = limit
    for part in ("qm9_part1.csv", "qm9_part2.csv", "qm9_part3.csv"):
        if remaining is not None and remaining <= 0:
            return
        table = pd.read_csv(folder / part, usecols=_QM9_COLUMNS, nrows=remaining)
        for index, smiles, elements, xyz, charges in table[_QM9_COLUMNS].itertuples(index=False):
            yield Candidate(f"qm9:{int(index):06d}", smiles, (elements, xyz, charges))
        if remaining is not None:
            remaining -= len(table)


def build_qm9(candidate: Candidate) -> Molecule:
    """A QM9 molecule from its qm9pack row: DFT geometry (Angstrom), Mulliken charges (e)."""
    elements, xyz, charges = candidate.data
    symbols = [s.strip().strip("'\"") for s in elements.strip("[]").split(",")]
    try:
        numbers = [_ATOMIC_NUMBERS[s] for s in symbols]
    except KeyError as e:
        raise Skip(f"element outside the set: {e.args[0]}") from e
    positions, charges = _floats_in(xyz), _floats_in(charges)
    if positions.size != 3 * len(numbers) or charges.size != len(numbers):
        raise Skip("coordinates or charges do not match the atoms")
    return _finish(candidate.name, numbers, positions.reshape(-1, 3), charges, LIGHT_ELEMENTS)


def _floats_in(text: str) -> np.ndarray:
    """Floats of a nested list as qm9pack writes it (not JSON: it has numbers like ``0.`` and ``1.``)."""
    return np.array(text.replace("[", " ").replace("]", " ").replace(",", " ").split(), dtype=np.float64)


# -- heavy: RDKit's NCI sample, embedded --


def nci_path() -> Path:
    """RDKit's copy of the first 5000 NCI open-database SMILES."""
    from rdkit import RDConfig

    return Path(RDConfig.RDDataDir) / "NCI" / "first_5K.smi"


def nci_candidates(limit: int | None = None, path: str | Path | None = None) -> Iterator[Candidate]:
    """NCI molecules in file order (id ``nci:<id column>``), reduced to the largest organic fragment and neutralised.

    Entries that fail to parse, hold elements outside the heavy set, or duplicate an earlier entry's
    canonical SMILES are yielded with ``data`` a :class:`Skip`, so the build report counts them and
    a molecule never lands in two splits under two ids.
    """
    from rdkit import Chem, RDLogger
    from rdkit.Chem.MolStandardize import rdMolStandardize

    RDLogger.DisableLog("rdApp.*")
    chooser = rdMolStandardize.LargestFragmentChooser(preferOrganic=True)
    uncharger = rdMolStandardize.Uncharger()
    seen: dict[str, str] = {}
    lines = Path(path or nci_path()).read_text().splitlines()
    count = 0
    for line in lines:
        fields = line.split()
        if len(fields) < 2:
            continue
        if limit is not None and count >= limit:
            return
        count += 1
        smiles, name = fields[0], f"nci:{fields[1]}"
        mol = Chem.MolFromSmiles(smiles)
        if mol is None:
            yield Candidate(name, smiles, Skip("unparsable SMILES"))
            continue
        mol = uncharger.uncharge(chooser.choose(mol))
        canonical = Chem.MolToSmiles(mol)
        unknown = {a.GetAtomicNum() for a in mol.GetAtoms()} - set(HEAVY_ELEMENTS)
        if unknown:
            symbols = ",".join(Chem.GetPeriodicTable().GetElementSymbol(z) for z in sorted(unknown))
            yield Candidate(name, canonical, Skip(f"element outside the set: {symbols}"))
        elif canonical in seen:
            yield Candidate(name, canonical, Skip("duplicate"))
        else:
            seen[canonical] = name
            yield Candidate(name, canonical, canonical)


def build_nci(candidate: Candidate) -> Molecule:
    """Explicit-H 3D structure: ETKDGv3 (seed :data:`EMBED_SEED`) + MMFF94, Gasteiger charges (e).

    Geometries with a bond stretched beyond 1.25x the covalent radii (MMFF very rarely ends in one)
    are dropped by the fragment check.
    """
    if isinstance(candidate.data, Skip):
        raise candidate.data
    from rdkit import Chem
    from rdkit.Chem import AllChem, rdPartialCharges

    # Embedding from the canonical SMILES (not the standardised RDKit object) makes a molecule
    # reproducible from the SMILES stored beside it and the seed alone.
    mol = Chem.AddHs(Chem.MolFromSmiles(candidate.data))
    params = AllChem.ETKDGv3()
    params.randomSeed = EMBED_SEED
    params.numThreads = 1
    if AllChem.EmbedMolecule(mol, params) != 0:
        raise Skip("ETKDG embedding failed")
    if AllChem.MMFFGetMoleculeProperties(mol) is None:
        raise Skip("no MMFF94 parameters")
    AllChem.MMFFOptimizeMolecule(mol, maxIters=2000)
    rdPartialCharges.ComputeGasteigerCharges(mol)
    numbers = [a.GetAtomicNum() for a in mol.GetAtoms()]
    charges = [a.GetDoubleProp("_GasteigerCharge") for a in mol.GetAtoms()]
    if not np.all(np.isfinite(charges)):
        raise Skip("Gasteiger charges undefined")
    return _finish(candidate.name, numbers, mol.GetConformer().GetPositions(), charges, HEAVY_ELEMENTS)


SOURCES: dict[str, tuple[Callable[..., Iterator[Candidate]], Callable[[Candidate], Molecule]]] = {
    "light": (qm9_candidates, build_qm9),
    "heavy": (nci_candidates, build_nci),
    "planar": (lambda limit=None: _planar_candidates(limit), build_nci),
}


def _planar_candidates(limit: int | None = None) -> Iterator[Candidate]:
    from .planar import planar_candidates

    return planar_candidates(limit)


def only_elements(molecules: list[Molecule], elements: tuple[int, ...]) -> list[Molecule]:
    """The molecules made only of ``elements`` (e.g. the light-element part of the planar set for a light model)."""
    allowed = set(elements)
    return [m for m in molecules if set(m.numbers.tolist()) <= allowed]


@dataclass
class BuildReport:
    """What a build produced: molecules per split, skip reasons, and time per source molecule."""

    counts: dict[str, int]
    skipped: dict[str, int]
    seconds: float
    n_candidates: int

    @property
    def ms_per_molecule(self) -> float:
        return 1000 * self.seconds / max(self.n_candidates, 1)


def build_splits(
    name: str,
    candidates: Iterable[Candidate] | None = None,
    quotas: dict[str, int] | None = None,
    limit: int | None = None,
    progress: bool = False,
) -> tuple[dict[str, list[tuple[Molecule, str]]], BuildReport]:
    """Build set ``name`` from its source: ``{split: [(molecule, smiles), ...]}`` and a :class:`BuildReport`.

    ``candidates`` defaults to the whole source (the first ``limit`` entries if given). With ``quotas``
    a split stops growing once it holds that many molecules, and the build stops when all are full.
    """
    _check_set(name)
    make_candidates, build = SOURCES[name]
    if candidates is None:
        candidates = make_candidates(limit=limit)
    from tqdm.auto import tqdm

    splits: dict[str, list[tuple[Molecule, str]]] = {s: [] for s in SPLITS}
    skipped: Counter = Counter()
    start, n = time.perf_counter(), 0
    bar = tqdm(candidates, desc=f"{name} set", unit="mol", disable=not progress)
    for candidate in bar:
        split = split_of(candidate.name)
        if quotas is not None:
            if all(len(splits[s]) >= quotas[s] for s in SPLITS):
                break
            if len(splits[split]) >= quotas[split]:
                continue
        n += 1
        try:
            molecule = build(candidate)
        except Skip as e:
            skipped[str(e)] += 1
            continue
        splits[split].append((molecule, candidate.smiles))
    bar.close()
    report = BuildReport({s: len(v) for s, v in splits.items()}, dict(skipped), time.perf_counter() - start, n)
    return splits, report


def write_splits(
    name: str, splits: dict[str, list[tuple[Molecule, str]]], out: str | Path, report: BuildReport | None = None
) -> list[Path]:
    """Write ``{out}/{name}_{split}.npz`` for every split (and a JSON build report beside them)."""
    out = Path(out)
    paths = []
    for split in SPLITS:
        path = out / f"{name}_{split}.npz"
        write_molecules(path, [m for m, _ in splits[split]], [s for _, s in splits[split]])
        paths.append(path)
    if report is not None:
        info = {
            "set": name,
            "counts": report.counts,
            "skipped": report.skipped,
            "source_molecules": report.n_candidates,
            "seconds": round(report.seconds, 2),
            "max_diameter": MAX_DIAMETER,
            "embed_seed": EMBED_SEED,
        }
        (out / f"{name}_report.json").write_text(json.dumps(info, indent=1) + "\n")
    return paths


def build_set(name: str, out: str | Path | None = None, limit: int | None = None, progress: bool = True) -> BuildReport:
    """Build the full set ``name`` (all splits) into ``out`` (default :func:`cache_dir`)."""
    splits, report = build_splits(name, limit=limit, progress=progress)
    write_splits(name, splits, cache_dir() if out is None else out, report)
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m keras_spm.data.sets", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="build a full molecule set (all splits) into the cache")
    build.add_argument("--set", required=True, choices=SET_NAMES, dest="name")
    build.add_argument("--out", default=None, help=f"output folder (default {cache_dir()})")
    build.add_argument("--limit", type=int, default=None, help="only the first N source molecules (for a quick try)")
    args = parser.parse_args(argv)
    out = cache_dir() if args.out is None else Path(args.out)
    report = build_set(args.name, out, limit=args.limit)
    print(f"{args.name} set in {out}: " + ", ".join(f"{s} {report.counts[s]}" for s in SPLITS))
    print(
        f"{report.n_candidates} source molecules in {report.seconds:.1f} s ({report.ms_per_molecule:.2f} ms each); skipped:"
    )
    for reason, count in sorted(report.skipped.items(), key=lambda kv: -kv[1]):
        print(f"  {count:6d}  {reason}")


if __name__ == "__main__":
    main()
