"""Copy a training checkpoint into ``zoo/<name>/<name>.keras`` for inference, and print its registry entry.

    python training/export_to_zoo.py dsh_light runs/dsh_light/best.keras --kind afm.dsh \\
        --description "DSH maps (disks, spheres, height) from a CO-tip stack; light set"

The copy holds the architecture and weights only (no optimizer state: smaller, and nothing a
user of the zoo needs), with the input scaling of its zoo preset saved inside it
(:func:`keras_spm.zoo.presets.wrap`: raw data in; ``--preset`` defaults to the name). Its sha256 goes
into the printed ``ZooEntry``; write the model card ``zoo/<name>/README.md`` with the numbers from
``benchmarks/afm_models.py``. Exporting a model already in ``zoo/`` onto itself re-wraps it in place.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

ZOO = Path(__file__).resolve().parents[1] / "zoo"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name")
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--kind", required=True, help="<family>.<builder>, e.g. afm.dsh")
    parser.add_argument("--description", required=True)
    parser.add_argument("--repo-id", default=None, help="default: keras-spm/<name>")
    parser.add_argument("--preset", default=None, help="keras_spm.zoo.presets.PRESETS key (default: the name)")
    args = parser.parse_args(argv)

    import keras

    from keras_spm import precision
    from keras_spm.zoo.hub import sha256_file
    from keras_spm.zoo.presets import get_preset, wrap

    preset = get_preset(args.preset or args.name)
    importlib.import_module(f"keras_spm.models.{args.kind.split('.')[0]}")
    importlib.import_module("keras_spm.models.preprocessing")
    trained = keras.models.load_model(args.checkpoint, compile=False)
    model = keras.models.clone_model(trained)
    model.set_weights(trained.get_weights())
    # a checkpoint trained with --precision auto may hold bf16 layers: the zoo copy is float32, which runs everywhere
    model = precision.with_policy(model, "float32")
    model = wrap(model, preset)
    out = ZOO / args.name / f"{args.name}.keras"
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save(out)
    digest = sha256_file(out)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB, {model.count_params():,} parameters)")
    print(
        f'    "{args.name}": ZooEntry(\n        repo_id="{args.repo_id or "keras-spm/" + args.name}",\n'
        f'        revision=None,\n        sha256="{digest}",\n        kind="{args.kind}",\n'
        f'        description="{args.description}",\n'
        + (f'        preset="{args.preset}",\n' if args.preset and args.preset != args.name else "")
        + "    ),"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
