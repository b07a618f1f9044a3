"""A "machine expert": a small CNN that tells real AFM images from simulated ones, to score style translation.

Used the way Zhu et al. (ICCV 2017) used human "real vs fake" studies and the AFM style-transfer work
(SINGROUP/StyleTransAugment) used a trained classifier: if a translated simulated image is called real by a
classifier that separates raw simulated from real images, the translation carries the real style. The
expert must be trained on images the GAN never saw (``afm_style`` split "expert"), and it sees the same
per-image min/max normalisation and crop size as the GAN, so it cannot use value ranges or image sizes.

:func:`expert_classifier` - four stride-2 conv blocks (BatchNorm, LeakyReLU), global average pooling and one
logit (> 0: real). :func:`train_expert` fits it on class-balanced random crops; :func:`prob_real` averages
the sigmoid over fixed crops of whole images.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
from keras import layers


def expert_classifier(filters: int = 16, n_blocks: int = 4, name: str = "afm_style_expert") -> keras.Model:
    """Real-vs-simulated logit for (B, H, W, 1) images in [-1, 1]; any H, W (global average pooling)."""
    if filters < 1 or n_blocks < 1:
        raise ValueError(f"expert_classifier: need filters >= 1 and n_blocks >= 1, got {filters}, {n_blocks}.")
    inputs = keras.Input((None, None, 1), name="image")
    x = inputs
    for i in range(n_blocks):
        x = layers.Conv2D(filters * 2**i, 3, strides=2, padding="same", use_bias=False, name=f"b{i}_conv")(x)
        x = layers.BatchNormalization(momentum=0.9, name=f"b{i}_bn")(x)  # short fits: fast moving stats
        x = layers.LeakyReLU(0.2, name=f"b{i}_lrelu")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    x = layers.Dropout(0.3, name="dropout")(x)
    outputs = layers.Dense(1, dtype="float32", name="logit")(x)
    return keras.Model(inputs, outputs, name=name)


def _check_images(images: Sequence[np.ndarray], what: str) -> list[np.ndarray]:
    images = [np.asarray(im, dtype=np.float32) for im in images]
    if not images:
        raise ValueError(f"{what}: no images given.")
    for i, im in enumerate(images):
        if im.ndim == 3 and im.shape[-1] == 1:
            images[i] = im = im[..., 0]
        if im.ndim != 2:
            raise ValueError(f"{what}: image {i} has shape {im.shape}; expected a 2-D grayscale image.")
        if not np.all(np.isfinite(im)):
            raise ValueError(f"{what}: image {i} holds NaN/inf pixels.")
    return images


def dihedral(image: np.ndarray, k: int) -> np.ndarray:
    """Transform ``k`` (0-7) of the square's symmetry group: ``k % 4`` quarter turns, then a flip if ``k >= 4``."""
    out = np.rot90(image, k % 4, axes=(0, 1))
    return np.ascontiguousarray(out[:, ::-1] if k >= 4 else out)


def balanced_crops(
    sim: Sequence[np.ndarray],
    real: Sequence[np.ndarray],
    n: int,
    crop: int,
    rng: np.random.Generator,
    orientations: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random crops, half simulated (label 0) and half real (label 1), flipped left-right at random.

    ``orientations``: one of the 8 symmetries of the square instead of a flip. Tried as a way to multiply the few
    real images; on held-out series it made the expert worse (``benchmarks/results/afm_style_expert_d8.json``):
    real scan lines run along the fast-scan axis, and turned crops teach the expert to ignore that.
    """
    from keras_spm.datasets.afm_style import random_crop

    x = np.empty((n, crop, crop, 1), np.float32)
    y = np.empty((n,), np.float32)
    for i in range(n):
        label = i % 2
        pool = real if label else sim
        image = pool[rng.integers(len(pool))]
        x[i, ..., 0] = (
            dihedral(random_crop(image, crop, rng, flip=False), rng.integers(8))
            if orientations
            else random_crop(image, crop, rng)
        )
        y[i] = label
    return x, y


def train_expert(
    sim: Sequence[np.ndarray],
    real: Sequence[np.ndarray],
    steps: int = 600,
    batch_size: int = 32,
    crop: int = 128,
    seed: int = 0,
    filters: int = 16,
    verbose: int = 0,
    orientations: bool = False,
    lr_decay: bool = True,
) -> keras.Model:
    """Fit :func:`expert_classifier` on class-balanced crops of ``sim`` / ``real`` images ([-1, 1], 2-D).

    Adam 1e-3, by default cosine-decayed to 0 over ``steps``: at a constant rate the last step's weights are a
    noisy draw, and experts of different seeds disagreed widely on the same held-out images
    (``lr_decay=False``: raw simulated test images called simulated 0.61-0.94 over five seeds).
    """
    sim, real = _check_images(sim, "train_expert sim"), _check_images(real, "train_expert real")
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    model = expert_classifier(filters)
    model.compile(
        optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(1e-3, steps) if lr_decay else 1e-3),
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
        metrics=[keras.metrics.BinaryAccuracy(threshold=0.0)],
    )
    bar = keras.utils.Progbar(steps, verbose=verbose, unit_name="step") if verbose else None
    for step in range(steps):
        logs = model.train_on_batch(*balanced_crops(sim, real, batch_size, crop, rng, orientations), return_dict=True)
        if bar is not None and ((step + 1) % 50 == 0 or step + 1 == steps):
            bar.update(step + 1, [(k, float(v)) for k, v in logs.items()])
    return model


def fixed_crops(image: np.ndarray, crop: int) -> np.ndarray:
    """Five crops (four corners and the centre; the image reflection-padded if smaller), (5, crop, crop, 1)."""
    from keras_spm.datasets.afm_style import random_crop

    if min(image.shape) < crop:
        image = random_crop(image, max(crop, *image.shape), np.random.default_rng(0), flip=False)
    h, w = image.shape
    corners = [(0, 0), (0, w - crop), (h - crop, 0), (h - crop, w - crop), ((h - crop) // 2, (w - crop) // 2)]
    return np.stack([image[y : y + crop, x : x + crop] for y, x in corners])[..., None]


def prob_real(model: keras.Model, images: Sequence[np.ndarray], crop: int = 128, symmetries: int = 1) -> np.ndarray:
    """Per image, the expert's mean probability that it is real over :func:`fixed_crops` x ``symmetries``.

    ``symmetries`` (1-8) of the :func:`dihedral` transforms are averaged too (test-time augmentation for an
    expert trained with ``orientations``); 1 scores the crops as they are.
    """
    if not 1 <= symmetries <= 8:
        raise ValueError(f"prob_real: symmetries must be 1-8, got {symmetries}.")
    images = _check_images(images, "prob_real")
    crops = np.concatenate([fixed_crops(im, crop) for im in images])
    views = np.concatenate([np.stack([dihedral(c, k) for c in crops]) for k in range(symmetries)])
    logits = model.predict(views, batch_size=64, verbose=0)[:, 0]
    probs = 1.0 / (1.0 + np.exp(-logits))
    return probs.reshape(symmetries, len(images), -1).mean(axis=(0, 2))
