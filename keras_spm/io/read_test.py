"""read() dispatch on every real file, and the errors a user sees for bad input."""

import numpy as np
import pytest

from keras_spm.io import SPMFileError, SPMImage, SPMStack, list_channels, read


def test_dispatch_on_real_files(spm_files):
    sxm = read(spm_files / "01514.sxm")
    assert isinstance(sxm, SPMImage) and sxm.channel == "Frequency_Shift" and sxm.shape == (160, 160)
    assert read(spm_files / "01514.sxm", channel="Current").unit == "A"
    grid = read(spm_files / "Grid_Spectroscopy006.3ds", heights=[1.0, 0.0, -1.0])
    assert isinstance(grid, SPMStack) and grid.shape == (32, 32, 3)
    gwy = read(spm_files / "PTO_110_Virgin0001.gwy", channel="AmplitudeRetrace")
    assert isinstance(gwy, SPMImage) and gwy.shape == (256, 256)
    series = read(spm_files / "nanonis_stack")
    assert isinstance(series, SPMStack) and series.shape == (48, 48, 16)
    assert "Frequency_Shift" in list_channels(spm_files / "Image_445.sxm")
    assert list_channels(spm_files / "PTO_110_Virgin0001.gwy")[0] == "HeightRetrace"
    assert len(list_channels(spm_files / "Grid_Spectroscopy006.3ds")) == 16


def test_npz_and_case_insensitive_extension(tmp_path):
    with open(tmp_path / "s.NPZ", "wb") as f:  # np.savez would append ".npz" to the name
        np.savez(f, data=np.ones((8, 8, 10), np.float32), lengthX=2.0, lengthY=2.0)
    s = read(tmp_path / "s.NPZ")
    assert isinstance(s, SPMStack) and s.shape == (8, 8, 10) and list_channels(tmp_path / "s.NPZ") == ["data"]


def test_bad_input(spm_files, tmp_path):
    (tmp_path / "scan.tif").write_bytes(b"II*\x00")
    with pytest.raises(ValueError, match=r"unsupported format '\.tif'; .*Supported: \.sxm .*\.3ds .*\.gwy .*\.npz"):
        read(tmp_path / "scan.tif")
    with pytest.raises(ValueError, match="unsupported format '\\(no extension\\)'"):
        read(tmp_path / "scan")
    with pytest.raises(FileNotFoundError, match="missing.sxm: no such file"):
        read(tmp_path / "missing.sxm")
    with pytest.raises(SPMFileError, match=r"no channel 'Force'; available channels: HeightRetrace"):
        read(spm_files / "PTO_110_Virgin0001.gwy", channel="Force")
    with pytest.raises(SPMFileError, match=r"no channel 'Topo'; available channels: Z, LI_X"):
        read(spm_files / "Image_445.sxm", channel="Topo")
    # a file with the wrong content for its extension: one clear error naming the file, no deep traceback
    fake = tmp_path / "really_a_gwy.sxm"
    fake.write_bytes((spm_files / "PTO_110_Virgin0001.gwy").read_bytes()[:4096])
    with pytest.raises(SPMFileError, match=r"really_a_gwy\.sxm: no ':SCANIT_END:'"):
        read(fake)
    fake3ds = tmp_path / "really_a_sxm.3ds"
    fake3ds.write_bytes((spm_files / "01514.sxm").read_bytes())
    with pytest.raises(SPMFileError, match=r"really_a_sxm\.3ds: could not read as Nanonis \.3ds"):
        read(fake3ds)


@pytest.mark.parametrize(
    "name, maker", [("scan.mtrx", "Omicron MATRIX"), ("scan.001", "NanoScope"), ("scan.jpk", "JPK"), ("scan.xyz", None)]
)
def test_another_makers_file_is_refused_with_the_conversion_that_fixes_it(tmp_path, name, maker):
    path = tmp_path / name
    path.write_bytes(b"\0" * 16)
    with pytest.raises(ValueError, match="open it in Gwyddion and save it as .gwy") as err:
        read(path)
    assert (maker or "if your instrument software") in str(err.value)
