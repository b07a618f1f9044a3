"""The main job on built-in defaults: ``python -m keras_spm.demo --out demo_output``.

Simulates a held-out test molecule of the shipped light set with the ASD-AFM settings on
the CPU (OpenCL), computes its descriptors (Atomic Disks, vdW Spheres, Height Map,
Electrostatic Map, xyz grid) and saves a figure of the df stack next to the maps.
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
    return simulator.placed, stack, maps, encode_xyz(simulator.placed)


def plot_example(molecule, stack, maps, xyz, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .descriptors import decode_xyz
    from .sim.afm import ASD_AFM

    (x0, y0), (x1, y1) = ASD_AFM.window_2d
    extent = (x0, x1, y0, y1)
    slices = [0, 3, 6, 9]
    fig, axes = plt.subplots(2, 4, figsize=(13, 7), constrained_layout=True)
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
    atoms = decode_xyz(xyz)
    axes[1, 0].scatter(atoms[:, 0], atoms[:, 1], s=30, facecolors="none", edgecolors="r", label="xyz grid atoms")
    axes[1, 0].legend(loc="upper right", fontsize=7)
    for ax in axes.flat:
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
    args = parser.parse_args(argv)
    start = time.perf_counter()
    molecule, stack, maps, xyz = simulate_example(index=args.index)
    path = args.out / "demo.png"
    plot_example(molecule, stack, maps, xyz, path)
    np.savez_compressed(args.out / "demo.npz", stack=stack, **maps, xyz=xyz)
    print(
        f"simulated {molecule.name} ({len(molecule)} atoms) and its descriptors in "
        f"{time.perf_counter() - start:.1f} s; figure: {path}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
