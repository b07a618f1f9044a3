"""Evaluate an AFM structure-discovery model on simulated test stacks, and time DSH on this CPU.

    python benchmarks/afm_models.py --model original-light --set light --molecules 30
    python benchmarks/afm_models.py --model runs/dsh/best.keras --set heavy
    python benchmarks/afm_models.py --model random-dsh           # untrained baseline
    python benchmarks/afm_models.py --speed                       # DSH samples/s (inference b1/b32, training b32)
                                                                  # and batch 1 through zoo.load vs PyTorch
                                                                  # and float32 vs mixed_bfloat16 side by side
    python benchmarks/afm_models.py --speed precision             # only float32 vs mixed_bfloat16

Test stacks: the first ``--molecules`` molecules of the set's held-out test split (``--set planar`` /
``planar-light``: larger flat aromatics, all or H C N O F only), one seeded
good rotation each, simulated with the ASD-AFM settings (tip distance and tilt jitter as in
training; labels in the image frame, ``--label-frame nominal`` for the older convention) and cached under ``~/.cache/keras_spm/bench``. Inputs get the ASD-AFM evaluation
preprocessing (per-slice standardisation, no noise; ``--noise 0.1`` adds the training noise,
seeded, the same for every model; ``--test-augmentation asd-afm`` applies that whole training recipe, as
ASD-AFM's own test evaluation did). Reports per-map MSE, SSIM and Pearson r (DSH, ES), the ES map's sign agreement, and xyz precision / recall / position errors at
confidence 0.5 (atoms closer than 0.6 A to a more confident one dropped: ``--xyz-min-distance``). Results are printed and written to ``benchmarks/results/afm_models_<name>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from keras_spm.data.augment import AUGMENTATIONS

RESULTS = Path(__file__).resolve().parent / "results"
ORIGINAL = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "asd-afm"
#: model kind -> the zoo preset whose tips, descriptors and input scaling it uses (keras_spm.zoo.presets)
KIND_PRESETS = {"dsh": "dsh_light", "es": "es", "xyz": "xyz"}


def kind_spec(kind: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(tips, descriptors) of a model kind, from its zoo preset's training recipe."""
    from keras_spm.zoo.presets import get_preset

    recipe = get_preset(KIND_PRESETS[kind]).recipe
    return recipe.tips, recipe.descriptors


def test_stacks(
    kind: str, set_name: str = "light", n: int = 30, seed: int = 2020, label_frame: str = "image"
) -> tuple[dict, dict, list[str]]:
    """Simulated test data for ``kind``: ({tip: (n,128,128,10)}, {descriptor: ...}, names); cached on disk.

    Labels are in the image frame (they follow the random tip tilt, see ``keras_spm.descriptors``) unless
    ``label_frame="nominal"`` (the convention before 2026-11-22); the stacks are the same either way.
    """
    from dataclasses import replace

    from keras_spm.data.samples import SampleSpec, simulate_batch
    from keras_spm.data.sets import cache_dir
    from keras_spm.sim.afm import ASD_AFM

    tips, descriptors = kind_spec(kind)
    path = cache_dir().parent / "bench" / f"{set_name}-test-{n}-{kind}-{seed}-{label_frame}.npz"
    if path.exists():
        data = np.load(path)
        return ({t: data[f"x_{t}"] for t in tips}, {d: data[f"y_{d}"] for d in descriptors}, list(data["names"]))
    molecules = test_molecules(set_name, n)
    settings = replace(ASD_AFM, label_frame=label_frame)
    xs, ys = simulate_batch(molecules, SampleSpec(tips, descriptors, settings, augmentation=None), seed)
    names = [m.name for m in molecules]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(
        tmp, names=np.array(names), **{f"x_{t}": v for t, v in xs.items()}, **{f"y_{d}": v for d, v in ys.items()}
    )
    os.replace(tmp, path)
    return xs, ys, names


