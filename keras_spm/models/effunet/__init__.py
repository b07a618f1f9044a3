"""EfficientNet-U-Net segmentation (inside / border / background) for STM nanoparticles; see :mod:`.effunet`."""

from .effunet import BACKBONES, CLASSES, SKIP_LAYERS, FocalDiceLoss, efficientnet_unet

__all__ = ["BACKBONES", "CLASSES", "SKIP_LAYERS", "FocalDiceLoss", "efficientnet_unet"]
