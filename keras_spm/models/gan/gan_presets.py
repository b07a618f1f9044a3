"""Presets of the image-to-image GAN networks (keras-hub style): name -> description, params, builder kwargs.

``params`` is the exact trainable parameter count, checked by the tests. The 3-channel presets are the
published configurations (Zhu et al. ICCV 2017: ResNet-9 generator 11.378M, 70x70 PatchGAN 2.765M; Isola
et al. CVPR 2017: U-Net-256 54.4M, pix2pix PatchGAN 2.769M) and match those counts exactly; the
1-channel ones are what the zoo trains on grayscale AFM / STEM images. U-Net and pix2pix PatchGAN also
hold BatchNorm moving statistics (``non_trainable``), which PyTorch keeps as buffers, not parameters.
Build one with :func:`from_preset`.
"""

from __future__ import annotations

import keras

PRESETS: dict[str, dict] = {
    "cyclegan_resnet9_rgb": {
        "description": "CycleGAN ResNet generator, 9 residual blocks, 64 filters, 3 -> 3 channels at 256x256: the "
        "published configuration (11.378M parameters; instance norm without affine, conv biases kept).",
        "params": 11_378_179,
        "builder": "resnet_generator",
        "kwargs": {"input_shape": (256, 256, 3), "n_blocks": 9, "filters": 64},
    },
    "cyclegan_resnet6_rgb": {
        "description": "CycleGAN ResNet generator, 6 blocks (the paper's 128x128 configuration), 3 channels.",
        "params": 7_837_699,
        "builder": "resnet_generator",
        "kwargs": {"input_shape": (128, 128, 3), "n_blocks": 6, "filters": 64},
    },
    "cyclegan_resnet9_gray": {
        "description": "CycleGAN ResNet-9 generator for grayscale images (simulated <-> real AFM style).",
        "params": 11_365_633,
        "builder": "resnet_generator",
        "kwargs": {"input_shape": (192, 192, 1), "n_blocks": 9, "filters": 64},
    },
    "cyclegan_resnet6_gray": {
        "description": "CycleGAN ResNet-6 generator for grayscale images.",
        "params": 7_825_153,
        "builder": "resnet_generator",
        "kwargs": {"input_shape": (192, 192, 1), "n_blocks": 6, "filters": 64},
    },
    "patchgan70_rgb": {
        "description": "70x70 PatchGAN of CycleGAN (3 layers, 64 filters, instance norm), 3 channels: 2.765M.",
        "params": 2_764_737,
        "builder": "patchgan_discriminator",
        "kwargs": {"input_shape": (256, 256, 3), "n_layers": 3, "filters": 64},
    },
    "patchgan70_gray": {
        "description": "70x70 PatchGAN of CycleGAN for grayscale images.",
        "params": 2_762_689,
        "builder": "patchgan_discriminator",
        "kwargs": {"input_shape": (192, 192, 1), "n_layers": 3, "filters": 64},
    },
    "pix2pix_unet256_rgb": {
        "description": "pix2pix U-Net-256 generator, 3 -> 3 channels: the published 54.4M (+9,856 BatchNorm "
        "moving statistics).",
        "params": 54_413_955,
        "non_trainable": 9_856,
        "builder": "unet_generator",
        "kwargs": {"input_shape": (256, 256, 3), "num_downs": 8, "filters": 64},
    },
    "pix2pix_unet256_gray": {
        "description": "pix2pix U-Net-256 for 1-channel STEM images (convolution -> multislice).",
        "params": 54_407_809,
        "non_trainable": 9_856,
        "builder": "unet_generator",
        "kwargs": {"input_shape": (256, 256, 1), "num_downs": 8, "filters": 64},
    },
    "pix2pix_patchgan70_rgb": {
        "description": "pix2pix conditional 70x70 PatchGAN (BatchNorm, input + target = 6 channels): 2.769M.",
        "params": 2_768_705,
        "non_trainable": 1_792,
        "builder": "conditional_patchgan",
        "kwargs": {"input_shape": (256, 256, 3), "n_layers": 3, "filters": 64},
    },
    "pix2pix_patchgan70_gray": {
        "description": "pix2pix conditional 70x70 PatchGAN for 1-channel input and target.",
        "params": 2_764_609,
        "non_trainable": 1_792,
        "builder": "conditional_patchgan",
        "kwargs": {"input_shape": (256, 256, 1), "n_layers": 3, "filters": 64},
    },
}


def from_preset(name: str, **overrides) -> keras.Model:
    """Build the (untrained) network of preset ``name``; ``overrides`` replace builder kwargs."""
    from .cyclegan import patchgan_discriminator, resnet_generator
    from .pix2pix import conditional_patchgan, unet_generator

    if name not in PRESETS:
        raise ValueError(f"unknown GAN preset {name!r}; choose one of {sorted(PRESETS)}.")
    preset = PRESETS[name]
    builder = {
        "resnet_generator": resnet_generator,
        "patchgan_discriminator": patchgan_discriminator,
        "unet_generator": unet_generator,
        "conditional_patchgan": conditional_patchgan,
    }[preset["builder"]]
    return builder(**{**preset["kwargs"], **overrides})
