"""The main job on built-in defaults: ``python -m keras_spm.demo --out demo_output``.

Simulates a held-out test molecule of the shipped light set with the ASD-AFM settings on
the CPU (OpenCL), computes its descriptors (Atomic Disks, vdW Spheres, Height Map,
Electrostatic Map, xyz grid), and, when the zoo holds it, loads ``dsh_heavy`` (offline, from
the copy shipped in ``zoo/``) and predicts the three DSH maps; saves a figure of the df stack,
the true maps and the predicted ones.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np


def simulate_example(set_name: str = "light", index: int = 0, seed: int = 0):
    """Simulate molecule ``index`` of the ``set_name`` test split: (molecule, stack, maps, xyz grid)."""
    from .data.sets import load_set
    from .descriptors import DescriptorMaker, encode_xyz
    from .sim.afm import AFMSimulator

    molecule = load_set(set_name, "test")[index]
    simulator = AFMSimulator(("CO",))
    stack = simulator.simulate(molecule, np.random.default_rng(seed))["CO"]
    maps = DescriptorMaker(("disks", "spheres", "height", "es"))(simulator)
    return simulator.label_molecule, stack, maps, encode_xyz(simulator.label_molecule)


def predict_example(stack: np.ndarray, model_name: str = "dsh_heavy") -> dict | None:
    """The zoo model's maps for one raw stack (the model standardises it), or None when the zoo lacks it."""
    from . import zoo
    from .inference import predict

    if model_name not in zoo.available():
        return None
    return predict(model_name, stack).maps


def plot_example(molecule, stack, maps, xyz, path: Path, predicted: dict | None = None, model_name: str = "") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .descriptors import decode_xyz
    from .sim.afm import ASD_AFM

    (x0, y0), (x1, y1) = ASD_AFM.window_2d
    extent = (x0, x1, y0, y1)
    slices = [0, 3, 6, 9]
    rows = 3 if predicted else 2
    fig, axes = plt.subplots(rows, 4, figsize=(13, 3.5 * rows), constrained_layout=True)
    for ax, k in zip(axes[0], slices, strict=True):
        ax.imshow(stack[:, :, k].T, origin="lower", cmap="gray", extent=extent)
        ax.set_title(f"df slice {k}" + (" (farthest)" if k == 0 else " (closest)" if k == 9 else ""))
    titles = {
        "disks": "Atomic Disks",
        "spheres": "vdW Spheres (Å)",
        "height": "Height Map (Å)",
        "es": "Electrostatic Map (V/Å)",
    }
    for ax, name in zip(axes[1], titles, strict=True):
        cmap = "coolwarm" if name == "es" else "viridis"
        lim = np.abs(maps[name]).max() if name == "es" else None
        im = ax.imshow(maps[name].T, origin="lower", cmap=cmap, extent=extent, vmin=-lim if lim else None, vmax=lim)
        fig.colorbar(im, ax=ax, shrink=0.8)
        ax.set_title(titles[name])
    if predicted:
        from .models.afm import map_metrics

        for ax, name in zip(axes[2], ("disks", "spheres", "height"), strict=False):
            im = ax.imshow(
                predicted[name].T,
                origin="lower",
                cmap="viridis",
                extent=extent,
                vmin=maps[name].min(),
                vmax=maps[name].max(),
            )
            fig.colorbar(im, ax=ax, shrink=0.8)
            r = map_metrics(predicted[name], maps[name])["pearson_r_mean"]
            ax.set_title(f"predicted {name} (r = {r:.2f})")
        axes[2, 3].axis("off")
        axes[2, 3].text(
            0.0,
            0.5,
            f"Prediction of the zoo model\n'{model_name}' on the raw\nsimulated stack above\n(it standardises each slice).",
            fontsize=10,
            va="center",
        )
    atoms = decode_xyz(xyz)
    axes[1, 0].scatter(atoms[:, 0], atoms[:, 1], s=30, facecolors="none", edgecolors="r", label="xyz grid atoms")
    axes[1, 0].legend(loc="upper right", fontsize=7)
    for ax in axes.flat[: 4 * rows - (1 if predicted else 0)]:
        ax.set_xlabel("x (Å)")
        ax.set_ylabel("y (Å)")
    formula = "".join(f"{s}{n if n > 1 else ''}" for s, n in _formula(molecule))
    fig.suptitle(f"{molecule.name} ({formula}): simulated CO-tip AFM (ppafm, ASD-AFM settings) and descriptors")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _formula(molecule):
    from .molecules import SYMBOLS

    values, counts = np.unique(molecule.numbers, return_counts=True)
    order = sorted(zip(values, counts, strict=True), key=lambda vc: (vc[0] != 6, vc[0] != 1, vc[0]))
    return [(SYMBOLS.get(int(v), str(v)), int(c)) for v, c in order]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m keras_spm.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("demo_output"))
    parser.add_argument("--index", type=int, default=0, help="which test molecule")
    parser.add_argument("--model", default="dsh_heavy", help="zoo model to predict with")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    molecule, stack, maps, xyz = simulate_example(index=args.index)
    predicted = predict_example(stack, args.model)
    path = args.out / "demo.png"
    plot_example(molecule, stack, maps, xyz, path, predicted, args.model)
    extra = {f"predicted_{k}": v for k, v in (predicted or {}).items()}
    np.savez_compressed(args.out / "demo.npz", stack=stack, **maps, xyz=xyz, **extra)
    print(
        f"simulated {molecule.name} ({len(molecule)} atoms) and its descriptors in "
        f"{time.perf_counter() - start:.1f} s; figure: {path}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
