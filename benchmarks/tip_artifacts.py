"""Tip-artifact removal on real topographies (and the old frequency-shift images): input vs Villarrubia erosion vs DAEs.

    python benchmarks/tip_artifacts.py --model new=runs/dae_topo/best.keras --model old=zoo/dae_tip_artifacts/...

**Table 1, real topographies** (issue #18): the plane-levelled height maps of
:data:`keras_spm.sim.topography.REAL_FILES`, split by file: *val* (Image_166, Si_7x7_051, the BTFO .ibw, PTO) is
where checkpoints and settings are chosen, *test* (Image_004, Image_398, Image_526, Si_7x7_028, the P0089 .ibw, the
bipm .gwy) is only reported. None is used for training. Each file is corrupted ``--corruptions`` times by
:func:`keras_spm.sim.tip.corrupt` (seeds ``[seed, i, k]``, the same distribution and seeds as before). Data: Nanonis
STM scans from alexriss/SpmImageTycoon.jl and ethz-micro/matlab_nanonis (GPL-3.0), Asylum .ibw and Gwyddion files
from pycroscopy/SciFiDatasets (MIT); see ../shared/data/README.md.

**Table 2, frequency-shift images**: the old benchmark, the test split of the afm-exp PNGs mapped to 0-0.2 nm on
0.02 nm pixels (:func:`keras_spm.sim.tip.clean_surfaces`).

Rows: ``corrupted``; ``erosion, true tip`` - Villarrubia's reconstruction (grey erosion; J. Res. NIST 102, 425
(1997)) with the tip that made the image, an **oracle**; ``erosion, blind tip`` - the same with
:func:`keras_spm.sim.tip.blind_tip_estimate` (7 px, 3 sweeps, threshold 2x the row-difference noise); one row per
``--model NAME=PATH`` (a training checkpoint or a zoo file; scale-aware models get the pixel size, metres in,
metres out); and ``NAME on clean``: the model run on the *uncorrupted* file vs that file ("clean in, clean out").
Metrics (keras_spm.metrics): PSNR (dB), SSIM, VIF against the clean map, ``data_range`` = its peak-to-peak height.
Targets (test, best model): >= +3 dB and >= +0.1 SSIM over the corrupted input and the blind-tip erosion, PSNR >= the
oracle's, and on clean input >= 45 dB and SSIM >= 0.98 (on the mean, and also reported for the worst file).
Each row is also scored **registered** (``*_reg``, :mod:`keras_spm.metrics.registration`): after moving the output
onto the clean map by its least-squares translation of at most 2 px. The corruption's tilted apex translates the
image by up to 1 px, which only the true tip knows; on low-relief lattices that translation alone is worth several dB,
so the registered columns say how much of a gap to the oracle is shape. The targets stay the plain metrics'.
**Table 3** (``--steep-clean N``, validation only): clean synthetic scans of steep packed surfaces (rods / grains,
gratings, fibres, packed particles) imaged by a worn tip, with a real scan's noise - the surfaces the real
validation files lack, on which a remover most easily erodes a clean scan; restore(clean) vs clean per model. Writes ``benchmarks/results/tip_artifacts.json`` and the
figure ``tip_artifacts.png`` (clean / corrupted / blind / oracle / model / model - clean, one test case per file).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from keras_spm.metrics.image_quality import image_quality  # noqa: E402
from keras_spm.metrics.registration import registered_quality  # noqa: E402
from keras_spm.models.dae import consistency as C  # noqa: E402
from keras_spm.sim import tip as T  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
BASELINES = ("corrupted", "erosion, blind tip", "erosion, true tip")


def topography_cases(split: str, n_corruptions: int, seed: int, data_dir=None) -> list[dict]:
    """Corrupted real topographies of ``split`` (metres); one dict per (file, corruption)."""
    from keras_spm.sim.topography import real_topographies

    out = []
    for i, t in enumerate(real_topographies(split, data_dir)):
        for k in range(n_corruptions):
            bad, info = T.corrupt(t.height, t.pixel_size, np.random.default_rng([seed, i, k]))
            name = Path(t.params["file"]).name
            out.append({"name": f"{name}#{k}", "file": name, "kind": t.kind, "split": split, "clean": t.height,
                        "bad": bad, "pixel": t.pixel_size, **info})  # fmt: skip
    return out


def freq_shift_cases(n_corruptions: int, seed: int, data_dir=None) -> list[dict]:
    """The old benchmark's cases: the test split of the frequency-shift PNGs (nm, 0.02 nm pixels)."""
    out = []
    for i, s in enumerate(T.clean_surfaces("test", data_dir)):
        for k in range(n_corruptions):
            bad, info = T.corrupt(s.height, s.pixel_size, np.random.default_rng([seed, i, k]))
            out.append({"name": f"{s.name}#{k}", "file": s.name, "kind": "frequency shift", "split": "test",
                        "clean": s.height, "bad": bad, "pixel": s.pixel_size, **info})  # fmt: skip
    return out


