"""``keras-spm``: run zoo models on instrument files from the shell.

    keras-spm zoo list
    keras-spm predict dsh_heavy ../shared/data/spm-files/nanonis_stack/ -o out/
    keras-spm predict xyz grid.3ds --crop-nan -o out/
    keras-spm predict es CO=co_series/ Xe=xe_series/ -o out/      # two-tip models: one TIP=PATH per tip
    keras-spm predict effunet_nanoparticles scan.sxm -o out/       # Z channel, plane-levelled; CSV of particles
    keras-spm predict dae_tip_artifacts scan.gwy --level lines -o out/
    keras-spm predict pix2pix_stem 'stem/*.npy' -o out/            # any size; a folder or glob runs in batches
    keras-spm simulate mol.xyz --predict dsh_heavy -o out/         # your own molecule (keras_spm.simulate_command)

``predict`` reads the inputs the way the model's preset says (:mod:`keras_spm.zoo.presets`), runs the model (which
scales its own input) and writes ``<stem>_prediction.npz`` and ``<stem>_prediction.png`` per input (plus
``<stem>_particles.csv`` and ``<stem>_sizes.png`` for the particle segmentation), saying on stderr what it did.

Exit codes: 0 done; 2 wrong arguments, input paths or output folder (checked before TensorFlow is imported, so
within a second or two); 1 the data could not be used (unreadable file, too many NaN, ...). Either is one line.
Of several inputs, one that cannot be used is skipped with its reason and the others are written (exit 1).
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys
import tempfile
import warnings
from pathlib import Path

PROG = "keras-spm"


class UsageError(Exception):
    """Wrong arguments, paths or output folder: exit 2."""


class Parser(argparse.ArgumentParser):
    """argparse with its errors as one line (exit 2) instead of a usage block."""

    def error(self, message):
        raise UsageError(f"{message} (see {self.prog} --help)")


def build_parser() -> argparse.ArgumentParser:
    from .inference.inputs import LEVELS

    parser = Parser(prog=PROG, description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    p = sub.add_parser("predict", help="run a zoo model on instrument files or images")
    p.add_argument("model", help="zoo model name (see `keras-spm zoo list`)")
    p.add_argument(
        "inputs",
        nargs="+",
        help="AFM: a folder or files of a constant-height .sxm series, a .3ds or .npz stack (TIP=PATH per tip "
        "for es); topography models: .sxm/.gwy/.ibw/.npy/.png/.tif images; GANs: .png/.tif/.npy/.txt images; "
        "folders and globs run as many inputs",
    )
    p.add_argument("-o", "--out", default="prediction", help="output folder (created)")
    p.add_argument("--channel", default=None, help="channel to read (default: Frequency_Shift for AFM, Z for images)")
    p.add_argument("--direction", default="forward", choices=("forward", "backward"))
    p.add_argument(
        "--crop-nan",
        action="store_true",
        help="crop a .3ds grid or an interrupted topography scan to its NaN-free rectangle first",
    )
    p.add_argument("--level", choices=LEVELS, default=None, help="levelling of a topography (default: the preset's)")
    p.add_argument("--pixel-size", type=float, default=None, help="pixel size in nm (overrides the file's)")
    p.add_argument("--batch-size", type=int, default=8, help="images per model call when given many")
    p.add_argument(
        "--precision",
        choices=("auto", "float32", "mixed_bfloat16"),
        default="auto",
        help="numeric precision (keras_spm.precision): auto = bf16 only on a CPU with native bf16 for a model "
        "that passed the bf16 checks, else float32",
    )
    p.add_argument(
        "--no-tta",
        dest="tta",
        action="store_false",
        help="AFM models: one pass of the network instead of the mean over the stack's 8 mirror / 90-degree views",
    )
    p.set_defaults(run=run_predict)
    z = sub.add_parser("zoo", help="the model zoo")
    z.add_argument("action", choices=("list",))
    z.set_defaults(run=zoo_list)
    s = sub.add_parser("simulate", help="simulate AFM stacks of your own molecule (see keras-spm simulate --help)")
    s.set_defaults(run=None)
    return parser


def check_predict_args(args) -> tuple:
    """(preset, input files by tip) or :class:`UsageError`; imports neither Keras nor TensorFlow."""
    from .inference.inputs import InputError, check_paths
    from .zoo.presets import PRESETS
    from .zoo.registry import REGISTRY, not_trained_yet

    if args.model not in REGISTRY:
        close = difflib.get_close_matches(args.model, list(REGISTRY), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        if not_trained_yet(args.model):
            raise UsageError(not_trained_yet(args.model) + "; `keras-spm zoo list` shows the trained ones.")
        raise UsageError(f"unknown zoo model {args.model!r}; {hint}see `keras-spm zoo list` for the {len(REGISTRY)}.")
    preset = PRESETS[REGISTRY[args.model].preset_name(args.model)]
    if args.pixel_size is not None and not args.pixel_size > 0:
        raise UsageError(f"--pixel-size must be > 0 (nm per pixel), got {args.pixel_size}.")
    if args.batch_size < 1:
        raise UsageError(f"--batch-size must be >= 1, got {args.batch_size}.")
    kind = preset.input.kind
    if args.level is not None and kind != "topography":
        raise UsageError(
            f"--level applies to topography models (dae_tip_artifacts, effunet_nanoparticles), not {args.model}."
        )
    if args.crop_nan and kind not in ("afm_stack", "topography"):
        raise UsageError(f"--crop-nan applies to AFM stack and topography models, not {args.model}.")
    try:
        files = check_paths(args.inputs, kind, preset.input.tips if kind == "afm_stack" else ())
    except InputError as err:
        raise UsageError(str(err)) from None
    check_output_folder(Path(args.out))
    return preset, files


def check_output_folder(out: Path) -> None:
    """Create ``out`` and write a probe file in it, so a prediction is never lost to an unwritable folder."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".keras-spm-probe-"):
            pass
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise UsageError(
            f"cannot write to the output folder {out} ({reason}); choose one you can write to with -o DIR."
        ) from None