def test_molecules(set_name: str, n: int) -> list:
    """The first ``n`` held-out test molecules of a set; ``"planar-light"`` is the planar set's light-element part
    (larger flat aromatics for the models trained on H, C, N, O, F)."""
    from keras_spm.data.sets import SET_ELEMENTS, load_set, only_elements

    base, _, only = set_name.partition("-")
    molecules = load_set(base, "test")
    return (only_elements(molecules, SET_ELEMENTS[only]) if only else molecules)[:n]


def load_model(name: str):
    """(model taking raw stacks, kind) from a zoo name, a .keras file, ``original-light|heavy`` or ``random-dsh|es|xyz``.

    The kind comes from the zoo preset (zoo names) or the run's ``state.json`` (checkpoints of training/fit.py);
    models without their input scaling get it from the kind's preset (:func:`keras_spm.zoo.presets.wrap`).
    """
    import keras

    from keras_spm.models import afm
    from keras_spm.zoo.presets import get_preset, wrap

    if name.startswith("original-"):
        model, kind = afm.load_original_asd_afm(ORIGINAL / f"model_{name.removeprefix('original-')}.h5"), "dsh"
    elif name.startswith("random-"):
        kind = name.removeprefix("random-")
        keras.utils.set_random_seed(0)
        model = afm.from_preset(f"{kind}_10slice")
    elif name.endswith(".keras"):
        state = Path(name).parent / "state.json"
        if not state.exists():
            raise SystemExit(f"{name}: no state.json beside it to say which model it is (dsh, es or xyz).")
        import keras_spm.models.preprocessing  # noqa: F401  (zoo-format files hold the input scaling layers)

        model, kind = keras.models.load_model(name), json.loads(state.read_text())["model"]
    else:
        from keras_spm import zoo

        model = zoo.load(name)
        kind = get_preset(zoo.get_entry(name).preset_name(name)).recipe.fit_model
    return wrap(model, KIND_PRESETS[kind]), kind


def add_test_noise(xs: dict, c: float, seed: int = 7) -> dict:
    """The ASD-AFM training noise (uniform, ``c`` x each slice's range), seeded: every model sees the same noisy stacks."""
    from keras_spm.data.augment import add_noise

    rng = np.random.default_rng(seed)
    return {t: np.stack([add_noise(s, rng, c) for s in x]) for t, x in xs.items()}


def augment_test_stacks(xs: dict, recipe: str, seed: int = 7) -> dict:
    """A training augmentation recipe applied to the test stacks, seeded: every model sees the same stacks.

    ASD-AFM's own test figures were computed this way (its test generator applies the training preprocessing).
    """
    from keras_spm.data.augment import AUGMENTATIONS

    rng = np.random.default_rng(seed)
    return {t: np.stack([AUGMENTATIONS[recipe](s, rng) for s in x]) for t, x in xs.items()}


def predict(model, xs: dict, batch_size: int = 32, tta: bool = False) -> dict:
    """Batched prediction of raw stacks (the model scales them) through the traced fast path of keras_spm.inference;
    ``tta`` averages the eight mirror / 90-degree views (keras_spm.inference.symmetry)."""
    from keras_spm.inference import fast_call
    from keras_spm.inference.symmetry import dihedral_average
    from keras_spm.zoo.presets import ED_AFM_SLICES

    depth, simulated = model.inputs[0].shape[-1], next(iter(xs.values())).shape[-1]
    if depth != simulated:  # a 6-slice model (ED-AFM's depth) takes slices 2-7 of the simulated 10-slice stacks
        if (depth, simulated) != (ED_AFM_SLICES[1] - ED_AFM_SLICES[0], 10):
            raise SystemExit(f"the model takes {depth} slices; the test stacks have {simulated}.")
        xs = {t: x[..., ED_AFM_SLICES[0] : ED_AFM_SLICES[1]] for t, x in xs.items()}
    n = len(next(iter(xs.values())))
    outs = []
    for start in range(0, n, batch_size):
        batch = {t: x[start : start + batch_size] for t, x in xs.items()}
        call = lambda b: fast_call(model, b)  # noqa: E731
        outs.append(dihedral_average(call, batch) if tta else call(batch))
    return {k: np.concatenate([o[k] for o in outs]) for k in outs[0]}


