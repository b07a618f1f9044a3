"""STEM pairs: loading and its bad input, the index split, normalisation, aligned crops, pad/crop back."""

import numpy as np
import pytest
import tifffile

from keras_spm.datasets import stem_pairs
from keras_spm.datasets.stem_pairs import (
    TEST_INDICES,
    TRAIN_INDICES,
    aligned_random_crop,
    crop_back,
    load_pair,
    normalize,
    pad_to_multiple,
    stem_dataset,
)


def test_split_indices():
    assert TEST_INDICES == (3, 8, 13, 18)
    assert sorted(TRAIN_INDICES + TEST_INDICES) == list(range(20)) and not set(TRAIN_INDICES) & set(TEST_INDICES)


def test_shared_pairs(shared_data):
    root = shared_data / "stem" / "pt_mo5"
    for i in range(20):
        conv, ms = load_pair(i, root)
        assert conv.shape == ms.shape and 228 <= min(conv.shape) and max(conv.shape) <= 258
        assert np.corrcoef(conv.ravel(), ms.ravel())[0, 1] > 0.9  # same particle, same grid
        unit = normalize(conv)
        assert unit.max() == 1.0 and unit.min() >= 0.0
    test = stem_pairs.load_split("test", root)
    assert len(test) == 4 and all(a.shape == b.shape for a, b in test)
    ((conv, ms),) = list(stem_dataset("train", batch_size=2, root=root).take(1))
    assert conv.shape == ms.shape == (2, 256, 256, 1)
    assert conv.numpy().min() >= -1 and conv.numpy().max() <= 1


def _write_pair(root, i, conv, ms):
    np.save(root / f"Pt_Mo5_convolution_{i}.npy", conv)
    tifffile.imwrite(root / f"pt_mo5_{i}_cl160mm_ss.tif", ms.astype(np.float32))


def test_bad_pairs(tmp_path):
    rng = np.random.default_rng(0)
    _write_pair(tmp_path, 0, rng.random((10, 12)), rng.random((12, 10)))
    with pytest.raises(
        ValueError,
        match=r"convolution Pt_Mo5_convolution_0.npy is \(10, 12\) but multislice "
        r"pt_mo5_0_cl160mm_ss.tif is \(12, 10\)",
    ):
        load_pair(0, tmp_path)
    bad = rng.random((8, 8))
    bad[1, 1] = np.nan
    _write_pair(tmp_path, 1, bad, rng.random((8, 8)))
    with pytest.raises(ValueError, match="NaN/inf"):
        load_pair(1, tmp_path)
    with pytest.raises(FileNotFoundError, match="STEM pair 2"):
        load_pair(2, tmp_path)
    with pytest.raises(ValueError, match="positive intensity"):
        normalize(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="split must be"):
        stem_pairs.load_split("val", tmp_path)
    with pytest.raises(ValueError, match="differ in shape"):
        stem_dataset(pairs=[(np.ones((8, 8)), np.ones((8, 9)))])


def test_pad_to_multiple_and_crop_back():
    img = np.arange(230 * 245, dtype=np.float64).reshape(230, 245)
    with pytest.warns(UserWarning, match="230x245 is not a multiple of the network stride 256"):
        padded, box = pad_to_multiple(img, 256)
    assert padded.shape == (256, 256)
    np.testing.assert_array_equal(crop_back(padded, box), img)
    np.testing.assert_array_equal(crop_back(padded[None, ..., None], box)[0, ..., 0], img)
    stack, box3 = pad_to_multiple(np.ones((10, 6, 3)), 4, warn=False)
    assert stack.shape == (12, 8, 3)
    tiny, _ = pad_to_multiple(np.ones((3, 3)), 8, warn=False)  # pad larger than the image: symmetric mode
    assert tiny.shape == (8, 8)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        same, box = pad_to_multiple(img[:128, :64], 64)
    assert same.shape == (128, 64) and box == (0, 0, 128, 64)


def test_aligned_crops_keep_the_pixel_correspondence():
    rng = np.random.default_rng(0)
    conv = rng.random((200, 230))
    ms = conv**2 + 0.1  # any pixel-wise map: a crop pair must still satisfy it after flips/rotations
    for _ in range(10):
        a, b = aligned_random_crop(conv, ms, 256, rng)
        assert a.shape == b.shape == (256, 256)
        np.testing.assert_allclose(b, a**2 + 0.1)
    a, _ = aligned_random_crop(conv, ms, 64, np.random.default_rng(1), flips=False)
    assert any(np.array_equal(a, conv[y : y + 64, x : x + 64]) for y in range(137) for x in range(167))
    first = [x.numpy() for x in next(iter(stem_dataset(pairs=[(conv, ms)], crop=32, seed=5)))]
    again = [x.numpy() for x in next(iter(stem_dataset(pairs=[(conv, ms)], crop=32, seed=5)))]
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_allclose((first[1] + 1) / 2, ((first[0] + 1) / 2) ** 2 + 0.1, atol=1e-6)


def test_metrics():
    rng = np.random.default_rng(0)
    target = rng.random((32, 32)) + 0.5
    perfect = stem_pairs.image_metrics(target, target)
    assert perfect == {
        "rmse": 0.0,
        "nrmse_mean": 0.0,
        "nrmse_std": 0.0,
        "one_minus_r2": 0.0,
        "mean_intensity_error": 0.0,
    }
    assert stem_pairs.image_metrics(1.2 * target, target)["mean_intensity_error"] == pytest.approx(0.2)
    m = stem_pairs.image_metrics(np.full_like(target, target.mean()), target)  # predicting the mean: R^2 = 0
    assert m["one_minus_r2"] == pytest.approx(1.0) and m["nrmse_std"] == pytest.approx(1.0)
    assert m["nrmse_mean"] == pytest.approx(target.std() / target.mean())
    assert stem_pairs.legacy_nrmse(3 * target, target) == pytest.approx(0.0, abs=1e-12)  # scale-free
    with pytest.raises(ValueError, match="differ in shape"):
        stem_pairs.image_metrics(target[:4], target)


def test_legacy_metric_reproduces_the_source_number(shared_data):
    # Calculate_NRMSE.py prints 0.42098796707235264 for Pt-Mo5 pairs 1..19 (raw convolution vs multislice)
    root = shared_data / "stem" / "pt_mo5"
    errors = [stem_pairs.legacy_nrmse(*load_pair(i, root)) for i in range(1, 20)]
    assert 1 - np.mean(errors) == pytest.approx(0.42098796707235264, abs=1e-6)


def test_weights_choose_how_often_each_pair_is_drawn():
    zeros, ones = np.zeros((32, 32)), np.ones((32, 32))
    ds = stem_dataset(pairs=[(zeros, zeros), (ones, ones)], weights=[0.0, 1.0], crop=32, batch_size=4, flips=False)
    conv, _ = next(iter(ds))
    assert np.all(conv.numpy() == 1.0)  # only the second pair ([0, 1] value 1 -> tanh range 1)
    with pytest.raises(ValueError, match="weights"):
        stem_dataset(pairs=[(zeros, zeros)], weights=[1.0, 1.0])
