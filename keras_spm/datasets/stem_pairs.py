"""Paired HAADF-STEM images of Pt-Mo nanoparticles: fast convolution image -> accurate multislice image.

Data: ``stem/pt_mo5`` (uw-cmg/GAN-STEM-Conv2MultiSlice, MIT): 20 pairs ``Pt_Mo5_convolution_{i}.npy`` (float64)
and ``pt_mo5_{i}_cl160mm_ss.tif`` (float32 frozen-phonon multislice), 228-258 px a side, one shape per pair.
Used for pix2pix (Isola et al. CVPR 2017) and the pixel-wise polynomial baseline of Combs et al., Adv. Struct.
Chem. Imaging 5, 2 (2019).

Split by pair index: :data:`TEST_INDICES` = 3, 8, 13, 18 (every fifth pair, 20 %) are held out and
:data:`TRAIN_INDICES` are the other 16. The set holds two intensity populations (pairs 2, 12-15, 17, 18 are
about twice as bright and contrasted as the rest); the test set has two of each.

Normalisation follows the source work: each image is divided by its own maximum (so [0, 1]; the tiny
negative FFT round-off of the convolution images, ~1e-18, is clipped to 0) and mapped to [-1, 1] for the
tanh generator (``2 x / max - 1``). Training crops are aligned 256 x 256 windows of both images
(reflection padded when a side is shorter), with the same random flip / 90-degree rotation applied to both
(HAADF image formation has no preferred in-plane direction).

Whole images whose sides are not multiples of the network stride go through :func:`pad_to_multiple`
(reflection padding, with a warning) and :func:`crop_back`.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np

N_PAIRS = 20
TEST_INDICES: tuple[int, ...] = (3, 8, 13, 18)
TRAIN_INDICES: tuple[int, ...] = tuple(i for i in range(N_PAIRS) if i not in TEST_INDICES)
CROP = 256


def default_root() -> Path:
    """``<repo>/../shared/data/stem/pt_mo5``, the shared reference data beside the project."""
    return Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "stem" / "pt_mo5"


def pair_paths(index: int, root: str | Path | None = None) -> tuple[Path, Path]:
    root = Path(root) if root is not None else default_root()
    return root / f"Pt_Mo5_convolution_{index}.npy", root / f"pt_mo5_{index}_cl160mm_ss.tif"


def _read_tiff(path: Path) -> np.ndarray:
    try:
        import tifffile

        return tifffile.imread(path)
    except ImportError:  # PIL reads the float32 single-page TIFFs too
        from PIL import Image

        with Image.open(path) as im:
            return np.asarray(im)


def load_pair(index: int, root: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Raw (convolution, multislice) images of pair ``index`` as float64 arrays of the same shape."""
    conv_path, ms_path = pair_paths(index, root)
    for p in (conv_path, ms_path):
        if not p.is_file():
            raise FileNotFoundError(f"STEM pair {index}: {p} not found (shared data missing, or wrong root?).")
    conv = np.asarray(np.load(conv_path), dtype=np.float64)
    ms = np.asarray(_read_tiff(ms_path), dtype=np.float64)
    for img, p in ((conv, conv_path), (ms, ms_path)):
        if img.ndim != 2:
            raise ValueError(f"STEM pair {index}: {p.name} has shape {img.shape}; expected one 2-D image.")
        if not np.all(np.isfinite(img)):
            raise ValueError(f"STEM pair {index}: {p.name} holds NaN/inf pixels; regenerate or drop this pair.")
    if conv.shape != ms.shape:
        raise ValueError(
            f"STEM pair {index}: convolution {conv_path.name} is {conv.shape} but multislice {ms_path.name} is "
            f"{ms.shape}; a pair must be simulated on the same grid."
        )
    return conv, ms


def normalize(img: np.ndarray) -> np.ndarray:
    """The source's scaling: ``clip(img, 0) / max`` in [0, 1]; raises on an all-zero or NaN image."""
    img = np.clip(np.asarray(img, dtype=np.float64), 0.0, None)
    peak = float(img.max()) if img.size else 0.0
    if not np.isfinite(peak) or peak <= 0:
        raise ValueError(f"cannot normalise a STEM image with maximum {peak}; it must have positive intensity.")
    return img / peak


