"""``keras-spm simulate``: simulate AFM stacks of your own molecule, its true descriptors and a zoo prediction.

    keras-spm simulate mol.xyz -o out/
    keras-spm simulate mol.xyz --tips CO,Xe --predict dsh_heavy -o out/
    keras-spm simulate ptcda_on_cu.xyz --substrate-elements Cu -o out/    # Cu simulated, not in the descriptors
    python -m keras_spm.simulate_command mol.pdb --frame 0 --orientation as-is -o out/

Reads the molecule (:func:`keras_spm.molecules.read`: plain ``.xyz`` with an optional charge column, or any
format ASE reads), orients it (``--orientation best``: the flattest of the ASD-AFM candidate orientations, which
include the file's own, so a flat molecule stays flat; ``as-is``: the file's orientation, the default with a
substrate), simulates one df stack per tip with ppafm (Probe Particle Model, Hapala et al., PRB 90, 085421,
2014; ASD-AFM settings of :mod:`keras_spm.sim.afm`, no random jitter or tilt unless ``--seed``), computes the
true descriptors (Atomic Disks, vdW Spheres, Height Map, Electrostatic Map, xyz grid; substrate atoms left out),
optionally predicts with a zoo AFM model, and writes to ``DIR``:

- ``<stem>_stacks.npz``: one (128, 128, 10) stack per tip (slice 0 farthest), the placed atoms and scan window;
- ``<stem>_descriptors.npz``: the true maps, the xyz grid and the atoms they were drawn from;
- ``<stem>_prediction.npz`` (with ``--predict``): the model's outputs (and decoded atoms for ``xyz``);
- ``<stem>_simulate.png``: stack slices, true maps and predicted maps side by side.

Exit codes: 0 done, 1 the data could not be used (unreadable file, molecule too large, no OpenCL), 2 wrong
arguments. Arguments and paths are checked before OpenCL and TensorFlow start; OpenCL is initialised before
TensorFlow is imported (Debian's pocl crashes otherwise), so a caller must not import TensorFlow first.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

PROG = "keras-spm simulate"
#: Elements of the molecule sets each AFM model was trained on (a note is printed for others).
MODEL_ELEMENTS = {"dsh_light": "LIGHT_ELEMENTS", "xyz": "LIGHT_ELEMENTS", "dsh_heavy": "HEAVY_ELEMENTS"}
#: Dimensions of one sample's model outputs (maps (x, y), xyz grids (g, g, c)).
OUTPUT_NDIM = {"disks": 2, "spheres": 2, "height": 2, "es": 2, "xyz_class": 3, "xyz_offset": 3}
MAP_TITLES = {
    "disks": "Atomic Disks",
    "spheres": "vdW Spheres (Å)",
    "height": "Height Map (Å)",
    "es": "Electrostatic Map (V/Å)",
}


class UsageError(Exception):
    """Wrong arguments: exit code 2."""


class DataError(Exception):
    """The inputs are well-formed arguments but cannot be used: exit code 1."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, no usage block
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, description=__doc__.splitlines()[0].split(": ", 1)[1])
    p.add_argument("molecule", type=Path, help=".xyz (element x y z [charge]) or any file ASE reads")
    p.add_argument("-o", "--out", type=Path, required=True, help="output folder (created if missing)")
    p.add_argument("--tips", default="CO", help="comma-separated tips to simulate: CO, Xe (default CO)")
    p.add_argument("--predict", metavar="MODEL", help="zoo AFM model to predict with: dsh_light, dsh_heavy, es, xyz")
    p.add_argument(
        "--orientation",
        choices=("best", "as-is"),
        help="best: flattest candidate orientation (default); as-is: the file's (default with a substrate)",
    )
    p.add_argument("--frame", type=int, help="which structure of a multi-frame file (0 = first)")
    p.add_argument(
        "--substrate-elements", default="", metavar="EL[,EL]", help="atoms of these elements are substrate (Cu,Ag)"
    )
    p.add_argument("--substrate-below", type=float, metavar="Z", help="atoms with z < Z (Å, file frame) are substrate")
    p.add_argument("--seed", type=int, help="draw ASD-AFM's tip-distance jitter and tip tilt with this seed")
    return p


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def check_arguments(args: argparse.Namespace) -> argparse.Namespace:
    """Check everything that needs neither OpenCL nor TensorFlow; raise :class:`UsageError` naming the fix."""
    from . import zoo
    from .molecules import element_number
    from .sim.afm import TIPS

    if not args.molecule.exists():
        raise UsageError(f"{args.molecule}: no such file.")
    if not args.molecule.is_file():
        raise UsageError(f"{args.molecule} is not a file; give one molecule file (.xyz, or a format ASE reads).")
    if args.out.exists() and not args.out.is_dir():
        raise UsageError(f"-o {args.out} exists and is not a folder.")
    tips = [t.strip() for t in args.tips.split(",") if t.strip()]
    bad = [t for t in tips if t not in TIPS]
    if bad or not tips:
        raise UsageError(f"--tips {args.tips!r}: unknown tip(s) {bad or tips}; available: {', '.join(TIPS)}.")
    if len(set(tips)) != len(tips):
        raise UsageError(f"--tips {args.tips!r} names a tip twice.")
    if args.predict is not None:
        afm_models = sorted(n for n, e in zoo.REGISTRY.items() if e.kind.startswith("afm."))
        if args.predict not in zoo.REGISTRY:
            raise UsageError(f"--predict {args.predict!r} is not a zoo model; AFM models: {', '.join(afm_models)}.")
        if args.predict not in afm_models:
            raise UsageError(
                f"--predict {args.predict!r} does not take AFM stacks; AFM models: {', '.join(afm_models)}."
            )
        needed = _model_tips(args.predict)
        missing = [t for t in needed if t not in tips]
        if missing:
            _say(f"note: {args.predict} takes the {' and '.join(needed)} stacks: simulating {', '.join(missing)} too.")
            tips += missing
    args.tips = sorted(tips, key=lambda t: t != "CO")  # the first tip's force field gives the Height/ES maps
    try:
        args.substrate_elements = [element_number(e) for e in args.substrate_elements.split(",") if e.strip()]
    except ValueError as err:
        raise UsageError(f"--substrate-elements: {err}.") from None
    has_substrate_rule = bool(args.substrate_elements) or args.substrate_below is not None
    if args.orientation is None:
        args.orientation = "as-is" if has_substrate_rule else "best"
    elif args.orientation == "best" and has_substrate_rule:
        raise UsageError(
            "--orientation best would tilt the substrate with the molecule; a molecule on a substrate is simulated "
            "as-is (leave --orientation out)."
        )
    if args.frame is not None and args.frame < 0:
        raise UsageError(f"--frame {args.frame}: frames count from 0.")
    return args


