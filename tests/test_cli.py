"""`keras-spm` console script: every zoo family end to end on the shipped real files, and its error contract."""

import subprocess
import sys

import numpy as np

CLI = [sys.executable, "-m", "keras_spm.cli"]


def run(args, timeout=300):
    return subprocess.run(CLI + [str(a) for a in args], capture_output=True, text=True, timeout=timeout)


def test_zoo_list_prints_the_registry():
    from keras_spm import zoo

    out = run(["zoo", "list"], timeout=120).stdout
    for name in zoo.available():
        assert name in out


def test_dsh_on_the_real_sxm_series_marks_the_padding(shared_data, tmp_path):
    result = run(["predict", "dsh_heavy", shared_data / "spm-files" / "nanonis_stack", "-o", tmp_path])
    assert result.returncode == 0, result.stderr[-2000:]
    assert "padded" in result.stderr and "slices" in result.stderr  # it says what it did to the input
    assert "is padding" in result.stderr  # 48x80 px of 128x128: a warning, once, as a note
    out = np.load(tmp_path / "nanonis_stack_prediction.npz")
    assert out["input"].shape == (128, 128, 10)
    assert all(np.isfinite(out[k]).all() and out[k].shape == (128, 128) for k in ("disks", "spheres", "height"))
    valid = out["valid"]
    assert valid.shape == (128, 128) and 0.3 < valid.mean() < 0.5 and valid[64, 64] and not valid[64, 0]
    assert (tmp_path / "nanonis_stack_prediction.png").stat().st_size > 10_000


def test_xyz_on_a_3ds_grid_crops_nan_and_decodes_atoms(shared_data, tmp_path):
    grid = shared_data / "spm-files" / "Grid_Spectroscopy006.3ds"
    result = run(["predict", "xyz", grid, "--crop-nan", "-o", tmp_path])
    assert result.returncode == 0, result.stderr[-2000:]
    out = np.load(tmp_path / "Grid_Spectroscopy006_prediction.npz")
    assert out["xyz_class"].shape == (16, 16, 2) and out["atoms"].ndim == 2 and out["atoms"].shape[1] == 4
    assert (out["atoms"][:, 3] >= 0.5).all() and f"{len(out['atoms'])} atoms" in result.stderr
    idx = (out["atoms"][:, :2] / 0.125).astype(int)
    assert out["valid"][idx[:, 0], idx[:, 1]].all()  # no atom reported from mirrored data


def test_two_tip_model_from_npz_stacks(tmp_path):
    rng = np.random.default_rng(0)
    for tip in ("CO", "Xe"):
        data = rng.standard_normal((128, 128, 10)).astype("float32")
        np.savez(tmp_path / f"{tip}.npz", data=data, lengthX=15.875, lengthY=15.875)
    out = tmp_path / "out"
    result = run(["predict", "es", f"CO={tmp_path / 'CO.npz'}", f"Xe={tmp_path / 'Xe.npz'}", "-o", out])
    assert result.returncode == 0, result.stderr[-2000:]
    maps = np.load(out / "CO_prediction.npz")
    assert maps["input_CO"].shape == maps["input_Xe"].shape == (128, 128, 10)
    assert maps["es"].shape == maps["height"].shape == (128, 128) and np.isfinite(maps["es"]).all()


def test_effunet_on_a_real_topography_writes_particles(shared_data, tmp_path):
    scan = shared_data / "spm-topographies" / "Image_526.sxm"
    result = run(["predict", "effunet_nanoparticles", scan, "-o", tmp_path])
    assert result.returncode == 0, result.stderr[-2000:]
    assert "levelled by a plane" in result.stderr and "nm/px" in result.stderr
    out = np.load(tmp_path / "Image_526_prediction.npz")
    assert out["instances"].shape == out["input"].shape and out["probabilities"].shape[-1] == 3
    lines = (tmp_path / "Image_526_particles.csv").read_text().splitlines()
    assert lines[0].startswith("label,diameter_nm,area_nm2,centroid_x_nm") and len(lines) == len(
        np.unique(out["instances"])
    )
    assert (tmp_path / "Image_526_sizes.png").exists() and (tmp_path / "Image_526_prediction.png").exists()


def test_dae_on_a_gwyddion_file_keeps_its_size_and_unit(shared_data, tmp_path):
    scan = shared_data / "spm-files" / "PTO_110_Virgin0001.gwy"
    result = run(["predict", "dae_tip_artifacts", scan, "--level", "lines", "-o", tmp_path])
    assert result.returncode == 0, result.stderr[-2000:]
    out = np.load(tmp_path / "PTO_110_Virgin0001_prediction.npz")
    assert out["restored"].shape == out["input"].shape == (256, 256)
    assert np.abs(out["restored"] - out["input"]).mean() < 0.2 * out["input"].std()  # a correction, not a new image


