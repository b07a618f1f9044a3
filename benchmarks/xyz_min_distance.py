"""Choose the xyz decoding's minimum atom distance (``keras_spm.models.afm.metrics.XYZ_MIN_DISTANCE``) on validation.

    python benchmarks/xyz_min_distance.py [--model xyz] [--run runs/campaign_xyz]

An atom near the edge between two 0.99 A boxes can light up both, and the decoder then reports it twice, once as
a false detection. This sweeps the distance below which the less confident of two predicted atoms is dropped, on
the xyz campaign's fixed validation set (150 light + planar validation molecules, noise-free and augmented stacks,
simulated once and cached in the run folder; never the test split), and writes precision / recall / F1 / position
error per distance to ``benchmarks/results/xyz_min_distance_val.json``. The choice: the highest mean F1 of the two.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DISTANCES = (0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


def sweep(model_name: str, run: Path) -> dict:
    """``{stacks: {distance: scores}}`` on the campaign's validation set (simulated first if the run has none)."""
    from keras_spm.training import campaign

    cm = campaign.campaign_model("xyz")
    run.mkdir(parents=True, exist_ok=True)
    augmented, ys, clean = campaign.validation_set(run, cm, 150)  # OpenCL before TensorFlow

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import afm_models

    from keras_spm.models.afm import decode_xyz_prediction, decode_xyz_target, detection_scores

    model, _ = afm_models.load_model(model_name)
    truth = [decode_xyz_target(t) for t in ys["xyz"]]
    out: dict = {}
    for label, xs in (("noise-free", clean), ("augmented", augmented)):
        pred = afm_models.predict(model, xs)
        pairs = list(zip(pred["xyz_class"], pred["xyz_offset"], strict=True))
        out[label] = {}
        for d in DISTANCES:
            found = [decode_xyz_prediction(c, o, threshold=0.5, min_distance=d) for c, o in pairs]
            s = detection_scores(found, truth)
            out[label][f"{d:g}"] = {k: round(float(s[k]), 4) for k in ("precision", "recall", "f1", "mean_error")}
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="xyz", help="zoo name or .keras checkpoint")
    p.add_argument("--run", type=Path, default=ROOT / "runs" / "campaign_xyz", help="campaign run with the val set")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "xyz_min_distance_val.json")
    args = p.parse_args(argv)
    result = sweep(args.model, args.run)
    mean_f1 = {d: np.mean([result[k][d]["f1"] for k in result]) for d in result["noise-free"]}
    best = max(mean_f1, key=mean_f1.get)
    print("distance  " + "  ".join(f"{k}: P / R / F1" for k in result) + "  mean F1")
    for d in mean_f1:
        row = "  ".join(f"{result[k][d]['precision']:.3f} / {result[k][d]['recall']:.3f} / {result[k][d]['f1']:.3f}"
                        for k in result)  # fmt: skip
        print(f"{d:>6} A  {row}  {mean_f1[d]:.4f}{'  <- highest' if d == best else ''}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    summary = {"model": args.model, "validation": "xyz campaign, 150 light + planar val molecules", "chosen": best}
    args.out.write_text(json.dumps({**summary, "mean_f1": mean_f1, **result}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
