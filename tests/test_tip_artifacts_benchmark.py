"""benchmarks/tip_artifacts.py: the targets, including "clean in, clean out" file by file."""

import tip_artifacts


def _row(psnr, ssim=0.99):
    return {"psnr": psnr, "ssim": ssim, "vif": 0.9, "n": 2}


def test_clean_target_is_checked_per_file_too():
    table = {
        "corrupted": _row(25.0, 0.60),
        "erosion, true tip": _row(31.0, 0.70),
        "m": _row(28.5, 0.71),
        "m on clean": _row(
            101.0, 0.999
        ),  # a mean of dB values: one untouched file (160 dB) lifts a changed one (42 dB)
    }
    by_file = {"m on clean": {"a.sxm": _row(160.0, 1.0), "b.gwy": _row(42.0, 0.998)}}
    checks = tip_artifacts.targets(table, ["m"], by_file)["m"]
    assert checks["clean in, clean out"]["met"]
    assert (
        not checks["clean in, clean out, every file"]["met"]
        and checks["clean in, clean out, every file"]["min_psnr"] == 42
    )
    assert checks["vs corrupted"]["met"] and not checks["vs erosion, true tip (PSNR)"]["met"]
    assert "clean in, clean out, every file" not in tip_artifacts.targets(table, ["m"])["m"]


def test_steep_clean_scans_are_worn_tip_scans_and_an_identity_model_leaves_them_alone():
    import keras
    import numpy as np

    cases = tip_artifacts.steep_clean_cases(1, seed=5)
    assert [c["kind"] for c in cases] == ["grains", "grating", "flat+fibres", "flat+particles"]
    again = tip_artifacts.steep_clean_cases(1, seed=5)
    assert all(np.array_equal(a["clean"], b["clean"]) for a, b in zip(cases, again, strict=True))
    inp = keras.Input((None, None, 2))
    identity = keras.Model(inp, keras.layers.Lambda(lambda x: x[..., :1])(inp))
    eroded = keras.Model(inp, keras.layers.Lambda(lambda x: x[..., :1] - 0.05 * keras.ops.abs(x[..., :1]))(inp))
    out = tip_artifacts.steep_clean({"identity": identity, "eroded": eroded}, 1, seed=5)
    assert out["identity"]["share_left_alone"] == 1.0 and out["identity"]["min_ssim"] > 0.999
    assert out["eroded"]["share_left_alone"] < 1.0 and out["eroded"]["mean_psnr"] < out["identity"]["mean_psnr"]


def test_cases_are_grouped_by_the_kind_of_tip_that_corrupted_them():
    import numpy as np

    from keras_spm.sim import tip as T

    single = T.make_tip("spherical", 3.0, 1.0)
    double = T.double_tip(single, (0.0, 5.0), 0.1)
    cases = [{"tip": single}, {"tip": double}, {"sigma": 2.0}]
    assert [tip_artifacts.tip_kind(c) for c in cases] == ["single", "double", "gaussian"]
    rows = {
        "m": [
            {"tip": k, "psnr": p, "ssim": 0.5, "vif": 0.1} for k, p in (("single", 20), ("double", 30), ("single", 22))
        ]
    }
    by_tip = tip_artifacts.summarise(rows, "tip")["m"]
    assert by_tip["single"]["n"] == 2 and np.isclose(by_tip["single"]["psnr"], 21.0) and by_tip["double"]["psnr"] == 30


def test_relief_table_has_every_class_and_an_identity_model_is_counted_as_untouched():
    import keras
    import numpy as np

    cases = tip_artifacts.relief_cases(1, seed=3)
    assert [c["kind"] for c in cases] == ["relief 0-1 px", "relief 1-2 px", "relief 2-8 px", "relief 8-inf px"]
    for c, (lo, hi) in zip(cases, tip_artifacts.RELIEF_CLASSES, strict=True):
        a, b = np.percentile(c["clean"], [0.5, 99.5])
        assert lo <= (b - a) / c["pixel"] < hi and "tip" in c
    inp = keras.Input((None, None, 2))
    identity = keras.Model(inp, keras.layers.Lambda(lambda x: x[..., :1])(inp))
    out = tip_artifacts.by_relief({"id": identity}, 1, seed=3)
    assert set(out["share_untouched"]["id"].values()) == {1.0}
    assert np.isclose(
        out["per_relief"]["id"]["relief 0-1 px"]["psnr"], out["per_relief"]["corrupted"]["relief 0-1 px"]["psnr"]
    )
    reg = out["per_relief"]["corrupted"]["relief 0-1 px"]
    assert 0.0 <= reg["shift_px"] <= 2 * np.sqrt(2) and np.isfinite(reg["psnr_reg"])


def test_registered_deltas_are_reported_beside_the_plain_targets():
    def row(p, s, pr, sr):
        return {**_row(p, s), "psnr_reg": pr, "ssim_reg": sr, "vif_reg": 0.5, "shift_px": 0.5}

    table = {
        "corrupted": row(24.0, 0.60, 29.0, 0.70),
        "erosion, true tip": row(30.0, 0.75, 32.0, 0.80),
        "m": row(24.1, 0.61, 29.5, 0.72),
        "m on clean": _row(60.0, 0.999),
    }
    checks = tip_artifacts.targets(table, ["m"])["m"]
    assert checks["registered, vs erosion, true tip"]["delta_psnr"] == -2.5
    assert abs(checks["registered, vs corrupted"]["delta_ssim"] - 0.02) < 1e-12
    assert not checks["vs corrupted"]["met"]  # the targets stay the plain metrics'
