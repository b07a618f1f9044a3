"""From an STM image to particles: input scaling, whole-image prediction, watershed instances, size statistics, mAP.

* :func:`prepare_image` - heights -> [0, 1] by robust percentiles (the network's input scale);
* :func:`at_size` / :func:`predict_probabilities` - run a model trained on crops on a whole image;
* :func:`watershed_instances` - instances from inside / border probabilities (in :mod:`keras_spm.sim.stm_particles`);
* :func:`size_distribution` - equivalent-circle diameters, mean / std / polydispersity, the volume-area mean
  diameter and the metal dispersion estimated from it (fraction of atoms at the surface, Bergeret & Gallezot,
  *Particle size and dispersion measurements*, Handbook of Heterogeneous Catalysis, Wiley 2008:
  ``D = 6 (v_m / a_m) / d_VA`` for spheres; Pt defaults ``v_m`` = 0.0151 nm^3, ``a_m`` = 0.0807 nm^2, D = 1.12 / d);
* :func:`instance_scores`, :func:`average_precision` - COCO-style instance AP (Lin et al., *Microsoft COCO*,
  ECCV 2014): greedy matching by score at IoU thresholds 0.50:0.05:0.95, 101-point interpolated precision.
"""

from __future__ import annotations

import numpy as np

from keras_spm.sim.stm_particles import watershed_instances

__all__ = [
    "COCO_IOU_THRESHOLDS",
    "INSIDE_THRESHOLD",
    "MASK_THRESHOLD",
    "at_size",
    "average_precision",
    "instance_scores",
    "predict_probabilities",
    "prepare_image",
    "segment_particles",
    "size_distribution",
    "watershed_instances",
]

COCO_IOU_THRESHOLDS = tuple(np.round(np.arange(0.5, 0.96, 0.05), 2))
PT_ATOM_VOLUME = 0.0151  # nm^3, v_m of Pt (bulk atomic volume)
PT_ATOM_AREA = 0.0807  # nm^2, a_m of Pt (mean surface area per surface atom)
#: Particle mask = ``p_inside + p_border > MASK_THRESHOLD``. 0.5 (the plain argmax-like cut) makes the
#: zoo's effunet_nanoparticles footprints too large (+3.4 % mean diameter on validation, +5.3 % on the test set):
#: the soft edge of the softmax spills into the background. Swept 0.5-0.98 on 40 validation images (seed 4242,
#: disjoint from training seeds 0 / 10000 and the benchmark's test seed 777); 0.85 gave both the best
#: mAP@[.5:.95] (0.558) and the smallest diameter bias (-0.6 %). Table: benchmarks/results/segmentation_threshold_sweep.json
MASK_THRESHOLD = 0.85
#: Watershed markers = components of ``p_inside > INSIDE_THRESHOLD``; 0.5-0.8 changed mAP by < 0.003 there.
INSIDE_THRESHOLD = 0.5


def prepare_image(image: np.ndarray) -> np.ndarray:
    """(H, W) apparent heights -> float32 in about [0, 1] via the 0.5 / 99.5 percentiles (robust to scars).

    Raises ``ValueError`` for non-2D input or NaN/inf; a constant image maps to zeros.
    """
    a = np.asarray(image, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"image must be a 2D height map (H, W), got shape {a.shape}; squeeze channel axes first.")
    if not np.all(np.isfinite(a)):
        raise ValueError("image has NaN/inf values; fill them (e.g. with the median) before segmenting.")
    lo, hi = np.percentile(a, (0.5, 99.5))
    if not hi > lo:
        return np.zeros(a.shape, np.float32)
    return ((a - lo) / (hi - lo)).astype(np.float32)


def at_size(model, height: int, width: int):
    """The same network rebuilt for ``height`` x ``width`` inputs (weights shared by copy); ``model`` if it fits.

    The U-Net has a static input shape (keras' bilinear upsampling needs it), but every weight is independent
    of the image size, so a network trained on 128 px crops runs on 256 px or larger images unchanged.
    """
    import keras

    if tuple(model.input_shape[1:3]) == (height, width):
        return model
    if height % 32 or width % 32:
        raise ValueError(f"H and W must be divisible by 32 (encoder stride), got {height}x{width}; pad first.")
    config = model.get_config()
    for layer in config["layers"]:
        if layer["class_name"] == "InputLayer":
            shape = layer["config"]["batch_shape"]
            layer["config"]["batch_shape"] = [shape[0], height, width, shape[-1]]
    clone = keras.Model.from_config(config)
    clone.set_weights(model.get_weights())
    return clone


