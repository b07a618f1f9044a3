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
    with pytest.raises(SPMFileError, match=r"junk\.npz: not a NumPy \.npz archive"):
        read_npz(tmp_path / "junk.npz")
    with pytest.raises(ValueError, match="permutation of 'xyz'"):
        read_npz(tmp_path / "neg.npz", axes="xy")
    with pytest.raises(ValueError, match="z_order must be"):
        read_npz(tmp_path / "neg.npz", z_order="up")


def test_npz_that_is_not_a_stack(tmp_path):
    np.savez(tmp_path / "objects.npz", data=np.array([{"a": 1}], dtype=object), lengthX=1.0, lengthY=1.0)
    with pytest.raises(
        SPMFileError, match=r"objects\.npz: 'data' holds Python objects \(pickled\), not numbers, so this is not"
    ):
        read_npz(tmp_path / "objects.npz")
    np.save(tmp_path / "single.npy", np.zeros(3))
    (tmp_path / "single.npz").write_bytes((tmp_path / "single.npy").read_bytes())
    with pytest.raises(SPMFileError, match=r"single\.npz: holds a single \.npy array, not an \.npz archive"):
        read_npz(tmp_path / "single.npz")
    (tmp_path / "random.npz").write_bytes(np.random.default_rng(0).bytes(300))
    with pytest.raises(SPMFileError, match=r"random\.npz: not a NumPy \.npz archive, so not an AFM stack"):
        read_npz(tmp_path / "random.npz")
    np.savez(tmp_path / "text.npz", data=np.array(["a", "b"]), lengthX=1.0, lengthY=1.0)
    with pytest.raises(SPMFileError, match=r"text\.npz: 'data' holds <U1 values, not numbers"):
        read_npz(tmp_path / "text.npz")
    np.savez(tmp_path / "two.npz", data=np.zeros((4, 4, 2)), lengthX=[1.0, 2.0], lengthY=1.0)
    with pytest.raises(SPMFileError, match=r"two\.npz: lengthX holds 2 values; expected one size"):
        read_npz(tmp_path / "two.npz")


def test_all_nan_npz_warns_and_is_refused(tmp_path):
    from keras_spm.io import resample_to_model

    path = _write(tmp_path / "aborted.npz", np.full((8, 8, 10), np.nan, np.float32))
    with pytest.warns(UserWarning, match=r"aborted\.npz: channel 'Frequency_Shift' holds no finite value"):
        s = read_npz(path)
    assert s.notes[-1] == "640 of 640 values are NaN or infinite"
    with pytest.raises(SPMFileError, match=r"aborted\.npz: channel 'Frequency_Shift' holds no finite value \(all NaN"):
        resample_to_model(s)
