"""Image-to-image GANs: CycleGAN (unpaired, simulated <-> real AFM style) and pix2pix (paired, STEM
convolution -> multislice).

* :func:`resnet_generator`, :func:`patchgan_discriminator`, :class:`CycleGAN` (Zhu et al., ICCV 2017);
* :func:`unet_generator`, :func:`conditional_patchgan`, :class:`Pix2Pix` (Isola et al., CVPR 2017);
* :class:`LinearDecayAfter` / :func:`gan_adam` - Adam 2e-4, beta1 0.5, linear decay over the second half;
* :func:`load_generator` - a saved generator alone, optionally rebuilt for any image size;
* :data:`PRESETS` / :func:`from_preset` - the published configurations and their parameter counts.
"""

from .cyclegan import (
    CycleGAN,
    ImagePool,
    LinearDecayAfter,
    gan_adam,
    instance_norm,
    load_generator,
    patchgan_discriminator,
    resnet_generator,
)
from .gan_presets import PRESETS, from_preset
from .pix2pix import Pix2Pix, conditional_patchgan, unet_generator

__all__ = [
    "PRESETS",
    "CycleGAN",
    "ImagePool",
    "LinearDecayAfter",
    "Pix2Pix",
    "conditional_patchgan",
    "from_preset",
    "gan_adam",
    "instance_norm",
    "load_generator",
    "patchgan_discriminator",
    "resnet_generator",
    "unet_generator",
]
