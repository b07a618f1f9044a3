import numpy as np
import pytest

from keras_spm.molecules import (
    HEAVY_ELEMENTS,
    LIGHT_ELEMENTS,
    SIMULATION_ELEMENTS,
    Molecule,
    MoleculeError,
    MoleculeFileError,
    best_rotations,
    candidate_rotations,
    diameter,
    fibonacci_directions,
    flatness_score,
    fragments,
    read,
    rotation_to_up,
    substrate_mask,
    validate,
)


def benzene() -> Molecule:
    angles = np.arange(6) * np.pi / 3
    ring = np.stack([np.cos(angles), np.sin(angles), np.zeros(6)], axis=1)
    positions = np.concatenate([1.39 * ring, 2.47 * ring])
    return Molecule([6] * 6 + [1] * 6, positions, [-0.1] * 6 + [0.1] * 6, "benzene")


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def assert_proper_rotation(r: np.ndarray) -> None:
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-10)
    assert np.linalg.det(r) == pytest.approx(1.0, abs=1e-10)


# -- validation --


def test_valid_molecule_and_default_charges():
    m = Molecule([6, 1], [[0, 0, 0], [0, 0, 1.1]], None, "CH")
    assert len(m) == 2 and m.charges.tolist() == [0.0, 0.0]
    assert m.xyzq.shape == (2, 4)


def test_unknown_element_names_it_and_the_supported_ones():
    # Radon has no force-field parameters in ppafm ("VALUES ARE MEANINGLESS"): refused by Molecule itself.
    with pytest.raises(MoleculeError, match=r"unsupported element\(s\) Z=86 \(Rn\).*supported: H, He, .*, Bi, Th, U\."):
        Molecule([6, 86], np.zeros((2, 3)), [0, 0], "radon adduct")
    # Uranium ppafm can simulate, but it is outside the zoo's heavy set that validate() checks by default.
    uranyl = Molecule([8, 92, 8], np.eye(3), [0, 0, 0], "uranyl")
    with pytest.raises(MoleculeError, match=r"unsupported element\(s\) Z=92 \(U\).*supported: H, C, N, O, F, Si"):
        validate(uranyl)


def test_simulation_elements_match_the_installed_ppafm():
    pytest.importorskip("ppafm")
    from keras_spm.molecules import ppafm_elements

    assert ppafm_elements() == SIMULATION_ELEMENTS
    assert set(HEAVY_ELEMENTS) < set(SIMULATION_ELEMENTS) and {29, 47, 79, 78, 11} < set(SIMULATION_ELEMENTS)


def test_substrate_atoms_accepted_validated_and_removable():
    numbers = [6, 1, 29, 29]
    positions = [[0, 0, 3], [1, 0, 3], [0, 0, 0], [2.5, 0, 0]]
    m = Molecule(numbers, positions, [0.1, -0.1, 0, 0], "CH on Cu", substrate=[False, False, True, True])
    assert m.has_substrate and m.substrate.dtype == bool
    validate(m)  # the molecule proper is in the heavy set; Cu is a substrate element ppafm knows
    alone = m.without_substrate()
    assert alone.numbers.tolist() == [6, 1] and not alone.has_substrate and alone.charges.tolist() == [0.1, -0.1]
    assert m.rotated(np.eye(3)).substrate.tolist() == [False, False, True, True]
    unmarked = Molecule(numbers, positions, None, "CH with Cu")  # accepted by Molecule (ppafm simulates Cu) ...
    with pytest.raises(MoleculeError, match=r"unsupported element\(s\) Z=29 \(Cu\)"):
        validate(unmarked)  # ... but not what the zoo's training data hold
    with pytest.raises(MoleculeError, match="all 2 atoms are marked as substrate"):
        Molecule([29, 29], np.eye(3)[:2], None, "slab", substrate=[True, True])
    with pytest.raises(MoleculeError, match=r"substrate mask of shape \(3,\)"):
        Molecule([6, 1], np.eye(3)[:2], None, "CH", substrate=[True, False, False])
    with pytest.raises(MoleculeError, match=r"unsupported substrate element\(s\) Z=86"):
        Molecule([6, 86], np.eye(3)[:2], None, "CH", substrate=[False, True])


def test_substrate_mask_rules():
    numbers = np.array([6, 1, 29, 11, 17])
    positions = np.array([[0, 0, 3.0], [0, 1, 3.2], [0, 0, 0.0], [0, 0, -2.0], [1, 1, -2.0]])
    assert substrate_mask(numbers, positions).tolist() == [False] * 5
    assert substrate_mask(numbers, positions, elements=("Cu",)).tolist() == [False, False, True, False, False]
    assert substrate_mask(numbers, positions, below=1.0).tolist() == [False, False, True, True, True]
    assert substrate_mask(numbers, positions, elements=(29, "na"), below=-5).tolist() == [0, 0, 1, 1, 0]
    with pytest.raises(ValueError, match="'Qq' is not an element symbol"):
        substrate_mask(numbers, positions, elements=("Qq",))


