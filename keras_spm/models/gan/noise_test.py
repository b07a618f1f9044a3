"""Measurement noise after a generator: its amplitude, its smoothness, fresh draws, saving and translate()."""

import numpy as np
import pytest

from keras_spm.metrics.fidelity import checkerboard_amplitude
from keras_spm.models.gan import (
    MeasurementNoise,
    generator_stride,
    load_generator,
    resnet_generator,
    translate,
    with_measurement_noise,
    without_measurement_noise,
)


def test_the_noise_has_the_asked_std_is_fresh_every_call_and_stays_off_the_checkerboard_band():
    layer = MeasurementNoise(0.05, correlation=0.7, seed=3)
    x = np.zeros((4, 96, 96, 1), np.float32)
    a, b = np.asarray(layer(x)), np.asarray(layer(x))
    assert a.std() == pytest.approx(0.05, rel=0.1) and abs(a.mean()) < 0.005
    assert not np.allclose(a, b)  # a new draw on every call, at inference too
    white = np.random.default_rng(0).normal(0, 0.05, (96, 96))
    assert checkerboard_amplitude(a[0, ..., 0]) < 0.2 * checkerboard_amplitude(white)
    assert np.asarray(MeasurementNoise(0.5)(np.full((1, 8, 8, 1), 0.9, np.float32))).max() <= 1.0  # clipped
    with pytest.raises(ValueError, match="stddev >= 0 and correlation > 0"):
        MeasurementNoise(0.01, correlation=0)


def test_a_noisy_generator_saves_loads_and_runs_on_any_size(tmp_path):
    gen = resnet_generator((None, None, 1), n_blocks=1, filters=4)
    noisy = with_measurement_noise(gen, 0.02, seed=1)
    assert generator_stride(noisy) == 4 and without_measurement_noise(noisy) is gen
    noisy.save(tmp_path / "noisy.keras")
    loaded = load_generator(tmp_path / "noisy.keras")
    layer = next(layer for layer in loaded.layers if isinstance(layer, MeasurementNoise))
    assert (layer.stddev, layer.correlation) == (0.02, 0.7)
    image = np.random.default_rng(1).uniform(-0.5, 0.5, (50, 70)).astype(np.float32)
    with pytest.warns(UserWarning, match="not multiples of the generator stride 4"):
        out = translate(loaded, image)
    assert out.shape == image.shape
    deterministic = without_measurement_noise(loaded).predict(image[None, :48, :68, None], verbose=0)[0, ..., 0]
    noisy_out = loaded.predict(image[None, :48, :68, None], verbose=0)[0, ..., 0]
    assert 0.01 < np.std(noisy_out - deterministic) < 0.03
