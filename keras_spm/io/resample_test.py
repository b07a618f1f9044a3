"""resample_to_model / crop_nan: exact behaviour on synthetic stacks, the report on real ones."""

import numpy as np
import pytest

from keras_spm.io import SPMStack, assemble_stack, crop_nan, read, resample_to_model


def _stack(nx=48, ny=48, nz=16, px=0.25, heights=True, fill=None):
    x = np.arange(nx)[:, None, None] * px
    z = (-32.0 - 0.1 * np.arange(nz))[None, None, :]
    data = (x + 0 * np.arange(ny)[None, :, None] + 10 * z) if fill is None else np.full((nx, ny, nz), fill)
    return SPMStack(
        data.astype(np.float32),
        (nx * px, ny * px),
        "Frequency_Shift",
        "Hz",
        z.ravel() if heights else None,
        sources=("synthetic.sxm",),
    )


def test_slices_interpolated_closest_first():
    s = _stack(px=0.125, nx=128, ny=128)
    out, report = resample_to_model(s, slice_spacing=0.15)
    assert out.shape == (128, 128, 10) and out.dtype == np.float32
    targets = -33.5 + 0.15 * np.arange(10)[::-1]  # ends at the closest height, farthest first
    np.testing.assert_allclose(out[0, 0], 10 * targets, atol=1e-4)  # data is linear in z: exact
    assert report[0].startswith("interpolated linearly in z 10 of 16 slices closest-first, 0.150 A apart")
    assert "no zoom" in report[1]
    picked, report = resample_to_model(s)
    np.testing.assert_allclose(picked, s.data[..., 6:], atol=1e-4)
    assert report[0].startswith("picked 10 of 16 slices")


def test_zoom_and_pad_with_known_values():
    s = _stack(nx=48, ny=48, px=0.25)  # 12 A scan at 0.25 A/px -> 96 px at 0.125 -> padded to 128
    out, report = resample_to_model(s)
    assert report[1] == "zoomed 2x bilinearly from 0.25 x 0.25 to 0.125 A/px (48x48 -> 96x96 px)"
    assert report[2] == "padded x 96->128 px by reflection" and report[3] == "padded y 96->128 px by reflection"
    ramp = out[16:112, 64, 0]  # the unpadded part is a ramp in x of slope 0.125 A per px
    np.testing.assert_allclose(np.diff(ramp)[2:-2], 0.125, atol=1e-4)
    np.testing.assert_allclose(out[:16, 64, 0], out[17:33, 64, 0][::-1])  # reflection about the edge


def test_crop_and_nan_fill_are_reported():
    s = _stack(nx=200, ny=150, px=0.125)
    s.data[10, 10, :] = np.nan
    out, report = resample_to_model(s)
    assert np.isfinite(out).all()
    assert "filled 10 NaN pixels (0.00%) by their nearest valid neighbour" in report
    assert "cropped x 200->128 px around the centre" in report and "cropped y 150->128 px around the centre" in report
    np.testing.assert_allclose(out[0, 0, -1], s.data[36, 11, -1])


def test_bad_stacks():
    with pytest.raises(ValueError, match="holds no finite value"):
        resample_to_model(_stack(fill=np.nan))
    with pytest.raises(ValueError, match="is empty"):
        resample_to_model(SPMStack(np.zeros((0, 5, 10), np.float32), (1.0, 1.0), "df"))
    partly = _stack()
    partly.data[..., 3] = np.nan
    with pytest.raises(ValueError, match=r"slice\(s\) \[3\] of 'Frequency_Shift' are all NaN"):
        resample_to_model(partly)
    many = _stack()
    many.data[:30, :, :] = np.nan
    with pytest.raises(ValueError, match=r"62.5% of the pixels are NaN.*crop_nan"):
        resample_to_model(many)
    with pytest.raises(ValueError, match="has 16 slice\\(s\\) but the model needs 20"):
        resample_to_model(_stack(), n_slices=20)
    with pytest.raises(ValueError, match="heights span 1.500 A but 10 slices 0.2 A apart need 1.800 A"):
        resample_to_model(_stack(), slice_spacing=0.2)
    with pytest.raises(ValueError, match="max_pixels"):
        resample_to_model(_stack(px=20.0))
    with pytest.raises(TypeError, match="expected an SPMStack or SPMImage"):
        resample_to_model(np.zeros((128, 128, 10)))
    out, report = resample_to_model(_stack(heights=False))
    assert report[0] == "picked the 10 closest of 16 slices as they are (heights unknown)"


def test_crop_nan_keeps_the_measured_rectangle():
    s = _stack(nx=32, ny=32, px=0.9375)
    s.offset, s.angle = (0.0, 0.0), 0.0
    s.data[:, 3:] = np.nan
    s.data[24:, 2] = np.nan  # an interrupted grid: 2 full lines and 24 points of the third
    c = crop_nan(s)
    assert c.shape == (24, 3, 16) and np.isfinite(c.data).all()
    assert c.size == pytest.approx((22.5, 2.8125))
    assert c.offset == pytest.approx((-3.75, -13.59375))  # centre of the kept rectangle
    assert c.notes[-1].startswith("cropped to the NaN-free x 0:24, y 0:3 of 32x32 px")


def test_real_series_to_model(spm_files):
    stack = assemble_stack(spm_files / "nanonis_stack")
    out, report = resample_to_model(stack)
    assert out.shape == (128, 128, 10) and np.isfinite(out).all()
    assert report == [
        "picked 10 of 16 slices closest-first, 0.100 A apart, at heights -32.749 .. -33.649 A "
        "(stack spans -32.149 .. -33.649 A)",
        "zoomed 1.67x bilinearly from 0.2083 x 0.2083 to 0.125 A/px (48x48 -> 80x80 px)",
        "padded x 80->128 px by reflection",
        "padded y 80->128 px by reflection",
    ]
    # slice 0 = farthest kept height (-32.749 A), slice -1 = closest (-33.649 A)
    assert out[24:104, 24:104, 0].mean() == pytest.approx(stack.data[..., 6].mean(), abs=0.05)
    assert out[24:104, 24:104, -1].mean() == pytest.approx(stack.data[..., -1].mean(), abs=0.05)


def test_real_single_images_and_grid(spm_files):
    out, report = resample_to_model(read(spm_files / "01514.sxm"), n_slices=1)
    assert out.shape == (128, 128, 1)
    assert report[1] == "zoomed 2.5x bilinearly from 0.3125 x 0.3125 to 0.125 A/px (160x160 -> 400x400 px)"
    grid = read(spm_files / "Grid_Spectroscopy006.3ds")
    with pytest.raises(ValueError, match="91.4% of the pixels are NaN"):
        resample_to_model(grid)
    out, report = resample_to_model(crop_nan(grid))
    assert out.shape == (128, 128, 10) and np.isfinite(out).all()
    assert "padded y 22->128 px by reflection (the scan covers only 17% of it)" in report
    with pytest.raises(ValueError, match="100392.2 x 100392.2 A"):
        resample_to_model(read(spm_files / "PTO_110_Virgin0001.gwy"), n_slices=1)
