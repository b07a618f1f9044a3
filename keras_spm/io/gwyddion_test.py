"""Gwyddion reader on the real PTO_110_Virgin0001.gwy and on broken copies."""

import numpy as np
import pytest

from keras_spm.io import SPMFileError
from keras_spm.io.gwyddion import gwy_channels, read_gwy

GWY = "PTO_110_Virgin0001.gwy"


def test_channels_sizes_and_units(spm_files):
    path = spm_files / GWY
    assert gwy_channels(path) == ["HeightRetrace", "AmplitudeRetrace", "DeflectionRetrace", "PhaseRetrace"]
    height = read_gwy(path)
    assert height.channel == "HeightRetrace" and height.unit == "m" and height.direction == "backward"
    assert height.shape == (256, 256) and height.data.dtype == np.float32
    assert height.size == pytest.approx((100392.157, 100392.157))  # xreal = yreal = 10.04 um
    assert height.pixel_size == pytest.approx((392.157, 392.157), rel=1e-6)
    phase = read_gwy(path, channel="phase retrace")
    assert phase.channel == "PhaseRetrace" and phase.unit == "deg"
    assert -90.0 <= phase.data.min() < phase.data.max() <= 270.0


def test_rows_flipped_so_y_points_up(spm_files):
    import gwyfile

    path = spm_files / GWY
    stored = gwyfile.load(str(path))["/0/data"].data  # (yres, xres), first row = top of the image
    im = read_gwy(path)
    np.testing.assert_array_equal(im.data[:, -1], stored[0].astype(np.float32))  # top row -> largest y
    np.testing.assert_array_equal(im.data[0, :], stored[::-1, 0].astype(np.float32))


def test_bad_gwy(spm_files, tmp_path):
    with pytest.raises(SPMFileError, match=r"no channel 'Topography'.*HeightRetrace, AmplitudeRetrace"):
        read_gwy(spm_files / GWY, channel="Topography")
    cut = tmp_path / "cut.gwy"
    cut.write_bytes((spm_files / GWY).read_bytes()[:5000])
    with pytest.raises(SPMFileError, match=r"cut\.gwy: could not read as Gwyddion \.gwy"):
        read_gwy(cut)
    junk = tmp_path / "junk.gwy"
    junk.write_bytes(b"GWYOnot really")
    with pytest.raises(SPMFileError, match=r"junk\.gwy"):
        read_gwy(junk)


def test_written_field_without_channels_and_odd_units(tmp_path):
    from gwyfile.objects import GwyContainer, GwyDataField

    data = np.arange(12.0).reshape(3, 4)  # yres=3, xres=4
    c = GwyContainer()
    c["/0/data"] = GwyDataField(data, xreal=2e-9, yreal=1.5e-9, si_unit_xy="m", si_unit_z="A")
    c["/0/data/title"] = "Current"
    c.tofile(str(tmp_path / "ok.gwy"))
    im = read_gwy(tmp_path / "ok.gwy")
    assert im.shape == (4, 3) and im.size == pytest.approx((20.0, 15.0)) and im.unit == "A"
    assert im.direction is None and im.data[0, 0] == 8.0  # bottom-left = last stored row, first column

    c["/0/data"] = GwyDataField(data, xreal=2.0, yreal=1.5, si_unit_xy="V", si_unit_z="A")
    c.tofile(str(tmp_path / "volts.gwy"))
    with pytest.raises(SPMFileError, match="lateral unit 'V' of 'Current' is not a length"):
        read_gwy(tmp_path / "volts.gwy")

    empty = GwyContainer()
    empty["/filename"] = "x"
    empty.tofile(str(tmp_path / "empty.gwy"))
    with pytest.raises(SPMFileError, match="no data field"):
        read_gwy(tmp_path / "empty.gwy")
