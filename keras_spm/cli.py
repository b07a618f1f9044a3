"""``keras-spm``: run zoo models on instrument files from the shell.

    keras-spm zoo list
    keras-spm predict dsh_heavy ../shared/data/spm-files/nanonis_stack/ -o out/
    keras-spm predict dsh_light scan_*.sxm --channel Frequency_Shift -o out/
    keras-spm predict es CO=co_series/ Xe=xe_series/ -o out/      # two-tip models: one TIP=PATH per tip

``predict`` reads the input (a constant-height ``.sxm`` series or folder, a ``.3ds`` grid, an
``.npz`` stack), resamples it to the model's grid (saying what it did), standardises each
slice as the ASD-AFM models expect, predicts, and writes ``<stem>_maps.npz`` (input and maps)
and ``<stem>_prediction.png`` (input slices next to the predicted maps, with a length scale).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np


def read_stack(inputs: list[str], channel: str, direction: str):
    """An :class:`keras_spm.io.SPMStack` from one file/folder or a list of constant-height images."""
    from . import io

    paths = [Path(p) for p in inputs]
    if len(paths) == 1:
        data = io.read(paths[0], channel=channel) if paths[0].suffix.lower() != ".sxm" else None
        if data is None:
            raise SystemExit(
                f"{paths[0]} is a single image: give the constant-height series (several .sxm files "
                "or their folder) to make a df(z) stack."
            )
        if isinstance(data, io.SPMImage):
            raise SystemExit(f"{paths[0]} holds a single image, not a stack of constant-height slices.")
        return data
    return io.assemble_stack(paths, channel=channel, direction=direction)


def split_by_tip(inputs: list[str], tips: list[str]) -> dict[str, list[str]]:
    """``["CO=a/", "Xe=b/"]`` -> ``{"CO": ["a/"], "Xe": ["b/"]}`` for a model with one input per tip."""
    usage = f"this model takes one stack per tip ({', '.join(tips)}): give them as " + " ".join(
        f"{t}=PATH" for t in tips
    )
    grouped: dict[str, list[str]] = {t: [] for t in tips}
    for item in inputs:
        tip, sep, path = item.partition("=")
        if not sep or tip not in grouped or not path:
            raise SystemExit(f"{item!r}: {usage} (PATH a folder or file; repeat TIP=FILE for a series).")
        grouped[tip].append(path)
    missing = [t for t, paths in grouped.items() if not paths]
    if missing:
        raise SystemExit(f"no input for tip {', '.join(missing)}: {usage}.")
    return grouped


def plot_prediction(
    stack: np.ndarray, maps: dict, pixel_size: float, title: str, path: Path, atoms: np.ndarray | None = None
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = stack.shape[1] * pixel_size
    extent = (0, n, 0, n)
    slices = [0, stack.shape[2] // 2, stack.shape[2] - 1]
    fig, axes = plt.subplots(
        1, len(slices) + len(maps), figsize=(3.2 * (len(slices) + len(maps)), 3.6), constrained_layout=True
    )
    for ax, k in zip(axes, slices, strict=False):
        ax.imshow(stack[:, :, k].T, origin="lower", cmap="gray", extent=extent)
        ax.set_title(f"input slice {k}" + (" (far)" if k == 0 else " (close)" if k == slices[-1] else ""))
    for ax, (name, m) in zip(axes[len(slices) :], maps.items(), strict=True):
        lim = np.abs(m).max() if name == "es" else None
        ax.imshow(
            m.T,
            origin="lower",
            cmap="coolwarm" if name == "es" else "viridis",
            extent=extent,
            vmin=-lim if lim else None,
            vmax=lim,
        )
        ax.set_title(f"predicted {name}")
    if atoms is not None and len(atoms):
        axes[-1].scatter(atoms[:, 0], atoms[:, 1], s=18, facecolors="none", edgecolors="r", lw=1)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
        bar = 5.0  # Angstrom
        ax.plot([0.05 * n, 0.05 * n + bar], [0.05 * n] * 2, color="w", lw=3)
        ax.text(0.05 * n + bar / 2, 0.08 * n, "5 Å", color="w", ha="center", va="bottom", fontsize=8)
    fig.suptitle(title, fontsize=9)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def predict(args) -> int:
    from . import io, zoo
    from .models.afm import check_stack, standardize_stack

    model = zoo.load(args.model)
    names = [t.name.split(":")[0] for t in model.inputs]
    groups = {names[0]: args.inputs} if len(names) == 1 else split_by_tip(args.inputs, names)
    stacks, x = {}, {}
    for name, paths in groups.items():
        stack = read_stack(paths, args.channel, args.direction)
        shape = model.inputs[names.index(name)].shape
        resampled = io.resample_to_model(stack, shape=(shape[1], shape[2]), n_slices=shape[3])
        for line in [*stack.notes, *resampled.report]:
            print(f"  {name + ': ' if len(names) > 1 else ''}{line}", file=sys.stderr)
        stacks[name] = resampled.data
        x[name] = standardize_stack(check_stack(resampled.data, n_slices=shape[3], image_size=(shape[1], shape[2])))
    maps = {k: np.asarray(v)[0] for k, v in model(x if len(names) > 1 else x[names[0]], training=False).items()}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    first = groups[names[0]][0]
    stem = Path(first.rstrip("/")).stem or "input"
    inputs = {"input": stacks[names[0]]} if len(names) == 1 else {f"input_{k}": v for k, v in stacks.items()}
    atoms = None
    if "xyz_class" in maps:  # the atom-grid model: decode atoms, show P(atom) with them
        from .models.afm import decode_xyz_prediction

        atoms = decode_xyz_prediction(maps["xyz_class"], maps["xyz_offset"], threshold=0.5)
        print(f"  {len(atoms)} atoms at confidence >= 0.5 (x, y, z [A], P) saved as 'atoms'", file=sys.stderr)
        maps = {**maps, "atoms": atoms}
    np.savez_compressed(out / f"{stem}_maps.npz", **inputs, **maps)
    shown = {"P(atom)": maps["xyz_class"][..., 1]} if atoms is not None else maps
    plot_prediction(
        stacks[names[0]], shown, 0.125, f"{args.model} on {first}", out / f"{stem}_prediction.png", atoms=atoms
    )
    print(f"wrote {out / f'{stem}_maps.npz'} and {out / f'{stem}_prediction.png'}")
    return 0


def zoo_list(args) -> int:
    from . import zoo

    models = zoo.available()
    if not models:
        print("no models in the zoo registry yet")
    for name, description in models.items():
        print(f"{name:24s} {description}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="keras-spm", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("predict", help="run a zoo model on instrument files")
    p.add_argument("model", help="zoo model name (see `keras-spm zoo list`)")
    p.add_argument(
        "inputs",
        nargs="+",
        help="a folder or files of a constant-height series, a .3ds or .npz stack; TIP=PATH per tip for two-tip models",
    )
    p.add_argument("-o", "--out", default="prediction", help="output folder")
    p.add_argument("--channel", default="Frequency_Shift")
    p.add_argument("--direction", default="forward", choices=("forward", "backward"))
    p.set_defaults(run=predict)
    z = sub.add_parser("zoo", help="the model zoo")
    z.add_argument("action", choices=("list",))
    z.set_defaults(run=zoo_list)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, FileNotFoundError, RuntimeError) as err:  # bad input, missing file, zoo/OpenCL errors
        print(f"keras-spm: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
