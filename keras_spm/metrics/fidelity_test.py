"""Tests of the translation-fidelity measures on synthetic images with known answers."""

import numpy as np
import pytest
from scipy import ndimage

from keras_spm.metrics.fidelity import (
    blurred_pearson,
    checkerboard_amplitude,
    fidelity_report,
    high_frequency_fraction,
    mean_abs_change,
)

N = 96


def _smooth(seed=0, n=N):
    """Molecule-like blobs: noise blurred by 4 px, scaled to [-1, 1]."""
    x = ndimage.gaussian_filter(np.random.default_rng(seed).normal(size=(n, n)), 4.0)
    return 2 * (x - x.min()) / (x.max() - x.min()) - 1


def _board(n=N):
    i, j = np.indices((n, n))
    return 1.0 - 2.0 * ((i + j) % 2)


def _wave(freq, n=100):
    """A plane wave along axis 1 at ``freq`` cycles/px (a whole number of periods in n px)."""
    return np.broadcast_to(np.sin(2 * np.pi * freq * np.arange(n)), (n, n)).copy()


def test_checkerboard_amplitude_known_answers():
    smooth = _smooth()
    assert checkerboard_amplitude(smooth) < 1e-3
    for a in (0.01, 0.05, 0.2):
        assert checkerboard_amplitude(smooth + a * _board()) == pytest.approx(a, rel=0.05)
    # the artefact's sign may follow the features (a transposed conv's does): the local RMS still finds it
    # when the sign changes on scales larger than the window (here: the left and right halves)
    sign = np.where(np.arange(N) < N // 2, 1.0, -1.0)[None, :]
    assert checkerboard_amplitude(smooth + 0.1 * sign * _board()) == pytest.approx(0.1, rel=0.15)
    # period-2 stripes are not a checkerboard
    stripes = np.broadcast_to(1.0 - 2.0 * (np.arange(N) % 2), (N, N))
    assert checkerboard_amplitude(smooth + 0.1 * stripes) < 0.01


def test_high_frequency_fraction_known_answers():
    assert high_frequency_fraction(_wave(0.1)) < 0.01
    assert high_frequency_fraction(_wave(0.4)) > 0.99
    assert high_frequency_fraction(_wave(0.1) + _wave(0.4)) == pytest.approx(0.5, abs=0.02)
    assert high_frequency_fraction(_board()) > 0.99
    assert high_frequency_fraction(np.zeros((32, 32))) == 0.0
    # white noise: power spread evenly, the band above 0.25 is 1 - pi / 16 of the square [-0.5, 0.5)^2
    noise = np.random.default_rng(0).normal(size=(256, 256))
    assert high_frequency_fraction(noise) == pytest.approx(1 - np.pi / 16, abs=0.02)
    # smooth images have almost none; adding a checkerboard adds it
    assert high_frequency_fraction(_smooth()) < 1e-3
    assert high_frequency_fraction(_smooth() + 0.1 * _board()) > 0.01


def test_blurred_pearson_known_answers():
    x = _smooth()
    assert blurred_pearson(x, 3 * x + 1) == pytest.approx(1.0, abs=1e-12)
    assert blurred_pearson(x, -x) == pytest.approx(-1.0, abs=1e-12)
    assert abs(blurred_pearson(x, _smooth(7))) < 0.3
    assert blurred_pearson(x, np.zeros_like(x)) == 0.0
    # a strong checkerboard ruins the raw correlation but not the blurred one: structure kept
    noisy = x + 1.0 * _board()
    assert np.corrcoef(x.ravel(), noisy.ravel())[0, 1] < 0.6
    assert blurred_pearson(x, noisy) > 0.99


def test_mean_abs_change_and_checks():
    x = _smooth()
    assert mean_abs_change(x, x) == 0.0
    assert mean_abs_change(x, x + 0.1) == pytest.approx(0.1)
    assert mean_abs_change(x, -x) == pytest.approx(2 * np.mean(np.abs(x)))
    with pytest.raises(ValueError, match="differ in shape"):
        mean_abs_change(x, x[:-1])
    with pytest.raises(ValueError, match="NaN"):
        checkerboard_amplitude(np.full((16, 16), np.nan))
    with pytest.raises(ValueError, match="2-D"):
        high_frequency_fraction(np.zeros((4, 16, 16)))


def test_fidelity_report_ratios():
    inputs = [_smooth(s) + 0.01 * _board() for s in range(3)]
    outputs = [a + 0.04 * _board() for a in inputs]  # 0.05 / 0.01: five times the input's checkerboard
    report = fidelity_report(inputs, outputs)
    assert report["n"] == 3
    assert report["checkerboard"]["ratio"] == pytest.approx(5.0, rel=0.05)
    assert report["checkerboard"]["ratio_median"] == pytest.approx(5.0, rel=0.05)
    assert report["high_frequency"]["ratio"] > 5
    assert report["blurred_r"]["min"] > 0.99
    assert report["mean_abs_change"]["mean"] == pytest.approx(0.04)
    same = fidelity_report(inputs, inputs)
    assert same["checkerboard"]["ratio"] == pytest.approx(1.0)
    assert same["mean_abs_change"]["mean"] == 0.0
    with pytest.raises(ValueError, match="as many outputs"):
        fidelity_report(inputs, outputs[:2])