#: "clean in, clean out" (issue #18): a restored clean scan is left alone at >= this PSNR (dB) and SSIM
CLEAN_PSNR, CLEAN_SSIM = 45.0, 0.98
#: the registered metrics of a row (:func:`evaluate`)
REG_KEYS = ("psnr_reg", "ssim_reg", "vif_reg", "shift_px")

#: the kinds of surface whose clean scans a tip-artifact remover most easily mistakes for tip-widened ones, and
#: which no real validation file shows: steep, densely packed structures imaged by a worn tip
STEEP_KINDS = (("grains", ()), ("grating", ()), ("flat", ("fibres",)), ("flat", ("particles",)))


def steep_clean_cases(n_per_kind: int, seed: int, shape: int = 192) -> list[dict]:
    """Clean synthetic scans (:func:`keras_spm.sim.topography.random_topography` with a worn tip, plus the noise,
    scan-line offsets and scars of a real scan) of :data:`STEEP_KINDS`: a validation of "clean in, clean out" on the
    rods / gratings / fibres / packed particles that the real validation files lack (the real test files have two)."""
    from keras_spm.models.dae.restore import corrupt_keeping_noise
    from keras_spm.sim.topography import random_topography

    out = []
    for j, (substrate, features) in enumerate(STEEP_KINDS):
        for k in range(n_per_kind):
            rng = np.random.default_rng([seed, 77, j, k])
            t = random_topography(rng, (shape, shape), substrate=substrate, features=features, worn_tip=True)
            scan, _ = corrupt_keeping_noise(t.height, t.pixel_size, rng, with_tip=False)
            kind = "+".join((substrate, *features))
            out.append({"name": f"{kind}#{k}", "kind": kind, "clean": scan, "pixel": t.pixel_size})
    return out


def steep_clean(models: dict, n_per_kind: int, seed: int) -> dict:
    """Each model on :func:`steep_clean_cases`: restore(clean) vs clean, per kind and overall (mean and worst), and
    the share of scans left at >= 45 dB and SSIM >= 0.98."""
    cases = steep_clean_cases(n_per_kind, seed)
    out = {}
    for name, model in models.items():
        rows = []
        for c in tqdm(cases, desc=f"steep clean scans, {name}", unit="scan"):
            q = image_quality(c["clean"], run_model(model, c["clean"], c["pixel"]), float(np.ptp(c["clean"])))
            rows.append({"case": c["name"], "kind": c["kind"], **q})
        ok = [r["psnr"] >= CLEAN_PSNR and r["ssim"] >= CLEAN_SSIM for r in rows]
        out[name] = {
            "mean_psnr": float(np.mean([r["psnr"] for r in rows])),
            "mean_ssim": float(np.mean([r["ssim"] for r in rows])),
            "min_psnr": float(min(r["psnr"] for r in rows)),
            "min_ssim": float(min(r["ssim"] for r in rows)),
            "share_left_alone": float(np.mean(ok)),
            "per_kind_ssim": {k: float(np.mean([r["ssim"] for r in rows if r["kind"] == k])) for k in dict.fromkeys(r["kind"] for r in rows)},
            "per_case": rows,
        }  # fmt: skip
    return out


#: relief classes of table 4: robust height range (p0.5-p99.5) in pixel sizes
RELIEF_CLASSES = ((0.0, 1.0), (1.0, 2.0), (2.0, 8.0), (8.0, np.inf))


