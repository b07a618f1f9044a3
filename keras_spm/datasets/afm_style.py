"""Unpaired simulated / real AFM images for CycleGAN style translation (domain A = simulated, B = real).

Data: ``afm-exp/ppafm_simulated`` (630 Probe-Particle-Model PNGs, 42 structures x 15 tip heights, named
``{structure}.{height}.png``) and ``afm-exp/experimental`` (97 real CO-tip nc-AFM PNGs, 9 height series named
``{series}_{k}.png``) from SINGROUP/StyleTransAugment (GPL-3.0); read in place from the shared data folder.

Splits are deterministic and depend on file names only. Images of one height series (same structure,
different tip heights) are near-duplicates, so a series never straddles two splits: series are ordered by
size (largest first, ties by the SHA-256 of their name) and each goes to the split furthest below its
target share of images.
``SPLITS`` are "gan_train" (60 %), "gan_test" (15 %) and "expert" (25 %), the last reserved for a
"machine expert" real-vs-simulated classifier that must never see GAN training images (split it further
with :func:`split_by_series`). "gan_val" is carved out of the 60 % by the same rule (:data:`VAL_FRACTION` of
its images; one real series) to choose CycleGAN checkpoints, and "gan_train" is the rest, so the test split
never chooses anything. (The CycleGAN weights shipped before 2026-12-02's carve-out trained on all of the 60 %.)

Pixel values: each image is scaled by its own min/max to [-1, 1] (``normalize="minmax"``, default; the
real images differ widely in contrast) or by the dtype range (``"fixed"``, 8-bit 0..255 -> -1..1, like
torchvision's Normalize(0.5, 0.5) in the reference CycleGAN). Training crops are 192 x 192 (reflection
padded when an image is smaller), optionally flipped left-right; no rotations, since they would turn the
horizontal fast-scan lines of real images vertical.

Bad input: colour images are accepted only when their channels are equal (grayscale saved as RGB) and a
non-opaque alpha channel is refused - a false-colour map is not a height signal, so they raise naming the
file and the fix (convert with your colour map's inverse). Empty folders, unreadable, constant or
non-finite images (``.npy`` / ``.tif`` float images are read too) raise ``ValueError`` naming the file.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np

SPLITS: dict[str, float] = {"gan_train": 0.60, "gan_test": 0.15, "expert": 0.25}
VAL_FRACTION = 0.15
SPLIT_NAMES = ("gan_train", "gan_val", "gan_test", "expert")
DOMAINS = {"sim": "ppafm_simulated", "real": "experimental"}
IMAGE_SUFFIXES = (".png", ".tif", ".tiff", ".npy")
CROP = 192


def default_root() -> Path:
    """``<repo>/../shared/data/afm-exp``, where the project and CI keep the shared reference data."""
    return Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "afm-exp"


def series_name(path: str | Path) -> str:
    """Height series of an image file: ``Ying_Jiang_2_1_3.png`` -> ``Ying_Jiang_2_1``, ``9.10.png`` -> ``9``."""
    stem = Path(path).stem
    for pattern in (r"^(.*)_\d+$", r"^(.*)\.\d+$"):
        match = re.match(pattern, stem)
        if match:
            return match.group(1)
    return stem


def _hash(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def split_by_series(paths: Iterable[str | Path], fractions: dict[str, float] = SPLITS) -> dict[str, list[Path]]:
    """Deterministic split keeping each height series in one split (see the module docstring)."""
    if not fractions or any(f < 0 for f in fractions.values()) or sum(fractions.values()) <= 0:
        raise ValueError(f"split fractions must be >= 0 with a positive sum, got {fractions}.")
    total = sum(fractions.values())
    groups: dict[str, list[Path]] = {}
    for p in sorted(Path(p) for p in paths):
        groups.setdefault(series_name(p), []).append(p)
    n = sum(len(v) for v in groups.values())
    out: dict[str, list[Path]] = {name: [] for name in fractions}
    for series in sorted(groups, key=lambda s: (-len(groups[s]), _hash(s), s)):  # big series first: balance
        # the split with the largest shortfall (target count - current count) takes the whole series
        name = max(fractions, key=lambda k: (fractions[k] / total * n - len(out[k]), -list(fractions).index(k)))
        out[name].extend(groups[series])
    return {k: sorted(v) for k, v in out.items()}


def read_image(path: str | Path) -> np.ndarray:
    """One grayscale image as float32 (H, W) in its stored units (8-bit PNGs: 0..255)."""
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            img = np.load(path)
        elif suffix in (".tif", ".tiff"):
            import tifffile

            img = tifffile.imread(path)
        else:
            from PIL import Image

            with Image.open(path) as im:
                if im.mode == "P":
                    im = im.convert("RGBA")
                img = np.asarray(im)
    except Exception as exc:  # noqa: BLE001 - re-raised with the file name
        raise ValueError(f"cannot read image {path}: {exc}") from exc
    img = _to_gray(np.asarray(img), path)
    if not np.all(np.isfinite(img)):
        raise ValueError(f"image {path} holds {int(np.sum(~np.isfinite(img)))} NaN/inf pixels; fix or remove it.")
    return img.astype(np.float32)


def _to_gray(img: np.ndarray, path: Path) -> np.ndarray:
    if img.ndim == 3 and img.shape[-1] == 1:
        img = img[..., 0]
    if img.ndim == 3 and img.shape[-1] in (2, 4):  # gray+alpha or RGBA
        alpha = img[..., -1]
        if np.any(alpha != alpha.flat[0]):
            raise ValueError(
                f"image {path} has a transparent alpha channel; save it as an opaque grayscale image (mode 'L')."
            )
        img = img[..., :-1] if img.shape[-1] == 4 else img[..., 0]
    if img.ndim == 3 and img.shape[-1] == 3:
        if not (np.array_equal(img[..., 0], img[..., 1]) and np.array_equal(img[..., 0], img[..., 2])):
            raise ValueError(
                f"image {path} is a colour (RGB) image; AFM images must be grayscale. A false-colour map is not "
                "a height/frequency-shift signal: map it back to one channel with its colour map, or save the "
                "raw channel as a grayscale PNG."
            )
        img = img[..., 0]
    if img.ndim != 2:
        raise ValueError(f"image {path} has shape {img.shape}; expected a 2-D grayscale image.")
    return img


def normalize(img: np.ndarray, mode: str = "minmax", path: str | Path = "<array>") -> np.ndarray:
    """Scale to [-1, 1]: by the image's own min/max ("minmax") or by the 8-bit range, 16-bit if any value > 255 ("fixed")."""
    img = np.asarray(img, dtype=np.float32)
    if not np.all(np.isfinite(img)):
        raise ValueError(f"image {path} holds NaN/inf pixels; cannot normalise it.")
    if mode == "minmax":
        lo, hi = float(img.min()), float(img.max())
        if hi <= lo:
            raise ValueError(f"image {path} is constant ({lo}); it carries no AFM contrast - remove it.")
        return (img - lo) * (2.0 / (hi - lo)) - 1.0
    if mode == "fixed":
        full = 65535.0 if img.max() > 255 else 255.0
        return img * (2.0 / full) - 1.0
    raise ValueError(f"normalize mode must be 'minmax' or 'fixed', got {mode!r}.")


