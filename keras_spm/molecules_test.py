import numpy as np
import pytest

from keras_spm.molecules import (
    LIGHT_ELEMENTS,
    Molecule,
    MoleculeError,
    best_rotations,
    diameter,
    fibonacci_directions,
    flatness_score,
    fragments,
    rotation_to_up,
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
    with pytest.raises(MoleculeError, match=r"unsupported element\(s\) Z=92.*supported: H, C"):
        Molecule([6, 92], np.zeros((2, 3)), [0, 0], "uranyl")


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


@pytest.mark.parametrize("direction", [*fibonacci_directions(20), [0, 0, 1], [0, 0, -1], [1e-14, 0, -1], [3, 0, 0]])
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
    every = [flatness_score(centred @ rotation_to_up(d).T) for d in fibonacci_directions(100)]
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
