"""Training augmentations of AFM stacks (numpy, seeded), making simulated stacks look measured.

Four recipes (:data:`AUGMENTATIONS`):

- ``"asd-afm"``: what the published ASD-AFM training code does (Alldritt et al., Sci. Adv. 6,
  eaay6913 (2020), SINGROUP/ASD-AFM ``data_utils.py``): per-slice standardisation, uniform noise
  of 0.1 x each slice's range, every slice moved by its own random whole-pixel shift of 1-2 px
  (mirrored edges), and random erasing (5 tries per slice, each blanking with probability 0.2 a
  rectangle of 0.1-1 % of the image).
- ``"asd-afm-random-noise"``: the same with the noise amplitude drawn per sample from [0, 0.1] (ppafm's
  ``randomize_amplitude``), so the network also sees nearly clean stacks: trained on noisy stacks only, DSH
  networks (the published ones too) overestimate heights on noise-free simulations. The zoo's dsh_light and
  xyz were last trained with it.
- ``"drift"``: keras_spm's first recipe (the zoo's es, and the earlier dsh/xyz weights, were trained with it):
  a lateral drift trend across slices (up to 2 % of the image per slice and 10 % in all, the
  closest slice fixed, as in ppafm's later generators), standardisation, the same noise, and up
  to 5 cutouts per slice with sides up to 10 % of the image.
- ``"drift-random-noise"``: the drift recipe with the noise amplitude drawn per sample from [0, 0.1], as
  ``"asd-afm-random-noise"`` does for ASD-AFM's. es trained on ``"drift"`` alone got better on noisy test stacks
  and worse on noise-free ones (height MSE 1.7x, ES MSE 1.8x after a 1.2 h campaign); the zoo's es models now
  train on this one.

Every function takes an explicit ``numpy.random.Generator`` so a seed fixes the result.
Stacks are (x, y, slices), slice 0 farthest.
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


def shift_slices(stack: np.ndarray, rng: np.random.Generator, c: float = 0.02) -> np.ndarray:
    """Move every slice by its own random whole-pixel shift (1 to ``c`` x size px, never 0), edges mirrored.

    ASD-AFM's jitter: the network must not rely on exact registration between slices (or with the labels).
    """
    nx, ny, n = stack.shape
    mx, my = max(1, int(c * nx)), max(1, int(c * ny))
    padded = np.pad(stack, ((mx, mx), (my, my), (0, 0)), mode="reflect")
    out = np.empty_like(stack)
    for k in range(n):
        dx = rng.integers(1, mx + 1) * rng.choice((-1, 1))
        dy = rng.integers(1, my + 1) * rng.choice((-1, 1))
        out[:, :, k] = padded[mx - dx : mx - dx + nx, my - dy : my - dy + ny, k]
    return out


def random_erasing(
    stack: np.ndarray,
    rng: np.random.Generator,
    tries: int = 5,
    p: float = 0.2,
    area: tuple[float, float] = (0.001, 0.01),
    aspect: tuple[float, float] = (0.1, 10.0),
    value: float = 0.0,
) -> np.ndarray:
    """Per slice, ``tries`` times with probability ``p``: set a random rectangle to ``value``.

    Random erasing (Zhong et al., AAAI 2020) as ASD-AFM uses it: the rectangle covers ``area``
    (a fraction of the image) with height/width ratio in ``aspect``; on standardised slices
    ``value = 0`` is the slice mean.
    """
    out = stack.copy()
    nx, ny, n = stack.shape
    for k in range(n):
        for _ in range(tries):
            if rng.random() >= p:
                continue
            for _attempt in range(100):  # redraw until the rectangle fits, as the original does
                s = rng.uniform(*area) * nx * ny
                r = rng.uniform(*aspect)
                w, h = int(np.sqrt(s / r)), int(np.sqrt(s * r))
                left, top = rng.integers(0, ny), rng.integers(0, nx)
                if left + w <= ny and top + h <= nx:
                    out[top : top + h, left : left + w, k] = value
                    break
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


def asd_afm_augment(
    stack: np.ndarray, rng: np.random.Generator, noise: float = 0.1, random_amplitude: bool = False
) -> np.ndarray:
    """The published ASD-AFM augmentation: standardise, noise, per-slice shifts, random erasing.

    ``random_amplitude``: noise amplitude uniform in [0, ``noise``] for this stack instead of ``noise``.
    """
    amplitude = noise * rng.random() if random_amplitude else noise
    stack = add_noise(standardize(stack), rng, amplitude)
    return random_erasing(shift_slices(stack, rng), rng)


def asd_afm_random_noise_augment(stack: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """ASD-AFM's augmentation with a random noise amplitude in [0, 0.1] per stack."""
    return asd_afm_augment(stack, rng, random_amplitude=True)


def drift_augment(
    stack: np.ndarray,
    rng: np.random.Generator,
    noise: float = 0.1,
    n_holes: int = 5,
    random_amplitude: bool = False,
) -> np.ndarray:
    """keras_spm's first recipe: drift trend, standardise, noise, cutouts.

    ``random_amplitude``: noise amplitude uniform in [0, ``noise``] for this stack instead of ``noise``.
    """
    stack = shift_xy_trend(stack, rng)
    stack = standardize(stack)
    stack = add_noise(stack, rng, noise * rng.random() if random_amplitude else noise)
    return add_cutouts(stack, rng, n_holes)


def drift_random_noise_augment(stack: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The drift recipe with a random noise amplitude in [0, 0.1] per stack."""
    return drift_augment(stack, rng, random_amplitude=True)


#: Augmentation recipes by name (``SampleSpec.augmentation``, ``training/fit.py --augmentation``).
AUGMENTATIONS = {
    "asd-afm": asd_afm_augment,
    "asd-afm-random-noise": asd_afm_random_noise_augment,
    "drift": drift_augment,
    "drift-random-noise": drift_random_noise_augment,
}
