"""training/fit_effunet.py end to end on a tiny two-stage run (64 px images, small decoder)."""

import csv
import json
from pathlib import Path

import fit_effunet
import pytest

ROOT = Path(__file__).resolve().parents[1]


TINY = ["--model", "effunet", "--backbone", "b0_half", "--decoder-filters", "16,16,8,8,8", "--image-size", "64",
        "--crop", "64", "--train-images", "4", "--val-images", "1", "--batch-size", "2", "--steps-per-epoch", "1"]  # fmt: skip


def test_bad_arguments(tmp_path, capsys):
    with pytest.raises(SystemExit):
        fit_effunet.main(["--crop", "100", "--out", str(tmp_path)])
    assert "multiples of 32" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        fit_effunet.main(["--decoder-filters", "8,8", "--out", str(tmp_path)])
    assert "five widths" in capsys.readouterr().err


def test_two_stages_write_checkpoints_and_resume(tmp_path):
    import keras

    out = tmp_path / "eu"
    assert fit_effunet.main([*TINY, "--epochs", "1", "--stage2-epochs", "1", "--out", str(out)]) == 0
    for stage in ("stage1", "stage2"):
        for f in ("last.keras", "best.keras", "history.csv", "state.json"):
            assert (out / stage / f).exists(), (stage, f)
    s2 = json.loads((out / "stage2" / "state.json").read_text())
    assert s2["stage"] == 2 and s2["epoch"] == 1
    model = keras.models.load_model(out / "stage2" / "best.keras")
    assert model.loss.name == "border_weighted" and model.output_shape == (None, 64, 64, 3)
    # rerun with one more stage-2 epoch: stage 1 is done, stage 2 resumes at epoch 2
    assert fit_effunet.main([*TINY, "--epochs", "1", "--stage2-epochs", "2", "--out", str(out)]) == 0
    with open(out / "stage2" / "history.csv") as f:
        assert [int(r["epoch"]) for r in csv.DictReader(f)] == [1, 2]
