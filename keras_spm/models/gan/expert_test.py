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
    model = train_expert(sim, real, steps=40, batch_size=16, crop=32, filters=4)
    test_sim = [_smooth(rng) for _ in range(4)]
    test_real = [np.clip(_smooth(rng) + rng.normal(0, 0.4, (48, 48)), -1, 1) for _ in range(4)]
    assert np.all(prob_real(model, test_real, crop=32) > 0.5)
    assert np.all(prob_real(model, test_sim, crop=32) < 0.5)


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