def test_dae_on_an_asylum_ibw_scan_reads_its_height_channel(shared_data, tmp_path):
    scan = shared_data / "spm-topographies" / "IgorIBWReader_P0089OP0027.ibw"
    result = run(["predict", "dae_tip_artifacts", scan, "-o", tmp_path])
    assert result.returncode == 0, result.stderr[-2000:]
    assert "read channel 'HeightRetrace'" in result.stderr + result.stdout
    out = np.load(tmp_path / "IgorIBWReader_P0089OP0027_prediction.npz")
    assert out["restored"].shape == (256, 256) and np.all(np.isfinite(out["restored"]))


def test_gans_on_image_files_of_any_size(shared_data, tmp_path):
    stem = shared_data / "stem" / "pt_mo5"
    result = run(["predict", "pix2pix_stem", stem / "Pt_Mo5_convolution_0.npy", stem / "pt_mo5_1_cl160mm_ss.tif",
                  "-o", tmp_path])  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    out = np.load(tmp_path / "Pt_Mo5_convolution_0_prediction.npz")
    assert out["translated"].shape == out["input"].shape and out["input"].shape[0] % 64  # padded and cropped back
    assert (tmp_path / "pt_mo5_1_cl160mm_ss_prediction.png").exists()
    pngs = sorted((shared_data / "afm-exp" / "experimental").glob("*.png"))[:2]
    result = run(["predict", "cyclegan_afm_exp2sim", *pngs, "-o", tmp_path / "gan"])
    assert result.returncode == 0, result.stderr[-2000:]
    out = np.load(tmp_path / "gan" / f"{pngs[0].stem}_prediction.npz")
    assert np.abs(out["translated"]).max() <= 1.0 and out["translated"].shape == out["input"].shape
    simulated = sorted((shared_data / "afm-exp" / "ppafm_simulated").glob("*.png"))[0]
    result = run(["predict", "cyclegan_afm_sim2exp", simulated, "-o", tmp_path / "sim2exp"])
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "sim2exp" / f"{simulated.stem}_prediction.png").exists()


CHECK = "import sys; from keras_spm.cli import main; rc = main(sys.argv[1:]); print(rc, 'tensorflow' in sys.modules)"


def usage_error(args) -> tuple[str, str]:
    """(stdout: 'exit code, TF imported', stderr) of the CLI's main in a fresh process."""
    result = subprocess.run([sys.executable, "-c", CHECK, *map(str, args)], capture_output=True, text=True, timeout=60)
    return result.stdout.strip(), result.stderr.strip()


def test_user_errors_exit_2_with_one_line_before_tensorflow(shared_data, tmp_path):
    series = shared_data / "spm-files" / "nanonis_stack"
    bad = tmp_path / "scan.xyz"
    bad.write_text("nothing")
    cases = {
        ("predict", "dsh_heavyy", series): "did you mean 'dsh_heavy'",
        ("predict", "dsh_heavy", shared_data / "spm-files" / "01514.sxm"): "single image",
        ("predict", "dsh_heavy", bad): "unsupported format",
        ("predict", "dsh_heavy", tmp_path / "missing"): "no such file",
        ("predict", "es", series): "CO=PATH Xe=PATH",
        ("predict", "dsh_heavy", series, "-o", "/proc/keras-spm-out"): "cannot write to the output folder",
        ("predict", "pix2pix_stem", bad, "--level", "plane"): "--level applies to topography models",
        ("predict", "effunet_nanoparticles", series, "--pixel-size", "-1"): "--pixel-size must be > 0",
        ("predict",): "required",
    }
    for args, message in cases.items():
        out, err = usage_error(args)
        assert out == "2 False", (args, out, err)
        assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err, (args, err)


def test_data_error_exits_1_with_one_line(tmp_path):
    scan = tmp_path / "broken.sxm"
    scan.write_bytes(b"not a nanonis file")
    result = run(["predict", "dae_tip_artifacts", scan, "-o", tmp_path / "out"])
    assert result.returncode == 1, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if "keras-spm: error" in line]
    assert len(errors) == 1 and "broken.sxm" in errors[0] and "Traceback" not in result.stderr


def test_a_bad_file_among_several_is_skipped_and_the_others_are_written(shared_data, tmp_path):
    broken = tmp_path / "broken.sxm"
    broken.write_bytes(b"not a nanonis file")
    good = shared_data / "spm-topographies" / "Image_526.sxm"
    result = run(["predict", "dae_tip_artifacts", broken, good, "-o", tmp_path / "out"])
    assert result.returncode == 1, result.stderr[-2000:]
    assert (tmp_path / "out" / "Image_526_prediction.npz").exists()  # the good scan's result is not lost
    assert not list((tmp_path / "out").glob("broken*"))
    errors = [line for line in result.stderr.splitlines() if "keras-spm: error" in line]
    assert len(errors) == 1 and "1 of 2 inputs" in errors[0] and "broken.sxm" in errors[0]
    assert "Traceback" not in result.stderr


def test_simulate_is_handed_to_its_command():
    result = run(["simulate", "--help"], timeout=60)
    assert result.returncode == 0 and "keras-spm simulate" in result.stdout