def relief_cases(n_per_class: int, seed: int, shape: int = 160) -> list[dict]:
    """Corrupted synthetic surfaces (:func:`keras_spm.sim.topography.random_topography` + :func:`keras_spm.sim.tip.corrupt`,
    tip artifacts only), ``n_per_class`` per :data:`RELIEF_CLASSES`. Why: the real files have one or two scans per
    relief, too few to say whether a model that leaves low-relief scans alone (Si 7x7, the BTFO film) fails on the
    real data only or on every low-relief surface; synthetic ones answer that without touching the test files."""
    from keras_spm.sim.topography import random_topography

    rng = np.random.default_rng([seed, 88])
    out: list[dict] = []
    counts = [0] * len(RELIEF_CLASSES)
    while min(counts) < n_per_class:
        t = random_topography(rng, (shape, shape))
        lo, hi = np.percentile(t.height, [0.5, 99.5])
        cls = next(i for i, (a, b) in enumerate(RELIEF_CLASSES) if a <= (hi - lo) / t.pixel_size < b)
        bad, info = T.corrupt(t.height, t.pixel_size, rng)
        if counts[cls] >= n_per_class or "tip" not in info or not np.ptp(t.height) > 0:
            continue
        counts[cls] += 1
        a, b = RELIEF_CLASSES[cls]
        name = f"relief {a:g}-{b:g} px"
        out.append({"name": f"{name}#{counts[cls]}", "file": t.kind, "kind": name, "clean": t.height, "bad": bad,
                    "pixel": t.pixel_size, "relief_class": cls, **info})  # fmt: skip
    return sorted(out, key=lambda c: c["relief_class"])


def by_relief(models: dict, n_per_class: int, seed: int) -> dict:
    """Table 4: input, oracle erosion and each model on :func:`relief_cases`, per relief class (mean PSNR / SSIM)
    and the share of cases a model leaves unchanged (< 0.05 dB from the input)."""
    cases = relief_cases(n_per_class, seed)
    rows, _ = evaluate(cases, models, blind=False)
    out = {"per_relief": summarise(rows, "kind")}
    for name in models:
        gains = {}
        for inp, res in zip(rows["corrupted"], rows[name], strict=True):
            gains.setdefault(inp["kind"], []).append(res["psnr"] - inp["psnr"])
        out.setdefault("share_untouched", {})[name] = {k: float(np.mean(np.abs(g) < 0.05)) for k, g in gains.items()}
    return out


def load_models(specs: list[str]) -> dict:
    import keras

    import keras_spm.models.dae  # noqa: F401  (registers the losses and layers)
    import keras_spm.models.preprocessing  # noqa: F401

    models = {}
    for spec in specs:
        name, _, path = spec.partition("=")
        if not path:
            raise SystemExit(f"--model needs NAME=PATH, got {spec!r}")
        models[name] = keras.models.load_model(path, compile=False)
    return models


class Unchecked:
    """A model run without ``restore``'s openness check (:mod:`keras_spm.models.dae.consistency`), to measure it."""

    def __init__(self, model):
        self.model = model


def run_model(model, image: np.ndarray, pixel: float) -> np.ndarray:
    from keras_spm.models.dae.restore import restore

    stride = 16
    if isinstance(model, Unchecked):
        return restore(model.model, image, stride=stride, pixel_size=pixel, max_opening_excess=None)
    return restore(model, image, stride=stride, pixel_size=pixel)


def evaluate(data: list[dict], models: dict, blind: bool = True) -> tuple[dict, dict]:
    """Per-case metrics ``{method: [row, ...]}`` and outputs ``{method: [image, ...]}`` (rows align with ``data``).

    Each row also has its metrics after aligning the output to the clean scan
    (:func:`keras_spm.metrics.registration.registered_quality`, keys ``*_reg`` and ``shift_px``; not for the
    "on clean" rows): the corruption's tilted apex translates the image by up to 1 px, which only the true tip knows.
    """
    rows: dict[str, list] = {m: [] for m in BASELINES if blind or m != "erosion, blind tip"}
    for name in models:
        rows[name], rows[f"{name} on clean"] = [], []
    outputs: dict[str, list] = {m: [] for m in rows}

    def score(method, case, restored, reference=None, dt=0.0):
        ref = case["clean"] if reference is None else reference
        q = image_quality(ref, restored, float(np.ptp(ref)))
        if not method.endswith("on clean"):  # a translation only the true tip knows, taken out
            reg = registered_quality(ref, restored, float(np.ptp(ref)))
            q.update({f"{k}_reg": reg[k] for k in ("psnr", "ssim", "vif")}, shift_px=reg["shift_px"])
        row = {"case": case["name"], "file": case["file"], "kind": case["kind"], "tip": tip_kind(case)}
        rows[method].append({**row, **q, "seconds": dt})
        outputs[method].append(restored)

    clean_done: dict[tuple, np.ndarray] = {}
    for c in tqdm(data, desc="cases", unit="case"):
        score("corrupted", c, c["bad"])
        score("erosion, true tip", c, T.reconstruct_surface(c["bad"], c["tip"]) if "tip" in c else c["bad"])
        if blind:
            t0 = time.perf_counter()
            est = T.blind_tip_estimate(c["bad"], c["pixel"], 7, threshold=2 * C.noise_sigma(c["bad"]), max_iter=3)
            score("erosion, blind tip", c, T.reconstruct_surface(c["bad"], est), dt=time.perf_counter() - t0)
        for name, model in models.items():
            t0 = time.perf_counter()
            score(name, c, run_model(model, c["bad"], c["pixel"]), dt=time.perf_counter() - t0)
            key = (name, c["file"])
            if key not in clean_done:
                clean_done[key] = run_model(model, c["clean"], c["pixel"])
            score(f"{name} on clean", c, clean_done[key])
    return rows, outputs


