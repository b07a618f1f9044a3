"""Nanonis readers on the real files in shared/data/spm-files, and on corrupted copies of them."""

import numpy as np
import pytest

from keras_spm.io import SPMFileError, resample_to_model
from keras_spm.io.nanonis import grid_channels, read_3ds, read_sxm, sxm_channels

STACK = "nanonis_stack"


def _corr(a, b):
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))


def test_01514_frame_channels_and_setpoint(spm_files):
    path = spm_files / "01514.sxm"
    assert sxm_channels(path) == [
        "Z",
        "temperature_AFM",
        "Applied_Voltage_measured",
        "Bias",
        "Current",
        "Phase",
        "Amplitude",
        "Frequency_Shift",
        "Excitation",
    ]
    im = read_sxm(path)
    assert im.channel == "Frequency_Shift" and im.unit == "Hz" and im.direction == "forward"
    assert im.shape == (160, 160) and im.data.dtype == np.float32
    assert im.size == pytest.approx((50.0, 50.0)) and im.pixel_size == pytest.approx((0.3125, 0.3125))
    assert im.offset == pytest.approx((2480.944, -1512.108))
    assert im.angle == 0.0 and im.bias == pytest.approx(-1.77e-3)
    # constant height: feedback off, tip height from the Z-Controller>Z (m) header
    assert im.z_controller_on is False and im.z == pytest.approx(-15.658)
    assert im.setpoint == pytest.approx(5e-12) and im.setpoint_unit == "A"
    assert np.isfinite(im.data).all()


def test_image_445_is_not_square_and_rotated(spm_files):
    im = read_sxm(spm_files / "Image_445.sxm", channel="frequency shift")  # name matching is lenient
    assert im.channel == "Frequency_Shift"
    assert im.shape == (96, 192)  # 96 pixels per line (x), 192 lines (y)
    assert im.size == pytest.approx((20.0, 40.0)) and im.angle == 59.0
    assert im.z == pytest.approx(-143.049)
    z = read_sxm(spm_files / "Image_445.sxm", channel="Z")
    assert z.unit == "m" and z.shape == (96, 192)


def test_backward_images_are_flipped_back_in_x(spm_files):
    for path in (spm_files / "01514.sxm", spm_files / STACK / "A170315.174532-00402.sxm"):
        fwd = read_sxm(path, direction="forward").data
        bwd = read_sxm(path, direction="backward")
        assert bwd.direction == "backward"
        assert _corr(fwd, bwd.data) > 0.85
        assert _corr(fwd, bwd.data) > _corr(fwd, bwd.data[::-1, :]) + 0.1


def test_scan_down_rows_are_flipped(spm_files):
    # 00393 is scanned top-down, 00394 bottom-up, at the same tip height: after reading they overlay
    down = read_sxm(spm_files / STACK / "A170315.172707-00393.sxm")
    up = read_sxm(spm_files / STACK / "A170315.172917-00394.sxm")
    assert down.meta["SCAN_DIR"] == "down" and up.meta["SCAN_DIR"] == "up"
    assert down.z == up.z
    # measured: 0.71 as read, 0.04 without the row flip (noise-limited: the farthest, weakest-contrast height)
    assert _corr(down.data, up.data) > 0.6
    assert _corr(down.data[:, ::-1], up.data) < 0.2


def test_missing_channel_lists_available(spm_files):
    with pytest.raises(SPMFileError, match=r"no channel 'LIX'.*available channels: Z, .*Frequency_Shift"):
        read_sxm(spm_files / "01514.sxm", channel="LIX")
    with pytest.raises(ValueError, match="direction must be one of"):
        read_sxm(spm_files / "01514.sxm", direction="up")


