"""Gwyddion reader on the real GWYP and GWYO files, on GWYP/GWYO twins written from the spec, and on broken copies."""

import struct
import time

import numpy as np
import pytest

from keras_spm.io import SPMFileError
from keras_spm.io.gwyddion import base_unit, gwy_channels, read_gwy
from keras_spm.io.gwyformat import GwyObject
from keras_spm.io.gwywrite import data_field, pack_object, write_gwy

GWY = "PTO_110_Virgin0001.gwy"
GWYO = "GwiddionReader_bipm.gwy"


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
    with pytest.raises(SPMFileError, match=r"cut\.gwy: not a readable Gwyddion \.gwy file: .*file truncated\?"):
        read_gwy(cut)
    junk = tmp_path / "junk.gwy"
    junk.write_bytes(b"GWYOnot really")
    with pytest.raises(SPMFileError, match=r"junk\.gwy: not a readable .*an object type name has no terminating NUL"):
        read_gwy(junk)
    junk.write_bytes(b"GWYPnot really\0\0\0\0\0")
    with pytest.raises(SPMFileError, match=r"junk\.gwy: not a readable .*'not really' is not an object type name"):
        read_gwy(junk)
    tiff = tmp_path / "tiff.gwy"
    tiff.write_bytes(b"II*\x00" + bytes(100))
    with pytest.raises(SPMFileError, match=r"tiff\.gwy: .*starts with b'II\*\\x00', not the Gwyddion magic 'GWYP'"):
        read_gwy(tiff)


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
    with pytest.raises(SPMFileError, match=r"lateral unit 'V' of 'Current' is not a length \(expected m\)"):
        read_gwy(tmp_path / "volts.gwy")

    empty = GwyContainer()
    empty["/filename"] = "x"
    empty.tofile(str(tmp_path / "empty.gwy"))
    with pytest.raises(SPMFileError, match="no data field"):
        read_gwy(tmp_path / "empty.gwy")


def test_real_gwyo_file(shared_data):
    """The Gwyddion 1.x file: 500x500 px over 5 um, heights in m (stored with the prefixed units 'um', 'nm')."""
    path = shared_data / "spm-topographies" / GWYO
    if not path.is_file():
        pytest.skip(f"{path} not found")
    im = read_gwy(path)
    assert im.meta["format"] == "GWYO" and gwy_channels(path) == ["channel 0"]  # no title stored
    assert im.shape == (500, 500) and im.unit == "m"
    assert im.size == pytest.approx((50000.0, 50000.0)) and im.pixel_size == pytest.approx((100.0, 100.0))
    # a 138 nm relief on a 16.9 um absolute height: plausible for an optical/AFM profile of a 5 um frame
    assert np.isfinite(im.data).all()
    assert im.data.min() == pytest.approx(1.68784e-05, rel=1e-5) and im.data.max() == pytest.approx(
        1.70164e-05, rel=1e-5
    )
    raw = path.read_bytes()
    first = struct.unpack_from("<d", raw, raw.index(b"data\0D") + 10)[0]  # first stored value = top-left pixel
    assert im.data[0, -1] == np.float32(first)


def test_gwyo_reads_like_its_gwyp_twin(tmp_path):
    rng = np.random.default_rng(0)
    height, phase = rng.normal(size=(6, 9)) * 1e-9, rng.uniform(-90, 90, size=(6, 9))
    fields = {
        "HeightRetrace": data_field(height, 3e-9, 2e-9, "m", "m", xoff=1e-9, yoff=-2e-9),
        "Phase": data_field(phase, 3e-9, 2e-9, "m", "deg"),
    }
    new = read_gwy(write_gwy(tmp_path / "new.gwy", fields))
    old = read_gwy(write_gwy(tmp_path / "old.gwy", fields, old=True))
    assert (new.meta["format"], old.meta["format"]) == ("GWYP", "GWYO")
    for a, b in ((new, old), (read_gwy(tmp_path / "new.gwy", "Phase"), read_gwy(tmp_path / "old.gwy", "Phase"))):
        np.testing.assert_array_equal(a.data, b.data)
        assert (a.size, a.offset, a.unit, a.channel, a.direction) == (b.size, b.offset, b.unit, b.channel, b.direction)
    assert (
        new.shape == (9, 6) and new.size == pytest.approx((30.0, 20.0)) and new.offset == pytest.approx((25.0, -10.0))
    )
    np.testing.assert_array_equal(new.data, height[::-1].T.astype(np.float32))
    assert gwy_channels(tmp_path / "old.gwy") == ["HeightRetrace", "Phase"]


