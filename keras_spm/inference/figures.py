"""The figure of each preset (``ZooPreset.figure``): input next to output, with scale bars and padding outlined."""

from __future__ import annotations

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _outline_valid(ax, valid: np.ndarray, pixel: float) -> None:
    """Dashed box around the measured part of a padded AFM window (the rest is mirrored data)."""
    if valid.all():
        return
    xs, ys = np.nonzero(valid)
    x0, x1, y0, y1 = xs.min() * pixel, (xs.max() + 1) * pixel, ys.min() * pixel, (ys.max() + 1) * pixel
    ax.plot([x0, x1, x1, x0, x0], [y0, y0, y1, y1, y0], "w--", lw=1)


def _scale_bar(ax, n: float, length: float, label: str, color: str = "w") -> None:
    ax.plot([0.05 * n, 0.05 * n + length], [0.05 * n] * 2, color=color, lw=3)
    ax.text(0.05 * n + length / 2, 0.08 * n, label, color=color, ha="center", va="bottom", fontsize=8)


def afm_maps(pred):
    """Input slices (far, middle, close) and the predicted maps; the padded region outside the dashed box."""
    plt = _pyplot()
    key = "input" if "input" in pred.arrays else next(k for k in pred.arrays if k.startswith("input_"))
    stack, pixel = pred.arrays[key], pred.meta.get("pixel_size", 0.125)
    maps = {k: pred.arrays[k] for k in pred.meta.get("shown", [])}
    slices = [0, stack.shape[2] // 2, stack.shape[2] - 1]
    n = stack.shape[0] * pixel
    extent = (0, n, 0, stack.shape[1] * pixel)
    fig, axes = plt.subplots(1, 3 + len(maps), figsize=(3.2 * (3 + len(maps)), 3.6), constrained_layout=True)
    for ax, k in zip(axes, slices, strict=False):
        ax.imshow(stack[:, :, k].T, origin="lower", cmap="gray", extent=extent)
        ax.set_title(f"input slice {k}" + (" (far)" if k == 0 else " (close)" if k == slices[-1] else ""))
    for ax, (name, m) in zip(axes[3:], maps.items(), strict=True):
        lim = float(np.abs(m).max()) if name == "es" else None
        ax.imshow(m.T, origin="lower", cmap="coolwarm" if name == "es" else "viridis", extent=extent,
                  vmin=-lim if lim else None, vmax=lim)  # fmt: skip
        ax.set_title(f"predicted {name}")
    atoms = pred.arrays.get("atoms")
    if atoms is not None and len(atoms):
        axes[-1].scatter(atoms[:, 0], atoms[:, 1], s=18, facecolors="none", edgecolors="r", lw=1)
    valid = pred.arrays.get("valid")
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
        _scale_bar(ax, n, 5.0, "5 Å")
        if valid is not None:
            _outline_valid(ax, valid, pixel)
    padded = "" if valid is None or valid.all() else f"; dashed: measured area ({100 * valid.mean():.0f} %)"
    fig.suptitle(f"{pred.model} on {pred.source}{padded}", fontsize=9)
    return fig


def before_after(pred):
    """Input and output side by side (GAN translation, tip-artifact restoration). A restoration shares one height
    scale between input and output (so a lowered particle looks lower), adds what was removed, with colour bars in
    the file's unit and a scale bar when the pixel size is known."""
    plt = _pyplot()
    out_key = pred.meta["output"]
    removed = pred.arrays.get("removed") if "unit" in pred.meta else None
    panels = [("input", "input"), (out_key, pred.meta.get("output_title", out_key))]
    panels += [("removed", "removed (input - restored)")] if removed is not None else []
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 4.2), constrained_layout=True)
    spm = pred.meta.get("spm_axes", False)
    unit, pixel = pred.meta.get("unit") or "", pred.meta.get("pixel_size")
    heights = np.concatenate([pred.arrays["input"].ravel(), pred.arrays[out_key].ravel()])
    low, high = np.percentile(heights, [0.5, 99.5]) if removed is not None else (None, None)
    for ax, (key, title) in zip(axes, panels, strict=True):
        image = pred.arrays[key]
        shown = image.T if spm else image
        if key == "removed":
            span = float(np.max(np.abs(image))) or 1.0
            im = ax.imshow(shown, origin="lower" if spm else "upper", cmap="coolwarm", vmin=-span, vmax=span)
        else:
            cmap = "afmhot" if spm else "gray"
            im = ax.imshow(shown, origin="lower" if spm else "upper", cmap=cmap, vmin=low, vmax=high)
        if removed is not None:
            fig.colorbar(im, ax=ax, shrink=0.8, label=unit or "height (as stored)")
        if removed is not None and pixel:
            n = shown.shape[1]
            length = _round_length(0.2 * n * pixel)
            label = f"{length / 1000:g} µm" if length >= 1000 else f"{length:g} nm"
            _scale_bar(ax, n, length / pixel, label, "k" if key == "removed" else "w")
        ax.set_title(title)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"{pred.model} on {pred.source}", fontsize=9)
    return fig


def _round_length(length: float) -> float:
    """1, 2 or 5 times a power of ten, at most ``length``: a scale bar's length."""
    power = 10 ** np.floor(np.log10(length))
    return float(max(m for m in (1, 2, 5) if m * power <= length) * power)


def particles(pred):
    """Levelled topography with the particle outlines, and the inside / border probabilities."""
    plt = _pyplot()
    from skimage.segmentation import find_boundaries

    image, inst = pred.arrays["input"], pred.arrays["instances"]
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.4), constrained_layout=True)
    axes[0].imshow(image.T, origin="lower", cmap="afmhot")
    edges = np.ma.masked_where(~find_boundaries(inst, mode="inner"), inst)
    axes[0].imshow(edges.T, origin="lower", cmap="cool", interpolation="nearest")
    axes[0].set_title(f"{int(inst.max())} particles")
    probs = pred.arrays["probabilities"]
    axes[1].imshow(np.moveaxis(probs[..., :3], 0, 1).astype(np.float32), origin="lower")
    axes[1].set_title("P(inside) red, P(border) green, P(background) blue", fontsize=8)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"{pred.model} on {pred.source}", fontsize=9)
    return fig


def size_histogram(pred):
    """Histogram of the particle diameters (particles cut by the image edge left out)."""
    plt = _pyplot()
    unit = pred.meta.get("length_unit", "nm")
    d = [row[f"diameter_{unit}"] for row in pred.table or [] if not row["at_edge"]]
    fig, ax = plt.subplots(figsize=(4.5, 3.4), constrained_layout=True)
    ax.hist(d, bins=max(5, min(30, len(d) // 3 or 5)), color="tab:blue")
    ax.set_xlabel(f"equivalent-circle diameter ({unit})")
    ax.set_ylabel("particles")
    mean = f", mean {np.mean(d):.2f} {unit}" if d else ""
    ax.set_title(f"{len(d)} particles not cut by the edge{mean}", fontsize=9)
    return fig


FIGURES = {"afm_maps": afm_maps, "afm_atoms": afm_maps, "before_after": before_after, "particles": particles}
