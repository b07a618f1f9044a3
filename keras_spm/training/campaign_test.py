"""A campaign end to end on tiny settings: it trains, logs, checkpoints, survives kill -9 and resumes."""

import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from keras_spm.training import campaign
from keras_spm.training.replay import producer_order
from keras_spm.training.runs import read_csv, read_json

ROOT = Path(__file__).resolve().parents[2]


def test_campaign_settings_come_from_the_preset():
    cm = campaign.campaign_model("xyz")
    assert (cm.fit_model, cm.tips, cm.descriptors, cm.targets) == ("xyz", ("CO",), ("xyz",), "xyz")
    assert (cm.sets, cm.elements, cm.full_set) == (("light", "planar"), "light", True)
    es = campaign.campaign_model("es", shipped=True)
    assert es.tips == ("CO", "Xe") and es.sets == ("heavy", "planar") and es.elements == "heavy" and not es.full_set
    with pytest.raises(ValueError, match="unknown molecule set"):
        campaign.campaign_model("xyz", "light,qm7")
    with pytest.raises(ValueError, match="no AFM zoo preset 'pix2pix_stem'"):
        campaign.campaign_model("pix2pix_stem")


def test_bad_arguments_are_refused_before_any_work(capsys):
    with pytest.raises(SystemExit) as exit_info:
        campaign.parse_args(["--model", "xyzz"])
    assert exit_info.value.code == 2 and "no AFM zoo preset 'xyzz'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        campaign.parse_args(["--model", "xyz", "--promote-every", "0.75", "--no-promote"])
    assert "--promote-every needs a positive number of hours" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        campaign.parse_args(["--model", "xyz", "--beta2", "1.0"])
    assert "--beta2 must be in (0, 1)" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        campaign.parse_args(["--model", "xyz", "--es-scale", "0.02"])
    assert "--es-scale needs a positive field (V/A) and a model with an ES map" in capsys.readouterr().err
    assert campaign.parse_args(["--model", "es", "--es-scale", "0.02"]).es_scale == 0.02
    assert campaign.parse_args(["--model", "xyz"]).beta2 == 0.99  # new runs: the setting that did not rise (run 10)


def test_a_long_run_promotes_its_new_best_at_most_every_promote_every_hours():
    assert campaign.promotion_due(0.75, better=True, since_seconds=0.75 * 3600)
    assert not campaign.promotion_due(0.75, better=True, since_seconds=0.5 * 3600)  # too soon
    assert not campaign.promotion_due(0.75, better=False, since_seconds=2 * 3600)  # nothing new to promote
    assert not campaign.promotion_due(None, better=True, since_seconds=9 * 3600)  # only when asked


def test_promotion_rewrites_only_its_registry_entry(tmp_path):
    registry = tmp_path / "registry.py"
    original = (ROOT / "keras_spm" / "zoo" / "registry.py").read_text()
    registry.write_text(original)
    campaign.set_registry_sha256("xyz", "a" * 64, registry)
    changed = [(a, b) for a, b in zip(original.splitlines(), registry.read_text().splitlines(), strict=True) if a != b]
    assert len(changed) == 1 and 'sha256="' + "a" * 64 in changed[0][1]
    with pytest.raises(RuntimeError, match="no registry entry 'nope'"):
        campaign.set_registry_sha256("nope", "b" * 64, registry)
    # a preset's first promotion adds its entry: drop es_6slice's to see it come back
    text = registry.read_text()
    start = text.index('    "es_6slice": ZooEntry(')
    registry.write_text(text[:start] + text[text.index("    ),\n", start) + len("    ),\n") :])
    assert '"es_6slice"' not in registry.read_text()
    campaign.set_registry_sha256("es_6slice", "c" * 64, registry)
    namespace = {}
    exec(compile(registry.read_text(), str(registry), "exec"), namespace)
    entry = namespace["REGISTRY"]["es_6slice"]
    assert entry.sha256 == "c" * 64 and entry.kind == "afm.es" and entry.revision is None
    entry.validate("es_6slice")


