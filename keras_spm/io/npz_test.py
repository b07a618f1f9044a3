"""``.npz`` stacks (ED-AFM layout: data (x, y, z), lengthX/lengthY in Angstrom)."""

import numpy as np
import pytest

from keras_spm.io import SPMFileError
from keras_spm.io.npz import read_npz


def _write(path, data, **extra):
    np.savez(path, data=data, lengthX=np.float64(12.5), lengthY=np.float64(10.0), **extra)
    return path


def test_default_convention(tmp_path):
    data = np.random.default_rng(0).normal(size=(50, 40, 6)).astype(np.float32)
    s = read_npz(_write(tmp_path / "s.npz", data))
    assert s.shape == (50, 40, 6) and s.size == (12.5, 10.0) and s.pixel_size == (0.25, 0.25)
    assert s.heights is None and s.channel == "Frequency_Shift"
    np.testing.assert_array_equal(s.data, data)
    assert any("assumed ordered far to close" in n for n in s.notes)


def test_overrides(tmp_path):
    data = np.random.default_rng(1).normal(size=(6, 40, 50)).astype(np.float32)  # stored (z, y, x)
    s = read_npz(_write(tmp_path / "zyx.npz", data), axes="zyx", z_order="close_to_far")
    assert s.shape == (50, 40, 6)
    np.testing.assert_array_equal(s.data[:, :, 0], data[-1].T)  # farthest = last stored slice
    flat = read_npz(_write(tmp_path / "flat.npz", data[0]))
    assert flat.shape == (40, 50, 1)  # a 2-D array is one (x, y) slice


def test_bad_npz(tmp_path):
    np.savez(tmp_path / "nolen.npz", data=np.zeros((4, 4, 2)), X=np.zeros(1))
    with pytest.raises(SPMFileError, match=r"missing key\(s\) lengthX, lengthY.*found: data, X"):
        read_npz(tmp_path / "nolen.npz")
    with pytest.raises(SPMFileError, match="expected \\(x, y, z\\)"):
        read_npz(_write(tmp_path / "4d.npz", np.zeros((2, 3, 4, 5))))
    with pytest.raises(SPMFileError, match="is empty"):
        read_npz(_write(tmp_path / "empty.npz", np.zeros((0, 3, 4))))
    np.savez(tmp_path / "neg.npz", data=np.zeros((4, 4, 2)), lengthX=-1.0, lengthY=2.0)
    with pytest.raises(SPMFileError, match="must be positive"):
        read_npz(tmp_path / "neg.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(SPMFileError, match=r"junk\.npz: could not read as \.npz stack"):
        read_npz(tmp_path / "junk.npz")
    with pytest.raises(ValueError, match="permutation of 'xyz'"):
        read_npz(tmp_path / "neg.npz", axes="xy")
    with pytest.raises(ValueError, match="z_order must be"):
        read_npz(tmp_path / "neg.npz", z_order="up")
