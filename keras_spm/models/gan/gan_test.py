"""Builders against the published configurations, training steps on tiny inputs, generator save/load."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_spm.models.gan import (
    PRESETS,
    CycleGAN,
    ImagePool,
    LinearDecayAfter,
    Pix2Pix,
    conditional_patchgan,
    from_preset,
    gan_adam,
    load_generator,
    patchgan_discriminator,
    resnet_generator,
    unet_generator,
)


def counts(model):
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    return trainable, sum(int(np.prod(w.shape)) for w in model.non_trainable_weights)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_preset_parameter_counts(name):
    model = from_preset(name)
    trainable, non_trainable = counts(model)
    assert trainable == PRESETS[name]["params"]
    assert non_trainable == PRESETS[name].get("non_trainable", 0)


def test_published_counts_are_the_rgb_presets():
    # Zhu et al. 2017: ResNet-9 generator 11.378M, 70x70 PatchGAN 2.765M; Isola et al. 2017: U-Net-256 54.4M
    assert round(PRESETS["cyclegan_resnet9_rgb"]["params"] / 1e6, 3) == 11.378
    assert round(PRESETS["patchgan70_rgb"]["params"] / 1e6, 3) == 2.765
    assert round(PRESETS["pix2pix_unet256_rgb"]["params"] / 1e6, 1) == 54.4


def test_affine_instance_norm_adds_scale_and_offset_per_channel():
    plain, affine = resnet_generator((32, 32, 1), 1, 8), resnet_generator((32, 32, 1), 1, 8, norm_affine=True)
    norm_channels = 8 + 16 + 32 + 2 * 32 + 16 + 8  # c7, down1, down2, one res block (2 norms), up1, up2
    assert counts(affine)[0] - counts(plain)[0] == 2 * norm_channels


def test_published_generator_is_blind_to_input_contrast_and_input_skip_is_not():
    # instance norm right after the first conv: a*x + b (a > 0) gives the same output, so a translation cycle
    # cannot restore a low-contrast input; the input skip passes brightness and contrast through
    x = np.random.default_rng(1).uniform(-1, 1, (1, 32, 32, 1)).astype("float32")
    plain = resnet_generator((32, 32, 1), 1, 4)
    np.testing.assert_allclose(plain(0.3 * x + 0.2), plain(x), atol=5e-3)  # up to the norms' epsilon
    skip = resnet_generator((32, 32, 1), 1, 4, input_skip=True)
    assert counts(skip) == counts(plain)  # no weights added
    assert np.abs(skip(0.3 * x + 0.2) - skip(x)).mean() > 0.1
    last = skip.get_layer("c7_out_conv")
    last.set_weights([np.zeros_like(w) for w in last.get_weights()])
    np.testing.assert_allclose(skip(0.9 * x), 0.9 * x, atol=1e-5)  # a zero residual is the identity
    with pytest.raises(ValueError, match="input_skip needs out_channels"):
        resnet_generator((32, 32, 1), 1, 4, out_channels=3, input_skip=True)


def test_output_shapes_and_ranges():
    g = resnet_generator((64, 64, 1), n_blocks=2, filters=8)
    x = np.random.default_rng(0).uniform(-1, 1, (2, 64, 64, 1)).astype("float32")
    y = g.predict(x, verbose=0)
    assert y.shape == (2, 64, 64, 1) and np.all(np.abs(y) <= 1)
    assert patchgan_discriminator((256, 256, 1), filters=4).output_shape == (None, 30, 30, 1)
    assert unet_generator((32, 32, 2), out_channels=1, filters=4, num_downs=5).output_shape == (None, 32, 32, 1)
    assert conditional_patchgan((64, 64, 1), filters=4).output_shape == (None, 6, 6, 1)
    # a generator built for any size runs on whole images whose sides are multiples of its stride
    assert resnet_generator((None, None, 1), 1, 4)(np.zeros((1, 36, 20, 1), "float32")).shape == (1, 36, 20, 1)


def test_patchgan_receptive_field_is_70():
    # without normalisation: instance norm statistics couple every pixel of the image
    d = patchgan_discriminator((128, 128, 1), n_layers=3, filters=4, norm="none")
    x = tf.Variable(tf.random.normal((1, 128, 128, 1)))
    with tf.GradientTape() as tape:
        out = d(x)
        logit = out[0, out.shape[1] // 2, out.shape[2] // 2, 0]
    grad = tape.gradient(logit, x).numpy()[0, ..., 0]
    rows, cols = np.nonzero(np.abs(grad) > 0)
    assert rows.max() - rows.min() + 1 == 70 and cols.max() - cols.min() + 1 == 70


def test_bad_shapes_raise_with_the_fix():
    with pytest.raises(ValueError, match="multiples of 4.*pad_to_multiple"):
        resnet_generator((30, 32, 1))
    with pytest.raises(ValueError, match="multiples of 256"):
        unet_generator((192, 192, 1))
    with pytest.raises(ValueError, match=r"\(height, width, channels\)"):
        patchgan_discriminator((64, 64))
    with pytest.raises(ValueError, match="gan_mode"):
        Pix2Pix(unet_generator((32, 32, 1), filters=4, num_downs=5), conditional_patchgan((32, 32, 1)), gan_mode="wgan")
    with pytest.raises(ValueError, match="fixed image shape"):
        CycleGAN(
            *(resnet_generator((None, None, 1), 1, 4) for _ in range(2)),
            *(patchgan_discriminator((32, 32, 1), 2, 4) for _ in range(2)),
        )


def test_linear_decay_schedule():
    sched = LinearDecayAfter(2e-4, total_steps=200)
    lrs = [float(sched(s)) for s in (0, 99, 100, 150, 200, 250)]
    np.testing.assert_allclose(lrs, [2e-4, 2e-4, 2e-4, 1e-4, 0.0, 0.0], atol=1e-12)
    clone = LinearDecayAfter.from_config(sched.get_config())
    assert float(clone(150)) == pytest.approx(1e-4)
    opt = gan_adam(total_steps=10)
    assert isinstance(opt.learning_rate, float) or opt.beta_1 == 0.5
    assert keras.optimizers.schedules.deserialize(keras.optimizers.schedules.serialize(sched)).decay_start == 100
    with pytest.raises(ValueError, match="decay_start"):
        LinearDecayAfter(1e-3, total_steps=10, decay_start=10)


def test_image_pool_fills_then_mixes_history():
    tf.random.set_seed(0)
    pool = ImagePool(3, (2, 2, 1))
    batch = lambda v: tf.fill((1, 2, 2, 1), float(v))  # noqa: E731 - one image of constant value v
    outs = [float(pool.query(batch(v))[0, 0, 0, 0]) for v in range(1, 41)]
    assert outs[:3] == [1.0, 2.0, 3.0]  # filling: images pass through
    later = outs[3:]
    returned_new = sum(o == v for o, v in zip(later, range(4, 41), strict=True))
    assert 8 <= returned_new <= 30  # about half pass through, the rest come from the history
    assert all(o <= v for o, v in zip(later, range(4, 41), strict=True))  # never an image from the future
    assert int(pool.count) == 3
    passthrough = ImagePool(0, (2, 2, 1))
    assert float(passthrough.query(batch(7))[0, 0, 0, 0]) == 7.0


def _per_step(model, data, steps):
    keras.utils.set_random_seed(1)
    history = model.fit(data.repeat(), epochs=steps, steps_per_epoch=1, shuffle=False, verbose=0)
    return history.history


def _images(n, size, seed):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size] / size
    imgs = [np.sin(2 * np.pi * (rng.uniform(1, 3) * xx + rng.uniform(1, 3) * yy)) for _ in range(n)]
    return np.stack(imgs)[..., None].astype("float32") * 0.8


def test_cyclegan_training_reduces_cycle_and_identity_losses():
    keras.utils.set_random_seed(0)
    gan = CycleGAN.build_default((32, 32, 1), n_blocks=1, filters=8, d_filters=8, n_layers=2, pool_size=4)
    gan.compile(g_optimizer=gan_adam(learning_rate=2e-3), d_optimizer=gan_adam(learning_rate=2e-3))
    a, b = _images(2, 32, 0), -(_images(2, 32, 1) ** 2)
    h = _per_step(gan, tf.data.Dataset.from_tensors((a, b)), 16)
    for key in ("cycle_loss", "identity_loss", "g_loss"):  # adversarial terms make these noisy: compare averages
        assert np.mean(h[key][-4:]) < 0.75 * np.mean(h[key][:3]), (key, h[key])
    assert all(np.isfinite(h["d_loss"])) and int(gan.pool_a.count) == 4
    assert gan(a).shape == a.shape


def test_discriminator_warm_up_trains_only_the_critics():
    keras.utils.set_random_seed(0)
    gan = CycleGAN.build_default((32, 32, 1), n_blocks=1, filters=8, d_filters=8, n_layers=2, pool_size=4)
    gan.compile()
    a, b = _images(2, 32, 0), -(_images(2, 32, 1) ** 2)
    g_before = [w.copy() for w in gan.g_ab.get_weights() + gan.g_ba.get_weights()]
    d_before = [w.copy() for w in gan.d_b.get_weights()]
    first = gan.warm_up_discriminators(tf.data.Dataset.from_tensors((a, b)).repeat(), 1, 2e-3)
    last = gan.warm_up_discriminators(tf.data.Dataset.from_tensors((a, b)).repeat(), 30, 2e-3)
    assert last["d_b_loss"] < 0.5 * first["d_b_loss"], (first, last)  # the critic learns to tell them apart
    for w0, w1 in zip(g_before, gan.g_ab.get_weights() + gan.g_ba.get_weights(), strict=True):
        np.testing.assert_array_equal(w0, w1)
    assert any(np.abs(w0 - w1).max() > 0 for w0, w1 in zip(d_before, gan.d_b.get_weights(), strict=True))
    assert int(gan.g_optimizer.iterations) == 0 and int(gan.d_optimizer.iterations) == 0
    assert int(gan.pool_a.count) == 4
    with pytest.raises(ValueError, match="steps"):
        gan.warm_up_discriminators(tf.data.Dataset.from_tensors((a, b)), 0)


def test_identity_weights_per_direction():
    keras.utils.set_random_seed(0)
    kw = dict(n_blocks=1, filters=8, d_filters=8, n_layers=2, pool_size=2)
    gan = CycleGAN.build_default((32, 32, 1), lambda_identity=(0.0, 2.0), **kw)
    gan.compile()
    a, b = _images(2, 32, 0), -(_images(2, 32, 1) ** 2)
    expected = 2.0 * float(np.mean(np.abs(np.asarray(gan.g_ba(a, training=True)) - a)))  # only G_ba(sim) ~ sim
    logs = gan.train_on_batch(a, b, return_dict=True)
    np.testing.assert_allclose(logs["identity_loss"], expected, rtol=1e-4)
    with pytest.raises(ValueError, match="lambda_identity"):
        CycleGAN.build_default((32, 32, 1), lambda_identity=(0.1, 0.2, 0.3), **kw)


def test_texture_excess_counts_only_added_high_frequencies():
    from keras_spm.models.gan.cyclegan import high_frequency_energy, texture_excess

    smooth = np.tile(np.sin(np.linspace(0, 1, 32))[None, None, :, None], (2, 32, 1, 1)).astype("float32")
    checker = smooth + 0.05 * (np.indices((32, 32)).sum(0) % 2 * 2 - 1)[None, :, :, None].astype("float32")
    assert float(texture_excess(smooth, checker)) == 0.0  # removing texture costs nothing
    assert float(texture_excess(checker, smooth)) > 3.0  # a period-2 checkerboard on a smooth input: log(ratio)
    energy = np.asarray(high_frequency_energy(np.concatenate([smooth[:1], checker[:1]])))
    assert energy[1] > 100 * energy[0]
    keras.utils.set_random_seed(0)
    gan = CycleGAN.build_default((32, 32, 1), n_blocks=1, filters=8, d_filters=8, n_layers=2, lambda_texture=1.0)
    gan.compile()
    logs = gan.train_on_batch(smooth, checker, return_dict=True)
    assert np.isfinite(logs["texture_loss"]) and logs["texture_loss"] >= 0


def test_texture_margin_lets_a_translation_add_that_much_grain():
    from keras_spm.models.gan.cyclegan import high_frequency_energy, texture_excess

    rng = np.random.default_rng(0)
    source = rng.normal(0, 0.1, (2, 32, 32, 1)).astype("float32")
    noisier = source * np.float32(np.sqrt(1.2))  # 1.2 x the high-frequency energy
    ratio = float(np.mean(high_frequency_energy(noisier) / high_frequency_energy(source)))
    assert abs(ratio - 1.2) < 1e-3
    assert float(texture_excess(noisier, source, margin=1.3)) == 0.0
    assert abs(float(texture_excess(noisier, source)) - np.log(1.2)) < 1e-3
    assert abs(float(texture_excess(noisier, source, margin=1.1)) - np.log(1.2 / 1.1)) < 1e-3
    with pytest.raises(ValueError, match="margin"):
        texture_excess(noisier, source, margin=0.0)


def test_pix2pix_training_reduces_l1_loss():
    keras.utils.set_random_seed(0)
    p2p = Pix2Pix.build_default((32, 32, 1), filters=8, num_downs=5)
    p2p.compile(g_optimizer=gan_adam(learning_rate=2e-3), d_optimizer=gan_adam(learning_rate=2e-3))
    x = _images(2, 32, 2)
    y = np.tanh(2 * x)  # a fixed pixel-wise map to learn
    h = _per_step(p2p, tf.data.Dataset.from_tensors((x, y)), 12)
    assert np.mean(h["l1_loss"][-3:]) < 0.7 * np.mean(h["l1_loss"][:3]), h["l1_loss"]
    assert all(np.isfinite(h["d_loss"]))


def test_pix2pix_stem_weighting():
    p2p = Pix2Pix.stem((32, 32, 1), filters=4, num_downs=5)
    assert (p2p.gan_mode, p2p.adv_weight, p2p.l1_weight) == ("lsgan", 50.0, 50.0)
    default = Pix2Pix.build_default((32, 32, 1), filters=4, num_downs=5)
    assert (default.gan_mode, default.adv_weight, default.l1_weight) == ("vanilla", 1.0, 100.0)


@pytest.mark.parametrize("input_skip", [False, True])
def test_generator_save_and_load(tmp_path, input_skip):
    keras.utils.set_random_seed(0)
    gan = CycleGAN.build_default(
        (32, 32, 1), n_blocks=1, filters=4, d_filters=4, n_layers=2, pool_size=2, input_skip=input_skip
    )
    paths = gan.save_generators(tmp_path / "gens")
    x = _images(1, 32, 3)
    for key, gen in (("g_ab", gan.g_ab), ("g_ba", gan.g_ba)):
        loaded = load_generator(paths[key])
        np.testing.assert_allclose(loaded.predict(x, verbose=0), gen.predict(x, verbose=0), atol=1e-6)
    anysize = load_generator(paths["g_ab"], input_shape=(None, None, 1))
    np.testing.assert_allclose(anysize.predict(x, verbose=0), gan.g_ab.predict(x, verbose=0), atol=1e-6)
    assert anysize.predict(np.zeros((1, 48, 64, 1), "float32"), verbose=0).shape == (1, 48, 64, 1)
    unet = unet_generator((32, 32, 1), filters=4, num_downs=5)
    unet.save(tmp_path / "unet.keras")
    np.testing.assert_allclose(
        load_generator(tmp_path / "unet.keras").predict(x, verbose=0), unet.predict(x, verbose=0), atol=1e-6
    )
    with pytest.raises(FileNotFoundError, match="no saved generator"):
        load_generator(tmp_path / "missing.keras")
    (tmp_path / "weights.h5").write_bytes(b"")
    with pytest.raises(ValueError, match=".keras"):
        load_generator(tmp_path / "weights.h5")


def test_gans_train_on_the_shared_loaders(shared_data):
    from keras_spm.datasets import afm_style_dataset, stem_dataset

    keras.utils.set_random_seed(0)
    gan = CycleGAN.build_default((64, 64, 1), n_blocks=1, filters=4, d_filters=4, n_layers=2, pool_size=2)
    gan.compile(total_steps=4)
    afm = afm_style_dataset("gan_train", batch_size=2, crop=64, root=shared_data / "afm-exp")
    h = gan.fit(afm, steps_per_epoch=3, epochs=1, shuffle=False, verbose=0).history
    assert np.isfinite(h["g_loss"][-1]) and np.isfinite(h["d_loss"][-1])
    # 3 of 4 steps done: constant for 2, then halfway down to zero
    assert float(gan.g_optimizer.learning_rate) == pytest.approx(1e-4)
    assert float(gan.d_optimizer.learning_rate) == pytest.approx(1e-4)

    p2p = Pix2Pix.stem((64, 64, 1), filters=4, num_downs=6)
    p2p.compile()
    stem = stem_dataset("train", batch_size=2, crop=64, root=shared_data / "stem" / "pt_mo5")
    h = p2p.fit(stem, steps_per_epoch=2, epochs=1, shuffle=False, verbose=0).history
    assert np.isfinite(h["l1_loss"][-1]) and 0 < h["l1_loss"][-1] < 2


def test_unet_width_cap_shrinks_the_inner_levels():
    capped = unet_generator((None, None, 1), filters=32, num_downs=6, max_mult=4)
    assert counts(capped)[0] == 2_592_065  # the pix2pix_stem zoo network
    widths = [layer.filters for layer in capped.layers if layer.name.endswith("_conv") and "enc" in layer.name]
    assert widths == [32, 64, 128, 128, 128, 128]
    with pytest.raises(ValueError, match="max_mult must be >= 1"):
        unet_generator((64, 64, 1), num_downs=5, max_mult=0)
