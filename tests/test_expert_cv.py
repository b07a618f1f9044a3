"""benchmarks/afm_style_expert_cv.py: folds that never leak a series, and a tiny end-to-end run on the shared images."""

import json

import afm_style_expert_cv as cv
import pytest

from keras_spm.datasets.afm_style import series_name, split_paths


def test_folds_hold_out_each_real_series_once_and_never_leak_a_series(shared_data):
    root = shared_data / "afm-exp"
    folds = cv.folds(root)
    real_series = {series_name(p) for p in split_paths("real", "expert", root)}
    assert sorted(f["name"] for f in folds) == sorted(real_series)
    held_sim = []
    for fold in folds:
        for domain in ("sim", "real"):
            train = {series_name(p) for p in fold[f"train_{domain}"]}
            test = {series_name(p) for p in fold[f"test_{domain}"]}
            assert train and test and not train & test
            assert len(fold[f"train_{domain}"]) + len(fold[f"test_{domain}"]) == len(
                split_paths(domain, "expert", root)
            )
        held_sim += [series_name(p) for p in fold["test_sim"]]
    assert sorted(set(held_sim)) == sorted({series_name(p) for p in split_paths("sim", "expert", root)})
    assert len(held_sim) == len(split_paths("sim", "expert", root))  # each simulated series held out exactly once
    gan_images = {p.name for s in ("gan_train", "gan_test") for d in ("sim", "real") for p in split_paths(d, s, root)}
    assert not gan_images & {
        p.name for f in folds for k in ("train_sim", "test_sim", "train_real", "test_real") for p in f[k]
    }


def test_tiny_run_writes_scores_and_chooses_by_the_stated_rule(shared_data, tmp_path, monkeypatch):
    monkeypatch.setattr(cv, "RESULTS", tmp_path)
    results = cv.main(["--root", str(shared_data / "afm-exp"), "--configs", "64:3:4", "64:4:4", "--name", "cv"])
    saved = json.loads((tmp_path / "cv.json").read_text())
    assert saved["chosen"] == results["chosen"]
    rows = saved["configs"]
    assert [r["label"] for r in rows] == ["64:3:4", "64:4:4"]
    for row in rows:
        assert len(row["folds"]) == 3
        for fold in row["folds"]:
            assert 0 <= fold["sim_called_sim"] <= 1 and 0 <= fold["real_called_real"] <= 1
        assert row["balanced_accuracy"] == pytest.approx(sum(f["balanced_accuracy"] for f in row["folds"]) / 3)
    first, second = rows
    expected = second["label"] if second["balanced_accuracy"] > first["balanced_accuracy"] + 1 / 60 else first["label"]
    assert saved["chosen"] == expected


def test_bad_config_is_refused_with_the_expected_form():
    with pytest.raises(SystemExit):
        cv.main(["--configs", "128-2000"])
