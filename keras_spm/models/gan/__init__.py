"""Image-to-image GANs: CycleGAN (unpaired, simulated <-> real AFM style) and pix2pix (paired, STEM
convolution -> multislice).

* :func:`resnet_generator`, :func:`patchgan_discriminator`, :class:`CycleGAN` (Zhu et al., ICCV 2017);
* :func:`unet_generator`, :func:`conditional_patchgan`, :class:`Pix2Pix` (Isola et al., CVPR 2017);
* :class:`LinearDecayAfter` / :func:`gan_adam` - Adam 2e-4, beta1 0.5, linear decay over the second half;
* :func:`load_generator` - a saved generator alone, optionally rebuilt for any image size;
* :data:`PRESETS` / :func:`from_preset` - the published configurations and their parameter counts;
* :func:`translate` - a generator on whole images of any size (stride padding, input checks);
* :func:`expert_classifier` / :func:`train_expert` / :func:`prob_real` - the real-vs-simulated "machine expert";
* :class:`PixelShuffle` / :class:`ICNR` - sub-pixel upsampling without checkerboard (``upsampling="subpixel"``);
* :class:`MeanCalibration` / :func:`calibrated_generator` - per-image mean calibration of STEM translations;
* :class:`MeasurementNoise` / :func:`with_measurement_noise` - the random detector noise a sim -> exp translation adds.

Importing the package registers every custom layer, so saved generators load without custom code.
"""

from .calibration import MeanCalibration, MeanCalibrationLayer, calibrated_generator
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
from .expert import expert_classifier, prob_real, train_expert
from .gan_presets import PRESETS, from_preset
from .inference import generator_stride, translate
from .noise import MeasurementNoise, with_measurement_noise, without_measurement_noise
from .pix2pix import Pix2Pix, conditional_patchgan, unet_generator
from .upsampling import ICNR, UPSAMPLING, PixelShuffle

__all__ = [
    "ICNR",
    "PRESETS",
    "UPSAMPLING",
    "CycleGAN",
    "ImagePool",
    "LinearDecayAfter",
    "MeasurementNoise",
    "MeanCalibration",
    "MeanCalibrationLayer",
    "Pix2Pix",
    "PixelShuffle",
    "calibrated_generator",
    "conditional_patchgan",
    "expert_classifier",
    "from_preset",
    "gan_adam",
    "generator_stride",
    "instance_norm",
    "load_generator",
    "patchgan_discriminator",
    "prob_real",
    "resnet_generator",
    "train_expert",
    "translate",
    "unet_generator",
    "with_measurement_noise",
    "without_measurement_noise",
]
