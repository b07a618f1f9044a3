"""Does the scan itself allow the estimated tip? Villarrubia's openness test, used to refuse a tip estimate.

An image made by a tip P is P-open: eroding it by P and dilating the result by P gives the image back, since
``I = S (+) P`` implies ``(I (-) P) (+) P = I`` (J. S. Villarrubia, J. Res. NIST 102, 425 (1997), Sec. 5). Where the
opening is *lower* than the image, the image has a feature sharper than P could have drawn: P is too blunt there,
whatever the network believed. White noise breaks openness by a few noise sigmas at most; a clean grating or a
fibre scanned by a fine tip breaks it by many. :func:`tip_contradicted` measures that excess
(:func:`opening_excess`: the 99th percentile of ``image - opening``, in noise sigmas) and
:func:`keras_spm.models.dae.restore.restore` returns a scan unchanged when its estimated tip is contradicted:
eroding a clean scan destroys data, eroding too little only leaves some widening.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

#: default threshold of :func:`tip_contradicted`, in noise sigmas; chosen on validation data only
#: (``benchmarks/tip_artifacts.py`` with ``--splits val --steep-clean 8 --relief 8``; see the dae card)
MAX_OPENING_EXCESS = 4.0


def noise_sigma(image: np.ndarray) -> float:
    """Robust white-noise std of a height map from neighbouring-pixel differences along the fast axis (MAD / sqrt 2).

    On a noise-free image it is the scale of the finest texture, which is what openness must then be judged
    against."""
    d = np.diff(np.asarray(image, dtype=np.float64), axis=1).ravel()
    return float(1.4826 * np.median(np.abs(d - np.median(d))) / np.sqrt(2))


def opening_excess(image: np.ndarray, tip_height: np.ndarray) -> float:
    """99th percentile of ``image - opening(image, tip)`` in noise sigmas (:func:`noise_sigma`), away from the border.

    ``tip_height``: the tip profile on a square odd grid, apex 0 and <= 0 elsewhere, in the image's height unit
    and pixels (e.g. ``estimate_tip(...).height``). 0 for an image that the tip could have made exactly."""
    a = np.asarray(image, dtype=np.float64)
    tip = np.asarray(tip_height, dtype=np.float64)
    if a.ndim != 2 or tip.ndim != 2 or tip.shape[0] != tip.shape[1] or tip.shape[0] % 2 == 0:
        raise ValueError(f"need a 2D image and a square odd-sized 2D tip, got {a.shape} and {tip.shape}.")
    m = tip.shape[0] // 2
    if min(a.shape) <= 2 * m + 2:
        raise ValueError(f"image {a.shape} is too small for a {tip.shape[0]} px tip.")
    structure = tip[::-1, ::-1]
    eroded = ndimage.grey_erosion(a, structure=structure, mode="constant", cval=np.inf)
    opened = ndimage.grey_dilation(eroded, structure=structure, mode="nearest")
    excess = (a - opened)[m:-m, m:-m]
    scale = max(noise_sigma(a), 1e-12 * max(1.0, float(np.abs(a).max())))
    return float(np.percentile(excess, 99) / scale)


def tip_contradicted(image: np.ndarray, tip_height: np.ndarray, max_excess: float = MAX_OPENING_EXCESS) -> bool:
    """True when ``image`` has features sharper than ``tip_height`` allows by more than ``max_excess`` noise sigmas
    (:func:`opening_excess`): a tip estimate the scan refutes."""
    return opening_excess(image, tip_height) > max_excess
