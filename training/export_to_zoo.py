"""Copy a training checkpoint into ``zoo/<name>/<name>.keras`` for inference, and print its registry entry.

    python training/export_to_zoo.py dsh_light runs/dsh_light/best.keras --kind afm.dsh \\
        --description "DSH maps (disks, spheres, height) from a CO-tip stack; light set"

The copy holds the architecture and weights only (no optimizer state: smaller, and nothing a
user of the zoo needs). Its sha256 goes into the printed ``ZooEntry``; write the model card
``zoo/<name>/README.md`` with the numbers from ``benchmarks/afm_models.py``.
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
    args = parser.parse_args(argv)

    import keras

    from keras_spm.zoo.hub import sha256_file

    importlib.import_module(f"keras_spm.models.{args.kind.split('.')[0]}")
    trained = keras.models.load_model(args.checkpoint, compile=False)
    model = keras.models.clone_model(trained)
    model.set_weights(trained.get_weights())
    out = ZOO / args.name / f"{args.name}.keras"
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save(out)
    digest = sha256_file(out)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB, {model.count_params():,} parameters)")
    print(
        f'    "{args.name}": ZooEntry(\n        repo_id="{args.repo_id or "keras-spm/" + args.name}",\n'
        f'        revision=None,\n        sha256="{digest}",\n        kind="{args.kind}",\n'
        f'        description="{args.description}",\n    ),'
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
