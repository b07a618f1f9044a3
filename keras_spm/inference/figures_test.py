"""The restoration figure: one height scale for input and output, what was removed, units and a scale bar."""

import numpy as np
import pytest

from keras_spm.inference import Prediction
from keras_spm.inference.figures import _round_length, before_after


@pytest.mark.parametrize("length, bar", [(0.37, 0.2), (1.0, 1.0), (7.9, 5.0), (2345.0, 2000.0)])
def test_a_scale_bar_is_1_2_or_5_times_a_power_of_ten_and_no_longer_than_asked(length, bar):
    assert _round_length(length) == pytest.approx(bar)


def test_a_restoration_figure_shares_the_height_scale_and_shows_the_removed_heights_in_nm():
    rng = np.random.default_rng(0)
    before = rng.normal(size=(64, 64)).astype("float32")
    after = before * 0.5
    arrays = {"input": before, "restored": after, "removed": before - after}
    meta = {"output": "restored", "spm_axes": True, "unit": "nm", "pixel_size": 0.2}
    fig = before_after(Prediction("dae", "scan.sxm", arrays, figure="before_after", meta=meta))
    images = [ax.images[0] for ax in fig.axes if ax.images]
    assert len(images) == 3
    assert images[0].get_clim() == images[1].get_clim()  # a lowered particle looks lower
    low, high = images[2].get_clim()
    assert low == -high == pytest.approx(-np.abs(before - after).max())
    labels = [ax.get_ylabel() for ax in fig.axes if not ax.images]
    assert labels == ["nm"] * 3  # one colour bar per panel
    assert any("nm" in t.get_text() for ax in fig.axes for t in ax.texts)  # the scale bar


def test_a_translation_figure_keeps_two_panels():
    arrays = {"input": np.zeros((64, 64), "float32"), "translated": np.ones((64, 64), "float32")}
    fig = before_after(Prediction("gan", "x.png", arrays, figure="before_after", meta={"output": "translated"}))
    assert sum(bool(ax.images) for ax in fig.axes) == 2