def test_element_outside_a_narrower_set():
    m = Molecule([16, 1, 1], np.eye(3), [0, 0, 0], "H2S")
    with pytest.raises(MoleculeError, match=r"Z=16 \(S\)"):
        validate(m, LIGHT_ELEMENTS)


def test_empty_molecule():
    with pytest.raises(MoleculeError, match="empty"):
        Molecule([], np.zeros((0, 3)), [], "nothing")


def test_nan_coordinates_name_the_atom():
    positions = np.zeros((3, 3))
    positions[2, 1] = np.nan
    with pytest.raises(MoleculeError, match=r"NaN or infinite coordinates \(atoms \[2\]\)"):
        Molecule([1, 1, 8], positions, [0, 0, 0], "water")


def test_nan_charges():
    with pytest.raises(MoleculeError, match="NaN or infinite charges"):
        Molecule([1, 1], np.zeros((2, 3)), [0.0, np.inf])


def test_shape_mismatch():
    with pytest.raises(MoleculeError, match=r"3 atomic numbers but positions of shape \(2, 3\).*expected \(3, 3\)"):
        Molecule([1, 1, 8], np.zeros((2, 3)), [0, 0, 0], "water")
    with pytest.raises(MoleculeError, match=r"charges of shape \(2,\)"):
        Molecule([1, 1, 8], np.zeros((3, 3)), [0, 0], "water")


# -- geometry helpers --


def test_diameter():
    assert diameter(np.array([[0, 0, 0], [3, 4, 0], [1, 1, 1]])) == pytest.approx(5.0)
    assert diameter(np.zeros((1, 3))) == 0.0


def test_fragments_find_a_counter_ion_and_keep_bonded_atoms_together():
    m = benzene()
    assert [len(f) for f in fragments(m.numbers, m.positions)] == [12]
    numbers = np.concatenate([m.numbers, [17]])
    positions = np.concatenate([m.positions, [[6.0, 0.0, 0.0]]])  # a chloride 3.5 Angstrom from an H
    groups = fragments(numbers, positions)
    assert [len(g) for g in groups] == [12, 1] and groups[1].tolist() == [12]
    with pytest.raises(MoleculeError, match="no covalent radius"):
        fragments([1, 54], np.eye(3)[:2])


# -- rotations --


def test_fibonacci_directions_are_unit_and_spread():
    d = fibonacci_directions(100)
    assert d.shape == (100, 3)
    np.testing.assert_allclose(np.linalg.norm(d, axis=1), 1.0, atol=1e-12)
    assert np.abs(d.mean(axis=0)).max() < 0.02
    # Near-uniform: every direction has a neighbour within ~25 degrees and none closer than ~10.
    cos = d @ d.T - 2 * np.eye(100)
    nearest = np.degrees(np.arccos(cos.max(axis=1)))
    assert 10 < nearest.min() and nearest.max() < 25


@pytest.mark.parametrize(
    "direction",
    [*fibonacci_directions(20), [0, 0, 1], [0, 0, -1], [1e-14, 0, -1], [1e-9, 0, -1], [1e-7, 2e-7, -1], [3, 0, 0]],
)
def test_rotation_to_up_is_proper_and_maps_direction_to_z(direction):
    r = rotation_to_up(np.asarray(direction, dtype=float))
    assert_proper_rotation(r)
    d = np.asarray(direction, dtype=float)
    np.testing.assert_allclose(r @ (d / np.linalg.norm(d)), [0, 0, 1], atol=1e-8)


def test_best_rotations_are_proper_and_ranked_by_score():
    rng = np.random.default_rng(0)
    m = Molecule([6, 7, 8, 1, 1, 16], rng.normal(scale=1.5, size=(6, 3)), None, "blob")
    rotations = best_rotations(m, n_best=10)
    assert rotations.shape == (10, 3, 3)
    for r in rotations:
        assert_proper_rotation(r)
    centred = m.positions - m.positions.mean(axis=0)
    scores = [flatness_score(centred @ r.T) for r in rotations]
    assert scores == sorted(scores, reverse=True)
    candidates = candidate_rotations(m)
    assert len(candidates) == 103  # identity, plane normal up and down, 100 Fibonacci directions
    np.testing.assert_array_equal(candidates[0], np.eye(3))
    every = [flatness_score(centred @ r.T) for r in candidates]
    assert scores[0] == pytest.approx(max(every))
    assert sorted(every, reverse=True)[:10] == pytest.approx(scores)


