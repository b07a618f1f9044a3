"""A df(z) stack from a series of constant-height scans (one ``.sxm`` per tip height).

This is how constant-height AFM stacks are usually measured (e.g. the experimental stacks of
Alldritt et al., Sci. Adv. 6, eaay6913 (2020)): the feedback is switched off and the same frame is
scanned at a series of tip heights. Each image's height is its Z-controller position
(``Z-Controller>Z (m)``, larger = farther), so the images can be put in order whatever their file
names; a series often steps down and back up, giving two images per height.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

import numpy as np

from .image import SPMFileError, SPMImage, SPMStack, channel_key
from .nanonis import _check_direction, read_sxm

DUPLICATES = ("first", "last", "mean")


def _recorded(image: SPMImage, index: int):
    """Sort key for "recorded first": REC_DATE/REC_TIME from the header, else the input order."""
    try:
        t = datetime.strptime(f"{image.meta['REC_DATE'].strip()} {image.meta['REC_TIME'].strip()}", "%d.%m.%Y %H:%M:%S")
        return (t.timestamp(), index)
    except (KeyError, ValueError, AttributeError):
        return (float(index), index)


def _name(image: SPMImage) -> str:
    return Path(image.source).name if image.source else "<image>"


def assemble_stack(
    paths_or_images,
    channel: str = "Frequency_Shift",
    direction: str = "forward",
    duplicates: str = "first",
    height_tolerance: float = 0.005,
) -> SPMStack:
    """Constant-height images -> :class:`SPMStack` ordered by tip height, farthest first.

    ``paths_or_images``: a folder (all its ``.sxm`` files), or ``.sxm`` paths and/or
    :class:`SPMImage` objects. Every image must have a tip height, the Z-controller off, and the same
    frame (pixels, size, offset, angle) as the first, else an :class:`SPMFileError` names the file.

    Heights within ``height_tolerance`` Angstrom are one height. ``duplicates`` says what to do with
    them: "first" keeps the image recorded first (REC_DATE/REC_TIME; a series stepping down then up
    then gives the whole downward pass, measured with one tip state in one go), "last" the one
    recorded last, "mean" averages them (less noise, but mixes any drift between the passes).
    """
    _check_direction(direction)
    if duplicates not in DUPLICATES:
        raise ValueError(f"duplicates must be one of {DUPLICATES}, got {duplicates!r}")
    items = _expand(paths_or_images)
    if not items:
        raise ValueError("assemble_stack needs at least one image or .sxm path (got none)")
    images = [it if isinstance(it, SPMImage) else read_sxm(it, channel, direction) for it in items]

    ref = images[0]
    for im in images:
        _check_member(im, ref, channel, direction)

    order = sorted(range(len(images)), key=lambda i: -images[i].z)
    groups: list[list[int]] = []
    for i in order:
        if groups and abs(images[groups[-1][0]].z - images[i].z) <= height_tolerance:
            groups[-1].append(i)
        else:
            groups.append([i])

    slices, heights, sources, dup_words = [], [], [], []
    for g in groups:
        by_time = sorted(g, key=lambda i: _recorded(images[i], i))
        if duplicates == "mean" or len(g) == 1:
            chosen = by_time
            slices.append(np.mean([images[i].data for i in chosen], axis=0))
        else:
            chosen = [by_time[0] if duplicates == "first" else by_time[-1]]
            slices.append(images[chosen[0]].data)
        heights.append(float(np.mean([images[i].z for i in g])))
        sources.extend(images[i].source for i in chosen)
        if len(g) > 1:
            kept = "averaged" if duplicates == "mean" else f"kept {_name(images[chosen[0]])}"
            dup_words.append(f"{heights[-1]:.3f} A x{len(g)} ({kept})")

    heights = np.array(heights)
    steps = -np.diff(heights)
    notes = [
        f"{len(images)} images of '{ref.channel}' ({direction}), {ref.shape[0]}x{ref.shape[1]} px, "
        f"{ref.size[0]:.3f} x {ref.size[1]:.3f} A -> {len(heights)} heights from {heights[0]:.3f} "
        f"(farthest) to {heights[-1]:.3f} A (closest)"
        + (f", steps {steps.min():.3f}-{steps.max():.3f} A" if steps.size else "")
    ]
    if dup_words:
        how = {
            "first": "kept the image recorded first",
            "last": "kept the image recorded last",
            "mean": "averaged them",
        }[duplicates]
        notes.append(f"{len(dup_words)} heights recorded more than once, {how}: " + "; ".join(dup_words))
    data = np.stack(slices, axis=-1).astype(np.float32)
    return SPMStack(
        data, ref.size, ref.channel, ref.unit, heights, direction, ref.angle, ref.offset, tuple(sources), notes
    )


def _expand(paths_or_images) -> list:
    if isinstance(paths_or_images, (str, Path)):
        p = Path(paths_or_images)
        if p.is_dir():
            files = sorted(p.glob("*.sxm"))
            if not files:
                raise SPMFileError(f"{p}: no .sxm files in this folder")
            return files
        return [p]
    if isinstance(paths_or_images, SPMImage):
        return [paths_or_images]
    if not isinstance(paths_or_images, Iterable):
        raise TypeError(f"expected a folder, paths or SPMImage objects, got {type(paths_or_images).__name__}")
    return list(paths_or_images)


def _check_member(im: SPMImage, ref: SPMImage, channel: str, direction: str) -> None:
    name = _name(im)
    if im.data.ndim != 2 or im.data.size == 0:
        raise SPMFileError(f"{name}: image data has shape {im.data.shape}; expected a non-empty 2-D image")
    if channel_key(im.channel) != channel_key(channel):
        raise SPMFileError(f"{name}: channel is {im.channel!r}, the stack is of {channel!r}")
    if im.direction is not None and im.direction != direction:
        raise SPMFileError(f"{name}: a {im.direction} image in a {direction} stack")
    if im.z is None:
        raise SPMFileError(f"{name}: no tip height (Z-Controller>Z (m) header), so it cannot be ordered in a stack")
    if im.z_controller_on:
        raise SPMFileError(f"{name}: recorded with the Z-controller on, so it is not a constant-height image")
    tol = 0.1 * min(ref.pixel_size)
    problems = []
    if im.shape != ref.shape:
        problems.append(f"{im.shape[0]}x{im.shape[1]} px vs {ref.shape[0]}x{ref.shape[1]} px")
    if not np.allclose(im.size, ref.size, rtol=0, atol=tol):
        problems.append(f"size {im.size[0]:.3f}x{im.size[1]:.3f} A vs {ref.size[0]:.3f}x{ref.size[1]:.3f} A")
    if (im.offset is None) != (ref.offset is None) or (
        im.offset is not None and not np.allclose(im.offset, ref.offset, rtol=0, atol=tol)
    ):
        problems.append(f"frame centre {im.offset} vs {ref.offset} A")
    if (im.angle or 0.0) != (ref.angle or 0.0) and abs((im.angle or 0.0) - (ref.angle or 0.0)) > 0.01:
        problems.append(f"angle {im.angle} vs {ref.angle} deg")
    if problems:
        raise SPMFileError(
            f"{name}: scan frame differs from {_name(ref)} ({'; '.join(problems)}); a stack needs "
            "the same frame (pixels, size, offset, angle) in every image"
        )
