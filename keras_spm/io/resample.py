"""Put a measured stack on a zoo model's grid, and say in words what that took.

The AFM structure-discovery models (Alldritt et al., Sci. Adv. 6, eaay6913 (2020)) see 128 x 128 px
at 0.125 A/px (a 15.875 A window) and 10 slices 0.1 A apart, slice 0 the farthest. A real scan has
its own pixel size, frame and heights: :func:`resample_to_model` zooms bilinearly to the model's
pixel size, centre-crops or reflect-pads to its shape, picks or interpolates its slices, fills a few
missing pixels, and returns a report alongside the array, so nobody has to guess what was done.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .image import SPMFileError, SPMImage, SPMStack


class Resampled(NamedTuple):
    data: np.ndarray  # float32 (shape[0], shape[1], n_slices), slice 0 farthest
    report: list[str]


def _as_stack(stack) -> SPMStack:
    if isinstance(stack, SPMImage):
        return SPMStack.from_image(stack)
    if not isinstance(stack, SPMStack):
        raise TypeError(f"expected an SPMStack or SPMImage (from keras_spm.io.read), got {type(stack).__name__}")
    return stack


def _label(stack: SPMStack) -> str:
    return (
        stack.sources[0]
        if len(stack.sources) == 1
        else f"stack of {len(stack.sources)} files"
        if stack.sources
        else "stack"
    )


def check_values(stack: SPMStack) -> None:
    """Raise a clear error (:class:`SPMFileError`, a ValueError) for an empty stack or a slice with no finite value.

    An all-NaN channel (an aborted scan) reads with a warning but cannot be put on a model's grid.
    """
    d = np.asarray(stack.data)
    if d.ndim != 3 or d.size == 0:
        raise SPMFileError(f"{_label(stack)}: channel {stack.channel!r} is empty (data shape {d.shape})")
    finite = np.isfinite(d).reshape(-1, d.shape[2]).any(axis=0)
    if not finite.any():
        raise SPMFileError(
            f"{_label(stack)}: channel {stack.channel!r} holds no finite value (all NaN: an aborted scan?), "
            "so there is nothing to resample or predict from; pick another channel or file"
        )
    if not finite.all():
        raise SPMFileError(
            f"{_label(stack)}: slice(s) {np.flatnonzero(~finite).tolist()} of {stack.channel!r} are "
            "all NaN; drop them or pick heights inside the measured range"
        )


def nan_free_box(bad: np.ndarray) -> tuple[int, int, int, int]:
    """``(x0, x1, y0, y1)`` of a rectangle of the 2D mask ``bad`` holding no True pixel, found greedily by dropping
    the edge line or column with the largest bad fraction (an interrupted scan or grid loses its unfinished lines);
    an empty box (``x1 <= x0`` or ``y1 <= y0``) when none is left."""
    x0, x1, y0, y1 = 0, bad.shape[0], 0, bad.shape[1]
    while x1 > x0 and y1 > y0 and bad[x0:x1, y0:y1].any():
        b = bad[x0:x1, y0:y1]
        edges = {"x0": b[0].mean(), "x1": b[-1].mean(), "y0": b[:, 0].mean(), "y1": b[:, -1].mean()}
        worst = max(edges, key=edges.get)
        if worst == "x0":
            x0 += 1
        elif worst == "x1":
            x1 -= 1
        elif worst == "y0":
            y0 += 1
        else:
            y1 -= 1
    return x0, x1, y0, y1


def crop_nan(stack: SPMStack) -> SPMStack:
    """Crop edge lines/columns holding NaN (e.g. an interrupted grid) until none is left.

    Greedy (:func:`nan_free_box`). Size and frame centre follow the crop.
    """
    stack = _as_stack(stack)
    check_values(stack)
    bad = ~np.isfinite(stack.data).all(axis=2)
    x0, x1, y0, y1 = nan_free_box(bad)
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"{_label(stack)}: no NaN-free rectangle left after cropping")
    nx, ny = bad.shape
    if (x0, x1, y0, y1) == (0, nx, 0, ny):
        return stack
    px, py = stack.pixel_size
    size = ((x1 - x0) * px, (y1 - y0) * py)
    offset = stack.offset
    if offset is not None:  # shift of the frame centre, rotated from frame to lab coordinates
        du, dv = ((x0 + x1 - nx) / 2 * px, (y0 + y1 - ny) / 2 * py)
        t = np.deg2rad(stack.angle or 0.0)
        offset = (
            float(offset[0] + du * np.cos(t) - dv * np.sin(t)),
            float(offset[1] + du * np.sin(t) + dv * np.cos(t)),
        )
    note = f"cropped to the NaN-free x {x0}:{x1}, y {y0}:{y1} of {nx}x{ny} px ({size[0]:.2f} x {size[1]:.2f} A)"
    return SPMStack(
        np.ascontiguousarray(stack.data[x0:x1, y0:y1]),
        size,
        stack.channel,
        stack.unit,
        stack.heights,
        stack.direction,
        stack.angle,
        offset,
        stack.sources,
        [*stack.notes, note],
    )


def _select_slices(stack: SPMStack, n_slices: int, spacing: float | None, report: list[str]) -> np.ndarray:
    d, h = stack.data, stack.heights
    nz = d.shape[2]
    if nz < n_slices:
        raise ValueError(
            f"{_label(stack)}: the stack has {nz} slice(s) but the model needs {n_slices}; "
            "measure more heights or use a model built for fewer slices"
        )
    if h is None or spacing is None or n_slices == 1:
        why = "heights unknown" if h is None else "slice_spacing=None" if spacing is None else "one slice"
        where = (
            "" if h is None else f" at {h[-1]:.3f} A" if n_slices == 1 else f" at {h[-n_slices]:.3f} .. {h[-1]:.3f} A"
        )
        report.append(f"picked the {n_slices} closest of {nz} slices as they are ({why}){where}")
        return d[:, :, nz - n_slices :]
    h = np.asarray(h, dtype=np.float64)
    if np.any(np.diff(h) >= 0):
        raise ValueError(f"{_label(stack)}: heights must decrease strictly (slice 0 farthest), got {h}")
    span = spacing * (n_slices - 1)
    if h[0] - h[-1] < span - 1e-6:
        raise ValueError(
            f"{_label(stack)}: heights span {h[0] - h[-1]:.3f} A but {n_slices} slices {spacing} A "
            f"apart need {span:.3f} A; pass slice_spacing=None to take the {n_slices} closest slices "
            "as they are, or a smaller slice_spacing"
        )
    targets = h[-1] + spacing * np.arange(n_slices)[::-1]  # farthest first, ending at the closest height
    # bracketing slices: heights descending -> search on the reversed (ascending) array
    asc = h[::-1]
    hi = np.clip(np.searchsorted(asc, targets, side="left"), 1, nz - 1)
    lo = hi - 1
    w = (targets - asc[lo]) / (asc[hi] - asc[lo])
    ia, ib = nz - 1 - lo, nz - 1 - hi  # indices in the original (descending) order
    out = d[:, :, ia] * (1 - w) + d[:, :, ib] * w
    exact = np.all(np.isclose(w, 0, atol=1e-3) | np.isclose(w, 1, atol=1e-3))
    verb = "picked" if exact else "interpolated linearly in z"
    report.append(
        f"{verb} {n_slices} of {nz} slices closest-first, {spacing:.3f} A apart, at heights "
        f"{targets[0]:.3f} .. {targets[-1]:.3f} A (stack spans {h[0]:.3f} .. {h[-1]:.3f} A)"
    )
    return out


def _fill_nan(d: np.ndarray, label: str, max_fraction: float, report: list[str]) -> np.ndarray:
    from scipy.ndimage import distance_transform_edt

    bad = ~np.isfinite(d)
    if not bad.any():
        return d
    frac = bad.mean()
    if frac > max_fraction:
        raise ValueError(
            f"{label}: {100 * frac:.1f}% of the pixels are NaN (more than max_nan_fraction="
            f"{max_fraction}); crop them first with keras_spm.io.crop_nan(stack)"
        )
    d = d.copy()
    for k in range(d.shape[2]):
        if bad[:, :, k].any():
            idx = distance_transform_edt(bad[:, :, k], return_distances=False, return_indices=True)
            d[:, :, k] = d[:, :, k][idx[0], idx[1]]
    report.append(f"filled {int(bad.sum())} NaN pixels ({100 * frac:.2f}%) by their nearest valid neighbour")
    return d


def _fit_axis(d: np.ndarray, axis: int, target: int, name: str, report: list[str]) -> np.ndarray:
    n = d.shape[axis]
    if n > target:
        start = (n - target) // 2
        report.append(f"cropped {name} {n}->{target} px around the centre")
        return np.take(d, np.arange(start, start + target), axis=axis)
    if n < target:
        before = (target - n) // 2
        pad = [(0, 0)] * d.ndim
        pad[axis] = (before, target - n - before)
        report.append(
            f"padded {name} {n}->{target} px by reflection"
            + (f" (the scan covers only {100 * n / target:.0f}% of it)" if n < target / 2 else "")
        )
        return np.pad(d, pad, mode="reflect" if n > 1 else "edge")
    return d


def resample_to_model(
    stack,
    pixel_size: float = 0.125,
    shape: tuple[int, int] = (128, 128),
    n_slices: int = 10,
    slice_spacing: float | None = 0.1,
    max_nan_fraction: float = 0.1,
    max_pixels: int = 4096,
) -> Resampled:
    """Resample an :class:`SPMStack` (or a one-slice :class:`SPMImage`) to a model's input grid.

    Defaults are the ASD-AFM models' (128 x 128 px of 0.125 A, 10 slices 0.1 A apart). Steps:

    1. slices: with known heights and ``slice_spacing``, ``n_slices`` heights ``slice_spacing`` apart
       ending at the closest measured height, linearly interpolated in z between the measured slices
       (or picked when they coincide); without heights (or ``slice_spacing=None``) the ``n_slices``
       closest slices as they are. Fewer slices than needed is an error.
    2. a few NaN pixels (at most ``max_nan_fraction``) are filled by their nearest valid neighbour;
       more, an all-NaN slice or an empty channel is an error.
    3. bilinear zoom to ``pixel_size`` (anti-aliased when shrinking); more than ``max_pixels`` a side
       is an error (a scan far too large for a molecule-scale model).
    4. centre crop, or reflection pad, to ``shape``.

    Returns ``Resampled(data, report)``: float32 ``(*shape, n_slices)`` and the steps in words.

    A file's pixel is ``size / n`` (Nanonis, Gwyddion); the simulated 15.875 A window at 128 px has
    ``15.875 / 127`` A between pixel centres. The 0.8% difference is below a scan's calibration error
    and is ignored.
    """
    from skimage.transform import resize

    stack = _as_stack(stack)
    check_values(stack)
    label = _label(stack)
    report: list[str] = []
    d = _select_slices(stack, n_slices, slice_spacing, report).astype(np.float64)
    d = _fill_nan(d, label, max_nan_fraction, report)

    (px, py), (nx, ny) = stack.pixel_size, d.shape[:2]
    new = (max(1, round(stack.size[0] / pixel_size)), max(1, round(stack.size[1] / pixel_size)))
    if max(new) > max_pixels:
        raise ValueError(
            f"{label}: the scan is {stack.size[0]:.1f} x {stack.size[1]:.1f} A; at {pixel_size} A/px "
            f"that is {new[0]}x{new[1]} px (max_pixels={max_pixels}). This model sees "
            f"{shape[0] * pixel_size:.2f} A: crop the scan to the molecule first"
        )
    if new != (nx, ny):
        zx, zy = new[0] / nx, new[1] / ny
        d = resize(d, (*new, d.shape[2]), order=1, mode="edge", anti_aliasing=min(zx, zy) < 1, preserve_range=True)
        zoom = f"{zx:.3g}x" if np.isclose(zx, zy, rtol=1e-3) else f"{zx:.3g}x in x, {zy:.3g}x in y"
        report.append(
            f"zoomed {zoom} bilinearly from {px:.4g} x {py:.4g} to {pixel_size} A/px "
            f"({nx}x{ny} -> {new[0]}x{new[1]} px)"
        )
    else:
        report.append(f"pixel size already {pixel_size} A ({nx}x{ny} px): no zoom")
    d = _fit_axis(d, 0, shape[0], "x", report)
    d = _fit_axis(d, 1, shape[1], "y", report)
    return Resampled(np.ascontiguousarray(d, dtype=np.float32), report)
