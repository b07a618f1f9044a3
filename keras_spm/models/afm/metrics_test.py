import numpy as np
import pytest

from keras_spm.descriptors import encode_xyz
from keras_spm.models.afm import decode_xyz_prediction, decode_xyz_target, detection_scores, map_metrics, match_atoms

BOX = 15.875 / 16


def test_encode_then_decode_recovers_the_top_atoms():
    # three top-layer atoms in different boxes, one 2 A deep (below encode_xyz's 0.7 A cut)
    pos = np.array([[3.1, 4.2, 1.0], [8.0, 8.0, 0.8], [12.5, 2.2, 0.5], [6.0, 6.0, -1.0]])
    atoms = decode_xyz_target(encode_xyz(pos), z_top=1.0)
    got = sorted(map(tuple, np.round(atoms[:, :3], 5)))
    assert got == sorted(map(tuple, np.round(pos[:3], 5)))
    s = detection_scores(atoms, pos[:3])
    assert s["precision"] == s["recall"] == 1.0 and s["mean_error"] < 1e-5


def test_decode_prediction_thresholds_and_applies_offsets():
    cls = np.zeros((16, 16, 2))
    cls[..., 0] = 1.0
    cls[3, 5] = [0.1, 0.9]
    cls[7, 7] = [0.6, 0.4]  # below threshold 0.5
    cls[10, 2] = [0.3, 0.7]
    off = np.zeros((16, 16, 3))
    off[3, 5] = [0.1, -0.2, -0.5]
    atoms = decode_xyz_prediction(cls, off, threshold=0.5, z_top=2.0)
    assert atoms.shape == (2, 4)
    np.testing.assert_allclose(atoms[0], [3.5 * BOX + 0.1, 5.5 * BOX - 0.2, 1.5, 0.9])  # most confident first
    np.testing.assert_allclose(atoms[1], [10.5 * BOX, 2.5 * BOX, 2.0, 0.7])
    assert len(decode_xyz_prediction(cls, off, threshold=0.3)) == 3
    with pytest.raises(ValueError, match="Index the batch first"):
        decode_xyz_prediction(cls[None], off[None])


def test_decode_target_round_trips_known_atoms():
    target = np.zeros((16, 16, 4), "float32")
    target[2, 3] = [1, 0.2, 0.3, 0.0]
    target[9, 9] = [1, -0.4, 0.1, -1.2]
    atoms = decode_xyz_target(target)
    expected = {
        (round(2.5 * BOX + 0.2, 4), round(3.5 * BOX + 0.3, 4), 0.0),
        (round(9.5 * BOX - 0.4, 4), round(9.5 * BOX + 0.1, 4), -1.2),
    }
    assert {tuple(np.round(a[:3], 4)) for a in atoms} == expected


def test_hungarian_matching_beats_greedy():
    # Greedy nearest-first would pair p0-t0 (0.28) and leave p1 and t1 unmatched.
    pred = np.array([[0.0, 0, 0], [0.6, 0, 0]])
    true = np.array([[0.28, 0, 0], [-0.45, 0, 0]])
    assert sorted(match_atoms(pred, true, radius=0.5)) == [(0, 1), (1, 0)]
    assert match_atoms(pred, true, radius=0.2) == []
    assert match_atoms(np.zeros((0, 3)), true) == []


def test_detection_scores_precision_recall_errors():
    true = np.array([[0.0, 0, 0], [3.0, 0, 0], [6.0, 0, -1.0]])
    pred = np.array([[0.1, 0, 0, 0.9], [3.0, 0.3, 0.4, 0.8], [9.0, 9.0, 0, 0.7], [20.0, 0, 0, 0.6]])
    s = detection_scores(pred, true, radius=0.5)
    assert (s["n_pred"], s["n_true"], s["n_matched"]) == (4, 3, 2)
    assert s["precision"] == pytest.approx(0.5) and s["recall"] == pytest.approx(2 / 3)
    assert s["f1"] == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))
    # errors 0.1 and 0.5 (3D): mean 0.3, 90th percentile 0.1 + 0.9 * 0.4 = 0.46
    assert s["mean_error"] == pytest.approx(0.3) and s["p90_error"] == pytest.approx(0.46)
    assert s["mean_z_error"] == pytest.approx(0.2) and s["mean_xy_error"] == pytest.approx(0.2)  # 0.1 and 0.3
    # several samples pool their counts; an empty prediction on an empty sample is perfect
    many = detection_scores([pred, np.zeros((0, 4))], [true, np.zeros((0, 3))])
    assert many["n_matched"] == 2 and many["n_true"] == 3
    empty = detection_scores(np.zeros((0, 4)), np.zeros((0, 3)))
    assert empty["precision"] == 1.0 and empty["recall"] == 1.0 and np.isnan(empty["mean_error"])
    with pytest.raises(ValueError, match="one per sample"):
        detection_scores([pred], [true, true])


def test_map_metrics_known_values():
    yy, xx = np.mgrid[0:32, 0:32]
    true = np.exp(-((xx - 12.0) ** 2 + (yy - 20.0) ** 2) / 20.0)
    same = map_metrics(true, true)
    assert same["mse"][0] == 0 and same["ssim"][0] == pytest.approx(1.0) and same["pearson_r"][0] == pytest.approx(1.0)
    affine = map_metrics(2 * true + 1, true)
    assert affine["pearson_r"][0] == pytest.approx(1.0)  # r is invariant to scale and offset
    assert affine["mse"][0] == pytest.approx(np.mean((true + 1) ** 2))
    assert affine["ssim"][0] < 0.9  # SSIM is not
    flipped = map_metrics(np.stack([-true, np.zeros_like(true)]), np.stack([true, true]))
    np.testing.assert_allclose(flipped["pearson_r"], [-1.0, 0.0], atol=1e-12)
    assert flipped["pearson_r_mean"] == pytest.approx(-0.5)
    with pytest.raises(ValueError, match=r"\(B, H, W\)"):
        map_metrics(true, true[:10])


def test_an_atom_found_in_two_neighbouring_boxes_is_kept_once():
    cls = np.zeros((16, 16, 2))
    cls[..., 0] = 1.0
    off = np.zeros((16, 16, 3))
    cls[4, 4], off[4, 4] = [0.2, 0.8], [0.45, 0.0, 0.0]  # an atom on the edge between boxes 4 and 5 ...
    cls[5, 4], off[5, 4] = [0.3, 0.7], [-0.4, 0.1, 0.0]  # ... found by both, 0.2 A apart
    cls[9, 9] = [0.1, 0.9]  # a neighbour one box (0.99 A) away is a different atom
    cls[9, 10] = [0.4, 0.6]
    atoms = decode_xyz_prediction(cls, off, threshold=0.5)
    assert len(atoms) == 3 and list(atoms[:, 3]) == [0.9, 0.8, 0.6]
    np.testing.assert_allclose(atoms[1, :2], [4.5 * BOX + 0.45, 4.5 * BOX])  # the more confident of the double
    assert len(decode_xyz_prediction(cls, off, threshold=0.5, min_distance=0.0)) == 4
    assert len(decode_xyz_prediction(cls, off, threshold=0.5, min_distance=1.0)) == 2