def _model_tips(name: str) -> tuple[str, ...]:
    from . import zoo

    return ("CO", "Xe") if zoo.REGISTRY[name].kind == "afm.es" else ("CO",)


def _formula(numbers: np.ndarray) -> str:
    from .molecules import SYMBOLS

    values, counts = np.unique(numbers, return_counts=True)
    order = sorted(zip(values.tolist(), counts.tolist(), strict=True), key=lambda vc: (vc[0] != 6, vc[0] != 1, vc[0]))
    return "".join(f"{SYMBOLS[z]}{c if c > 1 else ''}" for z, c in order)


def load_molecule(args: argparse.Namespace):
    """The molecule of ``args.molecule``, oriented as asked; raises :class:`DataError` for unusable files."""
    from .molecules import MoleculeError, best_rotations, read

    try:
        molecule = read(
            args.molecule,
            frame=args.frame,
            substrate_elements=args.substrate_elements,
            substrate_below=args.substrate_below,
        )
    except (MoleculeError, OSError) as err:
        raise DataError(str(err)) from None
    alone = molecule.without_substrate()
    text = f"read {args.molecule}: {len(alone)} atoms ({_formula(alone.numbers)})"
    if molecule.has_substrate:
        text += f" on a substrate of {int(molecule.substrate.sum())} ({_formula(molecule.numbers[molecule.substrate])})"
    _say(text)
    if not np.any(molecule.charges):
        _say("note: no charges in the file: electrostatics are off (CO-tip monopole sees no field, ES map is 0).")
    if (args.substrate_elements or args.substrate_below is not None) and not molecule.has_substrate:
        _say("note: the substrate options matched no atom.")
    if args.orientation == "best":
        rotation = best_rotations(molecule, n_best=1)[0]
        angle = np.degrees(np.arccos(np.clip((np.trace(rotation) - 1) / 2, -1, 1)))
        molecule = molecule.rotated(rotation)
        _say(f"orientation: best of the candidates, {angle:.1f}° from the file's")
    else:
        _say("orientation: as in the file")
    return molecule


