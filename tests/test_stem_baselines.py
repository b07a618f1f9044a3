"""benchmarks/stem_baselines.py: the held-out-composition split scores simulated pairs of Mo fractions that no
model trained on, with baselines fitted on the real training pairs plus the simulated training compositions."""

import numpy as np
import stem_baselines
from scipy.ndimage import gaussian_filter


def _pair(rng, shape=(40, 44)):
    conv = gaussian_filter(rng.random(shape), 2)
    conv /= conv.max()
    haadf = gaussian_filter(conv**1.5, 1)
    return conv, haadf / haadf.max()


def _write(folder, fractions, rng):
    folder.mkdir()
    for k, frac in enumerate(fractions):
        conv, haadf = _pair(rng)
        np.savez(folder / f"pair_0_{k:04d}.npz", conv=conv, haadf=haadf, mo_fraction=frac)


def test_sim_held_out_split_reads_only_held_out_compositions_and_fits_on_train_ones(tmp_path):
    rng = np.random.default_rng(0)
    _write(tmp_path / "held", [0.15, 0.35, 0.1], rng)  # 0.1 is a training composition: never scored
    _write(tmp_path / "train", [0.0, 0.1, 0.55], rng)  # 0.55 is held out: never fitted on
    real_train = [_pair(rng) for _ in range(3)]
    models = {"identity": lambda conv: conv}
    split = stem_baselines.sim_held_out_split([tmp_path / "held"], [tmp_path / "train"], real_train, models, True)
    assert split["n_pairs"] == 2 and split["fit_pairs"] == {"real_train": 3, "sim_train": 2}
    results = split["results"]
    assert results["poly3 pixel+blur"]["mean"]["nrmse_mean"] < results["convolution"]["mean"]["nrmse_mean"]
    assert results["model identity"]["mean"]["nrmse_mean"] == results["convolution"]["mean"]["nrmse_mean"]
    assert "model identity" in split["targets"]["models"]