def tip_kind(case: dict) -> str:
    """ "single" or "double" apex (the corruption's tip), or "gaussian" blur: what a remover had to undo."""
    tip = case.get("tip")
    if tip is None:
        return "gaussian"
    return "double" if tip.kind == "double" else "single"


def summarise(rows: dict, by: str | None = None) -> dict:
    """Mean PSNR / SSIM / VIF per method (and per ``by`` = "file", "kind" or "tip" when given)."""
    out: dict = {}
    for m, rs in rows.items():
        groups = (
            {None: rs} if by is None else {g: [r for r in rs if r[by] == g] for g in dict.fromkeys(r[by] for r in rs)}
        )
        for g, sel in groups.items():
            keys = ("psnr", "ssim", "vif") + (REG_KEYS if all("psnr_reg" in r for r in sel) else ())
            mean = {k: float(np.mean([r[k] for r in sel])) for k in keys}
            mean["n"] = len(sel)
            if g is None:
                out[m] = mean
            else:
                out.setdefault(m, {})[g] = mean
    return out


def print_table(title: str, table: dict) -> None:
    head = f"{'method':34s} {'PSNR dB':>8s} {'SSIM':>7s} {'VIF':>7s}"
    print(f"\n{title}\n{head}   registered: {'PSNR':>6s} {'SSIM':>6s} shift px")
    for m, v in table.items():
        reg = f"   {'':12s}{v['psnr_reg']:6.2f} {v['ssim_reg']:6.3f} {v['shift_px']:8.2f}" if "psnr_reg" in v else ""
        print(f"{m:34s} {v['psnr']:8.2f} {v['ssim']:7.3f} {v['vif']:7.3f}{reg}")


def print_grouped(title: str, grouped: dict, methods: list[str]) -> None:
    groups = list(next(iter(grouped.values())))
    width = max(22, *(len(m) + 2 for m in methods))
    print(f"\n{title} (PSNR dB / SSIM)")
    print(f"{'':32s}" + "".join(f"{m:>{width}s}" for m in methods))
    for g in groups:
        cells = (f"{grouped[m][g]['psnr']:.2f} / {grouped[m][g]['ssim']:.3f}" for m in methods)
        print(f"{g[:32]:32s}" + "".join(f"{c:>{width}s}" for c in cells))


def targets(table: dict, models: list[str], by_file: dict | None = None) -> dict:
    """The issue's targets for each model on one split's table.

    "clean in, clean out" is also checked file by file when ``by_file`` is given: a mean of PSNRs in dB is dominated by
    the files a model leaves exactly alone (100-160 dB) and can hide one whose heights it changed.
    """
    out = {}
    for name in models:
        t, clean = table[name], table[f"{name} on clean"]
        checks = {}
        for ref in ("corrupted", "erosion, blind tip"):
            if ref in table:
                dp, ds = t["psnr"] - table[ref]["psnr"], t["ssim"] - table[ref]["ssim"]
                checks[f"vs {ref}"] = {"delta_psnr": dp, "delta_ssim": ds, "met": bool(dp >= 3.0 and ds >= 0.1)}
        dp = t["psnr"] - table["erosion, true tip"]["psnr"]
        checks["vs erosion, true tip (PSNR)"] = {"delta_psnr": dp, "met": bool(dp >= 0)}
        if "psnr_reg" in t:  # the same after registration (reported; the targets are the plain ones above)
            for ref in ("corrupted", "erosion, blind tip", "erosion, true tip"):
                if ref in table:
                    dp, ds = t["psnr_reg"] - table[ref]["psnr_reg"], t["ssim_reg"] - table[ref]["ssim_reg"]
                    checks[f"registered, vs {ref}"] = {"delta_psnr": dp, "delta_ssim": ds}
        checks["clean in, clean out"] = {
            "psnr": clean["psnr"],
            "ssim": clean["ssim"],
            "met": bool(clean["psnr"] >= CLEAN_PSNR and clean["ssim"] >= CLEAN_SSIM),
        }
        if by_file is not None:
            files = by_file[f"{name} on clean"].values()
            worst_psnr, worst_ssim = min(f["psnr"] for f in files), min(f["ssim"] for f in files)
            checks["clean in, clean out, every file"] = {
                "min_psnr": worst_psnr,
                "min_ssim": worst_ssim,
                "met": bool(worst_psnr >= CLEAN_PSNR and worst_ssim >= CLEAN_SSIM),
            }
        out[name] = checks
    return out