def run_campaign(tmp_path: Path, hours: float) -> subprocess.Popen:
    cmd = [sys.executable, str(ROOT / "training" / "campaign.py"), "--model", "xyz", "--hours", str(hours),
           "--eval-minutes", "0.25", "--run", str(tmp_path / "run"), "--log-dir", str(tmp_path / "log"),
           "--shipped-set", "--set", "light", "--val-molecules", "4", "--capacity", "20", "--batch-size", "4", "--replay-ratio", "4",
           "--producer-threads", "1", "--no-promote", "--beta2", "0.99", "--plateau-evals", "1"]  # fmt: skip
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_a_killed_campaign_resumes_where_it_was(tmp_path):
    proc = run_campaign(tmp_path, hours=0.2)
    state_file = tmp_path / "run" / "state.json"
    deadline = time.monotonic() + 400
    while time.monotonic() < deadline and read_json(state_file).get("samples_trained", 0) == 0:
        assert proc.poll() is None, proc.stdout.read()
        time.sleep(2)
    before = read_json(state_file)
    assert before["samples_trained"] > 0, "no evaluation within 400 s"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    producer = json.loads((tmp_path / "run" / "buffer" / "producers" / "0-of-1.json").read_text())
    time.sleep(8)  # the orphaned producer notices its campaign is gone within one sample
    after_kill = json.loads((tmp_path / "run" / "buffer" / "producers" / "0-of-1.json").read_text())
    assert after_kill["made"] <= producer["made"] + 1

    again = run_campaign(tmp_path, hours=0.004)
    out, _ = again.communicate(timeout=600)
    assert again.returncode == 0, out
    assert "resuming the xyz campaign" in out
    state = read_json(state_file)
    assert state["run_id"] == before["run_id"] and state["samples_trained"] > before["samples_trained"]
    assert state["warmup"] == {"lr": 3e-4, "steps": 200}  # a fresh optimizer ramps up over the run's first batches
    assert state["average"] == 0.995 and (tmp_path / "run" / "average.npz").exists()  # resumed with its average
    assert state["data_seed"] == 0  # the first run of a campaign simulates from --seed itself
    assert state["loss"] == {}  # the recipe's own loss (no --es-scale): promotions score the zoo under it
    with zipfile.ZipFile(tmp_path / "run" / "last.keras") as saved:  # the resumed optimizer kept its beta_2
        optimizer = json.loads(saved.read("config.json"))["compile_config"]["optimizer"]["config"]
    assert state["beta2"] == 0.99 and optimizer["beta_2"] == 0.99
    assert state["plateau"]["evals"] == 1 and 1e-5 <= state["lr"] <= 3e-4  # cut, or not, by the schedule alone
    rows = read_csv(tmp_path / "log" / "campaign.csv")
    assert [r["event"] for r in rows][:2] == ["start", "eval"] and {r["run_id"] for r in rows} == {state["run_id"]}
    for r in rows:  # checkpoints are chosen on augmented and noise-free validation stacks alike
        assert float(r["score"]) == pytest.approx((float(r["val_loss"]) + float(r["val_loss_clean"])) / 2, abs=2e-5)
    cached = np.load(tmp_path / "run" / "val_light_4.npz")
    assert cached["x_CO"].shape == cached["xc_CO"].shape and not np.allclose(cached["x_CO"], cached["xc_CO"])
    assert all(1e-5 <= float(r["lr"]) <= 3e-4 for r in rows if r["event"] == "eval")  # the rate is logged
    trained = [float(r["train_loss"]) for r in rows if r["event"] == "eval"]  # NaN: no batch since the last one
    assert any(np.isfinite(trained)) and all(0 < t < 10 for t in trained if np.isfinite(t))
    hours = [float(r["wall_hours"]) for r in rows]
    assert hours == sorted(hours) and float(rows[-1]["samples_trained"]) == state["samples_trained"]
    assert (tmp_path / "log" / "campaign.png").stat().st_size > 0