def simulate(molecule, tips: Sequence[str], seed: int | None):
    """Stacks, true maps and xyz grid of ``molecule`` (OpenCL starts here, before any TensorFlow)."""
    from .descriptors import DESCRIPTORS, DescriptorMaker, encode_xyz
    from .molecules import MoleculeError
    from .sim.afm import AFMSimulator
    from .sim.opencl import OpenCLUnavailableError, init_opencl

    start = time.perf_counter()
    try:
        device = init_opencl()
        simulator = AFMSimulator(tuple(tips))
        maker = DescriptorMaker(DESCRIPTORS)
    except OpenCLUnavailableError as err:
        raise DataError(str(err)) from None
    _say(f"simulating {', '.join(tips)} stack(s) with ppafm on {device} ...")
    try:
        stacks = simulator.simulate(molecule, None if seed is None else np.random.default_rng(seed))
    except (MoleculeError, FloatingPointError) as err:
        raise DataError(str(err)) from None
    maps = maker(simulator)
    apparent = simulator.label_molecule
    maps["xyz"] = encode_xyz(apparent, simulator.settings, outside="drop")
    _say(f"simulated and computed the descriptors in {time.perf_counter() - start:.1f} s")
    return simulator, stacks, maps


def predict(name: str, stacks: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Outputs of zoo model ``name`` for one sample, batch axis dropped (imports TensorFlow)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from .zoo import ZooError

    tips = _model_tips(name)
    start = time.perf_counter()
    _say(f"loading zoo model {name} and predicting (TensorFlow) ...")
    try:
        out = _predict(name, {t: stacks[t] for t in tips})
    except ZooError as err:
        raise DataError(str(err)) from None
    if "xyz_class" in out and "xyz_offset" in out and "atoms" not in out:
        from .descriptors import decode_xyz

        out["atoms"] = decode_xyz((out["xyz_class"], out["xyz_offset"])).astype(np.float32)
    _say(f"predicted in {time.perf_counter() - start:.1f} s")
    return out


def _predict(name: str, stacks: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    import keras_spm

    if callable(getattr(keras_spm, "predict", None)):  # the shared entry point, when this keras_spm has it
        result = keras_spm.predict(name, stacks["CO"] if len(stacks) == 1 else stacks)
        result = dict(getattr(result, "maps", result))
        out = {}
        for key, value in result.items():  # one sample: drop a batch axis if the result kept one
            value = np.asarray(value)
            extra = value.ndim - OUTPUT_NDIM.get(key, value.ndim)
            out[key] = value[0] if extra == 1 and value.shape[0] == 1 else value
        return out
    from . import zoo
    from .models.afm import standardize_stack

    model = zoo.load(name)
    x = {t: standardize_stack(s[None]) for t, s in stacks.items()}  # per-slice standardisation, as in training
    raw = model(x if len(x) > 1 else x["CO"], training=False)
    return {k: np.asarray(v)[0] for k, v in raw.items()}


def _pearson(a: np.ndarray, b: np.ndarray) -> str:
    """Pearson r of two maps as text ("n/a" when one is constant, e.g. an ES map without charges)."""
    a, b = np.ravel(a).astype(np.float64), np.ravel(b).astype(np.float64)
    if a.std() == 0 or b.std() == 0:
        return "n/a"
    return f"{np.corrcoef(a, b)[0, 1]:.2f}"


def plot(path: Path, title: str, stacks: dict, maps: dict, predicted: dict | None, model: str, settings) -> None:
    """Stack slices (row 1), the true maps (row 2) and the predicted ones under them (row 3)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .descriptors import decode_xyz

    (x0, y0), (x1, y1) = settings.window_2d
    extent = (x0, x1, y0, y1)
    tips = list(stacks)
    n = stacks[tips[0]].shape[2]
    panels = [(tips[0], k) for k in (0, n // 3, 2 * n // 3, n - 1)] if len(tips) == 1 else []
    for tip in tips[:2] if len(tips) > 1 else []:
        panels += [(tip, 0), (tip, n - 1)]
    rows = 3 if predicted else 2
    fig, axes = plt.subplots(rows, 4, figsize=(14, 3.5 * rows + 0.4), constrained_layout=True, squeeze=False)
    for ax, (tip, k) in zip(axes[0], panels, strict=True):
        ax.imshow(stacks[tip][:, :, k].T, origin="lower", cmap="gray", extent=extent)
        ax.set_title(f"{tip} df slice {k}" + (" (farthest)" if k == 0 else " (closest)" if k == n - 1 else ""))
    limits = {}
    for ax, name in zip(axes[1], MAP_TITLES, strict=True):
        lim = float(np.abs(maps[name]).max()) or 1.0
        limits[name] = (-lim, lim) if name == "es" else (float(maps[name].min()), float(maps[name].max()))
        cmap = "coolwarm" if name == "es" else "viridis"
        im = ax.imshow(
            maps[name].T, origin="lower", cmap=cmap, extent=extent, vmin=limits[name][0], vmax=limits[name][1]
        )
        fig.colorbar(im, ax=ax, shrink=0.8)
        ax.set_title(f"true {MAP_TITLES[name]}", fontsize=10)
    true_atoms = decode_xyz(maps["xyz"], settings=settings)
    axes[1, 0].scatter(true_atoms[:, 0], true_atoms[:, 1], s=30, facecolors="none", edgecolors="r", label="xyz grid")
    axes[1, 0].legend(loc="upper right", fontsize=7)
    if predicted:
        for ax, name in zip(axes[2], MAP_TITLES, strict=True):
            if name in predicted:
                cmap = "coolwarm" if name == "es" else "viridis"
                vmin, vmax = limits[name]
                im = ax.imshow(predicted[name].T, origin="lower", cmap=cmap, extent=extent, vmin=vmin, vmax=vmax)
                fig.colorbar(im, ax=ax, shrink=0.8)
                ax.set_title(f"predicted {name} (r = {_pearson(predicted[name], maps[name])})")
            elif name == "disks" and "atoms" in predicted:
                ax.imshow(maps["disks"].T, origin="lower", cmap="gray", extent=extent)
                ax.scatter(true_atoms[:, 0], true_atoms[:, 1], s=40, facecolors="none", edgecolors="r", label="true")
                atoms = predicted["atoms"]
                ax.scatter(atoms[:, 0], atoms[:, 1], s=25, marker="x", c="c", label="predicted")
                ax.legend(loc="upper right", fontsize=7)
                ax.set_title(f"predicted: {len(atoms)} atoms (true {len(true_atoms)})")
            else:
                ax.axis("off")
    for ax in axes.flat:
        if ax.axison:
            ax.set_xlabel("x (Å)")
            ax.set_ylabel("y (Å)")
    fig.suptitle(title)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run(args: argparse.Namespace) -> int:
    from . import molecules

    molecule = load_molecule(args)
    known = getattr(molecules, MODEL_ELEMENTS.get(args.predict or "", "HEAVY_ELEMENTS"))
    others = sorted(set(molecule.without_substrate().numbers.tolist()) - set(known))
    if others:
        names = ", ".join(molecules.SYMBOLS[z] for z in others)
        trained = f"{args.predict} was trained on" if args.predict else "the zoo's molecule sets hold"
        _say(
            f"note: {trained} {', '.join(molecules.SYMBOLS[z] for z in known)}, not {names}; if they belong to a "
            "surface, mark them with --substrate-elements or --substrate-below (simulated, left out of the maps)."
        )
    simulator, stacks, maps = simulate(molecule, args.tips, args.seed)
    predicted = predict(args.predict, stacks) if args.predict else None

    try:
        args.out.mkdir(parents=True, exist_ok=True)
        stem = args.molecule.stem
        placed = simulator.placed
        files = [args.out / f"{stem}_stacks.npz", args.out / f"{stem}_descriptors.npz"]
        np.savez_compressed(
            files[0],
            **stacks,
            numbers=placed.numbers,
            positions=placed.positions.astype(np.float32),
            charges=placed.charges.astype(np.float32),
            substrate=placed.substrate,
            scan_window=np.asarray(simulator.settings.scan_window, dtype=np.float32),
            tilt=simulator.tilt.astype(np.float32),
        )
        apparent = simulator.label_molecule.without_substrate()
        np.savez_compressed(
            files[1],
            **maps,
            atoms=np.concatenate([apparent.positions, apparent.charges[:, None]], axis=1).astype(np.float32),
            numbers=apparent.numbers,
            height_es_tip=np.array(args.tips[0]),
        )
        if predicted is not None:
            files.append(args.out / f"{stem}_prediction.npz")
            np.savez_compressed(files[-1], **predicted, model=np.array(args.predict))
        files.append(args.out / f"{stem}_simulate.png")
        alone = molecule.without_substrate()
        title = (
            f"{stem} ({_formula(alone.numbers)}{' on a substrate' if molecule.has_substrate else ''}): ppafm "
            f"{'/'.join(args.tips)}-tip AFM (ASD-AFM settings, orientation {args.orientation})\ntrue descriptors"
            + (f" and zoo model {args.predict}'s prediction (on the true map's colour scale)" if args.predict else "")
        )
        plot(files[-1], title, stacks, maps, predicted, args.predict or "", simulator.settings)
    except OSError as err:
        raise DataError(f"cannot write to {args.out}: {err}") from None
    for f in files:
        print(f)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run ``keras-spm simulate`` with ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    parser = build_parser()
    try:
        args = check_arguments(parser.parse_args(argv))
        return run(args)
    except SystemExit as done:  # --help
        return int(done.code or 0)
    except UsageError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    except DataError as err:
        print(f"{PROG}: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as err:
        if os.environ.get("KERAS_SPM_DEBUG"):
            raise
        print(f"{PROG}: failed: {type(err).__name__}: {err} (KERAS_SPM_DEBUG=1 shows the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