def to_tanh_range(unit: np.ndarray) -> np.ndarray:
    """[0, 1] -> [-1, 1] (the generator's tanh range)."""
    return (2.0 * np.asarray(unit) - 1.0).astype(np.float32)


def from_tanh_range(x: np.ndarray) -> np.ndarray:
    """[-1, 1] -> [0, 1]."""
    return (np.asarray(x, dtype=np.float64) + 1.0) / 2.0


def load_split(split: str = "train", root: str | Path | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Normalised ([0, 1]) (convolution, multislice) pairs of "train" or "test"."""
    indices = {"train": TRAIN_INDICES, "test": TEST_INDICES}.get(split)
    if indices is None:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}.")
    return [tuple(normalize(x) for x in load_pair(i, root)) for i in indices]


def pad_to_multiple(img: np.ndarray, multiple: int, mode: str = "reflect", warn: bool = True):
    """Pad the first two axes of ``img`` up to multiples of ``multiple``; returns ``(padded, box)``.

    Padding is split evenly (extra pixel at the end) and reflective, so edges see plausible content.
    ``crop_back(output, box)`` restores the original size. Warns when padding was needed, because the
    network then also sees the mirrored border.
    """
    if multiple < 1:
        raise ValueError(f"multiple must be >= 1, got {multiple}.")
    img = np.asarray(img)
    h, w = img.shape[:2]
    ph, pw = (-h) % multiple, (-w) % multiple
    top, left = ph // 2, pw // 2
    box = (top, left, h, w)
    if not (ph or pw):
        return img, box
    if warn:
        warnings.warn(
            f"image of {h}x{w} is not a multiple of the network stride {multiple}: reflection-padded to "
            f"{h + ph}x{w + pw}; crop the output back with crop_back(output, box).",
            stacklevel=2,
        )
    pads = [(top, ph - top), (left, pw - left)] + [(0, 0)] * (img.ndim - 2)
    if mode == "reflect" and (max(top, ph - top) >= h or max(left, pw - left) >= w):
        mode = "symmetric"  # np.pad "reflect" needs pad < size; symmetric repeats the edge and always works
    return np.pad(img, pads, mode=mode), box


def crop_back(img: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """Undo :func:`pad_to_multiple` on the first two axes (or on axes 1, 2 of a batch if ``img.ndim == 4``)."""
    top, left, h, w = box
    if np.ndim(img) == 4:
        return img[:, top : top + h, left : left + w]
    return img[top : top + h, left : left + w]


def aligned_random_crop(
    conv: np.ndarray, ms: np.ndarray, size: int, rng: np.random.Generator, flips: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """The same ``size`` x ``size`` window of both images (reflection padded if smaller), same flip/rotation."""
    if conv.shape != ms.shape:
        raise ValueError(f"pair images must have the same shape, got {conv.shape} and {ms.shape}.")
    h, w = conv.shape
    ph, pw = max(size - h, 0), max(size - w, 0)
    if ph or pw:
        pads = ((ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2))
        conv, ms = np.pad(conv, pads, mode="reflect"), np.pad(ms, pads, mode="reflect")
        h, w = conv.shape
    y, x = rng.integers(0, h - size + 1), rng.integers(0, w - size + 1)
    a, b = conv[y : y + size, x : x + size], ms[y : y + size, x : x + size]
    if flips:
        k, flip = int(rng.integers(4)), bool(rng.integers(2))
        a, b = np.rot90(a, k), np.rot90(b, k)
        if flip:
            a, b = a[:, ::-1], b[:, ::-1]
    return np.ascontiguousarray(a), np.ascontiguousarray(b)


def stem_dataset(
    split: str = "train",
    batch_size: int = 1,
    crop: int = CROP,
    seed: int = 0,
    flips: bool = True,
    root: str | Path | None = None,
    pairs: Iterable[tuple[np.ndarray, np.ndarray]] | None = None,
    weights: Iterable[float] | None = None,
):
    """Endless ``tf.data`` stream of aligned ``(convolution, multislice)`` crops, (B, crop, crop, 1) in [-1, 1].

    ``pairs`` (normalised [0, 1] arrays) replaces the files, e.g. for tests or other materials. ``weights`` (one
    per pair, >= 0) makes some pairs drawn more often than others, e.g. a few real pairs among many simulated ones.
    """
    import tensorflow as tf

    if batch_size < 1 or crop < 1:
        raise ValueError(f"batch_size and crop must be >= 1, got {batch_size}, {crop}.")
    pairs = list(pairs) if pairs is not None else load_split(split, root)
    if not pairs:
        raise ValueError("no STEM pairs to draw crops from.")
    for i, (a, b) in enumerate(pairs):
        if np.shape(a) != np.shape(b):
            raise ValueError(f"pair {i}: convolution {np.shape(a)} and multislice {np.shape(b)} differ in shape.")
    p = None
    if weights is not None:
        p = np.asarray(list(weights), dtype=np.float64)
        if p.shape != (len(pairs),) or not np.all(np.isfinite(p)) or p.min() < 0 or p.sum() <= 0:
            raise ValueError(f"weights must be {len(pairs)} finite values >= 0 with a positive sum, got {p.tolist()}.")
        p = p / p.sum()

    def crops():
        rng = np.random.default_rng(seed)
        while True:
            a, b = pairs[rng.integers(len(pairs)) if p is None else rng.choice(len(pairs), p=p)]
            a, b = aligned_random_crop(a, b, crop, rng, flips)
            yield to_tanh_range(a)[..., None], to_tanh_range(b)[..., None]

    spec = tf.TensorSpec((crop, crop, 1), tf.float32)
    ds = tf.data.Dataset.from_generator(crops, output_signature=(spec, spec))
    return ds.batch(batch_size, drop_remainder=True).prefetch(2)


def image_metrics(pred: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """Errors of ``pred`` against the multislice ``target`` (both normalised to [0, 1] by their maxima).

    ``nrmse_mean`` = RMSE / mean(target) and ``nrmse_std`` = RMSE / std(target) are the "fmRMSE" and
    "fsRMSE" of the source work's pix2pix evaluation (uw-cmg GAN-STEM-Conv2MultiSlice, pix2pixGray.py);
    RMSE / std is also the error measure of Combs et al. (2019), with ``one_minus_r2`` = SS_res / SS_tot
    (per image equal to ``nrmse_std ** 2``). ``mean_intensity_error`` = mean(pred) / mean(target) - 1 (signed):
    a per-image brightness error is a calibration problem that RMSE mixes with texture errors.
    """
    pred, target = np.asarray(pred, dtype=np.float64), np.asarray(target, dtype=np.float64)
    if pred.shape != target.shape:
        raise ValueError(f"prediction {pred.shape} and target {target.shape} differ in shape.")
    if not (np.all(np.isfinite(pred)) and np.all(np.isfinite(target))):
        raise ValueError("prediction or target holds NaN/inf values.")
    mse = float(np.mean((pred - target) ** 2))
    rmse = mse**0.5
    return {
        "rmse": rmse,
        "nrmse_mean": rmse / float(np.mean(target)),
        "nrmse_std": rmse / float(np.std(target)),
        "one_minus_r2": mse / float(np.var(target)),
        "mean_intensity_error": float(np.mean(pred)) / float(np.mean(target)) - 1.0,
    }


def legacy_nrmse(pred: np.ndarray, target: np.ndarray) -> float:
    """The error of the source work's ``Calculate_NRMSE.py``: both images scaled to unit L2 norm, then the
    root mean of the squared *per-pixel relative* error ``((p - t) / t) ** 2``.

    Its docstring says ``sum (g - f)^2 / sum g^2`` but the code divides pixel by pixel; the values it
    prints as "average error" (0.421 for Pt-Mo5 pairs 1-19) are ``1 - mean(legacy_nrmse)``, i.e. a score.
    """
    p, t = np.asarray(pred, dtype=np.float64), np.asarray(target, dtype=np.float64)
    p, t = p / np.sqrt(np.sum(p**2)), t / np.sqrt(np.sum(t**2))
    if np.any(t == 0):
        raise ValueError("legacy_nrmse divides by every target pixel; the target has zero pixels.")
    return float(np.sqrt(np.mean(((p - t) / t) ** 2)))
