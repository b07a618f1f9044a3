"""training/fit.py end to end: a few tiny epochs and resume after kill -9."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIT = [sys.executable, str(ROOT / "training" / "fit.py")]
TINY = ["--molecules", "4", "--val-molecules", "2", "--batch-size", "2", "--workers", "1"]


def run(args, **kwargs):
    return subprocess.run(FIT + args, capture_output=True, text=True, timeout=600, cwd=ROOT, **kwargs)


def history(out: Path) -> list[dict]:
    with open(out / "history.csv") as f:
        return list(csv.DictReader(f))


def test_unknown_model_names_the_choices(tmp_path):
    result = run(["--model", "resnet", "--out", str(tmp_path)])
    assert result.returncode != 0 and "unknown --model 'resnet'; expected one of: dsh, es, xyz" in result.stderr


def test_resume_after_kill_continues_with_optimizer_state(tmp_path):
    out = tmp_path / "run"
    args = ["--model", "dsh", *TINY, "--epochs", "3", "--out", str(out)]
    proc = subprocess.Popen(
        FIT + args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.time() + 300
    while time.time() < deadline:  # wait for the first finished epoch, then kill in the middle of the second
        state = out / "state.json"
        if state.exists() and json.loads(state.read_text())["epoch"] >= 1:
            break
        time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("the first epoch never finished")
    time.sleep(1.0)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    epoch_at_kill = json.loads((out / "state.json").read_text())["epoch"]
    assert 1 <= epoch_at_kill < 3
    import keras

    import keras_spm.models.afm  # noqa: F401  (registers the serializable layers)

    per_epoch = int(keras.models.load_model(out / "last.keras").optimizer.iterations.numpy()) / epoch_at_kill
    assert per_epoch >= 2

    result = run(args)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"resuming dsh from {out / 'last.keras'} after epoch {epoch_at_kill}" in result.stderr
    assert [int(r["epoch"]) for r in history(out)] == [1, 2, 3]
    state = json.loads((out / "state.json").read_text())
    assert state["epoch"] == 3 and (out / "best.keras").exists() and (out / "tensorboard").is_dir()

    model = keras.models.load_model(out / "last.keras")
    # the optimizer's step count went on from the checkpoint: its state survived the kill
    assert int(model.optimizer.iterations.numpy()) == 3 * per_epoch


def test_loss_weights_override_and_bad_names(tmp_path):
    import fit

    assert fit.parse_loss_weights("dsh", "disks=60") == {"loss_weights": {"disks": 60.0, "spheres": 0.3, "height": 0.2}}
    assert fit.parse_loss_weights("xyz", "xyz_offset=0.5") == {"position_weight": 0.5}
    assert fit.parse_loss_weights("es", None) is None
    with pytest.raises(ValueError, match="NAME one of es, height"):
        fit.parse_loss_weights("es", "disks=3")
    with pytest.raises(ValueError, match="only xyz_offset"):
        fit.parse_loss_weights("xyz", "xyz_class=2")


def test_train_only_freezes_the_other_layers():
    import fit

    from keras_spm.models import afm

    model = afm.dsh()
    fit.freeze_all_but(model, ["spheres_", "height_"])
    trainable = {w.path.split("/")[0] for w in model.trainable_weights}
    assert trainable and all(name.startswith(("spheres_", "height_")) for name in trainable)
    assert len(model.non_trainable_weights) > 0
    with pytest.raises(SystemExit, match="matches no layer"):
        fit.freeze_all_but(afm.dsh(), ["nothing_"])


def test_cosine_schedule_values_and_run(tmp_path):
    from keras_spm.training.callbacks import cosine_lr

    assert cosine_lr(0, 10, 1e-3) == pytest.approx(1e-3)
    assert cosine_lr(9, 10, 1e-3) == pytest.approx(1e-5)
    assert cosine_lr(0, 10, 1e-3) > cosine_lr(3, 10, 1e-3) > cosine_lr(6, 10, 1e-3) > cosine_lr(9, 10, 1e-3)
    assert cosine_lr(12, 10, 1e-3) == pytest.approx(1e-5)  # past the end: stays at the floor
    out = tmp_path / "cos"
    result = run(
        ["--model", "dsh", *TINY, "--epochs", "2", "--lr", "2e-3", "--lr-schedule", "cosine", "--out", str(out)]
    )
    assert result.returncode == 0, result.stderr[-2000:]
    import keras

    import keras_spm.models.afm  # noqa: F401  (registers the serializable layers)

    lr = float(keras.models.load_model(out / "last.keras").optimizer.learning_rate.numpy())
    assert lr == pytest.approx(2e-5, rel=1e-4)  # the last epoch ran at 1 % of --lr


def test_augmentation_defaults_per_model_and_override(tmp_path):
    import fit

    from keras_spm.data.augment import AUGMENTATIONS

    assert {r.augmentation for r in fit.RECIPES.values()} <= set(AUGMENTATIONS)
    assert (
        fit.RECIPES["dsh"].augmentation == "asd-afm-random-noise"
        and fit.RECIPES["es"].augmentation == "drift-random-noise"
    )
    args = fit.parse_args(["--model", "dsh", "--augmentation", "asd-afm", "--out", str(tmp_path)])
    assert args.augmentation == "asd-afm"
    bad = run(["--model", "dsh", "--augmentation", "cutmix", "--out", str(tmp_path)])
    assert bad.returncode != 0 and "invalid choice: 'cutmix'" in bad.stderr
