"""Tests of the AFM descriptors: xyz grid (pure numpy) and ppafm image maps (OpenCL, one molecule)."""

import numpy as np
import pytest
from ase.build import molecule as ase_molecule

from keras_spm import descriptors
from keras_spm.descriptors import (
    DESCRIPTORS,
    FIRST_MARCH_STEPS,
    ISO_MARCH_STEPS,
    DescriptorMaker,
    angstrom_coordinates,
    box_edges,
    decode_xyz,
    encode_xyz,
    pixel_coordinates,
    pixel_size,
)
from keras_spm.molecules import Molecule
from keras_spm.sim.afm import ASD_AFM, SimulationSettings

BOX = 15.875 / 16


def centred(name: str, charges=None) -> Molecule:
    """An ase molecule centred in the ASD-AFM window with its top atom at z = 0."""
    atoms = ase_molecule(name)
    pos = atoms.positions.copy()
    pos[:, :2] += ASD_AFM.centre - pos[:, :2].mean(axis=0)
    pos[:, 2] -= pos[:, 2].max()
    return Molecule(atoms.numbers, pos, charges, name)


def expected_atoms(pos: np.ndarray, z_cut: float = 0.7) -> np.ndarray:
    """Brute force: per box the highest atom within z_cut of the top, z relative to the top."""
    z_top = pos[:, 2].max()
    best = {}
    for p in pos:
        if p[2] < z_top - z_cut:
            continue
        key = (int(p[0] // BOX), int(p[1] // BOX))
        if key not in best or p[2] > best[key][2]:
            best[key] = p
    return np.array([[p[0], p[1], p[2] - z_top] for p in best.values()])


def assert_same_atoms(decoded: np.ndarray, expected: np.ndarray, tol: float = 0.01):
    assert len(decoded) == len(expected)
    d = np.linalg.norm(decoded[:, None, :3] - expected[None, :, :3], axis=-1)
    assert np.all(d.min(axis=1) < tol) and np.all(d.min(axis=0) < tol)


# ------------------------------------------------------------------------ xyz grid


@pytest.mark.parametrize("name", ["C6H6", "CH3CH2OH", "C60"])
def test_xyz_round_trip(name):
    mol = centred(name)
    grid = encode_xyz(mol)
    assert grid.shape == (16, 16, 4) and grid.dtype == np.float32
    assert set(np.unique(grid[..., 0])) <= {0.0, 1.0}
    assert np.all(np.abs(grid[..., 1:3]) <= BOX / 2 + 1e-6)
    assert np.all((grid[..., 3] <= 0) & (grid[..., 3] >= -0.7 - 1e-6))
    assert np.all(grid[grid[..., 0] == 0] == 0)
    expected = expected_atoms(mol.positions)
    decoded = decode_xyz(grid)
    assert decoded.shape == (len(expected), 4)
    assert_same_atoms(decoded, expected)
    assert np.all(decoded[:, 3] == 1.0)


def test_xyz_planar_molecule_keeps_every_atom():
    mol = centred("C6H6")  # flat: all 12 atoms at the top, in 12 different boxes
    assert encode_xyz(mol)[..., 0].sum() == 12
    assert_same_atoms(decode_xyz(encode_xyz(mol.positions)), np.c_[mol.positions[:, :2], mol.positions[:, 2] * 0])


def test_xyz_non_planar_cuts_deep_atoms():
    mol = centred("CH3CH2OH")
    z = mol.positions[:, 2]
    n_top = int((z >= -0.7).sum())
    assert 0 < n_top < len(mol)
    grid = encode_xyz(mol)
    assert grid[..., 0].sum() <= n_top
    assert np.isclose(grid[..., 3][grid[..., 0] == 1].max(), 0.0)  # the top atom is in the grid at z = 0
    assert encode_xyz(mol, z_cut=10.0)[..., 0].sum() >= grid[..., 0].sum()


def test_xyz_atom_on_box_border_goes_to_upper_box():
    ex, ey = box_edges(ASD_AFM)
    assert np.isclose(ex[1] - ex[0], BOX) and ex[0] == 0.0 and ex[-1] == 15.875
    pos = np.array([[ex[5], ey[9], 0.0], [ex[-1], ey[-1], -0.1], [ex[0], ey[0], -0.2]])
    grid = encode_xyz(pos)
    assert grid[5, 9, 0] == 1 and grid[4, 8, 0] == 0
    np.testing.assert_allclose(grid[5, 9, 1:], [-BOX / 2, -BOX / 2, 0.0], atol=1e-6)
    assert grid[15, 15, 0] == 1  # the far window edge belongs to the last box
    np.testing.assert_allclose(grid[15, 15, 1:], [BOX / 2, BOX / 2, -0.1], atol=1e-6)
    assert grid[0, 0, 0] == 1
    assert_same_atoms(decode_xyz(grid), np.c_[pos[:, :2], pos[:, 2]], tol=1e-5)


def test_xyz_two_atoms_in_one_box_keeps_the_highest():
    c = (box_edges(ASD_AFM)[0][7] + BOX / 2, box_edges(ASD_AFM)[1][3] + BOX / 2)
    pos = np.array([[c[0] - 0.2, c[1], -0.5], [c[0] + 0.3, c[1] + 0.1, -0.1], [8.0, 12.0, 0.0]])
    grid = encode_xyz(pos)
    assert grid[..., 0].sum() == 2
    np.testing.assert_allclose(grid[7, 3], [1.0, 0.3, 0.1, -0.1], atol=1e-6)
    # Equal heights: the first listed atom wins, whatever the order of the rest.
    tie = np.array([[c[0] - 0.2, c[1], 0.0], [c[0] + 0.3, c[1], 0.0]])
    np.testing.assert_allclose(encode_xyz(tie)[7, 3, 1], -0.2, atol=1e-6)
    np.testing.assert_allclose(encode_xyz(tie[::-1])[7, 3, 1], 0.3, atol=1e-6)


def test_xyz_outside_window_raises_or_drops():
    pos = np.array([[8.0, 8.0, 0.0], [-0.5, 8.0, -0.1], [8.0, 20.0, -5.0]])  # the deep one is cut anyway
    with pytest.raises(ValueError, match=r"outside the scan window.*outside='drop'"):
        encode_xyz(pos)
    grid = encode_xyz(pos, outside="drop")
    assert grid[..., 0].sum() == 1
    with pytest.raises(ValueError, match="outside must be"):
        encode_xyz(pos, outside="clip")


def test_xyz_bad_input():
    with pytest.raises(ValueError, match=r"shape \(n, 3\)"):
        encode_xyz(np.zeros((0, 3)))
    with pytest.raises(ValueError, match=r"shape \(n, 3\)"):
        encode_xyz(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="NaN"):
        encode_xyz(np.array([[1.0, np.nan, 0.0]]))
    with pytest.raises(ValueError, match="needs offsets"):
        decode_xyz(np.zeros((16, 16, 2)))
    with pytest.raises(ValueError, match="offsets must have shape"):
        decode_xyz(np.zeros((16, 16, 2)), np.zeros((8, 8, 3)))
    with pytest.raises(ValueError, match="1 \\(sigmoid\\) or 2 \\(softmax\\)"):
        decode_xyz(np.zeros((16, 16, 3)), np.zeros((16, 16, 3)))
    with pytest.raises(ValueError, match="threshold"):
        decode_xyz(np.zeros((16, 16, 4)), threshold=1.5)
    with pytest.raises(ValueError, match="square grid"):
        decode_xyz(np.zeros((16, 16)))


def test_decode_network_form():
    mol = centred("CH3CH2OH")
    grid = encode_xyz(mol)
    rng = np.random.default_rng(0)
    p_atom = np.where(grid[..., 0] == 1, rng.uniform(0.6, 0.99, (16, 16)), rng.uniform(0.0, 0.4, (16, 16)))
    probs = np.stack([1 - p_atom, p_atom], axis=-1)
    offsets = grid[..., 1:]
    for decoded in (decode_xyz(probs, offsets), decode_xyz((probs, offsets)), decode_xyz(p_atom[..., None], offsets)):
        assert_same_atoms(decoded, expected_atoms(mol.positions))
        assert np.all(np.diff(decoded[:, 3]) <= 0)  # most confident first
        assert decoded[:, 3].min() >= 0.6
    assert len(decode_xyz(probs, offsets, threshold=0.0)) == 256
    assert len(decode_xyz(probs, offsets, threshold=1.0)) == 0


def test_pixel_mapping():
    assert np.allclose(pixel_size(ASD_AFM), 0.125)
    np.testing.assert_allclose(pixel_coordinates([[0.0, 0.0], [15.875, 1.0]]), [[0, 0], [127, 8]])
    ij = np.array([[3.5, 100.25]])
    np.testing.assert_allclose(pixel_coordinates(angstrom_coordinates(ij)), ij)
    other = SimulationSettings(scan_window=((-8.0, -4.0, 6.0), (8.0, 4.0, 7.9)), scan_dim=(65, 33, 19))
    np.testing.assert_allclose(pixel_coordinates([[0.0, 0.0]], other), [[32, 16]])


def test_unknown_descriptor_name():
    with pytest.raises(ValueError, match="valid names: disks, spheres, height, es"):
        DescriptorMaker(("disks", "bonds"))
    with pytest.raises(ValueError, match="duplicates"):
        DescriptorMaker(("disks", "disks"))


# ------------------------------------------------------------------ image maps (OpenCL)


@pytest.fixture(scope="module")
def simulated():
    """One asymmetric, charged molecule simulated once; returns (simulator, maps, maps_height_only)."""
    from keras_spm.sim.opencl import OpenCLUnavailableError, init_opencl

    try:
        init_opencl()
    except OpenCLUnavailableError as err:
        pytest.skip(f"no OpenCL device: {err}")
    from keras_spm.sim.afm import AFMSimulator

    atoms = ase_molecule("CH3CH2OH")  # ethanol: no mirror symmetry in the xy projection
    q = np.select([atoms.numbers == 8, atoms.numbers == 1], [-0.6, 0.1], 0.0)
    q[atoms.numbers == 6] = -q.sum() / 2
    mol = Molecule(atoms.numbers, atoms.positions, q, "ethanol")
    sim = AFMSimulator(tips=("CO",), settings=SimulationSettings(distance_jitter=0.0, max_tilt=0.0))
    stack = sim.simulate(mol)["CO"]
    maker = DescriptorMaker(DESCRIPTORS)
    maps = maker(sim)
    height_only = DescriptorMaker(("height",))(sim)
    return sim, stack, maps, height_only


def test_maps_shapes_and_values(simulated):
    sim, stack, maps, _ = simulated
    assert tuple(maps) == DESCRIPTORS
    for name, m in maps.items():
        assert m.shape == (128, 128) == stack.shape[:2], name
        assert m.dtype == np.float32 and np.all(np.isfinite(m)), name
        assert m.max() > m.min(), f"{name} is constant"
    assert 0.0 <= maps["disks"].min() and 0.7 < maps["disks"].max() <= 1.0
    assert maps["spheres"].min() == 0.0 and 1.2 < maps["spheres"].max() <= 1.5
    assert maps["height"].min() == 0.0 and maps["height"].max() <= 2.0 + 1e-4
    assert np.all(maps["es"][maps["height"] == 0] == 0)


def test_maps_aligned_with_atoms(simulated):
    sim, stack, maps, _ = simulated
    pos = sim.placed.positions
    top = pos[np.argmax(pos[:, 2])]
    i, j = np.rint(pixel_coordinates(top[:2])).astype(int)
    disks = maps["disks"]
    assert disks[i, j] > 0.7  # the top atom's cone peaks under it
    peak = np.array(np.unravel_index(np.argmax(disks), disks.shape))
    d_top = np.linalg.norm(angstrom_coordinates(peak) - pos[:, :2], axis=1)
    assert d_top[pos[:, 2] > pos[:, 2].max() - 0.05].min() < 0.15  # the maximum lies on a top atom
    # Every disk pixel is within a disk radius of an atom not cut off, in pixel coordinates.
    kept = pos[pos[:, 2] > pos[:, 2].max() - 1.2]
    ij = np.argwhere(disks > 0)
    d = np.linalg.norm(ij[:, None, :] - pixel_coordinates(kept[:, :2])[None], axis=-1).min(axis=1)
    assert d.max() * pixel_size()[0] < 1.0
    # Swapping axes would misplace them: the molecule is not symmetric under x <-> y.
    ij_t = np.argwhere(disks.T > 0)
    d_t = np.linalg.norm(ij_t[:, None, :] - pixel_coordinates(kept[:, :2])[None], axis=-1).min(axis=1)
    assert d_t.max() * pixel_size()[0] > 1.0
    # The height map is highest over the molecule, the same place as the AFM image's strongest repulsion.
    h_peak = np.array(np.unravel_index(np.argmax(maps["height"] + 1e-3 * disks), disks.shape))
    assert np.linalg.norm(angstrom_coordinates(h_peak) - top[:2]) < 1.5


def test_es_map_is_coulomb_field_on_isosurface(simulated):
    """The ES map is E_z of the point charges (numpy Coulomb) at the probe on the height isosurface.

    Guards the frame fix: ppafm 0.4.1's ESMap, given atoms in world coordinates, is off by the
    force-field grid origin (about 5 Angstrom).
    """
    sim, _, maps, _ = simulated
    mol, scanner = sim.placed, sim.scanner
    scanner.prepareAuxMapBuffers(bZMap=True)
    steps = scanner.run_getZisoTilted(iso=0.1, nz=100)  # steps of zstep below the start where F_z = iso
    ij = np.argwhere(maps["height"] > 0)
    assert len(ij) > 100
    probe = np.c_[
        angstrom_coordinates(ij) + scanner.dpos0[:2],
        sim.settings.scan_window[1][2] + scanner.dpos0[2] - steps[ij[:, 0], ij[:, 1]] * scanner.zstep,
    ]
    dp = probe[:, None, :] - mol.positions[None]
    ez = 14.399644 * (mol.charges * dp[..., 2] / (dp**2).sum(-1) ** 1.5).sum(-1)  # V/Angstrom
    np.testing.assert_allclose(maps["es"][ij[:, 0], ij[:, 1]], ez, atol=1e-3 * np.abs(ez).max())


def test_height_shared_with_es_equals_height_map(simulated):
    _, _, maps, height_only = simulated
    np.testing.assert_allclose(maps["height"], height_only["height"], atol=1e-5)


@pytest.mark.parametrize("first_march", [FIRST_MARCH_STEPS, 25, 3])
def test_isosurface_maps_equal_ppafm_auxmaps(simulated, monkeypatch, first_march):
    """The shortened march gives ppafm's HeightMap / ESMap values exactly, deciding in one march by default.

    25 steps find the top but not 2 Angstrom below it, 3 find nothing: both must fall back to the full march.
    """
    from ppafm.ml import AuxMap

    sim, *_ = simulated
    scanner = sim.scanner
    atoms = sim.placed.xyzq.copy()
    atoms[:, :3] -= np.asarray(scanner.lvec)[0, :3]
    height_ref = AuxMap.HeightMap(scanner, zmin=-2.0, iso=0.1)()
    es_ref = AuxMap.ESMap(scanner, zmin=-2.0, iso=0.1)(atoms, None)
    monkeypatch.setattr(descriptors, "FIRST_MARCH_STEPS", first_march)
    marches = []
    run = scanner.run_getZisoTilted
    monkeypatch.setattr(scanner, "run_getZisoTilted", lambda **kw: marches.append(kw["nz"]) or run(**kw))
    height, none = descriptors.isosurface_maps(scanner, 0.1, 2.0)
    assert none is None and np.array_equal(height, height_ref)
    assert marches == ([first_march] if first_march == FIRST_MARCH_STEPS else [first_march, ISO_MARCH_STEPS])
    height, es = descriptors.isosurface_maps(scanner, 0.1, 2.0, atoms=atoms)
    assert np.array_equal(height, es_ref[:, :, 1]) and np.array_equal(es, es_ref[:, :, 0])


def test_maker_checks_simulator(simulated):
    sim, *_ = simulated
    other = SimulationSettings(scan_window=((0.0, 0.0, 6.0), (16.0, 16.0, 7.9)))
    with pytest.raises(ValueError, match="settings=simulator.settings"):
        DescriptorMaker(("disks",), settings=other)(sim)


def test_xyz_of_placed_molecule(simulated):
    sim, *_ = simulated
    pos = sim.placed.positions
    assert_same_atoms(decode_xyz(encode_xyz(sim.placed)), expected_atoms(pos))


def _shift_pixels(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Integer (di, dj) by which ``b`` is ``a`` displaced: the peak of their circular cross-correlation."""
    c = np.fft.ifft2(np.fft.fft2(a - a.mean()).conj() * np.fft.fft2(b - b.mean())).real
    peak = np.array(np.unravel_index(np.argmax(c), c.shape))
    return (peak + np.array(c.shape) // 2) % np.array(c.shape) - np.array(c.shape) // 2


def test_labels_follow_the_tilted_tip_image(simulated):
    """A tilted tip displaces the image; disks, spheres and xyz labels move with it (the image frame)."""
    from keras_spm.sim.afm import AFMSimulator

    sim, stack, maps, _ = simulated
    tilted = AFMSimulator(tips=("CO",), settings=SimulationSettings(distance_jitter=0.0, max_tilt=0.5))
    rng = np.random.default_rng(3)
    stack_t = tilted.simulate(sim.placed, rng)["CO"]
    assert np.abs(tilted.tilt).max() > 0.3
    maps_t = DescriptorMaker(("disks", "spheres", "height"))(tilted)
    image_shift = _shift_pixels(stack[..., -1], stack_t[..., -1])
    assert np.abs(image_shift).max() >= 2  # the tilt moves the image by a few pixels ...
    for name in ("disks", "spheres", "height"):  # ... and every label by the same amount
        assert np.abs(_shift_pixels(maps[name], maps_t[name]) - image_shift).max() <= 1, name
    np.testing.assert_allclose(tilted.label_molecule.positions[:, :2], tilted.placed.positions[:, :2] - tilted.tilt)
    grid = encode_xyz(tilted.label_molecule)
    assert_same_atoms(decode_xyz(grid), expected_atoms(tilted.label_molecule.positions))


def test_nominal_label_frame_keeps_the_placed_positions(simulated):
    from keras_spm.sim.afm import AFMSimulator

    sim, *_ = simulated
    nominal = AFMSimulator(tips=("CO",), settings=SimulationSettings(label_frame="nominal"))
    nominal.simulate(sim.placed, np.random.default_rng(3))
    assert np.abs(nominal.tilt).max() > 0.3 and nominal.label_molecule is nominal.placed
