"""The machine-expert classifier: shapes, learning a real/simulated cue, bad input."""

import numpy as np
import pytest

from keras_spm.models.gan.expert import expert_classifier, fixed_crops, prob_real, train_expert


def _smooth(rng, size=48):
    yy, xx = np.mgrid[:size, :size] / size
    return np.sin(2 * np.pi * (rng.uniform(1, 3) * xx + rng.uniform(1, 3) * yy)).astype(np.float32)


def test_any_size_one_logit():
    model = expert_classifier(filters=4)
    assert model.predict(np.zeros((2, 40, 56, 1), np.float32), verbose=0).shape == (2, 1)


def test_learns_noise_as_the_real_style():
    rng = np.random.default_rng(0)
    sim = [_smooth(rng) for _ in range(6)]
    real = [np.clip(_smooth(rng) + rng.normal(0, 0.4, (48, 48)), -1, 1).astype(np.float32) for _ in range(6)]
    model = train_expert(sim, real, steps=40, batch_size=16, crop=32, filters=4, orientations=True)
    test_sim = [_smooth(rng) for _ in range(4)]
    test_real = [np.clip(_smooth(rng) + rng.normal(0, 0.4, (48, 48)), -1, 1) for _ in range(4)]
    assert np.all(prob_real(model, test_real, crop=32) > 0.5)
    assert np.all(prob_real(model, test_sim, crop=32) < 0.5)
    assert float(model.optimizer.learning_rate) < 1e-7  # decayed to 0 by the last step


def test_constant_rate_on_request():
    rng = np.random.default_rng(2)
    images = [_smooth(rng) for _ in range(2)]
    model = train_expert(images, images, steps=3, batch_size=4, crop=32, filters=2, lr_decay=False)
    assert float(model.optimizer.learning_rate) == pytest.approx(1e-3)


def test_fixed_crops_pad_small_images_and_bad_input_raises():
    assert fixed_crops(np.zeros((20, 30), np.float32), 32).shape == (5, 32, 32, 1)
    assert fixed_crops(np.zeros((64, 80), np.float32), 32).shape == (5, 32, 32, 1)
    model = expert_classifier(filters=4)
    with pytest.raises(ValueError, match="image 0 has shape .*2-D grayscale"):
        prob_real(model, [np.zeros((8, 8, 3))])
    with pytest.raises(ValueError, match="NaN"):
        prob_real(model, [np.full((8, 8), np.nan)])
    with pytest.raises(ValueError, match="no images"):
        prob_real(model, [])


def test_dihedral_covers_the_eight_symmetries_and_prob_real_averages_them():
    from keras_spm.models.gan.expert import dihedral

    image = np.arange(12, dtype=np.float32).reshape(3, 4)
    views = [dihedral(image, k) for k in range(8)]
    assert len({v.tobytes() + bytes(v.shape) for v in views}) == 8
    np.testing.assert_array_equal(dihedral(dihedral(image, 1), 3), image)
    model = expert_classifier(filters=4)
    rng = np.random.default_rng(1)
    images = [rng.uniform(-1, 1, (40, 40)).astype(np.float32)]
    # a square image's five fixed crops map onto each other under the symmetries: the score is invariant
    for k in range(8):
        turned = [dihedral(images[0], k)]
        np.testing.assert_allclose(prob_real(model, turned, 32, 8), prob_real(model, images, 32, 8), atol=1e-5)
    assert prob_real(model, images, crop=32, symmetries=1).shape == (1,)
    with pytest.raises(ValueError, match="symmetries must be 1-8"):
        prob_real(model, images, crop=32, symmetries=9)
