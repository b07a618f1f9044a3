"""ASD-AFM training augmentations of AFM stacks (numpy, seeded).

Alldritt et al., Sci. Adv. 6, eaay6913 (2020): simulated stacks are made to look more
like measured ones by a random lateral drift across slices, per-slice standardisation,
uniform noise (c = 0.1 of each slice's range) and random rectangular cutouts. Every
function takes an explicit ``numpy.random.Generator`` so a seed fixes the result.
Stacks are (x, y, slices), slice 0 farthest; the closest slice is never shifted, so the
descriptor maps stay aligned with it.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def standardize(stack: np.ndarray) -> np.ndarray:
    """Per-slice zero mean, unit standard deviation (constant slices become zeros)."""
    mean = stack.mean(axis=(0, 1), keepdims=True)
    std = stack.std(axis=(0, 1), keepdims=True)
    return ((stack - mean) / np.where(std > 0, std, 1.0)).astype(np.float32)


def add_noise(stack: np.ndarray, rng: np.random.Generator, c: float = 0.1) -> np.ndarray:
    """Add uniform noise of amplitude ``c`` times each slice's value range."""
    span = stack.max(axis=(0, 1), keepdims=True) - stack.min(axis=(0, 1), keepdims=True)
    return (stack + (rng.random(stack.shape, dtype=np.float32) - 0.5) * c * span).astype(np.float32)


def shift_xy_trend(
    stack: np.ndarray, rng: np.random.Generator, step_max: float = 0.02, total_max: float = 0.1
) -> np.ndarray:
    """Drift: slice k is shifted by (n-1-k) times a random per-slice step (fraction of the image size).

    Mimics piezo drift while the tip approaches; the closest slice stays in place.
    """
    n = stack.shape[2]
    size = np.array(stack.shape[:2], dtype=np.float64)
    step = rng.uniform(-step_max, step_max, size=2) * size
    out = np.empty_like(stack)
    for k in range(n):
        shift = np.clip(step * (n - 1 - k), -total_max * size, total_max * size)
        if np.allclose(shift, 0):
            out[:, :, k] = stack[:, :, k]
        else:
            out[:, :, k] = ndimage.shift(stack[:, :, k], shift, order=1, mode="nearest")
    return out


def add_cutouts(stack: np.ndarray, rng: np.random.Generator, n_holes: int = 5, max_size: float = 0.1) -> np.ndarray:
    """Blank up to ``n_holes`` random rectangles per slice (sides up to ``max_size`` of the image) with the slice mean."""
    out = stack.copy()
    nx, ny, n = stack.shape
    for k in range(n):
        mean = out[:, :, k].mean()
        for _ in range(rng.integers(0, n_holes + 1)):
            w = rng.integers(1, max(2, int(max_size * nx)) + 1)
            h = rng.integers(1, max(2, int(max_size * ny)) + 1)
            x = rng.integers(0, nx - w + 1)
            y = rng.integers(0, ny - h + 1)
            out[x : x + w, y : y + h, k] = mean
    return out


def asd_afm_augment(stack: np.ndarray, rng: np.random.Generator, noise: float = 0.1, n_holes: int = 5) -> np.ndarray:
    """The full ASD-AFM training augmentation: drift, standardise, noise, cutouts."""
    stack = shift_xy_trend(stack, rng)
    stack = standardize(stack)
    stack = add_noise(stack, rng, noise)
    return add_cutouts(stack, rng, n_holes)