def list_images(directory: str | Path) -> list[Path]:
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"AFM image folder {directory} does not exist (shared data missing?).")
    paths = sorted(p for p in directory.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not paths:
        raise ValueError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {directory}; point to the folder holding them.")
    return paths


def split_paths(domain: str, split: str, root: str | Path | None = None) -> list[Path]:
    """Files of ``domain`` ("sim" or "real") in ``split`` (one of :data:`SPLIT_NAMES`)."""
    if domain not in DOMAINS:
        raise ValueError(f"domain must be one of {sorted(DOMAINS)}, got {domain!r}.")
    if split not in SPLIT_NAMES:
        raise ValueError(f"split must be one of {list(SPLIT_NAMES)}, got {split!r}.")
    root = Path(root) if root is not None else default_root()
    splits = split_by_series(list_images(root / DOMAINS[domain]))
    if split in ("gan_train", "gan_val"):
        return split_by_series(splits["gan_train"], {"gan_train": 1 - VAL_FRACTION, "gan_val": VAL_FRACTION})[split]
    return splits[split]


def load_images(paths: Iterable[str | Path], normalize_mode: str = "minmax") -> list[np.ndarray]:
    """Read and normalise each image to float32 [-1, 1] (images keep their own sizes)."""
    out = [normalize(read_image(p), normalize_mode, p) for p in paths]
    if not out:
        raise ValueError("no images to load (empty split?).")
    return out


def random_crop(img: np.ndarray, size: int, rng: np.random.Generator, flip: bool = True) -> np.ndarray:
    """A ``size`` x ``size`` crop at a random position; reflection padding first if the image is smaller."""
    h, w = img.shape
    ph, pw = max(size - h, 0), max(size - w, 0)
    if ph or pw:
        img = np.pad(img, ((ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2)), mode="reflect")
        h, w = img.shape
    y, x = rng.integers(0, h - size + 1), rng.integers(0, w - size + 1)
    crop = img[y : y + size, x : x + size]
    if flip and rng.random() < 0.5:
        crop = crop[:, ::-1]
    return np.ascontiguousarray(crop)


def crop_stream(images: list[np.ndarray], size: int = CROP, seed: int = 0, flip: bool = True):
    """Endless random crops (H, W, 1) of randomly chosen images, reproducible from ``seed``."""
    rng = np.random.default_rng(seed)
    while True:
        img = images[rng.integers(len(images))]
        yield random_crop(img, size, rng, flip)[..., None]


def afm_style_dataset(
    split: str = "gan_train",
    batch_size: int = 1,
    crop: int = CROP,
    seed: int = 0,
    root: str | Path | None = None,
    normalize_mode: str = "minmax",
    flip: bool = True,
    extra_sim: Iterable[str | Path] = (),
):
    """Endless ``tf.data`` stream of unpaired ``(sim, real)`` batches, each (B, crop, crop, 1) float32 in [-1, 1].

    Simulated and real crops are drawn independently (different seeds), so pairs carry no correspondence.
    ``extra_sim`` folders (e.g. images of keras_spm's own simulator, :func:`export_own_simulations`) join the
    simulated domain as a second source; all of each folder is used whatever ``split`` is.
    Use ``steps_per_epoch`` in ``fit``; the CycleGAN convention is one epoch = max(#sim, #real) images.
    """
    import tensorflow as tf

    if batch_size < 1 or crop < 1:
        raise ValueError(f"batch_size and crop must be >= 1, got {batch_size}, {crop}.")
    sim = load_images(split_paths("sim", split, root), normalize_mode)
    for folder in extra_sim:
        sim += load_images(list_images(folder), normalize_mode)
    real = load_images(split_paths("real", split, root), normalize_mode)
    spec = tf.TensorSpec((crop, crop, 1), tf.float32)

    def pairs():
        yield from zip(crop_stream(sim, crop, seed, flip), crop_stream(real, crop, seed + 1, flip), strict=True)

    ds = tf.data.Dataset.from_generator(pairs, output_signature=(spec, spec))
    return ds.batch(batch_size, drop_remainder=True).prefetch(2)


def split_summary(root: str | Path | None = None) -> dict[str, dict[str, int]]:
    """Image counts per domain and split, e.g. for logs and docs."""
    return {d: {s: len(split_paths(d, s, root)) for s in SPLIT_NAMES} for d in DOMAINS}


def export_own_simulations(
    out_dir: str | Path,
    n_molecules: int = 60,
    slices: tuple[int, ...] = (7, 8, 9),
    seed: int = 0,
    set_name: str = "light",
    split: str = "train",
) -> list[Path]:
    """Simulate molecules with keras_spm's own CO-tip simulator and save slices as ``.npy`` images.

    A second simulated source for the CycleGAN (``afm_style_dataset(extra_sim=[out_dir])``): isolated organic
    molecules from the package's ``set_name`` ``split`` (training by default; another split gives images the
    GAN never saw, e.g. for the machine expert), where ``ppafm_simulated`` holds water networks.
    Each molecule becomes a height series ``{name}.{slice}.npy`` (float32 df in Hz, 128 x 128), so
    :func:`split_by_series` keeps it together. Call from a process that has not imported TensorFlow yet
    (the simulator's OpenCL set-up must come first).
    """
    from keras_spm.data.sets import load_set
    from keras_spm.sim.afm import AFMSimulator

    if n_molecules < 1 or not slices:
        raise ValueError(f"need n_molecules >= 1 and at least one slice, got {n_molecules}, {slices}.")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    sim = AFMSimulator(tips=("CO",))
    molecules = load_set(set_name, split)
    written = []
    for index in rng.permutation(len(molecules))[:n_molecules]:
        molecule = molecules[int(index)]
        stack = sim.simulate(molecule, rng)["CO"]
        for k in slices:
            image = np.ascontiguousarray(stack[..., k].T)  # (x, y) -> rows = y
            if float(image.max() - image.min()) <= 0:
                continue
            name = re.sub(r"[^A-Za-z0-9_-]", "_", molecule.name or f"mol{index}")
            path = out_dir / f"{name}_{index}.{k:02d}.npy"
            np.save(path, image.astype(np.float32))
            written.append(path)
    return written


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Export keras_spm CO-tip simulations as extra simulated images.")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--n", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--split", default="train", choices=("train", "val", "test"), help="molecule split")
    cli = parser.parse_args()
    paths = export_own_simulations(cli.out, cli.n, seed=cli.seed, split=cli.split)
    print(f"wrote {len(paths)} images to {cli.out}")
