"""Image-quality metrics (PSNR, SSIM, pixel-domain VIF) for restored SPM images; see :mod:`.image_quality`."""

from .image_quality import VIF_MIN_SIZE, image_quality, psnr, ssim, vif

__all__ = ["VIF_MIN_SIZE", "image_quality", "psnr", "ssim", "vif"]