def test_validation_is_float32_whatever_the_training_precision():
    from keras_spm import precision
    from keras_spm.models import afm

    cm = campaign.campaign_model("xyz")
    bf16 = campaign.initial_model(cm, None, 1e-4, "mixed_bfloat16")
    assert precision.policy_of(bf16) == "mixed_bfloat16"
    f32 = campaign.in_float32(bf16, cm)
    assert precision.policy_of(f32) == "float32" and f32.optimizer is not None
    for a, b in zip(bf16.get_weights(), f32.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    plain = afm.from_preset("xyz_10slice")
    assert campaign.in_float32(plain, cm) is plain
    assert campaign.parse_args(["--model", "xyz", "--precision", "float32"]).precision == "float32"


def test_a_six_slice_campaign_starts_from_its_twin_and_feeds_it_slices_2_to_7():
    es6 = campaign.campaign_model("es_6slice")
    assert (es6.slices, es6.twin) == ((2, 8), "es")
    assert [tuple(t.shape) for t in campaign.initial_model(es6, None, 1e-4).inputs] == [(None, 128, 128, 6)] * 2
    cm = campaign.campaign_model("dsh_6slice")
    assert (cm.slices, cm.twin, cm.elements) == ((2, 8), "dsh_heavy", "heavy")
    model = campaign.initial_model(cm, None, 1e-4)
    assert tuple(model.inputs[0].shape) == (None, 128, 128, 6)
    stack = np.arange(2 * 128 * 128 * 10, dtype=np.float32).reshape(2, 128, 128, 10)
    x = campaign.model_inputs(cm, {"CO": stack})
    np.testing.assert_array_equal(x, stack[..., 2:8])
    out = model.predict(x, verbose=0)
    assert set(out) == {"disks", "spheres", "height"} and np.isfinite(out["height"]).all()


def test_from_twin_restarts_a_six_slice_model_from_its_twins_weights_not_its_own():
    from keras_spm import zoo
    from keras_spm.models.afm.transfer import transfer_to_fewer_slices
    from keras_spm.zoo.presets import build, wrap

    cm = campaign.campaign_model("dsh_6slice")
    own = campaign.initial_model(cm, None, 1e-4)
    restarted = campaign.initial_model(cm, None, 1e-4, from_twin=True)
    expected = wrap(transfer_to_fewer_slices(zoo.load("dsh_heavy"), build("dsh_6slice")), "dsh_6slice")
    for a, b in zip(restarted.get_weights(), expected.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(own.get_weights(), restarted.get_weights(), strict=True))
    with pytest.raises(SystemExit, match="no twin"):
        campaign.initial_model(campaign.campaign_model("xyz"), None, 1e-4, from_twin=True)
    with pytest.raises(SystemExit, match="drop --init"):
        campaign.initial_model(cm, Path("x.keras"), 1e-4, from_twin=True)
    assert campaign.parse_args(["--model", "es_6slice", "--from-twin"]).from_twin


def test_a_model_without_weights_or_twin_starts_from_scratch_with_its_input_scaling():
    cm = campaign.campaign_model("edafm")
    assert (cm.slices, cm.twin, cm.augmentation) == ((2, 8), None, "drift-random-noise")
    model = campaign.initial_model(cm, None, 1e-4)
    assert model.count_params() == 984_269 and model.optimizer is not None
    assert any(type(layer).__name__ == "StandardizeSlices" for layer in model.layers)
    stacks = {t: np.random.default_rng(0).normal(5, 3, (1, 128, 128, 10)).astype(np.float32) for t in cm.tips}
    out = model.predict(campaign.model_inputs(cm, stacks), verbose=0)
    assert out["es"].shape == (1, 128, 128) and np.isfinite(out["es"]).all()


def test_the_zoo_file_holds_no_optimizer_and_loads_in_a_fresh_process(tmp_path):
    import zipfile

    cm = campaign.campaign_model("xyz")
    trained = campaign.initial_model(cm, None, 1e-4)  # compiled, as a campaign's best checkpoint is
    trained.optimizer.build(trained.trainable_variables)
    path = tmp_path / "xyz.keras"
    trained.save(tmp_path / "best.keras")
    campaign.for_zoo(trained, "xyz").save(path)
    with zipfile.ZipFile(path) as z:
        import h5py

        with z.open("model.weights.h5") as f, h5py.File(f) as h5:
            assert "optimizer" not in h5 or len(h5["optimizer"]) == 0
    code = (  # what --promote-only does first, in a process that has imported nothing else
        "import sys; from pathlib import Path; from keras_spm.training import campaign; "
        "m = campaign.initial_model(campaign.campaign_model('xyz'), Path(sys.argv[1]), 1e-4); print(m.count_params())"
    )
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "best.keras")], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip().splitlines()[-1] == "560941", out.stderr[-2000:]


def test_batch_feeder_collates_6_slice_batches_and_surfaces_a_failed_draw(monkeypatch):
    cm = campaign.campaign_model("dsh_6slice")
    stack = np.zeros((128, 128, 10), np.float32)
    maps = {d: np.zeros((128, 128), np.float32) for d in cm.descriptors}

    def draws(buffer, augment, seed):
        for _ in range(4):
            yield {"CO": stack}, maps
        raise OSError("buffer file vanished")

    monkeypatch.setattr(campaign, "iterate", draws)
    feeder = campaign.BatchFeeder(cm, None, batch_size=2, seed=0, gate=lambda: True)
    x, y = feeder.next(timeout=5)
    assert x.shape == (2, 128, 128, 6) and set(y) == set(cm.descriptors)
    assert feeder.next(timeout=5) is not None
    with pytest.raises(RuntimeError, match="buffer file vanished"):
        while True:
            feeder.next(timeout=1)


