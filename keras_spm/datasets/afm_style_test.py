"""AFM style data: series-aware splits, image reading and its bad input, the unpaired crop pipeline."""

import re

import numpy as np
import pytest
from PIL import Image

from keras_spm.datasets import afm_style
from keras_spm.datasets.afm_style import (
    afm_style_dataset,
    load_images,
    normalize,
    read_image,
    series_name,
    split_by_series,
    split_paths,
)


def test_series_names():
    assert series_name("Ying_Jiang_2_1_3.png") == "Ying_Jiang_2_1"
    assert series_name("Chen_CO_20.png") == "Chen_CO"
    assert series_name("9.10.png") == "9"
    assert series_name("single.png") == "single"


def test_split_keeps_series_together_and_is_deterministic():
    paths = [f"{s}.{h:02d}.png" for s in range(30) for h in range(5)] + [f"exp_{k}.png" for k in range(7)]
    splits = split_by_series(paths)
    assert splits == split_by_series(reversed(paths))
    assert sorted(p for v in splits.values() for p in v) == sorted(map(__import__("pathlib").Path, paths))
    owners = {}
    for name, members in splits.items():
        for p in members:
            assert owners.setdefault(series_name(p), name) == name
    sizes = {k: len(v) for k, v in splits.items()}
    assert abs(sizes["gan_train"] - 0.6 * len(paths)) <= 7 and sizes["gan_test"] > 0 and sizes["expert"] > 0


def test_shared_splits(shared_data):
    root = shared_data / "afm-exp"
    counts = afm_style.split_summary(root)
    assert sum(counts["sim"].values()) == 630 and sum(counts["real"].values()) == 97
    assert counts == {  # test and expert as before the validation carve-out, which took 60 + 9 of the 375 + 53
        "sim": {"gan_train": 315, "gan_val": 60, "gan_test": 90, "expert": 165},
        "real": {"gan_train": 44, "gan_val": 9, "gan_test": 18, "expert": 26},
    }
    for domain in afm_style.DOMAINS:
        series = [{series_name(p) for p in split_paths(domain, s, root)} for s in afm_style.SPLIT_NAMES]
        assert all(not (a & b) for i, a in enumerate(series) for b in series[i + 1 :])


def test_shared_pipeline_batches(shared_data):
    ds = afm_style_dataset("gan_test", batch_size=2, root=shared_data / "afm-exp", seed=3)
    ((sim, real),) = list(ds.take(1))
    assert sim.shape == real.shape == (2, 192, 192, 1)
    for x in (sim.numpy(), real.numpy()):
        assert x.dtype == np.float32 and -1 <= x.min() and x.max() <= 1 and x.std() > 0.01


def _write(path, array, mode=None):
    Image.fromarray(array, mode).save(path)


@pytest.fixture
def tiny_root(tmp_path):
    rng = np.random.default_rng(0)
    for domain, names in (
        ("ppafm_simulated", [f"{s}.{h:02d}" for s in range(6) for h in range(3)]),
        ("experimental", [f"scan_{s}_{k}" for s in range(5) for k in range(2)]),
    ):
        (tmp_path / domain).mkdir()
        for name in names:
            size = 40 if name == "scan_0_0" else 64  # one image smaller than the crop: reflection padded
            _write(tmp_path / domain / f"{name}.png", rng.integers(0, 256, (size, size), dtype=np.uint8))
    return tmp_path


def test_pipeline_is_seeded_unpaired_and_pads_small_images(tiny_root):
    def take(seed):
        ds = afm_style_dataset("gan_train", batch_size=3, crop=48, seed=seed, root=tiny_root)
        return [tuple(t.numpy() for t in batch) for batch in ds.take(4)]

    first, again, other = take(0), take(0), take(1)
    assert all(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) for a, b in zip(first, again, strict=True))
    assert not np.array_equal(first[0][0], other[0][0])
    sim, real = first[0]
    assert sim.shape == real.shape == (3, 48, 48, 1)
    assert not np.array_equal(sim, real)
    images = load_images(split_paths("real", "gan_train", tiny_root))
    rng = np.random.default_rng(0)
    small = min(images, key=lambda im: im.size)
    assert small.shape == (40, 40) and afm_style.random_crop(small, 48, rng).shape == (48, 48)