def predict_probabilities(model, image: np.ndarray) -> np.ndarray:
    """(H, W, classes) softmax of ``model`` on one image: scaled (:func:`prepare_image`), reflect-padded to 32."""
    x = prepare_image(image)
    h, w = x.shape
    ph, pw = (-h) % 32, (-w) % 32
    xp = np.pad(x, ((0, ph), (0, pw)), mode="reflect")
    net = at_size(model, *xp.shape)
    return np.asarray(net.predict(xp[None, ..., None], verbose=0))[0, :h, :w]


def instance_scores(instances: np.ndarray, probabilities: np.ndarray) -> dict[int, float]:
    """Confidence of each instance: its mean ``p_inside + p_border`` (label -> score)."""
    inst = np.asarray(instances)
    fg = np.asarray(probabilities)[..., 0] + np.asarray(probabilities)[..., 1]
    ids = [int(i) for i in np.unique(inst) if i]
    if not ids:
        return {}
    means = np.bincount(inst.ravel(), weights=fg.ravel())[ids] / np.bincount(inst.ravel())[ids]
    return dict(zip(ids, (float(m) for m in means), strict=True))


def segment_particles(
    model,
    image: np.ndarray,
    pixel_size: float,
    mask_threshold: float | None = None,
    inside_threshold: float | None = None,
    min_core: int = 1,
    views: int = 1,
) -> dict:
    """Probabilities, instances, scores and :func:`size_distribution` of one STM image (``pixel_size`` in nm).

    ``mask_threshold`` / ``inside_threshold`` default to :data:`MASK_THRESHOLD` / :data:`INSIDE_THRESHOLD`, the
    values chosen on validation images (see there); pass others for a model with a different calibration.
    ``views`` = 4 averages the probabilities of the image and its three mirror images (flips keep the scan lines
    along their axis; :mod:`keras_spm.inference.symmetry`): 40 validation images of seed 4242, mAP 0.558 -> 0.568,
    mean-diameter error -0.6 -> -1.4 %.
    """
    if views == 1:
        probs = predict_probabilities(model, image)
    else:
        from keras_spm.inference.symmetry import dihedral_average

        def call(batch):
            return {"p": np.stack([predict_probabilities(model, x) for x in batch])}

        probs = dihedral_average(call, np.asarray(image)[None], views=views)["p"][0]
    inst = watershed_instances(
        probs,
        inside_threshold=INSIDE_THRESHOLD if inside_threshold is None else inside_threshold,
        mask_threshold=MASK_THRESHOLD if mask_threshold is None else mask_threshold,
        min_core=min_core,
    )
    return {
        "probabilities": probs,
        "instances": inst,
        "scores": instance_scores(inst, probs),
        "sizes": size_distribution(inst, pixel_size),
    }


def size_distribution(
    instances: np.ndarray,
    pixel_size: float,
    exclude_border: bool = True,
    atom_volume: float = PT_ATOM_VOLUME,
    atom_area: float = PT_ATOM_AREA,
) -> dict:
    """Particle size distribution from instance labels (0 = background), lengths in ``pixel_size`` units (nm).

    Diameter = equivalent-circle diameter ``2 sqrt(area / pi)`` of each instance's footprint. Particles cut by
    the image edge are left out by default (``exclude_border``): their footprint underestimates them.
    Returns ``count``, ``diameters`` (list), ``mean``, ``std``, ``median``, ``polydispersity`` (std / mean),
    ``d_va`` (volume-area mean ``sum d^3 / sum d^2``) and ``dispersion`` (metal dispersion estimate
    ``6 (atom_volume / atom_area) / d_va``, capped at 1). With no particle: ``count`` 0, empty ``diameters`` and
    NaN statistics (defined, not an error: an image may hold no particle).
    """
    inst = np.asarray(instances)
    if inst.ndim != 2:
        raise ValueError(f"instances must be a 2D label map (H, W), got shape {inst.shape}.")
    if not pixel_size > 0:
        raise ValueError(f"pixel_size must be > 0 (nm per pixel), got {pixel_size}.")
    ids = np.unique(inst)
    ids = ids[ids > 0]
    if exclude_border and ids.size:
        edge = np.unique(np.concatenate([inst[0], inst[-1], inst[:, 0], inst[:, -1]]))
        ids = np.setdiff1d(ids, edge)
    areas = np.bincount(inst.ravel().astype(np.int64), minlength=int(inst.max()) + 1)[ids] * pixel_size**2
    d = 2 * np.sqrt(areas / np.pi)
    if d.size == 0:
        nan = float("nan")
        return {"count": 0, "diameters": [], "mean": nan, "std": nan, "median": nan, "polydispersity": nan,
                "d_va": nan, "dispersion": nan}  # fmt: skip
    d_va = float((d**3).sum() / (d**2).sum())
    return {
        "count": int(d.size),
        "diameters": [float(v) for v in d],
        "mean": float(d.mean()),
        "std": float(d.std()),
        "median": float(np.median(d)),
        "polydispersity": float(d.std() / d.mean()),
        "d_va": d_va,
        "dispersion": float(min(1.0, 6 * atom_volume / atom_area / d_va)),
    }


