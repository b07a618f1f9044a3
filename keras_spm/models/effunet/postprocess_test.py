"""Tests of the segmentation post-processing: watershed instances, size distribution, COCO-style AP, at_size."""

import numpy as np
import pytest

from keras_spm.models.effunet import postprocess as P
from keras_spm.sim import stm_particles as S


def _disk(shape, cy, cx, r):
    yy, xx = np.indices(shape)
    return (yy - cy) ** 2 + (xx - cx) ** 2 < r * r


def _two_touching(shape=(64, 64), pixel=0.25):
    particles = [(8.0, 6.5, 3.0), (8.0, 12.0, 2.8)]  # (y, x, r) nm; they overlap by 0.3 nm
    _, labels = S.render_particles(particles, shape, pixel, np.zeros(shape))
    return labels


def test_watershed_on_two_touching_particles_gives_two_instances_and_their_sizes():
    labels = _two_touching()
    probs = 0.7 * S.one_hot(S.class_map(labels)) + 0.1  # a soft, imperfect "network output"
    inst = P.watershed_instances(probs)
    assert inst.max() == 2
    ap = P.average_precision([(inst, P.instance_scores(inst, probs), labels)])
    assert ap["ap50"] == 1.0 and ap["map"] > 0.8
    sizes = P.size_distribution(inst, 0.25)
    true = P.size_distribution(labels, 0.25)
    assert sizes["count"] == true["count"] == 2
    assert sizes["mean"] == pytest.approx(true["mean"], rel=0.05)
    # equivalent diameters ~ 2r of the spheres (the overlap lens goes to the higher one)
    assert sorted(true["diameters"]) == pytest.approx([5.6, 6.0], rel=0.08)


def test_size_distribution_hand_values_and_edge_cases():
    inst = np.zeros((40, 40), int)
    inst[5:15, 5:15] = 1  # 100 px -> d = 2 sqrt(100 / pi) px
    inst[20:24, 20:24] = 2  # 16 px
    inst[0:3, 30:34] = 3  # touches the edge: left out by default
    d = P.size_distribution(inst, 0.5)
    expected = 2 * np.sqrt(np.array([100, 16]) * 0.25 / np.pi)
    assert d["count"] == 2 and d["diameters"] == pytest.approx(expected)
    assert d["mean"] == pytest.approx(expected.mean()) and d["std"] == pytest.approx(expected.std())
    assert d["d_va"] == pytest.approx((expected**3).sum() / (expected**2).sum())
    assert d["dispersion"] == pytest.approx(min(1.0, 6 * P.PT_ATOM_VOLUME / P.PT_ATOM_AREA / d["d_va"]))
    assert P.size_distribution(inst, 0.5, exclude_border=False)["count"] == 3
    empty = P.size_distribution(np.zeros((8, 8), int), 1.0)  # no particle: defined, NaN statistics
    assert empty["count"] == 0 and empty["diameters"] == [] and np.isnan(empty["mean"])
    with pytest.raises(ValueError, match="2D"):
        P.size_distribution(np.zeros((4, 4, 1), int), 1.0)
    with pytest.raises(ValueError, match="pixel_size"):
        P.size_distribution(inst, 0.0)


def test_average_precision_hand_cases():
    shape = (40, 40)
    true = np.zeros(shape, int)
    true[_disk(shape, 10, 10, 6)] = 1
    true[_disk(shape, 28, 28, 6)] = 2
    # perfect prediction, plus a false positive scored *below* both: AP stays 1
    pred = true.copy()
    pred[_disk(shape, 10, 30, 3)] = 3
    assert P.average_precision([(pred, {1: 0.9, 2: 0.8, 3: 0.1}, true)])["map"] == pytest.approx(1.0)
    # the false positive ranked first: precision 1/2 at recall 1/2, 2/3 at recall 1 -> envelope 2/3 everywhere
    ap = P.average_precision([(pred, {1: 0.8, 2: 0.7, 3: 0.9}, true)])
    assert ap["map"] == pytest.approx(2 / 3) and ap["n_pred"] == 3 and ap["n_true"] == 2
    # IoU 0.6 (a 6x10 box predicted as a 6x6 part): a hit at thresholds 0.50, 0.55, 0.60 only -> mAP 3/10
    box_t = np.zeros(shape, int)
    box_t[5:11, 5:15] = 1
    box_p = np.zeros(shape, int)
    box_p[5:11, 5:11] = 1
    ap = P.average_precision([(box_p, {1: 1.0}, box_t)])
    assert ap["ap50"] == 1.0 and ap["per_threshold"]["0.60"] == 1.0 and ap["per_threshold"]["0.65"] == 0.0
    assert ap["map"] == pytest.approx(0.3)  # 0.50, 0.55, 0.60 of ten thresholds
    # empty prediction on a labelled image: AP 0; no true instance anywhere: undefined -> error
    assert P.average_precision([(np.zeros(shape, int), {}, true)])["map"] == 0.0
    with pytest.raises(ValueError, match="undefined"):
        P.average_precision([(pred, {1: 1.0}, np.zeros(shape, int))])
    with pytest.raises(ValueError, match="same shape"):
        P.average_precision([(pred[:-1], {}, true)])