def evaluate(model, kind: str, xs: dict, ys: dict, xyz_min_distance: float | None = None, tta: bool = False) -> dict:
    from keras_spm.models.afm import decode_xyz_prediction, decode_xyz_target, detection_scores, map_metrics
    from keras_spm.models.afm.metrics import XYZ_MIN_DISTANCE

    pred = predict(model, xs, tta=tta)
    if kind == "xyz":
        apart = XYZ_MIN_DISTANCE if xyz_min_distance is None else xyz_min_distance
        p_atoms = [
            decode_xyz_prediction(c, o, threshold=0.5, min_distance=apart)
            for c, o in zip(pred["xyz_class"], pred["xyz_offset"], strict=True)
        ]
        t_atoms = [decode_xyz_target(t) for t in ys["xyz"]]
        return {"xyz": {**detection_scores(p_atoms, t_atoms), "min_distance": apart}}
    result = {}
    for name in ys:
        m = map_metrics(pred[name], ys[name])
        result[name] = {k: v for k, v in m.items() if k.endswith("_mean")}
        if name == "es":
            mask = ys["height"] > 0 if "height" in ys else np.abs(ys["es"]) > 0
            agree = np.sign(pred["es"][mask]) == np.sign(ys["es"][mask])
            result[name]["sign_agreement"] = float(agree.mean())
            result[name]["sign_agreement_by_magnitude"] = sign_agreement_by_magnitude(ys["es"][mask], agree)
    return result


#: |ES| bin edges (V/A) of the sign agreement by field strength: where the sign is wrong tells nodal lines (weak
#: field, the sign flips within a pixel or two) from wrong charges (strong field)
ES_MAGNITUDE_BINS = (0.0, 0.02, 0.05, 0.1, np.inf)


def sign_agreement_by_magnitude(true_es: np.ndarray, agree: np.ndarray) -> dict:
    """Share of the pixels and sign agreement per |true ES| bin (:data:`ES_MAGNITUDE_BINS`)."""
    a = np.abs(true_es)
    out = {}
    for lo, hi in zip(ES_MAGNITUDE_BINS[:-1], ES_MAGNITUDE_BINS[1:], strict=True):
        m = (a >= lo) & (a < hi)
        key = f"{lo:g}-{hi:g}" if np.isfinite(hi) else f">={lo:g}"
        out[key] = {"share": float(m.mean()), "agreement": float(agree[m].mean()) if m.any() else None}
    return out


