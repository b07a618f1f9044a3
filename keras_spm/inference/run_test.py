"""keras_spm.predict on arrays: raw and hand-scaled inputs agree, the padding mask, levelling before segmenting."""

import numpy as np
import pytest

import keras_spm
from keras_spm.inference import Prediction, valid_mask
from keras_spm.models.afm import standardize_stack


def test_valid_mask_is_the_measured_part_of_the_window():
    mask = valid_mask((10.0, 6.0), 0.125, (128, 128))  # a 1 x 0.6 nm scan: 80 x 48 px in the 128 px window
    assert mask.sum() == 80 * 48 and mask[24:104, 40:88].all() and not mask[23].any() and not mask[:, 39].any()
    assert valid_mask((20.0, 20.0), 0.125, (128, 128)).all()  # larger than the window: cropped, all measured


def test_raw_and_hand_standardised_stacks_give_the_same_prediction():
    raw = np.random.default_rng(0).standard_normal((128, 128, 10)).astype("float32") * 4 - 9
    a = keras_spm.predict("dsh_light", raw)
    b = keras_spm.predict("dsh_light", standardize_stack(raw))
    assert isinstance(a, Prediction) and a.arrays["valid"].all()
    for key in ("disks", "spheres", "height"):
        np.testing.assert_allclose(a[key], b[key], atol=1e-4)
    assert set(a.maps) == {"disks", "spheres", "height"}


def test_a_model_without_preset_is_refused_with_the_fix():
    import keras

    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(1, 3)])
    with pytest.raises(ValueError, match="pass preset='dsh_light'"):
        keras_spm.predict(model, np.zeros((8, 8)))


def test_a_two_tip_model_given_one_array_names_the_tips_it_needs():
    stack = np.zeros((128, 128, 6), "float32")
    with pytest.raises(ValueError, match=r"es_6slice takes the stacks of tip\(s\) CO, Xe, got one array; pass a dict"):
        keras_spm.predict("es_6slice", stack)
    with pytest.raises(ValueError, match=r"got stacks of CO; pass a dict \{'CO': stack, 'Xe': stack\}"):
        keras_spm.predict("es_6slice", {"CO": stack})


def test_a_tilted_topography_is_levelled_before_segmentation():
    n = 128
    i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    image = np.zeros((n, n))
    for cx in (24, 64, 104):
        for cy in (24, 64, 104):
            image += 1.5 * np.sqrt(np.clip(1 - ((i - cx) ** 2 + (j - cy) ** 2) / 100, 0, None))  # 4 nm hemispheres
    tilted = image + np.random.default_rng(1).normal(0, 0.02, image.shape) + 0.08 * i + 0.05 * j
    levelled = keras_spm.predict("effunet_nanoparticles", tilted, pixel_size=0.2)
    unlevelled = keras_spm.predict("effunet_nanoparticles", tilted, pixel_size=0.2, level_mode="none")
    assert levelled["instances"].max() >= 8 > 3 > unlevelled["instances"].max()
    assert (
        "levelled by a plane" in " ".join(levelled.notes)
        and len(levelled.table) == len(np.unique(levelled["instances"])) - 1
    )


def test_pix2pix_on_an_odd_sized_image_matches_translate(shared_data, monkeypatch):
    """predict pads centred and redoes the mean calibration like gan.translate: bottom/right padding gave 0.244."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from keras_spm import zoo
    from keras_spm.datasets import stem_pairs
    from keras_spm.models.gan import translate

    conv, ms = stem_pairs.load_pair(13, shared_data / "stem" / "pt_mo5")  # 230 x 245 px, stride 64
    scaled = stem_pairs.to_tanh_range(stem_pairs.normalize(conv))
    got = keras_spm.predict("pix2pix_stem", np.stack([conv, conv[::-1]]), batch_size=2, tta=False)  # a batch of two
    with pytest.warns(UserWarning, match="not multiples of the generator stride 64"):
        want = translate(zoo.load("pix2pix_stem"), scaled)
    assert "centred" in got[0].notes[0] and "calibration redone" in got[0].notes[0]
    np.testing.assert_allclose(got[0]["translated"], want, atol=1e-4)
    err = stem_pairs.image_metrics(stem_pairs.from_tanh_range(got[0]["translated"]), stem_pairs.normalize(ms))
    assert err["nrmse_mean"] < 0.2 and abs(err["mean_intensity_error"]) < 0.02
    alone = keras_spm.predict("pix2pix_stem", conv[::-1], tta=False)["translated"]  # batching changes nothing
    np.testing.assert_allclose(got[1]["translated"], alone, atol=1e-4)
    views = keras_spm.predict("pix2pix_stem", conv)  # the default: the mean of the 8 views, as translate(tta=True)
    with pytest.warns(UserWarning, match="not multiples"):
        np.testing.assert_allclose(
            views["translated"], translate(zoo.load("pix2pix_stem"), scaled, tta=True), atol=1e-4
        )
    assert any("8 mirror" in n for n in views.notes)


def test_a_six_slice_model_gets_slices_2_to_7_of_the_10_closest(shared_data):
    result = keras_spm.predict("dsh_6slice", shared_data / "spm-files" / "nanonis_stack")
    assert any("picked 10 of" in n for n in result.notes)
    assert any("slices 2-7 of those 10" in n for n in result.notes)
    assert result.arrays["height"].shape[-2:] == result.arrays["valid"].shape[-2:]


def test_tta_output_has_the_symmetry_of_its_input_and_is_refused_for_orientation_dependent_models():
    raw = np.random.default_rng(3).standard_normal((128, 128, 10)).astype("float32") * 4 - 9
    mirrored = (raw + raw[::-1]) / 2  # symmetric under x -> -x: the averaged prediction must be too
    plain = keras_spm.predict("xyz", mirrored, tta=False)
    tta = keras_spm.predict("xyz", mirrored)  # the default for AFM models
    assert any("test-time augmentation" in n for n in tta.notes)
    p, off = tta["xyz_class"][..., 1], tta["xyz_offset"]
    np.testing.assert_allclose(p, p[::-1], atol=1e-5)
    np.testing.assert_allclose(off[..., 0], -off[::-1, :, 0], atol=1e-5)  # x offsets mirror with a sign change
    np.testing.assert_allclose(off[..., 1:], off[::-1, :, 1:], atol=1e-5)
    assert not np.allclose(plain["xyz_class"][..., 1], plain["xyz_class"][::-1, :, 1], atol=1e-5)
    with pytest.raises(ValueError, match="drop tta"):
        keras_spm.predict("cyclegan_afm_sim2exp", np.ones((64, 64), "float32"), tta=True)


def test_a_zoo_model_is_rebuilt_in_bf16_once_not_on_every_call():
    from keras_spm.inference.run import load
    from keras_spm.precision import model_policies

    first, _, _, note = load("dae_tip_artifacts", precision="mixed_bfloat16")
    again, _, _, _ = load("dae_tip_artifacts", precision="mixed_bfloat16")
    plain, _, _, _ = load("dae_tip_artifacts")
    assert "mixed_bfloat16" in note and first is again and first is not plain
    assert model_policies(first) != model_policies(plain)  # and it is the bf16 rebuild, not the float32 model