@pytest.mark.parametrize("seed", range(5))
def test_best_rotation_of_a_flat_molecule_puts_its_plane_horizontal(seed):
    tilt = random_rotation(np.random.default_rng(seed))
    m = benzene().rotated(tilt)
    normal = tilt @ np.array([0.0, 0.0, 1.0])
    best = best_rotations(m, n_best=1)[0]
    up = best.T @ np.array([0.0, 0.0, 1.0])  # the direction turned onto +z
    # 100 Fibonacci directions leave no point of the sphere farther than 15.6 degrees from one of them.
    assert abs(up @ normal) > np.cos(np.radians(16))
    # So the ring (radius 2.47 Angstrom) spans at most 2 * 2.47 * sin(16 deg) = 1.36 Angstrom in z.
    assert np.ptp(m.rotated(best).positions[:, 2]) < 1.37


@pytest.mark.parametrize("name", ["C6H6", "C5H5N", "C4H4O"])
@pytest.mark.parametrize("seed", [None, 0, 1, 2])
def test_a_planar_molecule_stays_exactly_flat(name, seed):
    from ase.build import molecule

    atoms = molecule(name)  # benzene, pyridine, furan: planar, in the xy or the yz plane as ASE builds them
    m = Molecule(atoms.numbers, atoms.positions, None, name)
    m = m.rotated(rotation_to_up(np.linalg.svd(m.positions - m.positions.mean(axis=0))[2][-1]))  # a flat file
    assert np.ptp(m.positions[:, 2]) < 1e-9
    if seed is not None:  # a file holding the molecule tilted: the best pick still lays it flat
        m = m.rotated(random_rotation(np.random.default_rng(seed)))
    for best in best_rotations(m, n_best=2):  # both faces up, exactly flat
        flat = m.rotated(best)
        assert_proper_rotation(best)
        normal = np.linalg.svd(flat.positions - flat.positions.mean(axis=0))[2][-1]
        assert abs(normal[2]) > np.cos(np.radians(1.0))
        assert np.ptp(flat.positions[:, 2]) < 1e-6
    if seed is None:  # the file's own (flat) orientation is the first pick, untouched
        np.testing.assert_array_equal(best_rotations(m, n_best=1)[0], np.eye(3))


def test_candidate_rotations_keep_one_of_each_up_direction():
    flat = Molecule([6, 6, 6], [[0, 0, 0], [1.4, 0, 0], [0.7, 1.2, 0]], None, "flat")
    candidates = candidate_rotations(flat, n_directions=10)
    # The plane normal turned up is the identity's up direction (+z), so it is dropped; its flip stays.
    assert len(candidates) == 12
    ups = candidates[:, 2]
    np.testing.assert_allclose(ups[:2], [[0, 0, 1], [0, 0, -1]], atol=1e-12)


# -- reading files --


def write(path, text: str):
    path.write_text(text)
    return path


WATER = "3\nwater, charges in e\nO 0.0 0.0 0.1 -0.8\nH 0.96 0 0.1 0.4\nH -0.24 0.93 0.1 0.4\n"


def test_read_xyz_with_charges(tmp_path):
    m = read(write(tmp_path / "water.xyz", WATER))
    assert m.name == "water" and m.numbers.tolist() == [8, 1, 1]
    np.testing.assert_allclose(m.positions[1], [0.96, 0, 0.1])
    assert m.charges.tolist() == [-0.8, 0.4, 0.4] and not m.has_substrate


def test_read_xyz_without_charges_symbols_in_any_case_and_atomic_numbers(tmp_path):
    text = "4\n\n  c 0 0 0\nCL 1.7 0 0\n1 -0.6 0.9 0\t\n8 -0.6 -0.9 0\n\n\n"
    m = read(write(tmp_path / "mol.XYZ", text))
    assert m.numbers.tolist() == [6, 17, 1, 8] and m.charges.tolist() == [0, 0, 0, 0]