def test_warmup_ramps_the_rate_linearly_then_holds_it():
    rates = [campaign.warmup_rate(3e-4, step, warmup_steps=4) for step in range(6)]
    assert rates == pytest.approx([7.5e-5, 1.5e-4, 2.25e-4, 3e-4, 3e-4, 3e-4])
    assert campaign.warmup_rate(3e-4, 0, warmup_steps=0) == 3e-4


def test_a_plateau_cuts_the_rate_once_per_n_evaluations_without_a_new_best_and_not_below_the_floor():
    assert campaign.plateau_rate(1e-3, since_best=2, evals=3, factor=0.3, min_lr=1e-5) == (1e-3, 2)  # not yet
    assert campaign.plateau_rate(1e-3, since_best=3, evals=3, factor=0.3, min_lr=1e-5) == (pytest.approx(3e-4), 0)
    assert campaign.plateau_rate(2e-5, since_best=3, evals=3, factor=0.3, min_lr=1e-5) == (1e-5, 0)  # the floor
    assert campaign.plateau_rate(1e-5, since_best=9, evals=3, factor=0.3, min_lr=1e-5) == (1e-5, 9)  # at the floor
    assert campaign.plateau_rate(1e-3, since_best=9, evals=0, factor=0.3, min_lr=1e-5) == (1e-3, 9)  # off


def test_plateau_options_are_checked(capsys):
    with pytest.raises(SystemExit):
        campaign.parse_args(["--model", "xyz", "--plateau-evals", "3", "--plateau-factor", "1.5"])
    assert "--plateau-factor in (0, 1)" in capsys.readouterr().err
    args = campaign.parse_args(["--model", "xyz", "--plateau-evals", "3"])
    assert (args.plateau_evals, args.plateau_factor, args.min_lr) == (3, 0.3, 1e-5)
    assert campaign.parse_args(["--model", "xyz"]).plateau_evals is None  # a resumed run keeps its own schedule


def test_weight_average_follows_the_weights_and_is_applied_only_inside_its_block(tmp_path):
    import keras

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    start = [np.array(v) for v in model.trainable_variables]
    average = campaign.WeightAverage(model, momentum=0.75)
    for v in model.trainable_variables:
        v.assign(np.asarray(v) + 1.0)
    average.update(model)  # one step a quarter of the way to the new weights
    for a, s0 in zip(average.values, start, strict=True):
        np.testing.assert_allclose(a, s0 + 0.25, atol=1e-6)
    x = np.ones((1, 3), "float32")
    own = np.asarray(model(x))
    with average.applied(model):
        assert not np.allclose(np.asarray(model(x)), own)
    np.testing.assert_allclose(np.asarray(model(x)), own)
    average.save(tmp_path / "average.npz")
    again = campaign.WeightAverage(model, momentum=0.75)
    again.load(tmp_path / "average.npz")
    for a, b in zip(again.values, average.values, strict=True):
        np.testing.assert_array_equal(a, b)
    other = campaign.WeightAverage(keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]), momentum=0.75)
    with pytest.raises(ValueError, match="another network"):
        other.load(tmp_path / "average.npz")
    with pytest.raises(ValueError, match="momentum"):
        campaign.WeightAverage(model, momentum=1.0)


def test_a_resumed_run_keeps_its_validation_set_size():
    assert campaign.validation_size({}, None) == 150
    assert campaign.validation_size({}, 60) == 60
    assert campaign.validation_size({"val_molecules": 100}, None) == 100
    assert campaign.validation_size({"val_molecules": 100}, 100) == 100
    with pytest.raises(SystemExit, match="validated on 100 molecules"):
        campaign.validation_size({"val_molecules": 100}, 150)


def test_a_new_run_simulates_molecules_its_predecessors_did_not_start_with(tmp_path):
    assert campaign.data_seed(0, {}, tmp_path) == 0  # a new campaign
    (tmp_path / "campaign.csv").write_text("wall_hours,molecules_simulated,samples_trained\n2.5,1234,9872\n")
    assert campaign.data_seed(0, {}, tmp_path) == 1234  # a new run of a logged campaign: new poses, new order
    assert campaign.data_seed(0, {"data_seed": 77}, tmp_path) == 77  # a resumed run keeps its own
    assert campaign.data_seed(5, {"run_id": "old"}, tmp_path) == 5  # a run from before data seeds
    assert not np.array_equal(producer_order(4000, 0, 1, 0, 0)[:50], producer_order(4000, 0, 1, 1234, 0)[:50])


