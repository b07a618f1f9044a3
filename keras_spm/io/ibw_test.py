"""Asylum .ibw reader on the two real scans in shared/data/spm-topographies, and on broken copies."""

import struct

import numpy as np
import pytest

from keras_spm.io import SPMFileError, list_channels, read
from keras_spm.io.ibw import ibw_channels, read_ibw

SCAN = "IgorIBWReader_P0089OP0027.ibw"
STACK = "IgorIBWReader_ImageStack_BTFO_DSO.ibw"


@pytest.fixture(scope="module")
def topo(shared_data):
    folder = shared_data / "spm-topographies"
    if not (folder / SCAN).is_file():
        pytest.skip(f"real .ibw files not found in {folder}")
    return folder


def test_channels_by_label(topo):
    assert ibw_channels(topo / SCAN) == [
        "HeightRetrace",
        "AmplitudeRetrace",
        "DeflectionRetrace",
        "PhaseRetrace",
        "UserIn0Retrace",
    ]  # igor2 alone gives 'PhaseRetracerace', 'UserIn0Retracetrace' (stale bytes after the NUL)
    assert list_channels(topo / STACK) == ["HeightRetrace", "AmplitudeRetrace", "DeflectionRetrace", "PhaseRetrace"]


def test_size_units_and_values(topo):
    for name in (SCAN, STACK):
        h = read(topo / name)
        assert h.channel == "HeightRetrace" and h.unit == "m" and h.direction == "backward"
        assert h.shape == (256, 256) and h.data.dtype == np.float32 and np.isfinite(h.data).all()
        # Asylum: ScanSize 2 um between the first and last pixel centres, 255 pitches of 78.43 A
        assert float(h.meta["note"]["ScanSize"]) == 2e-6 and h.meta["note"]["ScanPoints"] == "256"
        assert h.pixel_size == pytest.approx((2e4 / 255, 2e4 / 255))
        assert h.size == pytest.approx((256 * 2e4 / 255,) * 2)
        assert h.offset == (0.0, 0.0) and h.angle == 0.0
        assert 1e-9 < np.ptp(h.data) < 1e-7  # nm-scale topography in metres
    phase = read_ibw(topo / SCAN, "phase retrace")
    assert phase.channel == "PhaseRetrace" and phase.unit == "deg" and -90 <= phase.data.min() < phase.data.max() <= 270
    assert read_ibw(topo / SCAN, "UserIn0Retrace").unit == "V"  # from the note's UserIn0Unit
    assert read_ibw(topo / SCAN, "AmplitudeRetrace").unit == "m"


def test_layout_matches_the_raw_column_major_data(topo):
    raw = (topo / STACK).read_bytes()
    first = np.frombuffer(raw, "<f4", count=256 * 2, offset=64 + 320)  # x runs fastest, line 0 first
    h = read_ibw(topo / STACK)
    np.testing.assert_array_equal(h.data[:, 0], first[:256])
    np.testing.assert_array_equal(h.data[:, 1], first[256:])


def test_bad_ibw(topo, tmp_path):
    raw = (topo / SCAN).read_bytes()
    with pytest.raises(SPMFileError, match=r"no channel 'Topography'; available channels: HeightRetrace"):
        read_ibw(topo / SCAN, "Topography")
    # Asylum appends 82 kB after the Igor sections: a file cut there still reads right
    (tmp_path / "tail.ibw").write_bytes(raw[:1332624])
    np.testing.assert_array_equal(read_ibw(tmp_path / "tail.ibw").data, read_ibw(topo / SCAN).data)
    cases = {
        "short.ibw": (raw[:200], r"200 bytes is shorter than the 384-byte headers of an Igor binary wave"),
        "cut.ibw": (
            raw[:1311204],
            r"the Igor header announces sections of .* 1332624 bytes in all, but the file has 1311204",
        ),
        "version.ibw": (struct.pack("<h", 7) + raw[2:], r"not an Igor binary wave \(\.ibw\): the first two bytes"),
        "v2.ibw": (struct.pack("<h", 2) + raw[2:], r"Igor binary wave version 2; only version 5"),
        "dims.ibw": (raw[:132] + struct.pack("<i", 300) + raw[136:], r"wave dimensions \[300, 256, 5, 0\] do not hold"),
        "type.ibw": (
            raw[:80] + struct.pack("<h", 3) + raw[82:],
            r"327680 points of type 3 do not fit in the 1310720-byte data section",
        ),
    }
    for name, (content, message) in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(SPMFileError, match=rf"{name.replace('.', '[.]')}: {message}"):
            read_ibw(tmp_path / name)
