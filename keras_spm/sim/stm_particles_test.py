"""Tests of the synthetic STM nanoparticle generator and the watershed post-processing."""

import numpy as np
import pytest

from keras_spm.sim import stm_particles as S


def _two_touching(shape=(64, 64), pixel=0.25):
    particles = [(8.0, 6.5, 3.0), (8.0, 12.0, 2.8)]  # (y, x, r) nm, 0.3 nm overlap
    height, labels = S.render_particles(particles, shape, pixel, np.zeros(shape))
    return particles, height, labels


def test_render_two_touching_particles():
    particles, height, labels = _two_touching()
    assert set(np.unique(labels)) == {0, 1, 2}
    assert height.max() == pytest.approx(2 * 3.0, abs=0.1)  # top of the bigger sphere
    for i, (*_, r) in enumerate(particles, start=1):
        area = (labels == i).sum() * 0.25**2
        assert area == pytest.approx(np.pi * r * r, rel=0.12)  # the overlap lens goes to the higher one
    classes = S.class_map(labels, border_px=2)
    # A border band separates the two particles: no inside pixel of one touches the other.
    inside = classes == 0
    assert inside.any() and (classes == 1).any()
    from scipy import ndimage

    for i in (1, 2):
        grown = ndimage.binary_dilation(inside & (labels == i), iterations=2)
        assert not (grown & (labels == 3 - i)).any()


def test_watershed_splits_two_touching_particles():
    _, _, labels = _two_touching()
    probs = S.one_hot(S.class_map(labels))
    # Soften like a network would: blur-free but not one-hot everywhere.
    probs = 0.8 * probs + 0.2 / 3
    inst = S.watershed_instances(probs)
    scores = S.match_instances(inst, labels)
    assert inst.max() == 2
    assert scores["f1"] == 1.0 and scores["mean_iou"] > 0.9
    # Without a border band (inside everywhere on particles) the two merge into one: the reason for the class.
    merged = np.zeros(labels.shape + (3,))
    merged[..., 0] = labels > 0
    merged[..., 2] = labels == 0
    assert S.watershed_instances(merged).max() == 1


def test_generator_is_seeded_and_consistent():
    cfg = S.ParticleConfig(size=96, n_particles=(4, 8))
    a = S.simulate_stm_particles(np.random.default_rng(7), cfg)
    b = S.simulate_stm_particles(np.random.default_rng(7), cfg)
    np.testing.assert_array_equal(a["image"], b["image"])
    assert a["image"].shape == a["classes"].shape == a["labels"].shape == (96, 96)
    assert a["image"].dtype == np.float32
    # Classes agree with labels; instance count matches the placed particles (none hidden entirely).
    assert np.array_equal(a["classes"] == 2, a["labels"] == 0)
    assert len(np.unique(a["labels"])) - 1 <= len(a["particles"])
    # Diameters are log-normal around the median.
    radii = [r for seed in range(6) for *_, r in S.simulate_stm_particles(np.random.default_rng(seed))["particles"]]
    assert 2.2 < 2 * np.median(radii) < 3.8
    # The tip broadens particles: the apparent (image) footprint is larger than the true one.
    img = a["image"] - np.median(a["image"])
    assert (img > 0.5).sum() > (a["surface"] - np.median(a["surface"]) > 0.5).sum()


def test_touching_particles_exist():
    cfg = S.ParticleConfig(p_touching=1.0, n_particles=(10, 10))
    labels = S.simulate_stm_particles(np.random.default_rng(3), cfg)["labels"]
    from scipy import ndimage

    grown = ndimage.grey_dilation(labels, size=3)
    assert ((grown != labels) & (labels > 0) & (grown > 0)).any()  # two labels share a boundary


def test_bad_input():
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        S.watershed_instances(np.zeros((8, 8, 2)))
    with pytest.raises(ValueError, match="2D"):
        S.class_map(np.zeros((4, 4, 1), int))


def test_empty_scene_gives_empty_masks_and_no_instances():
    d = S.simulate_stm_particles(np.random.default_rng(0), S.ParticleConfig(size=64, n_particles=(0, 0)))
    assert d["particles"] == [] and d["labels"].max() == 0 and np.all(d["classes"] == 2)
    probs = S.one_hot(d["classes"])
    assert S.watershed_instances(probs).max() == 0
    assert S.match_instances(np.zeros((8, 8), int), np.zeros((8, 8), int))["f1"] == 1.0  # nothing to find, none found


def test_watershed_keeps_particles_too_small_for_a_core():
    labels = np.zeros((32, 32), int)
    labels[4:7, 4:7] = 1  # 3 x 3: all border with border_px=2
    labels[15:28, 15:28] = 2
    classes = S.class_map(labels)
    assert not ((classes == 0) & (labels == 1)).any()
    inst = S.watershed_instances(S.one_hot(classes))
    assert inst.max() == 2 and S.match_instances(inst, labels)["f1"] == 1.0