def test_the_trainer_waits_for_a_prefilled_buffer_and_for_fresh_samples():
    assert campaign.must_wait(drawn=0, made=0, replay_ratio=8, batch_size=32, prefill=500)
    assert not campaign.must_wait(drawn=100, made=20, replay_ratio=8, batch_size=32)  # the first batches may reuse
    assert campaign.must_wait(drawn=100, made=20, replay_ratio=8, batch_size=32, prefill=500)  # not with --prefill
    assert not campaign.must_wait(drawn=3999, made=500, replay_ratio=8, batch_size=32, prefill=500)
    assert campaign.must_wait(drawn=4001, made=500, replay_ratio=8, batch_size=32, prefill=500)  # every sample used 8x


def test_an_es_run_with_es_scale_trains_scores_and_resumes_on_the_companded_loss(tmp_path):
    import keras

    from keras_spm.models.afm.losses import CompandedMSE
    from keras_spm.training.runs import save_model_atomically

    cm = campaign.campaign_model("es")
    model = campaign.initial_model(cm, None, 1e-4, loss={"es_scale": 0.02})
    assert isinstance(model.loss["es"], CompandedMSE) and model.loss["es"].scale == 0.02
    rng = np.random.default_rng(0)
    x = {t: rng.normal(size=(2, 128, 128, 10)).astype("float32") for t in ("CO", "Xe")}
    y = {"es": rng.normal(0, 0.05, size=(2, 128, 128)).astype("float32"), "height": np.zeros((2, 128, 128), "float32")}
    model.train_on_batch(x, y)
    save_model_atomically(model, tmp_path / "last.keras")
    resumed = keras.models.load_model(tmp_path / "last.keras")  # a resumed run keeps the loss it was started with
    assert resumed.evaluate(x, y, verbose=0) == pytest.approx(model.evaluate(x, y, verbose=0), rel=1e-4)
    plain = campaign.initial_model(cm, None, 1e-4)
    plain.set_weights(model.get_weights())  # the same weights scored under plain MSE: another number
    assert plain.evaluate(x, y, verbose=0) != pytest.approx(model.evaluate(x, y, verbose=0), rel=1e-2)


def test_a_bf16_run_is_validated_in_float32_under_its_own_loss():
    from keras_spm.models.afm.losses import CompandedMSE

    cm = campaign.campaign_model("es")
    bf16 = campaign.initial_model(cm, None, 1e-4, "mixed_bfloat16", loss={"es_scale": 0.02})
    copy = campaign.in_float32(bf16, cm, {"es_scale": 0.02})
    assert copy is not bf16 and isinstance(copy.loss["es"], CompandedMSE)  # not the recipe's plain MSE
    rng = np.random.default_rng(1)
    xs = {t: rng.normal(size=(2, 128, 128, 10)).astype("float32") for t in ("CO", "Xe")}
    ys = {"es": rng.normal(0, 0.05, size=(2, 128, 128)).astype("float32"), "height": np.zeros((2, 128, 128), "float32")}
    f32 = campaign.initial_model(cm, None, 1e-4, loss={"es_scale": 0.02})  # what the zoo's weights are scored with
    f32.set_weights(copy.get_weights())
    assert campaign.evaluate(bf16, cm, xs, ys, loss={"es_scale": 0.02})["val_loss"] == pytest.approx(
        campaign.evaluate(f32, cm, xs, ys, loss={"es_scale": 0.02})["val_loss"], rel=1e-4
    )


def test_a_promotion_refreshes_the_loaded_registry_so_the_next_one_in_the_run_can_load_the_zoo(tmp_path, monkeypatch):
    from keras_spm.zoo import registry

    monkeypatch.setitem(registry.REGISTRY, "xyz", registry.REGISTRY["xyz"])  # restored after the test
    path = tmp_path / "registry.py"
    path.write_text((ROOT / "keras_spm" / "zoo" / "registry.py").read_text())
    campaign.set_registry_sha256("xyz", "d" * 64, path)
    assert registry.REGISTRY["xyz"].sha256 != "d" * 64  # the module was loaded before the file changed
    campaign.refresh_registry_entry("xyz", path)
    entry = registry.REGISTRY["xyz"]
    assert isinstance(entry, registry.ZooEntry) and entry.sha256 == "d" * 64
    assert registry.get_entry("xyz").sha256 == "d" * 64


def test_the_log_names_the_loss_each_row_is_scored_under(tmp_path):
    cm = campaign.campaign_model("es")
    state = {"run_id": "r", "hours": 0.5, "samples_trained": 10, "loss": {"es_scale": 0.02}}
    campaign.log_row(cm, state, tmp_path, {"event": "eval", "score": 0.1})
    campaign.log_row(cm, {**state, "loss": {}}, tmp_path, {"event": "eval", "score": 0.1})
    assert [r["loss"] for r in read_csv(tmp_path / "campaign.csv")] == ["es_scale=0.02", ""]
