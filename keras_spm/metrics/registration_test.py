"""Tests of the registered image quality (keras_spm.metrics.registration)."""

import numpy as np
import pytest
from scipy import ndimage

from keras_spm.metrics import image_quality
from keras_spm.metrics.registration import register, registered_quality


def _lattice(n=96, shift=(0.0, 0.0)):
    """A smooth hexagonal-ish lattice of period ~6 px (a low-relief STM-like scan), translated by ``shift`` px."""
    yy, xx = np.mgrid[:n, :n].astype(float)
    yy, xx = yy - shift[0], xx - shift[1]
    k = 2 * np.pi / 6
    return sum(np.cos(k * (np.cos(a) * xx + np.sin(a) * yy)) for a in (0, 2 * np.pi / 3, 4 * np.pi / 3)) * 1e-11


def test_a_subpixel_translation_is_found_and_undone():
    ref = _lattice()
    moved = _lattice(shift=(0.6, -0.4))
    back, shift = register(ref, moved)
    assert shift == pytest.approx((-0.6, 0.4), abs=0.06)
    plain, reg = image_quality(ref, moved)["psnr"], registered_quality(ref, moved)
    assert plain < 20 and reg["psnr"] > 35 and reg["shift_px"] == pytest.approx(np.hypot(0.6, 0.4), abs=0.06)
    assert np.max(np.abs(back - ref)[8:-8, 8:-8]) < 0.05 * np.ptp(ref)


def test_registration_does_not_reward_a_wrong_shape():
    rng = np.random.default_rng(0)
    ref = ndimage.gaussian_filter(rng.normal(size=(80, 80)), 2.0)
    blurred = ndimage.gaussian_filter(ref, 2.0)  # a shape change, not a translation: registration cannot fix it
    r = registered_quality(ref, blurred)
    assert r["shift_px"] < 0.1
    assert r["psnr"] == pytest.approx(image_quality(ref, blurred)["psnr"], abs=0.2)


def test_shifts_stay_within_the_bound_and_bad_input_is_refused():
    ref = _lattice()
    far = _lattice(shift=(0.0, 4.5))  # beyond a tip offset: the search must not reach it
    assert max(abs(s) for s in register(ref, far, max_shift=2.0)[1]) <= 2.0
    with pytest.raises(ValueError, match="one shape"):
        register(ref, ref[:-1])
    with pytest.raises(ValueError, match="finite"):
        register(ref, np.where(ref > 0, np.nan, ref))
    flat = np.zeros_like(ref)
    assert register(ref, flat)[1] == (0.0, 0.0)
