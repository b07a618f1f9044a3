"""abTEM pair generator: a tiny slab gives aligned, max-normalised convolution / PRISM images that agree."""

import numpy as np
import pytest

pytest.importorskip("abtem")

from keras_spm.datasets import stem_sim  # noqa: E402


def test_tiny_slab_pair_agrees_and_random_structures():
    from ase.build import fcc100

    atoms = fcc100("Pt", size=(2, 2, 3), vacuum=2, orthogonal=True)
    atoms.pbc = True
    conv, haadf = stem_sim.simulate_pair(atoms, stem_sim.Microscope(scan_sampling=0.4))
    assert conv.shape == haadf.shape == (14, 14)
    assert conv.max() == haadf.max() == 1.0 and conv.min() >= 0 and haadf.min() >= 0
    assert np.corrcoef(conv.ravel(), haadf.ravel())[0, 1] > 0.9  # same columns, both incoherent-like
    rng = np.random.default_rng(1)
    for kind in ("particle", "slab"):
        structure = stem_sim.random_structure(rng, kind)
        assert len(structure) > 10 and structure.pbc.all()
        assert set(structure.get_chemical_symbols()) <= set(stem_sim.METALS)
    with pytest.raises(ValueError, match="kind must be"):
        stem_sim.random_structure(rng, "wire")
    with pytest.raises(ValueError, match="method must be"):
        stem_sim.haadf_image(atoms, method="bloch")