def test_corrupted_sxm(spm_files, tmp_path):
    raw = (spm_files / "01514.sxm").read_bytes()
    cut = tmp_path / "cut.sxm"
    cut.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(SPMFileError, match=r"cut\.sxm: file is truncated"):
        read_sxm(cut)
    no_end = tmp_path / "no_end.sxm"
    no_end.write_bytes(raw[:2000])
    with pytest.raises(SPMFileError, match=r"no_end\.sxm: no ':SCANIT_END:'"):
        read_sxm(no_end)
    bigger = tmp_path / "bigger.sxm"
    bigger.write_bytes(raw.replace(b"       160       160", b"       320       320", 1))
    with pytest.raises(SPMFileError, match="truncated"):
        read_sxm(bigger)
    bad_number = tmp_path / "bad_number.sxm"
    bad_number.write_bytes(raw.replace(b"5.000000E-9           5.000000E-9", b"five nm      five nm", 1))
    with pytest.raises(
        SPMFileError,
        match=r"bad_number\.sxm: header field SCAN_RANGE is 'five nm      five nm'; expected two positive lengths in metres",
    ):
        read_sxm(bad_number)
    with pytest.raises(FileNotFoundError, match="nothere.sxm"):
        read_sxm(tmp_path / "nothere.sxm")


# ---------------------------------------------------------------------------------------------- 3ds


def test_grid_header_and_default_heights(spm_files):
    path = spm_files / "Grid_Spectroscopy006.3ds"
    names = grid_channels(path)
    assert len(names) == 16 and "Frequency Shift (Hz)" in names and "Frequency Shift [bwd] (Hz)" in names
    s = read_3ds(path)
    assert s.channel == "Frequency Shift (Hz)" and s.unit == "Hz"
    assert s.size == pytest.approx((30.0, 30.0)) and s.offset == pytest.approx((-1485.19, 2724.765))
    # 256-point sweep from +2 to -8 A; curves stop early, all measured ones reach -3.216 A
    assert s.heights[0] == pytest.approx(2.0) and s.heights[-1] == pytest.approx(-3.2157, abs=1e-3)
    assert np.all(np.diff(s.heights) < 0) and s.shape == (32, 32, s.heights.size)
    # only 88 of 1024 points were measured: lines 0-1 and the first 24 points of line 2
    measured = np.isfinite(s.data).all(axis=2)
    assert measured.sum() == 88 and measured[:, :2].all() and measured[:24, 2].all() and not measured[24:, 2].any()
    assert any("88 of 1024 points measured" in n for n in s.notes)
    # df grows in magnitude as the tip approaches (attractive regime): larger Z is farther away
    mean_df = np.nanmean(s.data, axis=(0, 1))
    assert mean_df[0] > mean_df[-1] + 5


def test_grid_absolute_heights_match_recorded_z(spm_files):
    # the recorded Z channel interpolated at absolute Z heights must give back those heights
    path = spm_files / "Grid_Spectroscopy006.3ds"
    heights = [-45.0, -46.5, -48.0]
    s = read_3ds(path, channel="Z", heights=heights, absolute=True)
    assert s.heights.tolist() == [-45.0, -46.5, -48.0]
    z = s.data[:, :2] * 1e10
    assert np.allclose(z, np.array(heights)[None, None, :], atol=0.01)
    bwd = read_3ds(path, heights=[0.0, -1.0], direction="backward")
    assert bwd.channel == "Frequency Shift [bwd] (Hz)" and bwd.heights.tolist() == [0.0, -1.0]


def test_grid_bad_input(spm_files, tmp_path):
    path = spm_files / "Grid_Spectroscopy006.3ds"
    with pytest.raises(SPMFileError, match=r"no channel 'Force'.*Frequency Shift \(Hz\)"):
        read_3ds(path, channel="Force")
    with pytest.raises(ValueError, match="heights must be a non-empty"):
        read_3ds(path, heights=[])
    raw = path.read_bytes()
    end = raw.index(b":HEADER_END:\r\n") + len(b":HEADER_END:\r\n")
    header_only = tmp_path / "header_only.3ds"
    header_only.write_bytes(raw[:end])
    with pytest.raises(SPMFileError, match="holds no measured point"):
        read_3ds(header_only)
    bias = tmp_path / "bias.3ds"
    bias.write_bytes(raw.replace(b'Sweep Signal="Z (m)"', b'Sweep Signal="Bias (V)"', 1))
    with pytest.raises(SPMFileError, match="sweep signal is 'Bias \\(V\\)'"):
        read_3ds(bias)
    no_header = tmp_path / "garbage.3ds"
    no_header.write_bytes(b"\x00\x01 not a grid" * 100)
    with pytest.raises(SPMFileError, match=r"garbage\.3ds: could not read as Nanonis \.3ds"):
        read_3ds(no_header)


