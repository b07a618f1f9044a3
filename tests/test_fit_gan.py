"""training/fit_gan.py: a few steps of each GAN on tiny crops of the shared data, checkpoints, resume, bad options."""

import csv
import json
from pathlib import Path

import fit_gan
import numpy as np
import pytest

TINY_P2P = ["--filters", "4", "--num-downs", "5", "--d-filters", "4", "--d-layers", "2", "--crop", "32"]
TINY_CYC = ["--filters", "4", "--n-blocks", "1", "--d-filters", "4", "--d-layers", "2", "--crop", "32"]


def rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_pix2pix_trains_checkpoints_and_resumes(shared_data, tmp_path, capsys):
    from keras_spm.models.gan import load_generator

    root = str(shared_data / "stem" / "pt_mo5")
    argv = ["--model", "pix2pix", *TINY_P2P, "--steps-per-epoch", "2", "--batch-size", "2", "--data-root", root]
    out = tmp_path / "p2p"
    assert fit_gan.main([*argv, "--epochs", "2", "--out", str(out), "--verbose", "0"]) == 0
    for name in ("state.weights.h5", "last.keras", "best.keras", "history.csv", "state.json"):
        assert (out / name).is_file(), name
    assert [int(r["epoch"]) for r in rows(out / "history.csv")] == [1, 2]
    assert all(np.isfinite(float(r["l1_loss"])) for r in rows(out / "history.csv"))
    state = json.loads((out / "state.json").read_text())
    assert state["epoch"] == 2 and state["monitor"] == "l1_loss" and state["config"]["filters"] == 4

    assert fit_gan.main([*argv, "--epochs", "3", "--out", str(out), "--verbose", "0"]) == 0
    assert "resuming pix2pix after epoch 2 (step 4)" in capsys.readouterr().out
    assert [int(r["epoch"]) for r in rows(out / "history.csv")] == [1, 2, 3]
    generator = load_generator(out / "last.keras", input_shape=(None, None, 1))  # whole images, stride 32
    y = generator.predict(np.zeros((1, 64, 96, 1), np.float32), verbose=0)
    assert y.shape == (1, 64, 96, 1) and np.all(np.abs(y) <= 1)

    with pytest.raises(SystemExit, match="other settings .*filters"):
        fit_gan.main([*argv, "--epochs", "4", "--out", str(out), "--filters", "8"])
    assert fit_gan.main([*argv, "--epochs", "3", "--out", str(out)]) == 0  # already done: nothing to train
    assert "already done" in capsys.readouterr().out


def test_cyclegan_trains_with_validation_extra_sim_and_input_skip(shared_data, tmp_path):
    from keras_spm.models.gan import load_generator

    extra = tmp_path / "own_sim"
    extra.mkdir()
    rng = np.random.default_rng(0)
    for k in range(3):
        np.save(extra / f"mol.{k:02d}.npy", rng.normal(size=(40, 40)).astype(np.float32))
    out = tmp_path / "cyc"
    argv = ["--model", "cyclegan", *TINY_CYC, "--steps-per-epoch", "2", "--val-steps", "2", "--pool-size", "2"]
    argv += ["--data-root", str(shared_data / "afm-exp"), "--extra-sim", str(extra), "--epochs", "1", "--input-skip"]
    argv += ["--upsampling", "resize", "--keep-every", "1"]
    assert fit_gan.main([*argv, "--out", str(out), "--verbose", "0"]) == 0
    (row,) = rows(out / "history.csv")
    assert np.isfinite(float(row["val_cycle_loss"])) and np.isfinite(float(row["g_loss"]))
    for kind in ("last", "best", "epoch001"):
        for direction in ("g_ab", "g_ba"):
            g = load_generator(out / f"{kind}_{direction}.keras", input_shape=(None, None, 1))
            assert g.predict(np.zeros((1, 36, 44, 1), np.float32), verbose=0).shape == (1, 36, 44, 1)
            assert g.layers[-1].name == "tanh_input_skip"
            names = [layer.name for layer in g.layers]
            assert "up1_resize" in names and not any(n.endswith("_convt") for n in names)


def test_cyclegan_trains_in_bf16_with_float32_outputs(shared_data, tmp_path):
    import keras

    from keras_spm import precision

    out = tmp_path / "cyc_bf16"
    argv = ["--model", "cyclegan", *TINY_CYC, "--steps-per-epoch", "2", "--val-steps", "1", "--pool-size", "2"]
    argv += ["--data-root", str(shared_data / "afm-exp"), "--epochs", "1", "--input-skip", "--upsampling", "resize"]
    assert fit_gan.main([*argv, "--precision", "mixed_bfloat16", "--out", str(out), "--verbose", "0"]) == 0
    (row,) = rows(out / "history.csv")
    assert np.isfinite(float(row["val_cycle_loss"])) and np.isfinite(float(row["g_loss"]))
    assert json.loads((out / "state.json").read_text())["config"]["precision"] == "mixed_bfloat16"
    g = keras.models.load_model(out / "last_g_ab.keras", compile=False)
    assert precision.policy_of(g) == "mixed_bfloat16" and g.layers[-1].compute_dtype == "float32"
    x = np.tanh(np.random.default_rng(1).normal(size=(1, 32, 32, 1))).astype(np.float32)
    y16 = np.asarray(g(x))
    y32 = np.asarray(precision.with_policy(g, "float32")(x))  # what the zoo export ships
    assert y16.dtype == np.float32 and np.abs(y16 - y32).max() < 0.05


