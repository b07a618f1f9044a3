"""Loaders of the real image sets in the shared data folder, for the image-to-image GANs.

* :mod:`keras_spm.datasets.afm_style` - unpaired simulated / real AFM images (CycleGAN);
* :mod:`keras_spm.datasets.stem_pairs` - paired STEM convolution / multislice images (pix2pix, baselines);
* :mod:`keras_spm.datasets.stem_sim` - more such pairs simulated with abTEM (optional dependency).
"""

from . import afm_style, stem_pairs, stem_sim
from .afm_style import afm_style_dataset
from .stem_pairs import crop_back, pad_to_multiple, stem_dataset

__all__ = ["afm_style", "afm_style_dataset", "crop_back", "pad_to_multiple", "stem_dataset", "stem_pairs", "stem_sim"]