def test_same_numbers_as_gwyfile(spm_files):
    import gwyfile

    ref = gwyfile.util.get_datafields(gwyfile.load(str(spm_files / GWY)))
    for title, f in ref.items():
        im = read_gwy(spm_files / GWY, title)
        np.testing.assert_array_equal(im.data, f.data[::-1].T.astype(np.float32))
        assert im.size == pytest.approx((f.xreal * 1e10, f.yreal * 1e10))


def test_prefixed_units_are_base_units():
    assert [base_unit(u) for u in ("m", "nm", "\u00b5m", "um", "mm", "pA", "kHz", "deg", "", "V")] == [
        "m",
        "m",
        "m",
        "m",
        "m",
        "A",
        "Hz",
        "deg",
        "",
        "V",
    ]


def test_truncated_gwy_raises_within_a_second(spm_files, tmp_path):
    """gwyfile hung forever at 100 bytes and at len - 1 (issue #16); every cut point must raise fast."""
    raw = (spm_files / GWY).read_bytes()
    cuts = [4, 5, 17, 100, 1000, 5000, len(raw) // 2, len(raw) - 9, len(raw) - 2, len(raw) - 1]
    for cut in cuts:
        path = tmp_path / f"cut{cut}.gwy"
        path.write_bytes(raw[:cut])
        t0 = time.perf_counter()
        with pytest.raises(
            SPMFileError, match=rf"cut{cut}\.gwy: not a readable Gwyddion \.gwy file: .*\(at byte \d+\)"
        ):
            read_gwy(path)
        assert time.perf_counter() - t0 < 1.0, cut


def test_hostile_gwy_lengths(tmp_path):
    def file(obj, name):
        return write_raw(tmp_path / name, b"GWYP" + pack_object(obj))

    def write_raw(path, raw):
        path.write_bytes(raw)
        return path

    ok = pack_object(GwyObject("GwyContainer", {"/0/data": data_field(np.zeros((2, 2)), 1e-9, 1e-9)}))
    big = ok.replace(
        struct.pack("<I", 4) + struct.pack("<d", 0.0), struct.pack("<I", 2**31) + struct.pack("<d", 0.0), 1
    )
    with pytest.raises(SPMFileError, match=r"array 'data' of 2147483648 items needs 17179869184 bytes but only"):
        read_gwy(write_raw(tmp_path / "big.gwy", b"GWYP" + big))
    deep = GwyObject("GwySIUnit", {"unitstr": "m"})
    for _ in range(40):
        deep = GwyObject("GwyContainer", {"x": deep})
    with pytest.raises(SPMFileError, match="nested more than 32 deep"):
        read_gwy(file(deep, "deep.gwy"))
    odd = GwyObject("GwyContainer", {"/0/data": data_field(np.zeros((2, 3)), 1e-9, 1e-9)})
    odd.items["/0/data"].items["xres"] = 4
    with pytest.raises(SPMFileError, match=r"'channel 0' has 6 values for its 4x2 pixels; expected 8"):
        read_gwy(file(odd, "odd.gwy"))
    odd.items["/0/data"].items.update(xres=3, xreal=float("nan"))
    with pytest.raises(SPMFileError, match=r"'channel 0' has xreal = nan; expected a finite positive number"):
        read_gwy(file(odd, "nan.gwy"))
    odd.items["/0/data"].items.update(xreal=1e-9, yres=-2)
    with pytest.raises(SPMFileError, match=r"'channel 0' has yres = -2; expected a finite positive number"):
        read_gwy(file(odd, "neg.gwy"))
    not_container = file(data_field(np.zeros((2, 2)), 1e-9, 1e-9), "field.gwy")
    with pytest.raises(SPMFileError, match="holds a GwyDataField, not a GwyContainer"):
        read_gwy(not_container)


def test_all_nan_channel_warns(tmp_path):
    path = write_gwy(tmp_path / "aborted.gwy", {"Height": data_field(np.full((4, 4), np.nan), 1e-9, 1e-9)})
    with pytest.warns(UserWarning, match=r"aborted\.gwy: channel 'Height' holds no finite value"):
        im = read_gwy(path)
    assert np.isnan(im.data).all()
