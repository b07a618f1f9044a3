import numpy as np
import pytest

from keras_spm.molecules import Molecule, MoleculeError
from keras_spm.sim.afm import ASD_AFM, AFMSimulator


@pytest.fixture(scope="module")
def simulator():
    return AFMSimulator(("CO", "Xe"))


def test_stack_shape_dtype_and_finiteness(simulator, small_molecules):
    stacks = simulator.simulate(small_molecules[0], np.random.default_rng(0))
    assert list(stacks) == ["CO", "Xe"]
    for stack in stacks.values():
        assert stack.shape == ASD_AFM.image_shape == (128, 128, 10)
        assert stack.dtype == np.float32 and np.isfinite(stack).all()
    assert not np.allclose(stacks["CO"], stacks["Xe"])


def test_slice_zero_is_farthest(simulator, small_molecules):
    """Contrast grows as the tip approaches: the last slice (closest) varies most, the first least."""
    stack = simulator.simulate(small_molecules[0])["CO"]
    spread = stack.max(axis=(0, 1)) - stack.min(axis=(0, 1))
    assert spread[-1] > 2 * spread[0]


def test_placement_centres_the_molecule_below_the_tip(simulator, small_molecules):
    simulator.simulate(small_molecules[1])
    placed = simulator.placed
    np.testing.assert_allclose(placed.positions[:, :2].mean(axis=0), ASD_AFM.centre, atol=1e-9)
    # the top atom sits a few Angstrom below the closest scan height minus the probe offset
    lowest_probe = ASD_AFM.scan_window[0][2] - ASD_AFM.tipR0[2]
    assert 0.5 < lowest_probe - placed.positions[:, 2].max() < 4.0


def test_randomisation_is_seeded(simulator, small_molecules):
    mol = small_molecules[2]
    a = simulator.simulate(mol, np.random.default_rng(1))["CO"]
    b = simulator.simulate(mol, np.random.default_rng(1))["CO"]
    c = simulator.simulate(mol, np.random.default_rng(2))["CO"]
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_bad_input(simulator):
    wide = Molecule([6, 6], [[0, 0, 0], [16.0, 0, 0]], None, "wide")
    with pytest.raises(MoleculeError, match="'wide' spans 16.0 x 0.0 Angstrom.*scan window holds 14.9"):
        simulator.simulate(wide)
    with pytest.raises(ValueError, match="unknown tip.*Cu.*available tips: CO, Xe"):
        AFMSimulator(("Cu",))