def test_cyclegan_generators_start_from_saved_transposed_ones(shared_data, tmp_path, capsys):
    from keras_spm.models.gan import load_generator, resnet_generator
    from keras_spm.models.gan.upsampling import resize_kernel_from_transpose

    saved = []
    for name in ("g_ab", "g_ba"):  # stand-ins for the zoo pair: the tiny sizes, transposed up-convolutions
        g = resnet_generator((32, 32, 1), 1, 4, input_skip=True, name=name)
        saved.append(tmp_path / f"{name}.keras")
        g.save(saved[-1])
    argv = ["--model", "cyclegan", *TINY_CYC, "--steps-per-epoch", "1", "--val-steps", "1", "--pool-size", "2"]
    argv += ["--data-root", str(shared_data / "afm-exp"), "--epochs", "1", "--input-skip", "--upsampling", "resize"]
    args = fit_gan.parse_args([*argv, "--out", str(tmp_path / "run"), "--init-generators", *map(str, saved)])
    gan, _ = fit_gan.build(args)
    fit_gan.init_generators(gan, args)
    assert "initialised g_ba from" in capsys.readouterr().out
    source = load_generator(saved[0])
    np.testing.assert_array_equal(gan.g_ab.get_layer("res0_a_conv").kernel, source.get_layer("res0_a_conv").kernel)
    np.testing.assert_array_equal(
        gan.g_ab.get_layer("up1_conv").kernel, resize_kernel_from_transpose(source.get_layer("up1_convt").kernel)
    )
    wide = resnet_generator((32, 32, 1), 1, 8, input_skip=True)
    wide.save(tmp_path / "wide.keras")
    args.init_generators = [tmp_path / "wide.keras", saved[1]]
    with pytest.raises(SystemExit, match="c7_in_conv.*same sizes|c7_in_conv.*shapes"):
        fit_gan.init_generators(gan, args)
    with pytest.raises(SystemExit):
        fit_gan.parse_args(["--model", "pix2pix", "--out", "x", "--init-generators", *map(str, saved)])
    assert "--init-generators is for a CycleGAN" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        fit_gan.parse_args(["--model", "cyclegan", "--out", "x", "--d-warmup-steps", "5"])
    assert "--d-warmup-steps needs --init-generators" in capsys.readouterr().err
    run = tmp_path / "warm"
    warm = [*argv, "--out", str(run), "--init-generators", *map(str, saved), "--d-warmup-steps", "2", "--lr", "0"]
    assert fit_gan.main([*warm, "--verbose", "0"]) == 0
    assert "warm-up done: d_a_loss" in capsys.readouterr().out
    after = load_generator(run / "last_g_ab.keras")  # lr 0 after the warm-up: the generator is the loaded one
    np.testing.assert_array_equal(after.get_layer("res0_a_conv").kernel, source.get_layer("res0_a_conv").kernel)


def test_pix2pix_val_pairs_choose_best_by_whole_image_nrmse(shared_data, tmp_path):
    root = str(shared_data / "stem" / "pt_mo5")
    out = tmp_path / "p2p_val"
    argv = ["--model", "pix2pix", *TINY_P2P, "--steps-per-epoch", "1", "--batch-size", "1", "--data-root", root]
    argv += ["--upsampling", "subpixel"]  # the validator rebuilds the generator for whole images: same layers
    assert fit_gan.main([*argv, "--epochs", "2", "--val-pairs", "6", "14", "--out", str(out), "--verbose", "0"]) == 0
    history = rows(out / "history.csv")
    assert all(0 < float(r["val_nrmse"]) < 10 for r in history)
    state = json.loads((out / "state.json").read_text())
    assert state["monitor"] == "val_nrmse" and state["config"]["val_pairs"] == [6, 14]
    assert state["best"] == pytest.approx(min(float(r["val_nrmse"]) for r in history))