def _iou_matrix(pred: np.ndarray, true: np.ndarray, p_ids, t_ids) -> np.ndarray:
    """IoU of every (pred id, true id) pair from one joint histogram of the two label maps."""
    pred, true = pred.ravel().astype(np.int64), true.ravel().astype(np.int64)
    n_t = int(true.max()) + 1
    joint = np.bincount(pred * n_t + true, minlength=(int(pred.max()) + 1) * n_t).reshape(-1, n_t)
    inter = joint[np.ix_(p_ids, t_ids)].astype(np.float64)
    area_p = joint.sum(1)[p_ids][:, None]
    area_t = joint.sum(0)[t_ids][None, :]
    return inter / (area_p + area_t - inter)


def average_precision(samples, iou_thresholds=COCO_IOU_THRESHOLDS) -> dict:
    """COCO-style instance AP over a data set.

    ``samples``: iterable of ``(pred_instances, scores, true_instances)`` per image, ``scores`` a dict
    label -> confidence (:func:`instance_scores`). For each IoU threshold, predictions of all images are
    ranked by score; each is matched to the unmatched true instance of its image with the highest IoU >= the
    threshold (true positive) or counts as a false positive; AP is the area under the precision envelope,
    sampled at 101 recall points. Returns ``map`` (mean over thresholds, COCO's AP@[.5:.95]), ``ap50``,
    ``ap75``, ``per_threshold``, ``n_true``, ``n_pred``. Raises ``ValueError`` when there is no true instance
    at all (AP is undefined: there is nothing to recall).
    """
    thresholds = [float(t) for t in iou_thresholds]
    per_t = {t: [] for t in thresholds}
    n_true = n_pred = 0
    for pred, scores, true in samples:
        pred, true = np.asarray(pred), np.asarray(true)
        if pred.shape != true.shape or pred.ndim != 2:
            raise ValueError(f"pred {pred.shape} and true {true.shape} instance maps must be 2D of the same shape.")
        p_ids = [int(i) for i in np.unique(pred) if i]
        t_ids = [int(i) for i in np.unique(true) if i]
        n_true += len(t_ids)
        n_pred += len(p_ids)
        if not p_ids:
            continue
        order = sorted(p_ids, key=lambda i: -scores.get(i, 0.0))
        iou = _iou_matrix(pred, true, order, t_ids) if t_ids else np.zeros((len(order), 0))
        for t in thresholds:
            used = np.zeros(len(t_ids), bool)
            for r, pid in enumerate(order):
                cand = np.where(~used & (iou[r] >= t - 1e-12), iou[r], -1.0)
                j = int(np.argmax(cand)) if cand.size else -1
                tp = j >= 0 and cand[j] >= 0
                if tp:
                    used[j] = True
                per_t[t].append((scores.get(pid, 0.0), tp))
    if n_true == 0:
        raise ValueError("no true instances in any image: AP is undefined (nothing to recall); add labelled images.")
    aps = {}
    recall_points = np.linspace(0, 1, 101)
    for t, rec in per_t.items():
        if not rec:
            aps[t] = 0.0
            continue
        rec.sort(key=lambda r: -r[0])
        tp = np.cumsum([r[1] for r in rec])
        fp = np.cumsum([not r[1] for r in rec])
        recall = tp / n_true
        precision = tp / (tp + fp)
        envelope = np.maximum.accumulate(precision[::-1])[::-1]
        idx = np.searchsorted(recall, recall_points, side="left")
        aps[t] = float(np.mean([envelope[i] if i < len(envelope) else 0.0 for i in idx]))
    return {
        "map": float(np.mean(list(aps.values()))),
        "ap50": aps.get(0.5, float("nan")),
        "ap75": aps.get(0.75, float("nan")),
        "per_threshold": {f"{t:.2f}": v for t, v in aps.items()},
        "n_true": n_true,
        "n_pred": n_pred,
    }
