"""`keras-spm` console script: zoo list and predict on a real constant-height Nanonis series."""

import subprocess
import sys

import numpy as np
import pytest

CLI = [sys.executable, "-m", "keras_spm.cli"]


def test_zoo_list_prints_the_registry():
    from keras_spm import zoo

    out = subprocess.run(CLI + ["zoo", "list"], capture_output=True, text=True, timeout=120, check=True).stdout
    for name in zoo.available():
        assert name in out


def test_predict_on_the_real_sxm_series(shared_data, tmp_path):
    from keras_spm import zoo

    if "dsh_heavy" not in zoo.available():
        pytest.skip("dsh_heavy is not in the zoo yet")
    series = shared_data / "spm-files" / "nanonis_stack"
    result = subprocess.run(
        CLI + ["predict", "dsh_heavy", str(series), "-o", str(tmp_path)], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "padded" in result.stderr and "slices" in result.stderr  # it says what it did to the input
    maps = np.load(tmp_path / "nanonis_stack_maps.npz")
    assert maps["input"].shape == (128, 128, 10)
    assert {"disks", "spheres", "height"} <= set(maps.files)
    assert all(np.isfinite(maps[k]).all() and maps[k].shape == (128, 128) for k in ("disks", "spheres", "height"))
    assert (tmp_path / "nanonis_stack_prediction.png").stat().st_size > 10_000


def test_predict_bad_input_is_a_clear_error(shared_data, tmp_path):
    single = shared_data / "spm-files" / "01514.sxm"
    result = subprocess.run(
        CLI + ["predict", "dsh_heavy", str(single), "-o", str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0 and "single image" in result.stderr
    bad = tmp_path / "scan.xyz"
    bad.write_text("nothing")
    result = subprocess.run(
        CLI + ["predict", "dsh_heavy", str(bad), "-o", str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0 and "unsupported format" in result.stderr
    assert "Traceback" not in result.stderr


def test_predict_two_tip_model_from_npz_stacks(tmp_path):
    """es takes a CO and a Xe stack, given as TIP=PATH; a missing tip names the form it wants."""
    from keras_spm import zoo

    if "es" not in zoo.available():
        pytest.skip("es is not in the zoo yet")
    rng = np.random.default_rng(0)
    for tip in ("CO", "Xe"):
        data = rng.standard_normal((128, 128, 10)).astype("float32")
        np.savez(tmp_path / f"{tip}.npz", data=data, lengthX=15.875, lengthY=15.875)
    out = tmp_path / "out"
    args = ["predict", "es", f"CO={tmp_path / 'CO.npz'}", f"Xe={tmp_path / 'Xe.npz'}", "-o", str(out)]
    result = subprocess.run(CLI + args, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    maps = np.load(out / "CO_maps.npz")
    assert maps["input_CO"].shape == maps["input_Xe"].shape == (128, 128, 10)
    assert maps["es"].shape == maps["height"].shape == (128, 128) and np.isfinite(maps["es"]).all()
    result = subprocess.run(CLI + ["predict", "es", str(tmp_path / "CO.npz")], capture_output=True, text=True)
    assert result.returncode != 0 and "CO=PATH Xe=PATH" in result.stderr and "Traceback" not in result.stderr


def test_predict_xyz_writes_decoded_atoms(shared_data, tmp_path):
    from keras_spm import zoo

    if "xyz" not in zoo.available():
        pytest.skip("xyz is not in the zoo yet")
    series = shared_data / "spm-files" / "nanonis_stack"
    result = subprocess.run(
        CLI + ["predict", "xyz", str(series), "-o", str(tmp_path)], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    maps = np.load(tmp_path / "nanonis_stack_maps.npz")
    assert maps["xyz_class"].shape == (16, 16, 2) and maps["atoms"].ndim == 2 and maps["atoms"].shape[1] == 4
    assert (maps["atoms"][:, 3] >= 0.5).all() and f"{len(maps['atoms'])} atoms" in result.stderr
