"""The same .keras file gives the same predictions on the TensorFlow and torch backends."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from keras_spm.models.afm import dsh, es, load_original_asd_afm, standardize_stack, xyz

WEIGHTS = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "asd-afm" / "model_light.h5"

TORCH_SCRIPT = """
import sys, numpy as np, keras
import keras_spm.models.afm  # registers the serializable layers
assert keras.backend.backend() == "torch", keras.backend.backend()
folder = sys.argv[1]
for name in sys.argv[2:]:
    model = keras.saving.load_model(f"{folder}/{name}.keras")
    x = dict(np.load(f"{folder}/{name}_x.npz"))
    x = x["x"] if set(x) == {"x"} else x
    y = model.predict(x, verbose=0)
    np.savez(f"{folder}/{name}_torch.npz", **{k: np.asarray(v) for k, v in y.items()})
"""


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed (pip install torch)")
def test_tensorflow_and_torch_predictions_agree(tmp_path):
    if keras.backend.backend() != "tensorflow":
        pytest.skip("the reference side of this test runs on the TensorFlow backend")
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    full = standardize_stack(rng.normal(size=(2, 128, 128, 10)))
    stack = full[:, :64, :64]
    cases = {
        "dsh": (dsh(), {"x": full}),
        "es": (es((64, 64, 6)), {"CO": stack[..., :6], "Xe": stack[..., 4:]}),
        "xyz": (xyz((64, 64, 10)), {"x": stack}),
    }
    if WEIGHTS.is_file():  # the published weights too, when the shared data is there
        cases["asd_afm_light"] = (load_original_asd_afm(WEIGHTS), {"x": full})
    expected = {}
    for name, (model, x) in cases.items():
        model.save(tmp_path / f"{name}.keras")
        np.savez(tmp_path / f"{name}_x.npz", **x)
        expected[name] = model.predict(x["x"] if "x" in x else x, verbose=0)
    env = {**os.environ, "KERAS_BACKEND": "torch", "CUDA_VISIBLE_DEVICES": ""}
    run = subprocess.run(
        [sys.executable, "-c", TORCH_SCRIPT, str(tmp_path), *cases],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    for name, want in expected.items():
        got = np.load(tmp_path / f"{name}_torch.npz")
        assert set(got) == set(want)
        for k in want:
            np.testing.assert_allclose(got[k], want[k], atol=1e-4, err_msg=f"{name}/{k}")
