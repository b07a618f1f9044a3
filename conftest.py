"""Shared fixtures: small real molecules (ASE's g2 set) and the path of the shared reference data."""

from pathlib import Path

import pytest

from keras_spm.molecules import Molecule

SHARED_DATA = Path(__file__).resolve().parent / ".." / "shared" / "data"


def g2(name: str) -> Molecule:
    from ase.build import molecule

    atoms = molecule(name)
    return Molecule(atoms.numbers, atoms.positions, None, name)


@pytest.fixture(scope="session")
def small_molecules() -> list[Molecule]:
    return [g2(n) for n in ("C6H6", "CH3CH2OH", "H2O", "C2H4", "HCOOH")]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared reference data not found at {SHARED_DATA}")
    return SHARED_DATA
