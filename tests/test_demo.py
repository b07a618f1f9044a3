"""The README's main job writes its figure."""

import subprocess
import sys

import numpy as np


def test_demo_writes_the_figure_and_maps(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "keras_spm.demo", "--out", str(tmp_path)], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "demo.png").stat().st_size > 50_000
    data = np.load(tmp_path / "demo.npz")
    assert data["stack"].shape == (128, 128, 10) and data["xyz"].shape == (16, 16, 4)
    assert all(data[k].shape == (128, 128) for k in ("disks", "spheres", "height", "es"))
