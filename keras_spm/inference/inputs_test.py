"""Input checks and levelling of keras_spm.predict / keras-spm predict (no TensorFlow needed)."""

import numpy as np
import pytest

from keras_spm.inference.inputs import InputError, check_paths, expand, level


def test_plane_levelling_removes_a_tilt_and_lines_remove_line_offsets():
    i, j = np.meshgrid(np.arange(40), np.arange(30), indexing="ij")
    bumps = np.exp(-((i - 20.0) ** 2 + (j - 15.0) ** 2) / 20)
    levelled, note = level(bumps + 0.3 * i - 0.2 * j + 5, "plane")
    assert "plane" in note
    np.testing.assert_allclose(levelled - levelled.mean(), bumps - bumps.mean(), atol=0.05 * bumps.max())
    offsets = np.random.default_rng(0).normal(size=30)  # one offset per scan line (x along axis 0)
    flat, _ = level(np.zeros((40, 30)) + offsets[None, :], "lines", line_axis=0)
    np.testing.assert_allclose(flat, 0, atol=1e-12)
    same, note = level(bumps, "none")
    assert same is not bumps or note == "not levelled"
    np.testing.assert_array_equal(same, bumps)
    with pytest.raises(InputError, match="plane, lines, none"):
        level(bumps, "sphere")


def test_paths_are_expanded_and_checked_per_input_kind(tmp_path):
    for k in (2, 0, 1):
        (tmp_path / f"img{k}.npy").write_bytes(b"")
    (tmp_path / "notes.md").write_text("")
    assert [p.name for p in expand([str(tmp_path)], "image")] == ["img0.npy", "img1.npy", "img2.npy"]
    assert len(expand([str(tmp_path / "img*.npy")], "image")) == 3
    with pytest.raises(InputError, match="matches no file"):
        expand([str(tmp_path / "*.tif")], "image")
    with pytest.raises(InputError, match="no .sxm, .3ds, .npz file"):
        check_paths([str(tmp_path)], "afm_stack", ("CO",))
    with pytest.raises(InputError, match="unsupported format '.md'"):
        check_paths([str(tmp_path / "notes.md")], "image")
    with pytest.raises(InputError, match="no such file"):
        check_paths([str(tmp_path / "missing.png")], "image")


def test_afm_inputs_one_stack_per_tip(tmp_path):
    for name in ("a.sxm", "b.sxm", "c.npz", "d.npz"):
        (tmp_path / name).write_bytes(b"")
    with pytest.raises(InputError, match="single image"):
        check_paths([str(tmp_path / "a.sxm")], "afm_stack", ("CO",))
    with pytest.raises(InputError, match="one .3ds or .npz stack per run"):
        check_paths([str(tmp_path / "c.npz"), str(tmp_path / "d.npz")], "afm_stack", ("CO",))
    groups = check_paths([f"CO={tmp_path / 'c.npz'}", f"Xe={tmp_path / 'd.npz'}"], "afm_stack", ("CO", "Xe"))
    assert {t: [p.name for p in v] for t, v in groups.items()} == {"CO": ["c.npz"], "Xe": ["d.npz"]}
    with pytest.raises(InputError, match="no input for tip Xe: .*CO=PATH Xe=PATH"):
        check_paths([f"CO={tmp_path / 'c.npz'}"], "afm_stack", ("CO", "Xe"))


def test_an_interrupted_topography_is_cropped_on_request_and_refused_with_the_fix_otherwise(tmp_path, monkeypatch):
    from keras_spm import io
    from keras_spm.inference.inputs import read_topography

    z = np.random.default_rng(0).normal(size=(64, 80)) * 1e-10
    z[:, 60:] = np.nan  # the scan stopped after 60 of 80 lines (y runs along axis 1)
    scan = io.SPMImage(z, (64.0, 80.0), "Z", "m", "forward")
    monkeypatch.setattr(io, "read_sxm", lambda path, channel: scan)
    path = tmp_path / "stopped.sxm"
    with pytest.raises(ValueError, match=r"25% of the image is NaN.*--crop-nan"):
        read_topography(path, None, None)
    topo = read_topography(path, None, None, crop_nan=True)
    assert topo.data.shape == (64, 60) and np.isfinite(topo.data).all()
    np.testing.assert_allclose(topo.data, z[:, :60] * 1e9)  # metres -> nm, nothing else changed
    assert topo.pixel_size == pytest.approx(0.1) and any("NaN-free" in n for n in topo.notes)
    z[:, 20:] = np.nan  # too little left to restore
    with pytest.raises(ValueError, match="too small"):
        read_topography(path, None, None, crop_nan=True)
    z[:, 20:] = 0.0
    z[3, 5] = np.nan  # a single bad pixel is filled, as before
    assert "filled 1 NaN" in read_topography(path, None, None).notes[-1]