def speed(repeats: int = 20) -> dict:
    """DSH samples/s on this CPU: inference at batch 1 and 32 (traced call and model.predict), training at 32."""
    import keras
    import tensorflow as tf

    from keras_spm.models import afm

    model = afm.compile_dsh(afm.dsh())
    serve = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
    out = {}
    for batch in (1, 32):
        x = tf.constant(np.random.default_rng(0).standard_normal((batch, 128, 128, 10)).astype("float32"))
        serve(x)
        n = max(8, 64 // batch)
        start = time.perf_counter()
        for _ in range(n):
            serve(x)["disks"].numpy()
        out[f"infer_b{batch}_per_s"] = n * batch / (time.perf_counter() - start)
        model.predict(x.numpy(), verbose=0)
        start = time.perf_counter()
        for _ in range(n):
            model.predict(x.numpy(), verbose=0)
        out[f"predict_b{batch}_per_s"] = n * batch / (time.perf_counter() - start)
    x = np.random.default_rng(1).standard_normal((32 * repeats, 128, 128, 10)).astype("float32")
    y = {
        k: np.random.default_rng(2).random((32 * repeats, 128, 128)).astype("float32")
        for k in ("disks", "spheres", "height")
    }
    times = []

    class StepTimer(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            self._t = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            times.append(time.perf_counter() - self._t)

    model.fit(x, y, batch_size=32, epochs=1, verbose=0, callbacks=[StepTimer()])
    steady = times[2:]  # the first steps trace and build the graph
    out["train_b32_per_s"] = 32 * len(steady) / sum(steady)
    out["threads"] = {
        "intra": tf.config.threading.get_intra_op_parallelism_threads(),
        "inter": tf.config.threading.get_inter_op_parallelism_threads(),
        "keras_backend": keras.backend.backend(),
    }
    return out


def precision_speed(repeats: int = 5, train_steps: int = 8) -> dict:
    """DSH float32 vs mixed_bfloat16 (:mod:`keras_spm.precision`) side by side on this CPU, in one run.

    Samples/s of training at batch 32 and of traced inference at batch 32 and 1, for both precisions in turn,
    ``repeats`` times (the order alternates each repeat, so a change of load hits both alike); reports every
    repeat, the median / min / max and the paired bf16 / float32 ratios, the load average and whether the CPU
    has native bf16. Kept apart from :func:`speed` so other reference rows can sit next to it.
    """
    import keras
    import tensorflow as tf

    from keras_spm import precision
    from keras_spm.models import afm

    keras.utils.set_random_seed(0)
    base = afm.dsh()
    models = {"float32": base, "mixed_bfloat16": precision.with_policy(base, "mixed_bfloat16")}
    # training runs the layer policies a training script gives (precision.float32_layers(training=True))
    trained = {"float32": base, "mixed_bfloat16": precision.with_policy(base, "mixed_bfloat16", training=True)}
    rng = np.random.default_rng(0)
    x1, x32 = (tf.constant(rng.standard_normal((b, 128, 128, 10)).astype("float32")) for b in (1, 32))
    n_train = 32 * (train_steps + 1)
    xt = rng.standard_normal((n_train, 128, 128, 10)).astype("float32")
    yt = {k: rng.random((n_train, 128, 128)).astype("float32") for k in ("disks", "spheres", "height")}
    serve, times = {}, []

    class StepTimer(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            self._t = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            times.append(time.perf_counter() - self._t)

    for name, model in models.items():
        serve[name] = tf.function(lambda x, m=model: m(x, training=False)["disks"], reduce_retracing=True)
        for x in (x1, x32):
            serve[name](x).numpy()
        afm.compile_dsh(trained[name])
        trained[name].fit(xt[:64], {k: v[:64] for k, v in yt.items()}, batch_size=32, epochs=1, verbose=0)  # trace

    def infer(name: str, x, n: int) -> float:
        start = time.perf_counter()
        for _ in range(n):
            serve[name](x).numpy()
        return n * int(x.shape[0]) / (time.perf_counter() - start)

    runs = {name: {"train_b32": [], "infer_b32": [], "infer_b1": []} for name in models}
    load = [os.getloadavg()[0]]
    for r in range(repeats):
        for name in models if r % 2 == 0 else reversed(models):
            runs[name]["infer_b32"].append(infer(name, x32, 6))
            runs[name]["infer_b1"].append(infer(name, x1, 24))
            times.clear()
            trained[name].fit(xt, yt, batch_size=32, epochs=1, verbose=0, callbacks=[StepTimer()])
            steady = times[1:]  # the first step of a fit call waits for the data pipeline
            runs[name]["train_b32"].append(32 * len(steady) / sum(steady))
        load.append(os.getloadavg()[0])

    def spread(values) -> dict:
        return {"median": float(np.median(values)), "min": float(np.min(values)), "max": float(np.max(values))}

    ratios = {
        key: [b / f for f, b in zip(runs["float32"][key], runs["mixed_bfloat16"][key], strict=True)]
        for key in runs["float32"]
    }
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "")
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "native_bf16": precision.native_bf16(),
        "bf16_flags": sorted(set(precision.cpu_flags()) & set(precision.BF16_FLAGS)),
        "auto_resolves_to": precision.resolve("auto"),
        "load_average_1min": load,
        "repeats": repeats,
        "train_steps_per_repeat": train_steps,
        "samples_per_s": {name: {k: spread(v) for k, v in r.items()} for name, r in runs.items()},
        "bf16_over_float32": {k: spread(v) for k, v in ratios.items()},
        "runs": runs,
        "targets": {
            "train_b32 >= 1.3x": bool(np.median(ratios["train_b32"]) >= 1.3),
            "infer_b32 >= 1.5x": bool(np.median(ratios["infer_b32"]) >= 1.5),
        },
    }


def torch_dsh():
    """DSH as a plain PyTorch module, written from the paper (Alldritt et al. 2020, Fig. 2; 122,811 parameters).

    The reference a PyTorch user would run (ml-spm's ASDAFMNet has the same layers): a 3D encoder (Conv3d 4, 8, 16
    with average pooling 2x2x2, 2x2x2, 2x2x1), two latent 3x3 convs of 64, and three decoders of three (nearest
    x2 upsampling + two 3x3 convs of 16) and a 3x3 conv to one channel; LeakyReLU 0.1, edge-repeating padding.
    ``None`` when torch is not installed.
    """
    try:
        import torch
        from torch import nn
    except ImportError:
        return None

    def conv(cin, cout, dims=2, act=True):
        layer = (nn.Conv3d if dims == 3 else nn.Conv2d)(cin, cout, 3, padding=1, padding_mode="replicate")
        return [layer, nn.LeakyReLU(0.1)] if act else [layer]

    class DSH(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.Sequential(
                *conv(1, 4, 3), nn.AvgPool3d((2, 2, 2)), *conv(4, 8, 3), nn.AvgPool3d((2, 2, 2)),
                *conv(8, 16, 3), nn.AvgPool3d((1, 2, 2)),
            )  # fmt: skip
            self.latent = nn.Sequential(*conv(32, 64), *conv(64, 64))
            self.decoders = nn.ModuleList()
            for final in (None, nn.ReLU(), nn.ReLU()):
                layers = []
                for stage in range(3):
                    layers += [nn.Upsample(scale_factor=2, mode="nearest"), *conv(64 if stage == 0 else 16, 16),
                               *conv(16, 16)]  # fmt: skip
                layers += conv(16, 1, act=False) + ([final] if final is not None else [])
                self.decoders.append(nn.Sequential(*layers))

        def forward(self, x):  # x: (B, slices, H, W)
            z = self.encoder(x[:, None])  # (B, 16, 2, H/8, W/8)
            z = self.latent(z.flatten(1, 2))
            return [decoder(z)[:, 0] for decoder in self.decoders]

    torch.manual_seed(0)
    return DSH().eval()


def speed_batch1(rounds: int = 5, n: int = 20) -> dict:
    """Stacks/s at batch 1, side by side in one process, rounds interleaved (a busy CPU slows all alike).

    * ``user_model_predict``: ``zoo.load("dsh_heavy")`` then ``model.predict(stack[None])``, a raw stack (what a
      Keras user types; zoo.load puts the traced fixed-signature function behind predict);
    * ``keras_spm_predict``: ``keras_spm.predict(model, stack)``, with its reading of the array and its result object;
    * ``keras_model_predict``: Keras' own ``Model.predict`` on the same model (the per-call overhead of issue #15);
    * ``torch_*``: :func:`torch_dsh` under ``torch.inference_mode`` with 1 and with all threads (skipped when torch is
      absent); ``torch_b1_per_s`` is the better of the two.

    Each figure is the median over ``rounds`` of ``n`` calls after a warm-up.
    """
    import keras

    import keras_spm
    from keras_spm import zoo

    model = zoo.load("dsh_heavy")
    stack = np.random.default_rng(0).standard_normal((128, 128, 10)).astype("float32") * 3 + 10
    paths = {
        "user_model_predict": lambda: model.predict(stack[None]),
        "keras_spm_predict": lambda: keras_spm.predict(model, stack),
        "keras_model_predict": lambda: keras.Model.predict(model, stack[None], verbose=0),
    }
    # torch's OpenMP threads spin while waiting by default; in one process with TensorFlow (and on a busy CPU)
    # that starves both. Passive waiting is what a fair side-by-side needs; torch gets its best thread count.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    net = torch_dsh()
    if net is not None:
        import torch

        x = torch.from_numpy(np.ascontiguousarray(np.moveaxis(stack, -1, 0)[None]))
        default_threads = torch.get_num_threads()

        def torch_path(threads):
            def run():
                torch.set_num_threads(threads)
                with torch.inference_mode():
                    return [o.numpy() for o in net(x)]

            return run

        paths["torch_1_thread"] = torch_path(1)
        if default_threads > 1:
            paths[f"torch_{default_threads}_threads"] = torch_path(default_threads)
    for fn in paths.values():
        fn(), fn()
    rates: dict[str, list[float]] = {k: [] for k in paths}
    for _ in range(rounds):
        for name, fn in paths.items():
            start = time.perf_counter()
            for _ in range(n):
                fn()
            rates[name].append(n / (time.perf_counter() - start))
    out = {f"{k}_b1_per_s": float(np.median(v)) for k, v in rates.items()}
    out["load_average_1min"] = os.getloadavg()[0]  # other jobs on the CPU slow every path, not equally
    out["rounds"] = {k: [round(r, 1) for r in v] for k, v in rates.items()}
    if net is not None:
        import torch

        torch.set_num_threads(default_threads)
        out["torch_b1_per_s"] = max(v for k, v in out.items() if k.startswith("torch_"))  # its best thread count
        out["torch"] = {"version": torch.__version__, "parameters": sum(p.numel() for p in net.parameters())}
        out["user_path_vs_torch"] = out["user_model_predict_b1_per_s"] / out["torch_b1_per_s"]
    else:
        out["torch"] = "not installed: PyTorch reference skipped"
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", default=[], help="repeatable; see the module docstring")
    parser.add_argument(
        "--set",
        dest="set_name",
        default="light",
        choices=("light", "heavy", "planar", "planar-light"),
        help="test molecules: QM9-like light / heavy, or larger flat aromatics (planar; planar-light: H C N O F only)",
    )
    parser.add_argument("--molecules", type=int, default=30)
    parser.add_argument(
        "--xyz-min-distance",
        type=float,
        default=None,
        help="xyz decoding: drop atoms this close (A) to a more confident one (default: the library's, 0.6; 0 = "
        "every box, as the results before 2026-12-05)",
    )
    parser.add_argument(
        "--speed",
        nargs="?",
        const="all",
        choices=("all", "precision"),
        help="time DSH training and inference on this CPU (precision: only the float32 / bf16 side-by-side run)",
    )
    parser.add_argument(
        "--speed-repeats", type=int, default=5, help="float32 / bf16 alternations of the precision speed test"
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--noise", type=float, default=0.0, help="add the ASD-AFM training noise of this amplitude (e.g. 0.1)"
    )
    parser.add_argument(
        "--test-augmentation",
        default=None,
        choices=tuple(AUGMENTATIONS),
        help="apply this training augmentation recipe to the test stacks (seeded; ASD-AFM's own test protocol)",
    )
    parser.add_argument(
        "--label-frame",
        choices=("image", "nominal"),
        default="image",
        help="labels where the tilted tip images the atoms (image) or at their nominal positions (keras_spm before "
        "2026-11-22)",
    )
    parser.add_argument(
        "--tta",
        action="store_true",
        help="average the 8 mirror / 90-degree views of each stack (keras_spm.predict(tta=True))",
    )
    parser.add_argument("--tag", default=None, help="results file name stem (default: zoo name or checkpoint folder)")
    args = parser.parse_args(argv)
    if not args.model and not args.speed:
        parser.error("give --model NAME (repeatable) and/or --speed")
    from keras_spm.sim.opencl import init_opencl

    init_opencl()  # before TensorFlow (pocl), though simulation runs in worker processes
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.model:
        model, kind = load_model(name)
        xs, ys, names = test_stacks(kind, args.set_name, args.molecules, label_frame=args.label_frame)
        if args.noise:
            xs = add_test_noise(xs, args.noise)
        if args.test_augmentation:
            xs = augment_test_stacks(xs, args.test_augmentation)
        result = {
            "model": name,
            "kind": kind,
            "set": args.set_name,
            "split": "test",
            "molecules": len(names),
            "noise": args.noise,
            "test_augmentation": args.test_augmentation,
            "labels": "nominal positions" if args.label_frame == "nominal" else "image frame (follow the tip tilt)",
            "tta": args.tta,
            "metrics": evaluate(model, kind, xs, ys, args.xyz_min_distance, args.tta),
        }
        noisy = f", noise c = {args.noise}" if args.noise else ""
        noisy += f", test stacks augmented ({args.test_augmentation})" if args.test_augmentation else ""
        print(f"{name} on {len(names)} {args.set_name} test molecules{noisy}:")
        for target, metrics in result["metrics"].items():
            print(
                f"  {target:8s} "
                + "  ".join(f"{k.removesuffix('_mean')} {v:.4g}" for k, v in metrics.items() if isinstance(v, float))
            )
            if "sign_agreement_by_magnitude" in metrics:
                bins = metrics["sign_agreement_by_magnitude"].items()
                print("  sign agreement by |ES| (V/A; share of pixels): " + ", ".join(
                    f"{k} {v['agreement']:.3f} ({v['share']:.2f})" for k, v in bins if v["agreement"] is not None
                ))  # fmt: skip
        stem = args.tag or (Path(name).parent.name if name.endswith(".keras") else name)
        stem += f"_noise{args.noise:g}" if args.noise else ""
        stem += f"_aug-{args.test_augmentation}" if args.test_augmentation else ""
        stem += "_nominal" if args.label_frame == "nominal" else ""
        stem += "_tta" if args.tta else ""
        (args.out / f"afm_models_{stem}_{args.set_name}.json").write_text(json.dumps(result, indent=1))
    if args.speed == "all":
        result = speed()
        print(
            "DSH on this CPU (samples/s): "
            + ", ".join(f"{k} {v:.1f}" for k, v in result.items() if isinstance(v, float))
        )
        (args.out / "afm_models_speed.json").write_text(json.dumps(result, indent=1))
        b1 = speed_batch1()
        print(
            "DSH at batch 1 (stacks/s, median of interleaved rounds): "
            + ", ".join(f"{k.removesuffix('_b1_per_s')} {v:.1f}" for k, v in b1.items() if k.endswith("_per_s"))
        )
        (args.out / "afm_models_speed_batch1.json").write_text(json.dumps(b1, indent=1))
    if args.speed:
        result = precision_speed(args.speed_repeats)
        print(
            f"DSH float32 vs mixed_bfloat16 on {result['cpu']} (native bf16: {result['native_bf16']}, "
            f"load {', '.join(f'{v:.1f}' for v in result['load_average_1min'])}), samples/s median [min, max]:"
        )
        for key, ratio in result["bf16_over_float32"].items():
            f32, bf16 = (result["samples_per_s"][p][key] for p in ("float32", "mixed_bfloat16"))
            print(
                f"  {key:9s} float32 {f32['median']:6.1f} [{f32['min']:.1f}, {f32['max']:.1f}]  bf16 "
                f"{bf16['median']:6.1f} [{bf16['min']:.1f}, {bf16['max']:.1f}]  ratio {ratio['median']:.2f}x "
                f"[{ratio['min']:.2f}, {ratio['max']:.2f}]"
            )
        print("  targets: " + ", ".join(f"{k} {'MET' if v else 'NOT met'}" for k, v in result["targets"].items()))
        (args.out / "afm_models_speed_precision.json").write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
