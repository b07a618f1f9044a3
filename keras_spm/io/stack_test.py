"""assemble_stack on the real 31-file constant-height series, and on mismatched inputs."""

import dataclasses
import random

import numpy as np
import pytest

from keras_spm.io import SPMFileError, assemble_stack, read_sxm

STACK = "nanonis_stack"


@pytest.fixture(scope="module")
def series(spm_files):
    return sorted((spm_files / STACK).glob("*.sxm"))


@pytest.fixture(scope="module")
def images(series):
    return [read_sxm(p) for p in series]


def test_real_series_ordered_farthest_first(spm_files, series):
    assert len(series) == 31
    shuffled = list(series)
    random.Random(0).shuffle(shuffled)  # order comes from the tip heights, not from the file names
    s = assemble_stack(shuffled)
    assert s.shape == (48, 48, 16) and s.channel == "Frequency_Shift" and s.unit == "Hz"
    np.testing.assert_allclose(s.heights, -32.1489 - 0.1 * np.arange(16), atol=1e-4)
    assert s.size == pytest.approx((9.999931, 9.999931)) and s.angle == -41.0
    # the series steps down (00393-00409) then up (00410-00423): 15 heights twice, the first pass kept
    kept = [p.split("/")[-1] for p in s.sources]
    assert kept == [f.name for f in series[:17] if f.name != "A170315.172917-00394.sxm"]
    assert "15 heights recorded more than once, kept the image recorded first" in s.notes[1]
    # repulsive regime: df rises from about -25.7 Hz (farthest) to -3.7 Hz (closest), monotonically
    mean = s.data.mean(axis=(0, 1))
    assert np.all(np.diff(mean) > 0) and mean[0] == pytest.approx(-25.69, abs=0.05)
    assert mean[-1] == pytest.approx(-3.67, abs=0.05)
    # same result from the folder
    np.testing.assert_array_equal(assemble_stack(spm_files / STACK).data, s.data)


def test_duplicate_policies(images):
    last = assemble_stack(images, duplicates="last")
    mean = assemble_stack(images, duplicates="mean")
    first = assemble_stack(images)
    by_name = {im.source.split("/")[-1]: im.data for im in images}
    np.testing.assert_array_equal(last.data[..., 0], by_name["A170315.172917-00394.sxm"])
    np.testing.assert_array_equal(last.data[..., -1], first.data[..., -1])  # closest height: one image only
    np.testing.assert_allclose(
        mean.data[..., 1], (by_name["A170315.173119-00395.sxm"] + by_name["A170315.182830-00423.sxm"]) / 2, rtol=1e-6
    )
    assert len(mean.sources) == 31 and "averaged them" in mean.notes[1]
    with pytest.raises(ValueError, match="duplicates must be one of"):
        assemble_stack(images, duplicates="median")


def test_rejects_mismatched_frames(images):
    base = images[:3]
    cases = {
        "pixels": dataclasses.replace(images[5], data=np.zeros((40, 48), np.float32)),
        "size": dataclasses.replace(images[5], size=(12.0, 12.0)),
        "centre": dataclasses.replace(images[5], offset=(-2769.376 + 3.0, 956.0181)),
        "angle": dataclasses.replace(images[5], angle=0.0),
    }
    for what, bad in cases.items():
        with pytest.raises(
            SPMFileError,
            match=r"A170315\.173725-00398\.sxm: scan frame differs from "
            r"A170315\.172707-00393\.sxm",
        ) as e:
            assemble_stack([*base, bad])
        assert {
            "pixels": "40x48 px vs 48x48 px",
            "size": "size 12.000",
            "centre": "frame centre",
            "angle": "angle 0.0 vs -41.0",
        }[what] in str(e.value)


def test_rejects_images_that_are_not_constant_height(images):
    with pytest.raises(SPMFileError, match="no tip height"):
        assemble_stack([images[0], dataclasses.replace(images[1], z=None)])
    with pytest.raises(SPMFileError, match="Z-controller on, so it is not a constant-height image"):
        assemble_stack([images[0], dataclasses.replace(images[1], z_controller_on=True)])
    with pytest.raises(SPMFileError, match="channel is 'Z', the stack is of 'Frequency_Shift'"):
        assemble_stack([images[0], dataclasses.replace(images[1], channel="Z")])
    with pytest.raises(SPMFileError, match="a backward image in a forward stack"):
        assemble_stack([images[0], dataclasses.replace(images[1], direction="backward")])
    with pytest.raises(ValueError, match="at least one image"):
        assemble_stack([])


def test_rejects_folder_without_sxm_and_missing_channel(spm_files, tmp_path, series):
    with pytest.raises(SPMFileError, match="no .sxm files in this folder"):
        assemble_stack(tmp_path)
    with pytest.raises(SPMFileError, match="no channel 'Force'.*available channels"):
        assemble_stack(series[:2], channel="Force")