def test_pix2pix_with_simulated_pairs_validates_on_held_out_compositions(shared_data, tmp_path):
    from keras_spm.datasets import stem_sim

    def fake(atoms, m, method):  # stands in for abTEM: any aligned [0, 1] pair will do here
        rng = np.random.default_rng(len(atoms))
        conv = rng.random((70, 66))
        return conv / conv.max(), conv**1.5 / (conv**1.5).max()

    sim = tmp_path / "sim"
    stem_sim.write_pairs(sim, 2, stem_sim.composition_split()["train"], seed=0, simulate=fake)
    stem_sim.write_pairs(sim, 2, stem_sim.composition_split()["held_out"], seed=1, simulate=fake)
    root = str(shared_data / "stem" / "pt_mo5")
    out = tmp_path / "p2p_sim"
    argv = ["--model", "pix2pix", *TINY_P2P, "--steps-per-epoch", "1", "--batch-size", "1", "--data-root", root]
    argv += ["--val-pairs", "6", "--sim-pairs", str(sim), "--sim-val", str(sim), "--epochs", "1", "--out", str(out)]
    assert fit_gan.main([*argv, "--verbose", "0"]) == 0
    (row,) = rows(out / "history.csv")
    assert 0 < float(row["val_sim_nrmse"]) < 10 and 0 <= float(row["val_sim_mean_err"]) < 10
    assert float(row["val_mean_nrmse"]) == pytest.approx(0.5 * (float(row["val_nrmse"]) + float(row["val_sim_nrmse"])))
    state = json.loads((out / "state.json").read_text())
    assert state["monitor"] == "val_mean_nrmse" and state["config"]["sim_val"] == [str(sim)]
    with pytest.raises(SystemExit):
        fit_gan.parse_args(["--model", "cyclegan", "--out", str(out), "--sim-pairs", str(sim)])
    with pytest.raises(SystemExit):  # a real share needs simulated pairs to share with, and lies in (0, 1]
        fit_gan.parse_args(["--model", "pix2pix", "--out", str(out), "--real-share", "0.5"])
    with pytest.raises(SystemExit):
        fit_gan.parse_args(["--model", "pix2pix", "--out", str(out), "--sim-pairs", str(sim), "--real-share", "0"])
    args = fit_gan.parse_args([*argv, "--real-share", "0.5"])
    ds, _ = fit_gan.datasets(args, 0)
    assert next(iter(ds))[0].shape[0] == 1


def test_bad_options_name_the_fix(tmp_path):
    with pytest.raises(SystemExit):
        fit_gan.parse_args(["--model", "pix2pix", "--crop", "100", "--num-downs", "6", "--out", str(tmp_path)])
    with pytest.raises(SystemExit):
        fit_gan.parse_args(["--model", "cyclegan", "--crop", "130", "--out", str(tmp_path)])
    with pytest.raises(SystemExit):
        fit_gan.parse_args(["--model", "dsh", "--out", str(tmp_path)])
    with pytest.raises(SystemExit):
        fit_gan.parse_args(["--model", "cyclegan", "--steps-per-epoch", "0", "--out", str(tmp_path)])
    args = fit_gan.parse_args(["--model", "cyclegan", "--out", str(tmp_path)])
    assert args.batch_size == 1 and args.crop == 128
    assert fit_gan.parse_args(["--model", "pix2pix", "--out", str(tmp_path)]).batch_size == 4
    with pytest.raises(SystemExit):  # a test pair may not validate
        fit_gan.parse_args(["--model", "pix2pix", "--val-pairs", "3", "--out", str(tmp_path)])
    with pytest.raises(SystemExit):  # CycleGAN validates on the gan_test split
        fit_gan.parse_args(["--model", "cyclegan", "--val-pairs", "6", "--out", str(tmp_path)])


def test_cyclegan_init_copies_networks_not_optimizer(shared_data, tmp_path, capsys):
    """--init fine-tunes from another run with other loss weights: networks copied, optimizer fresh."""
    from keras_spm.models.gan import load_generator

    argv = ["--model", "cyclegan", *TINY_CYC, "--steps-per-epoch", "2", "--val-steps", "1", "--pool-size", "2"]
    argv += ["--data-root", str(shared_data / "afm-exp"), "--verbose", "0"]
    first = tmp_path / "first"
    assert fit_gan.main([*argv, "--epochs", "1", "--out", str(first)]) == 0
    second = tmp_path / "second"
    init = ["--init", str(first / "state.weights.h5"), "--lambda-cycle", "20", "--lr", "0"]
    assert fit_gan.main([*argv, *init, "--epochs", "1", "--out", str(second)]) == 0
    assert "initialised g_ab, g_ba, d_a, d_b" in capsys.readouterr().out
    x = np.random.default_rng(0).uniform(-1, 1, (1, 32, 32, 1)).astype(np.float32)
    a = load_generator(first / "last_g_ab.keras", input_shape=(None, None, 1)).predict(x, verbose=0)
    b = load_generator(second / "last_g_ab.keras", input_shape=(None, None, 1)).predict(x, verbose=0)
    np.testing.assert_allclose(a, b, atol=1e-5)  # lr 0: the copied generator is unchanged
    with pytest.raises(SystemExit, match="no such file"):
        fit_gan.main([*argv, "--init", str(tmp_path / "nope.h5"), "--epochs", "1", "--out", str(tmp_path / "x")])