def test_same_pixels_as_nanonispy(spm_files, monkeypatch):
    # nanonispy 1.1.0's Scan needs np.float/np.int (gone since NumPy 1.24); with them restored it is an
    # independent reader of the raw layout: (channel, direction, line, pixel) in acquisition order
    import nanonispy.read as nread

    monkeypatch.setattr(np, "float", float, raising=False)
    monkeypatch.setattr(np, "int", int, raising=False)
    path = spm_files / "01514.sxm"  # SCAN_DIR up: lines bottom to top, as ours
    ref = nread.Scan(str(path)).signals["Frequency_Shift"]
    np.testing.assert_array_equal(read_sxm(path).data, ref["forward"].T)
    np.testing.assert_array_equal(read_sxm(path, direction="backward").data, ref["backward"][:, ::-1].T)


def _rewrite(src, dst, header_edit, images):
    """Copy an .sxm with an edited header and the given images (big- or little-endian per the header)."""
    raw = src.read_bytes()
    start = raw.index(b"\x1a\x04") + 2
    header = header_edit(raw[:start].decode("latin-1"))
    dtype = "<f4" if "LSBFIRST" in header else ">f4"
    dst.write_bytes(header.encode("latin-1") + b"".join(np.asarray(im, dtype=dtype).tobytes() for im in images))
    return dst


def _edit(src, dst, old: bytes, new: bytes):
    raw = src.read_bytes()
    assert old in raw, old
    dst.write_bytes(raw.replace(old, new, 1))
    return dst


def test_bad_sxm_headers_issue_16(spm_files, tmp_path):
    """Each header a user met in issue #16, and the message it now gives (file, field, value, expectation)."""
    src = spm_files / "01514.sxm"  # SCAN_PIXELS "       160       160", 9 channels x 2 directions
    pixels = b"       160       160"
    cases = {
        "smaller.sxm": (
            pixels,
            b"        64        64",
            r"the data block is 1843200 bytes but the header announces 18 images "
            r"of 64x64 px \(294912 bytes, from SCAN_PIXELS and DATA_INFO\)",
        ),
        "zero.sxm": (
            pixels,
            b"         0         0",
            r"header field SCAN_PIXELS is '0         0'; expected two positive "
            r"whole numbers \(pixels per line, lines\)",
        ),
        "negative.sxm": (
            pixels,
            b"      -160       160",
            r"header field SCAN_PIXELS is '-160       160'; expected two "
            r"positive whole numbers",
        ),
        "one.sxm": (pixels, b"       160          ", r"header field SCAN_PIXELS is '160'; expected two positive"),
        "range.sxm": (
            b"5.000000E-9           5.000000E-9",
            b"5.000000E-9           0.000000E+0",
            r"header field SCAN_RANGE is '5.000000E-9           0.000000E\+0'; expected two positive lengths",
        ),
        "dir.sxm": (b":SCAN_DIR:\nup", b":SCAN_DIR:\nleft", r"header field SCAN_DIR is 'left'; expected up or down"),
        "info.sxm": (
            b"\tboth\t",
            b"\tboht\t",
            r"DATA_INFO direction of channel 'Z' is 'boht'; expected both, forward "
            r"or backward",
        ),
        "noinfo.sxm": (
            b":DATA_INFO:",
            b":DATA_INFX:",
            r"no DATA_INFO channel table in the header; expected a tab-separated table",
        ),
        "type.sxm": (
            b"FLOAT            MSBFIRST",
            b"INT              MSBFIRST",
            r"header field SCANIT_TYPE is 'INT              MSBFIRST'; expected FLOAT MSBFIRST",
        ),
        "marker.sxm": (
            b":SCANIT_END:\n\n\n",
            b":SCANIT_END:\nxx\n",
            r"expected only line breaks and then the bytes "
            r"0x1A 0x04 after ':SCANIT_END:', found b'\\nxx\\n'",
        ),
        "angle.sxm": (
            b":SCAN_ANGLE:\n",
            b":SCAN_ANGLE:\nabc",
            r"header field SCAN_ANGLE is 'abc.*'; expected one angle",
        ),
    }
    for name, (old, new, message) in cases.items():
        with pytest.raises(SPMFileError, match=rf"{name.replace('.', '[.]')}: {message}"):
            read_sxm(_edit(src, tmp_path / name, old, new))
    longer = tmp_path / "longer.sxm"
    longer.write_bytes(src.read_bytes() + b"\0\0\0\0")
    with pytest.raises(SPMFileError, match=r"longer\.sxm: the data block is 1843204 bytes but the header announces"):
        read_sxm(longer)
    with pytest.raises(SPMFileError, match=r"noinfo\.sxm: no DATA_INFO"):
        sxm_channels(tmp_path / "noinfo.sxm")