def test_channel_handling(tmp_path):
    gray = np.arange(64, dtype=np.uint8).reshape(8, 8)
    _write(tmp_path / "rgb_gray.png", np.repeat(gray[..., None], 3, axis=2))
    np.testing.assert_array_equal(read_image(tmp_path / "rgb_gray.png"), gray)
    opaque = np.concatenate([np.repeat(gray[..., None], 3, axis=2), np.full((8, 8, 1), 255, np.uint8)], axis=2)
    _write(tmp_path / "rgba.png", opaque)
    np.testing.assert_array_equal(read_image(tmp_path / "rgba.png"), gray)
    colour = np.stack([gray, gray[::-1], gray.T], axis=2)
    _write(tmp_path / "colour.png", colour)
    with pytest.raises(ValueError, match="colour.png is a colour .RGB. image.*grayscale"):
        read_image(tmp_path / "colour.png")
    see_through = opaque.copy()
    see_through[0, 0, 3] = 0
    _write(tmp_path / "alpha.png", see_through)
    with pytest.raises(ValueError, match="transparent alpha"):
        read_image(tmp_path / "alpha.png")
    _write(tmp_path / "deep.png", gray.astype(np.uint16) * 1000)  # 16-bit grayscale
    np.testing.assert_allclose(normalize(read_image(tmp_path / "deep.png"), "fixed").max(), 63000 / 65535 * 2 - 1)


def test_bad_values_and_folders(tmp_path):
    img = np.ones((8, 8), np.float32)
    img[2, 3] = np.nan
    np.save(tmp_path / "nan.npy", img)
    with pytest.raises(ValueError, match="nan.npy holds 1 NaN/inf"):
        read_image(tmp_path / "nan.npy")
    with pytest.raises(ValueError, match="constant"):
        normalize(np.full((4, 4), 7.0), path="flat.png")
    with pytest.raises(ValueError, match="NaN"):
        normalize(img)
    with pytest.raises(ValueError, match="normalize mode"):
        normalize(np.eye(3), "zscore")
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="cannot read image .*broken.png"):
        read_image(tmp_path / "broken.png")
    (tmp_path / "empty" / "ppafm_simulated").mkdir(parents=True)
    with pytest.raises(ValueError, match="no images"):
        split_paths("sim", "gan_train", tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        split_paths("real", "gan_train", tmp_path / "empty")
    with pytest.raises(ValueError, match="split must be one of"):
        split_paths("sim", "train", tmp_path)
    with pytest.raises(ValueError, match="domain must be one of"):
        split_paths("fake", "gan_train", tmp_path)


def test_export_own_simulations_from_a_chosen_split(tmp_path):
    from keras_spm.data.sets import load_set

    paths = afm_style.export_own_simulations(tmp_path, n_molecules=1, slices=(8, 9), seed=3, split="val")
    assert len(paths) == 2 and afm_style.series_name(paths[0]) == afm_style.series_name(paths[1])
    image = np.load(paths[0])
    assert image.shape == (128, 128) and image.dtype == np.float32 and np.ptp(image) > 0
    index = int(paths[0].name.split(".")[0].rsplit("_", 1)[1])
    molecule = load_set("light", "val")[index]
    assert paths[0].name == f"{re.sub(r'[^A-Za-z0-9_-]', '_', molecule.name)}_{index}.08.npy"  # a val molecule
    with pytest.raises(ValueError, match="need n_molecules >= 1"):
        afm_style.export_own_simulations(tmp_path, n_molecules=0)