@pytest.mark.parametrize(
    "text, message",
    [
        ("", r"empty\.xyz is empty"),
        ("\n\n", r"empty\.xyz is empty"),
        ("three\n\nC 0 0 0\n", r"the first line should hold the number of atoms .* got 'three'"),
        ("0\n\n", r"the first line should hold the number of atoms"),
        ("3\nc\nC 0 0 0\nH 1 0 0\n", r"line 1 announces 3 atoms but the file ends after 2 atom line\(s\)"),
        ("2\nc\nC 0 0 0\nXx 1 0 0\n", r"line 4: unknown element: 'Xx' is not an element symbol"),
        ("2\nc\nC 0 0 0\n130 1 0 0\n", r"line 4: unknown element: 130 is not an atomic number"),
        ("2\nc\nC 0 0 0\nH 1 nan 0\n", r"line 4: NaN or infinite value"),
        ("2\nc\nC 0 0 0 inf\nH 1 0 0 0\n", r"line 3: NaN or infinite value"),
        ("2\nc\nC 0 0 0\nH 1 0,5 0\n", r"line 4: coordinates and charge must be numbers"),
        ("2\nc\nC 0 0\nH 1 0 0\n", r"line 3: expected 'element x y z' with an optional charge column, got 3"),
        ("2\nc\nC 0 0 0 0 1 2\nH 1 0 0\n", r"line 3: .*got 7 column\(s\)"),
        ("2\nc\nC 0 0 0 0.1\nH 1 0 0\n", r"line 4: some atom lines have a charge column and some do not"),
        ("2\nc\nC 0 0 0\nRn 2 0 0\n", r"unsupported element\(s\) Z=86 \(Rn\); supported: H, He"),
        ("1\nc\nC 0 0 0\nextra line\n", r"line 4 \(after the 1 frame\(s\) read\) should hold the number of atoms"),
    ],
)
def test_read_xyz_errors_name_the_file_and_line(tmp_path, text, message):
    path = write(tmp_path / "empty.xyz", text)
    with pytest.raises(MoleculeFileError, match=message) as info:
        read(path)
    assert str(info.value).startswith(str(path))


def test_read_missing_file_and_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.xyz: no such file"):
        read(tmp_path / "nothing.xyz")
    with pytest.raises(FileNotFoundError, match="it is a directory"):
        read(tmp_path)


def test_read_multi_frame_xyz_needs_a_frame(tmp_path):
    second = WATER.replace("O 0.0 0.0 0.1", "O 0.0 0.0 0.5")
    path = write(tmp_path / "traj.xyz", WATER + second)
    with pytest.raises(MoleculeFileError, match=r"traj\.xyz holds 2 frames .*frame=k"):
        read(path)
    assert read(path, frame=0).positions[0, 2] == pytest.approx(0.1)
    assert read(path, frame=1).positions[0, 2] == pytest.approx(0.5)
    assert read(path, frame=-1).positions[0, 2] == pytest.approx(0.5)
    with pytest.raises(MoleculeFileError, match="frame=2 does not exist"):
        read(path, frame=2)


def test_read_substrate_rules(tmp_path):
    text = "4\nCO on Cu\nC 0 0 3.0 0.1\nO 0 0 4.15 -0.1\nCu 0 0 1.1 0\nCu 2.55 0 1.1 0\n"
    path = write(tmp_path / "co_cu.xyz", text)
    with pytest.raises(MoleculeError, match=r"unsupported element\(s\) Z=29"):
        validate(read(path))  # unmarked Cu: simulated, but not a zoo element
    assert read(path, substrate_elements=("Cu",)).substrate.tolist() == [False, False, True, True]
    assert read(path, substrate_below=2.0).substrate.tolist() == [False, False, True, True]
    assert read(path, substrate=[False, False, False, True]).substrate.tolist() == [False, False, False, True]
    with pytest.raises(MoleculeError, match="4 atoms but a substrate mask of 3 entries"):
        read(path, substrate=[True, False, False])


@pytest.mark.parametrize(
    "suffix, fmt",
    [(".extxyz", "extxyz"), (".xyz", "extxyz"), (".pdb", "proteindatabank"), (".json", "json"), (".traj", "traj")],
)
def test_read_other_formats_through_ase(tmp_path, suffix, fmt):
    ase_io = pytest.importorskip("ase.io")
    from ase.build import molecule

    atoms = molecule("CH3CH2OH")
    charges = np.linspace(-0.5, 0.5, len(atoms))
    atoms.set_initial_charges(charges)
    path = tmp_path / f"ethanol{suffix}"
    ase_io.write(path, atoms, format=fmt)
    m = read(path)
    assert m.name == "ethanol" and m.numbers.tolist() == atoms.numbers.tolist()
    np.testing.assert_allclose(m.positions, atoms.positions, atol=1e-3)
    if fmt != "proteindatabank":  # PDB keeps no partial charges
        np.testing.assert_allclose(m.charges, charges, atol=1e-6)


def test_read_ase_multi_frame_and_unreadable(tmp_path):
    ase_io = pytest.importorskip("ase.io")
    from ase.build import molecule

    path = tmp_path / "two.traj"
    ase_io.write(path, [molecule("H2O"), molecule("CH4")])
    with pytest.raises(MoleculeFileError, match="holds 2 frames"):
        read(path)
    assert read(path, frame=1).numbers.tolist() == [6, 1, 1, 1, 1]
    bad = write(tmp_path / "junk.cif", "this is not a CIF file\n")
    with pytest.raises(MoleculeFileError, match=r"junk\.cif: ASE could not read it|junk\.cif holds no atoms"):
        read(bad)