def scale_consistency(models: dict, data_dir=None) -> dict:
    """Each model on one validation file scaled isotropically (heights and pixel) from 0.1 A/px to 100 nm/px:
    max |restore(k s) / k - restore(s)| over the file's height range (0 = the same restore at every scale)."""
    from keras_spm.sim.topography import real_topographies

    t = real_topographies("val", data_dir)[1]  # Si_7x7_051, 0.78 A/px
    bad, _ = T.corrupt(t.height, t.pixel_size, np.random.default_rng([2024, 99]))
    out = {}
    for name, model in models.items():
        ref = run_model(model, bad, t.pixel_size)
        devs = {}
        for target_px in (1e-11, 1e-9, 1e-7):
            k = target_px / t.pixel_size
            devs[f"{target_px:g} m/px"] = float(np.abs(run_model(model, bad * k, t.pixel_size * k) / k - ref).max())
        out[name] = {px: d / float(np.ptp(t.height)) for px, d in devs.items()}
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", action="append", default=[], help="NAME=PATH of a DAE .keras checkpoint or zoo file")
    p.add_argument("--corruptions", type=int, default=2, help="random corruptions per image")
    p.add_argument("--seed", type=int, default=2024)
    p.add_argument("--splits", default="val,test", help='real-topography splits to run (val, test; "" for none)')
    p.add_argument("--no-blind", action="store_true", help="skip the (slow) blind tip estimation")
    p.add_argument("--no-freq-shift", action="store_true", help="skip table 2 (the frequency-shift images)")
    p.add_argument(
        "--steep-clean",
        type=int,
        default=8,
        help="clean synthetic steep scans per kind (table 3, validation of clean in, clean out; 0 skips it)",
    )
    p.add_argument(
        "--relief",
        type=int,
        default=0,
        help="corrupted synthetic surfaces per relief class (table 4: which reliefs a model restores; 0 skips it)",
    )
    p.add_argument(
        "--unchecked",
        action="append",
        default=[],
        metavar="NAME",
        help="also run model NAME without restore's tip check, as 'NAME, no tip check'",
    )
    p.add_argument("--out", type=Path, default=RESULTS / "tip_artifacts.json")
    args = p.parse_args(argv)
    models = load_models(args.model)
    for name in args.unchecked:
        if name not in models:
            raise SystemExit(f"--unchecked {name}: no --model of that name (have: {', '.join(models) or 'none'})")
        models[f"{name}, no tip check"] = Unchecked(models[name])
    names = list(models)
    result: dict = {"models": dict(s.partition("=")[::2] for s in args.model), "seed": args.seed,
                    "corruptions_per_image": args.corruptions, "machine": platform.platform(), "topographies": {}}  # fmt: skip
    for name in args.unchecked:
        result["models"][f"{name}, no tip check"] = f"{result['models'][name]} (restore(..., max_opening_excess=None))"
    figure_data = None
    for split in filter(None, args.splits.split(",")):
        data = topography_cases(split, args.corruptions, args.seed)
        rows, outputs = evaluate(data, models, not args.no_blind)
        table, by_file, by_kind = summarise(rows), summarise(rows, "file"), summarise(rows, "kind")
        by_tip = summarise(rows, "tip")
        print_table(f"Table 1 ({split}): {len(data)} cases, {len(data) // args.corruptions} real topographies", table)
        shown = [m for m in table if not m.endswith("on clean")] + [f"{n} on clean" for n in names]
        print_grouped(f"{split}, per file", by_file, shown)
        print_grouped(f"{split}, per kind of surface", by_kind, shown)
        print_grouped(f"{split}, per kind of tip (single / double apex)", by_tip, shown)
        result["topographies"][split] = {
            "files": sorted({c["file"] for c in data}),
            "table": table,
            "per_file": by_file,
            "per_kind": by_kind,
            "per_tip": by_tip,
            "targets": targets(table, names, by_file),
            "per_case": rows,
        }
        for name, checks in result["topographies"][split]["targets"].items():
            print(f"\n{split} targets, {name}:")
            for k, v in checks.items():
                print(f"  {k:30s} {', '.join(f'{a} {b:+.3f}' if 'delta' in a else f'{a} {b}' for a, b in v.items())}")
        if split == "test" or figure_data is None:
            figure_data = (data, outputs)
    if models:
        result["scale_consistency"] = scale_consistency(models)
        print(
            f"\nscale consistency (max deviation / height range, 0.78 A/px vs rescaled): {result['scale_consistency']}"
        )
    if models and args.steep_clean:
        result["steep_clean"] = steep_clean(models, args.steep_clean, args.seed)
        print(f"\nTable 3: clean synthetic steep scans imaged by worn tips ({len(STEEP_KINDS) * args.steep_clean})")
        print(f"{'model':34s} {'PSNR mean/min':>14s} {'SSIM mean/min':>14s} {'left alone':>10s}  SSIM per kind")
        for name, v in result["steep_clean"].items():
            kinds = ", ".join(f"{k} {x:.3f}" for k, x in v["per_kind_ssim"].items())
            print(f"{name:34s} {v['mean_psnr']:6.1f}/{v['min_psnr']:6.1f} {v['mean_ssim']:6.3f}/{v['min_ssim']:6.3f} "
                  f"{v['share_left_alone']:10.2f}  {kinds}")  # fmt: skip
    if models and args.relief:
        result["relief"] = by_relief(models, args.relief, args.seed)
        shown = ["corrupted", "erosion, true tip", *names]
        print_grouped(f"Table 4: corrupted synthetic surfaces by relief ({args.relief} per class)",
                      result["relief"]["per_relief"], shown)  # fmt: skip
        for name, shares in result["relief"]["share_untouched"].items():
            print(f"  {name} leaves unchanged: " + ", ".join(f"{k} {v:.2f}" for k, v in shares.items()))
    if not args.no_freq_shift:
        data = freq_shift_cases(args.corruptions, args.seed)
        rows, _ = evaluate(data, models, not args.no_blind)
        table = summarise(rows)
        print_table(f"Table 2: frequency-shift images (test series), {len(data)} cases", table)
        result["frequency_shift"] = {"table": table, "targets": targets(table, names)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    if figure_data:
        figure(*figure_data, names, args.out.with_suffix(".png"))
    print(f"\nwrote {args.out} and {args.out.with_suffix('.png')}")
    return 0


def figure(data, outputs, names: list[str], path: Path) -> None:
    """One row per file (first corruption): clean, corrupted, blind, oracle, each model, last model - clean."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = ["clean", "corrupted"] + [m for m in ("erosion, blind tip", "erosion, true tip") if m in outputs] + names
    idx = [i for i, c in enumerate(data) if c["name"].endswith("#0")]
    ncol = len(cols) + (1 if names else 0)
    fig, axes = plt.subplots(len(idx), ncol, figsize=(2.0 * ncol, 2.1 * len(idx)), squeeze=False)
    for r, i in enumerate(idx):
        clean = data[i]["clean"]
        lo, hi = np.percentile(clean, (0.5, 99.5))
        for c, m in enumerate(cols):
            img = clean if m == "clean" else data[i]["bad"] if m == "corrupted" else outputs[m][i]
            axes[r, c].imshow(img.T, origin="lower", cmap="afmhot", vmin=lo, vmax=hi)
            if r == 0:
                axes[r, c].set_title(m, fontsize=8)
        if names:
            diff = outputs[names[-1]][i] - clean
            lim = (hi - lo) / 4
            axes[r, -1].imshow(diff.T, origin="lower", cmap="RdBu_r", vmin=-lim, vmax=lim)
            if r == 0:
                axes[r, -1].set_title(f"{names[-1]} - clean (+-25 %)", fontsize=8)
        axes[r, 0].set_ylabel(f"{data[i]['file']}\n{data[i]['kind']}", fontsize=6)
        for ax in axes[r]:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
