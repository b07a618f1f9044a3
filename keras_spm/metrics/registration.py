"""Quality after sub-pixel registration: what a restoration scores once a global translation is taken out.

Why. A tilted tip (its apex off the tip's axis) translates the whole image by the apex offset, up to a pixel in the
tip-artifact corruption of :func:`keras_spm.sim.tip.corrupt`. One image says nothing about where it lies on the
sample, so no remover can undo that translation; the true-tip erosion ("oracle") undoes it because it is handed the
tip. On lattices and other low-relief scans, where one pixel is much of a feature, the translation alone costs several
dB of PSNR (measured on corrupted synthetic surfaces with under 1 px of relief: re-registering the corrupted input by
the apex offset gains +3.9 dB; the oracle gains +6.2), so plain PSNR against the clean scan mixes what a remover can
fix with what it cannot. :func:`registered_quality` scores every method the same way after aligning its output to the
reference with the least-squares translation of at most ``max_shift`` px, so the comparison is on shape. It is
reported beside the plain metrics, not instead of them.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .image_quality import image_quality

#: the corruption's apex offsets are at most 1 px a side; 2 px leaves room without matching unrelated structure
MAX_SHIFT = 2.0


def register(reference: np.ndarray, image: np.ndarray, max_shift: float = MAX_SHIFT) -> tuple[np.ndarray, tuple]:
    """``image`` translated (cubic spline, edge pixels repeated) onto ``reference``; returns (moved, (dy, dx)).

    The shift is the least-squares one within ``max_shift`` px a side: the best whole-pixel shift, then refined
    (Powell) on the interior, which the shift's edges do not reach. Why not phase correlation: on a lattice it
    matches any lattice vector equally, and the translations of interest here are small and known to be.
    """
    from scipy import optimize

    ref, im = np.asarray(reference, np.float64), np.asarray(image, np.float64)
    if ref.shape != im.shape or ref.ndim != 2:
        raise ValueError(f"reference and image must be 2D arrays of one shape, got {ref.shape} and {im.shape}.")
    if not (np.all(np.isfinite(ref)) and np.all(np.isfinite(im))):
        raise ValueError("reference and image must be finite (no NaN/inf) to be registered.")
    m = int(np.ceil(max_shift)) + 1
    if min(ref.shape) <= 4 * m or np.ptp(ref) == 0 or np.ptp(im) == 0:
        return im, (0.0, 0.0)
    inner = ref[m:-m, m:-m]

    def cost(s) -> float:
        return float(np.mean((ndimage.shift(im, s, order=3, mode="nearest")[m:-m, m:-m] - inner) ** 2))

    whole = range(-int(max_shift), int(max_shift) + 1)
    start_cost, start = min((cost((dy, dx)), (dy, dx)) for dy in whole for dx in whole)
    bounds = [(-max_shift, max_shift)] * 2
    best = optimize.minimize(cost, np.array(start, float), method="Powell", bounds=bounds, options={"xtol": 1e-3})
    shift = best.x if best.fun <= start_cost else np.array(start, float)
    return ndimage.shift(im, shift, order=3, mode="nearest"), (float(shift[0]), float(shift[1]))


def registered_quality(reference, distorted, data_range: float | None = None, max_shift: float = MAX_SHIFT) -> dict:
    """:func:`~keras_spm.metrics.image_quality` of ``distorted`` after :func:`register` onto ``reference``, with the
    shift it took (``shift_px``, the length of (dy, dx))."""
    moved, shift = register(reference, distorted, max_shift)
    return {**image_quality(reference, moved, data_range), "shift_px": float(np.hypot(*shift))}