def test_prepare_image_and_bad_input():
    img = np.linspace(-3, 5, 64 * 64).reshape(64, 64)
    x = P.prepare_image(img)
    assert x.dtype == np.float32 and -0.01 < x.min() < 0.01 and 0.99 < x.max() < 1.01
    assert np.all(P.prepare_image(np.full((8, 8), 2.0)) == 0)  # constant: zeros, not a division by zero
    with pytest.raises(ValueError, match="2D"):
        P.prepare_image(np.zeros((8, 8, 3)))
    with pytest.raises(ValueError, match="NaN"):
        P.prepare_image(np.array([[np.nan, 1.0], [0.0, 1.0]]))


def test_at_size_reuses_the_weights_on_larger_images():
    from keras_spm.models.effunet import efficientnet_unet

    model = efficientnet_unet("b0_half", input_shape=(64, 64, 1), decoder_filters=(16, 16, 8, 8, 8))
    assert P.at_size(model, 64, 64) is model
    big = P.at_size(model, 96, 128)
    assert big.input_shape == (None, 96, 128, 1)
    assert all(np.array_equal(a, b) for a, b in zip(big.get_weights(), model.get_weights(), strict=True))
    probs = P.predict_probabilities(model, np.random.default_rng(0).normal(size=(70, 90)))  # padded to 96 x 96
    assert probs.shape == (70, 90, 3)
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-5)
    with pytest.raises(ValueError, match="divisible by 32"):
        P.at_size(model, 70, 64)


def test_segment_particles_uses_the_validation_chosen_mask_threshold(monkeypatch):
    """A disc with a soft rim (p_fg 0.7, like a blurred softmax edge): the 0.85 default cuts the rim off, 0.5 not."""
    assert 0.5 < P.MASK_THRESHOLD < 1 and 0 < P.INSIDE_THRESHOLD < 1
    core, outer = _disk((32, 32), 16, 16, 6), _disk((32, 32), 16, 16, 8)
    probs = np.zeros((32, 32, 3))
    probs[..., 2] = 1.0
    probs[outer] = (0.0, 0.7, 0.3)  # rim: border-ish but unsure
    probs[core] = (0.95, 0.05, 0.0)
    monkeypatch.setattr(P, "predict_probabilities", lambda model, image: probs)
    tight = P.segment_particles(None, np.zeros((32, 32)), 0.2)
    loose = P.segment_particles(None, np.zeros((32, 32)), 0.2, mask_threshold=0.5)
    assert tight["sizes"]["count"] == loose["sizes"]["count"] == 1
    assert (tight["instances"] > 0).sum() == core.sum()
    assert (loose["instances"] > 0).sum() == outer.sum()


def test_segment_particles_with_mirror_views_averages_the_mapped_back_probabilities(monkeypatch):
    """A fake network that sees only the left half: two of the four mirror views bring the right half to it, so a
    particle on the right gets p = 0.5 mapped back in place; a mirror-symmetric image gets symmetric probabilities."""
    image = np.zeros((32, 32))
    image[_disk((32, 32), 16, 24, 4)] = 1.0  # one particle, right half

    def left_eyed(model, img):
        p = np.zeros(img.shape + (3,))
        p[..., 2] = 1.0
        seen = img[:, :16] > 0.5
        p[:, :16][seen] = (1.0, 0.0, 0.0)
        return p

    monkeypatch.setattr(P, "predict_probabilities", left_eyed)
    one = P.segment_particles(None, image, 0.2)
    four = P.segment_particles(None, image, 0.2, views=4)
    assert one["sizes"]["count"] == 0
    probs = four["probabilities"]
    np.testing.assert_allclose(probs[image > 0.5, 0], 0.5)  # seen in 2 of the 4 views
    np.testing.assert_allclose(probs.sum(-1), 1.0)
    symmetric = image + image[:, ::-1]
    sym = P.segment_particles(None, symmetric, 0.2, views=4)["probabilities"]
    np.testing.assert_allclose(sym, sym[:, ::-1])
