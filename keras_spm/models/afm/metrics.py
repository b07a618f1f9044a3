"""Evaluation of the ASD-AFM networks: xyz decoding, atom matching, and image-map metrics.

xyz decoding reuses :func:`keras_spm.descriptors.decode_xyz`, the inverse of the training
target ``encode_xyz`` (16 x 16 boxes over the scan window, grid axis 0 = x, offsets from the
box centre in Angstrom, z relative to the top atom).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from ...descriptors import decode_xyz
from ...sim.afm import ASD_AFM, SimulationSettings

#: Angstrom: a predicted atom closer than this (in x, y) to a more confident one is the same atom found in a
#: neighbouring box. An atom near a box edge lights up both boxes: on the xyz campaign's 150 validation molecules
#: (light + planar, 2026-12-05) two of three false detections of the shipped xyz were such doubles. Chosen there
#: by the mean F1 of the noise-free and augmented stacks over 0-1 A (0.6 A: precision 0.703 -> 0.797, recall
#: 0.809 -> 0.792 noise-free); top-layer atoms are >= 0.77 A apart in x, y in every light and planar test molecule.
XYZ_MIN_DISTANCE = 0.6


def decode_xyz_prediction(
    class_map: np.ndarray,
    offset_map: np.ndarray,
    threshold: float = 0.5,
    settings: SimulationSettings = ASD_AFM,
    z_top: float = 0.0,
    min_distance: float = XYZ_MIN_DISTANCE,
) -> np.ndarray:
    """One sample's xyz prediction -> atoms (N, 4): x, y, z in Angstrom and confidence P(atom).

    ``class_map`` is the ``"xyz_class"`` softmax (g, g, 2) of one sample (or P(atom) as (g, g));
    ``offset_map`` the ``"xyz_offset"`` (g, g, 3). Boxes with P(atom) >= ``threshold`` give one
    atom each, most confident first, without those within ``min_distance`` (x, y; Angstrom) of a more confident
    one (:data:`XYZ_MIN_DISTANCE`; 0 keeps every box); ``z_top`` is added to z (0: relative to the top atom).
    """
    class_map = np.asarray(class_map, dtype=np.float64)
    if class_map.ndim == 2:
        class_map = class_map[..., None]
    if class_map.ndim != 3 or np.ndim(offset_map) != 3:
        raise ValueError(
            f"expected class map (g, g[, 2]) and offsets (g, g, 3) of one sample; got {class_map.shape} and "
            f"{np.shape(offset_map)}. Index the batch first, e.g. pred['xyz_class'][0]."
        )
    atoms = decode_xyz(class_map, offset_map, threshold=threshold, settings=settings)
    if min_distance > 0 and len(atoms) > 1:
        atoms = atoms[np.argsort(-atoms[:, 3], kind="stable")]
        keep: list[int] = []
        for i, xy in enumerate(atoms[:, :2]):
            if not keep or np.min(np.linalg.norm(atoms[keep, :2] - xy, axis=1)) >= min_distance:
                keep.append(i)
        atoms = atoms[keep]
    atoms[:, 2] += z_top
    return atoms


def decode_xyz_target(target: np.ndarray, settings: SimulationSettings = ASD_AFM, z_top: float = 0.0) -> np.ndarray:
    """One ``encode_xyz`` target (g, g, 4) -> true atoms (N, 4) (confidence 1)."""
    target = np.asarray(target)
    if target.ndim != 3 or target.shape[-1] != 4:
        raise ValueError(f"expected one encode_xyz target of shape (g, g, 4); got {target.shape}.")
    atoms = decode_xyz(target, threshold=0.5, settings=settings)
    atoms[:, 2] += z_top
    return atoms


def _as_atoms(a) -> np.ndarray:
    """(N, >=3) float array of atoms; an empty list or array becomes (0, 3)."""
    a = np.asarray(a, dtype=np.float64)
    if a.size == 0:
        return np.zeros((0, 3))
    if a.ndim != 2 or a.shape[1] < 3:
        raise ValueError(f"atoms must be an (N, 3) or (N, 4) array of x, y, z[, confidence]; got shape {a.shape}.")
    return a


def match_atoms(pred: np.ndarray, true: np.ndarray, radius: float = 0.5) -> list[tuple[int, int]]:
    """Optimal one-to-one matching (Hungarian) of predicted and true atoms within ``radius`` in xy.

    Returns (pred index, true index) pairs; pairs farther apart than ``radius`` Angstrom are dropped.
    """
    pred, true = _as_atoms(pred), _as_atoms(true)
    if len(pred) == 0 or len(true) == 0:
        return []
    dist = np.linalg.norm(pred[:, None, :2] - true[None, :, :2], axis=-1)
    # Out-of-radius pairs get a cost no in-radius set can beat, so the assignment maximises matches first.
    cost = np.where(dist <= radius, dist, radius * (len(pred) + len(true)) + dist)
    rows, cols = linear_sum_assignment(cost)
    return [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if dist[r, c] <= radius]


def detection_scores(pred_atoms, true_atoms, radius: float = 0.5) -> dict:
    """Precision, recall, F1 and position errors of predicted vs. true atoms, over one or many samples.

    ``pred_atoms`` / ``true_atoms``: one (N, >=3) array or a list of them (one per sample).
    Errors are 3D distances (Angstrom) of the matched pairs (xy matched within ``radius``), with their lateral
    (``mean_xy_error``) and height (``mean_z_error``) parts: they say whether a model misplaces atoms in the plane
    or in depth. The errors are NaN when nothing matched.
    """
    if isinstance(pred_atoms, np.ndarray) and pred_atoms.ndim == 2:
        pred_atoms, true_atoms = [pred_atoms], [true_atoms]
    if len(pred_atoms) != len(true_atoms):
        raise ValueError(f"got {len(pred_atoms)} predicted and {len(true_atoms)} true samples; pass one per sample.")
    n_pred = n_true = 0
    errors, xy_errors, z_errors = [], [], []
    for p, t in zip(pred_atoms, true_atoms, strict=True):
        p, t = _as_atoms(p), _as_atoms(t)
        n_pred += len(p)
        n_true += len(t)
        for i, j in match_atoms(p, t, radius):
            errors.append(np.linalg.norm(p[i, :3] - t[j, :3]))
            xy_errors.append(np.linalg.norm(p[i, :2] - t[j, :2]))
            z_errors.append(abs(p[i, 2] - t[j, 2]))
    tp = len(errors)
    precision = tp / n_pred if n_pred else float(n_true == 0)
    recall = tp / n_true if n_true else float(n_pred == 0)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "n_pred": n_pred,
        "n_true": n_true,
        "n_matched": tp,
        "mean_error": float(np.mean(errors)) if errors else float("nan"),
        "p90_error": float(np.percentile(errors, 90)) if errors else float("nan"),
        "mean_xy_error": float(np.mean(xy_errors)) if xy_errors else float("nan"),
        "mean_z_error": float(np.mean(z_errors)) if z_errors else float("nan"),
    }


def _standardize(a: np.ndarray) -> np.ndarray:
    std = a.std()
    return (a - a.mean()) / (std if std > 0 else 1.0)


def map_metrics(pred: np.ndarray, true: np.ndarray) -> dict:
    """Per-map MSE, SSIM and Pearson r for (H, W) or (B, H, W) predicted and true maps.

    MSE is on the raw maps (the training objective). SSIM (scikit-image) uses the true map's
    range as explicit ``data_range`` so it does not depend on dtype guesses. Pearson r is
    computed after standardising each map (mean 0, std 1); a constant map gives r = 0.
    Returns arrays of one value per map plus their means (``*_mean``).
    """
    from skimage.metrics import structural_similarity

    pred = np.asarray(pred, dtype=np.float64)
    true = np.asarray(true, dtype=np.float64)
    if pred.shape != true.shape or pred.ndim not in (2, 3):
        raise ValueError(f"pred and true maps must both be (H, W) or (B, H, W); got {pred.shape} and {true.shape}.")
    if pred.ndim == 2:
        pred, true = pred[None], true[None]
    mse, ssim, r = [], [], []
    for p, t in zip(pred, true, strict=True):
        mse.append(np.mean((p - t) ** 2))
        data_range = float(t.max() - t.min()) or 1.0
        ssim.append(structural_similarity(t, p, data_range=data_range))
        ps, ts = _standardize(p), _standardize(t)
        r.append(float(np.mean(ps * ts)))
    out = {"mse": np.array(mse), "ssim": np.array(ssim), "pearson_r": np.array(r)}
    out.update({f"{k}_mean": float(v.mean()) for k, v in list(out.items())})
    return out
