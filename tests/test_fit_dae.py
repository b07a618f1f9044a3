"""training/fit_dae.py end to end on a tiny run: checkpoints, history, resume, bad arguments."""

import csv
import json
from pathlib import Path

import fit_dae
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data"


TINY = ["--model", "dae", "--variant", "compact", "--patch", "32", "--train-pairs", "16", "--val-pairs", "4",
        "--batch-size", "4", "--steps-per-epoch", "2"]  # fmt: skip


def test_bad_arguments_name_the_fix(tmp_path, capsys):
    with pytest.raises(SystemExit):
        fit_dae.main(["--patch", "40", "--out", str(tmp_path)])
    assert "multiple of 16" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        fit_dae.main(["--variant", "huge", "--out", str(tmp_path)])
    assert "invalid choice" in capsys.readouterr().err


@pytest.mark.skipif(not DATA.is_dir(), reason=f"shared real data not found at {DATA} (CI clones it beside the repo)")
def test_tiny_run_writes_checkpoints_and_resumes(tmp_path):
    out = tmp_path / "dae"
    assert fit_dae.main([*TINY, "--epochs", "1", "--out", str(out)]) == 0
    for f in ("last.keras", "best.keras", "history.csv", "state.json", "pairs.npz"):
        assert (out / f).exists(), f
    assert fit_dae.main([*TINY, "--epochs", "2", "--out", str(out)]) == 0  # resumes at epoch 2, same pairs
    with open(out / "history.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    assert all(float(r["val_loss"]) > 0 for r in rows)
    state = json.loads((out / "state.json").read_text())
    assert state["epoch"] == 2 and state["params"] == 32_833 and state["variant"] == "compact"
    assert fit_dae.main([*TINY, "--epochs", "2", "--out", str(out)]) == 0  # nothing left to do


@pytest.mark.skipif(not DATA.is_dir(), reason=f"shared real data not found at {DATA} (CI clones it beside the repo)")
def test_topography_pairs_are_synthetic_for_training_and_real_val_files_for_validation():
    args = fit_dae.parse_args(["--variant", "topography", "--patch", "32", "--train-pairs", "8", "--val-pairs", "4",
                               "--batch-size", "4", "--out", "unused"])  # fmt: skip
    x, y, vx, vy = fit_dae.topography_pairs(args)
    assert x.shape == (8, 32, 32, 2) and y.shape == (8, 32, 32, 1) and vx.shape == (4, 32, 32, 2)
    again = fit_dae.topography_pairs(args)  # seeded per chunk: the same pairs
    np.testing.assert_array_equal(x, again[0])
    np.testing.assert_array_equal(vx, again[2])
    from keras_spm.sim.topography import REAL_FILES

    assert {s for s, _ in REAL_FILES.values()} == {"val", "test"}  # real files never train


def test_apex_offset_zero_trains_on_centred_tips():
    def tips(offset):  # 12 corrupted pairs of one seed: the same surfaces and tips, only the apex offset differs
        job = (12, 48, 3, 0, 0.0, 25, True, offset)
        return fit_dae._synthetic_chunk(job)[2][..., 0]

    def point_symmetric(t):  # a single centred apex: the profile equals itself turned by 180 degrees
        return np.allclose(t, t[::-1, ::-1], atol=1e-6)

    centred, tilted = tips(0.0), tips(1.0)
    assert sum(map(point_symmetric, centred)) > sum(map(point_symmetric, tilted))
    assert all(t[12, 12] == 0 and t.max() == 0 for t in centred)
    assert fit_dae.parse_args(["--out", "x"]).apex_offset == 1.0  # the default keeps the benchmark's corruption


@pytest.mark.skipif(not DATA.is_dir(), reason=f"shared real data not found at {DATA} (CI clones it beside the repo)")
def test_bf16_run_keeps_the_output_float32(tmp_path):
    import keras

    from keras_spm import precision

    out = tmp_path / "dae_bf16"
    assert fit_dae.main([*TINY, "--epochs", "1", "--precision", "mixed_bfloat16", "--out", str(out)]) == 0
    model = keras.models.load_model(out / "last.keras")
    assert precision.policy_of(model) == "mixed_bfloat16"
    assert model.output.dtype == "float32"


def test_export_raw_of_a_bf16_checkpoint_is_float32(tmp_path):
    import keras

    from keras_spm import precision
    from keras_spm.models import dae
    from keras_spm.models.dae.scaling import is_raw_model

    core = precision.with_policy(dae.from_preset("dae_topography"), "mixed_bfloat16", training=True)
    core.save(tmp_path / "best.keras")
    raw = keras.models.load_model(fit_dae.export_raw(tmp_path), compile=False)
    assert is_raw_model(raw) and precision.policy_of(raw) == "float32"


@pytest.mark.skipif(not DATA.is_dir(), reason=f"shared real data not found at {DATA} (CI clones it beside the repo)")
def test_context_variant_fine_tunes_from_a_raw_unet_on_topography_pairs(tmp_path):
    import keras

    from keras_spm.models.dae import topography_dae_raw
    from keras_spm.models.dae.scaling import is_raw_model

    zoo = tmp_path / "unet_raw.keras"  # the U-Net in its zoo form (the zoo's dae_tip_artifacts until 2026-12-03)
    topography_dae_raw().save(zoo)
    out = tmp_path / "ctx"
    argv = ["--variant", "topography_context", "--patch", "32", "--train-pairs", "8", "--val-pairs", "4",
            "--batch-size", "4", "--steps-per-epoch", "1", "--epochs", "1", "--init", str(zoo), "--out", str(out)]  # fmt: skip
    assert fit_dae.main(argv) == 0
    x = np.load(out / "pairs.npz")["x"]
    assert x.shape == (8, 32, 32, 2)  # synthetic [heights, slope scale] pairs, not the 1-channel AFM surfaces
    state = json.loads((out / "state.json").read_text())
    assert state["variant"] == "topography_context" and state["params"] == 413_553
    raw = keras.models.load_model(out / "best_raw.keras", compile=False)
    assert is_raw_model(raw) and any(layer.name == "context_out" for layer in raw.get_layer(index=2).layers)
