import numpy as np

from keras_spm.data.planar import planar_candidates, polyhex, random_planar_smiles
from keras_spm.data.sets import LIGHT_ELEMENTS, load_set, only_elements


def test_polyhex_cells_are_distinct_and_edge_connected():
    cells = polyhex(5, np.random.default_rng(3))
    assert len(set(cells)) == 5
    neighbours = {(1, 0), (-1, 0), (0, 1), (0, -1), (1, -1), (-1, 1)}
    for q, r in cells[1:]:
        assert any((q - a, r - b) in neighbours for a, b in cells if (a, b) != (q, r))


def test_generated_molecules_are_aromatic_valid_and_reproducible():
    from rdkit import Chem

    a = [random_planar_smiles(np.random.default_rng(s)) for s in range(40)]
    b = [random_planar_smiles(np.random.default_rng(s)) for s in range(40)]
    assert a == b
    valid = [Chem.MolFromSmiles(s) for s in a if s]
    assert len(valid) >= 15 and all(m is not None for m in valid)
    assert all(m.GetRingInfo().NumRings() >= 2 for m in valid)
    assert max(m.GetNumHeavyAtoms() for m in valid) > 15  # larger than anything in QM9


def test_candidates_are_distinct_and_named_by_their_smiles():
    candidates = list(planar_candidates(50))
    assert len({c.name for c in candidates}) == 50
    assert all(c.name == f"planar:{c.smiles}" for c in candidates)


def test_shipped_planar_molecules_are_flat_and_can_lie_flat():
    from keras_spm.molecules import best_rotations

    molecules = load_set("planar", "train")[:30]
    light = only_elements(molecules, LIGHT_ELEMENTS)
    assert 0 < len(light) < len(molecules)
    planar = lying_flat = 0
    for m in molecules:
        heavy = m.positions[m.numbers > 1]
        centred = heavy - heavy.mean(axis=0)
        planar += np.linalg.svd(centred, compute_uv=False)[2] / np.sqrt(len(heavy)) < 0.1  # rms out of plane, A
        # among the 10 orientations training draws from, one lays the ring skeleton flat (within 0.3 A)
        thickness = [np.ptp(m.rotated(r).positions[m.numbers > 1, 2]) for r in best_rotations(m, 10)]
        lying_flat += min(thickness) < 0.3
    # substituents (COOH, CHO, NO2) and bridged pairs may twist out of the ring plane: most molecules are still flat
    assert planar >= 0.6 * len(molecules), planar
    assert lying_flat >= 0.6 * len(molecules), lying_flat