def test_nanonis_case_insensitive_fields(spm_files, tmp_path):
    src = spm_files / "01514.sxm"
    both = _edit(src, tmp_path / "Both.sxm", b"\tboth\t", b"\tBoth\t")  # Z's row: still forward + backward
    np.testing.assert_array_equal(read_sxm(both, "Z", "backward").data, read_sxm(src, "Z", "backward").data)
    np.testing.assert_array_equal(read_sxm(both).data, read_sxm(src).data)
    up = _edit(src, tmp_path / "UP.sxm", b":SCAN_DIR:\nup", b":SCAN_DIR:\nUP")
    np.testing.assert_array_equal(read_sxm(up).data, read_sxm(src).data)


def test_all_nan_scan_warns(spm_files, tmp_path):
    src = spm_files / STACK / "A170315.174532-00402.sxm"
    nan = np.full((16, 48, 48), np.nan, np.float32)
    aborted = _rewrite(src, tmp_path / "aborted.sxm", lambda h: h, nan)
    with pytest.warns(UserWarning, match=r"aborted\.sxm: channel 'Frequency_Shift \(forward\)' holds no finite value"):
        im = read_sxm(aborted)
    assert np.isnan(im.data).all()
    with pytest.raises(SPMFileError, match=r"aborted\.sxm: channel 'Frequency_Shift' holds no finite value \(all NaN"):
        resample_to_model(im, n_slices=1)


def test_little_endian_and_forward_only_files(spm_files, tmp_path):
    src = spm_files / STACK / "A170315.174532-00402.sxm"
    n = 8  # channels
    raw = np.frombuffer(src.read_bytes()[src.read_bytes().index(b"\x1a\x04") + 2 :], ">f4").reshape(n, 2, 48, 48)
    little = _rewrite(src, tmp_path / "lsb.sxm", lambda h: h.replace("MSBFIRST", "LSBFIRST"), raw.reshape(-1, 48, 48))
    np.testing.assert_array_equal(read_sxm(little).data, read_sxm(src).data)
    fwd_only = _rewrite(src, tmp_path / "fwd.sxm", lambda h: h.replace("\tboth\t", "\tforward\t"), raw[:, 0])
    np.testing.assert_array_equal(read_sxm(fwd_only).data, read_sxm(src).data)
    with pytest.raises(SPMFileError, match="'Frequency_Shift' was not recorded in the backward direction"):
        read_sxm(fwd_only, direction="backward")