def run_predict(args) -> int:
    """Run the model on each input (a batch of images for the GANs, the one stack for AFM models) and write its
    files at once; an input that cannot be used is reported and skipped, so one bad scan in a folder does not cost
    the others (exit 1 then, with the list)."""
    preset, files = check_predict_args(args)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import logging

    logging.getLogger("keras_spm.zoo").setLevel(logging.ERROR)  # "using the shipped copy" on every run is noise
    from .inference import predict
    from .inference.run import load
    from .io import SPMFileError

    kind = preset.input.kind
    if kind == "afm_stack":
        stack = (
            [f"{t}={p}" for t, paths in files.items() for p in paths] if len(files) > 1 else files[next(iter(files))]
        )
        groups = [stack]
    elif kind == "topography":
        groups = [[f] for f in files[""]]
    else:
        groups = [files[""][k : k + args.batch_size] for k in range(0, len(files[""]), args.batch_size)]
    say = lambda line: print(f"  {line}", file=sys.stderr)  # noqa: E731
    load(args.model, None, args.precision)  # a zoo problem stops here, before any input
    written, failed = [], []
    stems: dict[str, int] = {}
    for group in _progress_bar(groups, len(groups) > 1 and sys.stderr.isatty()):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # the same warnings come as notes, on one line each
                result = predict(
                    args.model,
                    group,
                    channel=args.channel,
                    direction=args.direction,
                    crop_nan=args.crop_nan,
                    level_mode=args.level,
                    pixel_size=args.pixel_size,
                    batch_size=args.batch_size,
                    precision=args.precision,
                    progress=len(groups) == 1 and sys.stderr.isatty(),
                    tta=None if args.tta else False,
                    log=say,
                )
        except (ValueError, SPMFileError, FileNotFoundError) as err:
            if len(groups) == 1:
                raise
            say(f"skipped: {_first_line(err)}")
            failed.append(group)
            continue
        for r in result if isinstance(result, list) else [result]:
            stem = r.stem
            stems[stem] = stems.get(stem, 0) + 1
            written += r.save(args.out, stem if stems[stem] == 1 else f"{stem}_{stems[stem]}")
    if written:
        shown = ", ".join(str(p) for p in written[:4]) + (f" and {len(written) - 4} more" if len(written) > 4 else "")
        print(f"wrote {shown}")
    if failed:
        print(
            f"{PROG}: error: {len(failed)} of {len(groups)} inputs could not be used (reasons above): "
            + ", ".join(Path(p).name for g in failed for p in g),
            file=sys.stderr,
        )
        return 1
    return 0


def _first_line(err: Exception) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__


def _progress_bar(items: list, show: bool):
    if not show:
        return items
    from tqdm import tqdm

    return tqdm(items, file=sys.stderr, unit="input")


def zoo_list(args) -> int:
    from .zoo.registry import available

    models = available()
    if not models:
        print("no models in the zoo registry yet")
    for name, description in models.items():
        print(f"{name:24s} {description}")
    return 0


def simulate(argv: list[str]) -> int:
    """``keras-spm simulate ...``: handed to :mod:`keras_spm.simulate_command` (imported only now)."""
    try:
        from . import simulate_command
    except ImportError as err:
        if "simulate_command" not in str(err):
            raise
        print(f"{PROG}: error: `keras-spm simulate` is not in this keras_spm yet (no keras_spm.simulate_command).",
              file=sys.stderr)  # fmt: skip
        return 2
    return simulate_command.main(argv)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] == "simulate":
        return simulate(argv[1:])
    from .io import SPMFileError

    try:
        args = build_parser().parse_args(argv)
        return args.run(args)
    except UsageError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    except (ValueError, SPMFileError, FileNotFoundError, RuntimeError) as err:  # the data, or the zoo, failed
        print(f"{PROG}: error: {_first_line(err)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
