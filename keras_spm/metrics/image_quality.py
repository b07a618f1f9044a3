"""Full-reference image-quality metrics for restored SPM images: PSNR, SSIM and pixel-domain VIF.

All take ``(reference, distorted, data_range)`` with an explicit ``data_range`` (the span of
possible values, e.g. the clean image's peak-to-peak height): SPM heights have no natural
[0, 255] range, and letting a library guess it from the dtype silently changes the numbers.

* PSNR and SSIM are scikit-image's. SSIM uses the settings of Wang et al., *Image quality
  assessment: from error visibility to structural similarity*, IEEE TIP 13, 600 (2004): an 11x11
  Gaussian window of sigma 1.5, K1 = 0.01, K2 = 0.03, population covariances.
* VIF is the pixel-domain, multi-scale visual information fidelity of Sheikh & Bovik, *Image
  information and visual quality*, IEEE TIP 15, 430 (2006), written here after the paper's
  pixel-domain variant (``vifp``): four scales with Gaussian windows of N = 17, 9, 5, 3 pixels and
  sigma N / 5, "valid" filtering, dyadic down-sampling between scales, HVS noise variance
  ``sigma_nsq = 2``. Because ``sigma_nsq`` is in squared 8-bit grey levels, both images are first
  mapped by ``255 / data_range``.
"""

from __future__ import annotations

import numpy as np
from scipy import signal
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

VIF_SIGMA_NSQ = 2.0
VIF_WINDOWS = (17, 9, 5, 3)
#: smallest side for which every VIF scale keeps at least one pixel
VIF_MIN_SIZE = 41
_EPS = 1e-10


def _check_pair(reference, distorted, data_range) -> tuple[np.ndarray, np.ndarray, float]:
    ref = np.asarray(reference, dtype=np.float64)
    dist = np.asarray(distorted, dtype=np.float64)
    for name, a in (("reference", ref), ("distorted", dist)):
        if a.ndim != 2:
            raise ValueError(f"{name} must be a 2D grey image (H, W), got shape {a.shape}; squeeze channel axes first.")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name} has NaN/inf values; fill or crop them before computing the metric.")
    if ref.shape != dist.shape:
        raise ValueError(f"reference {ref.shape} and distorted {dist.shape} must have the same shape.")
    if data_range is None or not np.isfinite(data_range) or not data_range > 0:
        raise ValueError(f"data_range must be a finite number > 0 (e.g. the reference's ptp), got {data_range!r}.")
    return ref, dist, float(data_range)


def psnr(reference, distorted, data_range: float) -> float:
    """Peak signal-to-noise ratio in dB, ``10 log10(data_range^2 / MSE)`` (inf for identical images)."""
    ref, dist, dr = _check_pair(reference, distorted, data_range)
    if np.array_equal(ref, dist):
        return float("inf")
    return float(peak_signal_noise_ratio(ref, dist, data_range=dr))


def ssim(reference, distorted, data_range: float) -> float:
    """Mean SSIM with the Gaussian-window settings of Wang et al. (2004); images must be >= 11 px a side."""
    ref, dist, dr = _check_pair(reference, distorted, data_range)
    if min(ref.shape) < 11:
        raise ValueError(f"SSIM needs images >= 11 px a side (11x11 window), got {ref.shape}.")
    return float(
        structural_similarity(
            ref, dist, data_range=dr, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, K1=0.01, K2=0.03
        )
    )


def _gaussian_window(n: int) -> np.ndarray:
    """``n`` x ``n`` normalised Gaussian of sigma ``n / 5`` (MATLAB ``fspecial('gaussian', n, n/5)``)."""
    x = np.arange(n) - (n - 1) / 2
    g = np.exp(-(x**2) / (2 * (n / 5) ** 2))
    w = np.outer(g, g)
    return w / w.sum()


def _filter_valid(img: np.ndarray, win: np.ndarray) -> np.ndarray:
    return signal.correlate2d(img, win, mode="valid")


def vif(reference, distorted, data_range: float) -> float:
    """Pixel-domain visual information fidelity (Sheikh & Bovik 2006), in [0, inf).

    ``VIF = sum_scales sum_pixels log10(1 + g^2 s1 / (sv + sigma_nsq)) / sum log10(1 + s1 / sigma_nsq)``
    with local (windowed) reference variance ``s1``, gain ``g = cov / s1`` and distortion noise
    variance ``sv = s2 - g cov``. Hand-derivable values: ``VIF(x, x) = 1``; ``VIF(x, c x + b) > 1`` for
    ``c > 1`` (contrast enhancement *adds* information: ``g = c``, ``sv = 0``); ``VIF(x, const) = 0``.
    As in the reference implementation, a negative gain is treated as no information (``g = 0``).

    Raises ``ValueError`` for a constant (featureless) reference: the denominator, the information
    in the reference, is 0 and VIF is undefined. Images must be >= :data:`VIF_MIN_SIZE` px a side.
    """
    ref, dist, dr = _check_pair(reference, distorted, data_range)
    if min(ref.shape) < VIF_MIN_SIZE:
        raise ValueError(f"VIF needs images >= {VIF_MIN_SIZE} px a side (4 scales, 17 px window), got {ref.shape}.")
    if np.ptp(ref) == 0:  # checked up front: E[x^2] - E[x]^2 of a large constant rounds to a tiny positive value
        raise ValueError("VIF is undefined for a constant reference image (it carries no information).")
    scale = 255.0 / dr
    ref, dist = ref * scale, dist * scale
    num = den = 0.0
    for i, n in enumerate(VIF_WINDOWS):
        win = _gaussian_window(n)
        if i > 0:  # low-pass then down-sample by 2 for the next scale
            ref = _filter_valid(ref, win)[::2, ::2]
            dist = _filter_valid(dist, win)[::2, ::2]
        mu1, mu2 = _filter_valid(ref, win), _filter_valid(dist, win)
        s1 = np.maximum(_filter_valid(ref * ref, win) - mu1 * mu1, 0.0)
        s2 = np.maximum(_filter_valid(dist * dist, win) - mu2 * mu2, 0.0)
        s12 = _filter_valid(ref * dist, win) - mu1 * mu2
        g = s12 / (s1 + _EPS)
        sv = s2 - g * s12
        flat_ref = s1 < _EPS
        g[flat_ref] = 0.0
        sv[flat_ref] = s2[flat_ref]
        s1[flat_ref] = 0.0
        flat_dist = s2 < _EPS
        g[flat_dist] = 0.0
        sv[flat_dist] = 0.0
        neg = g < 0
        sv[neg] = s2[neg]
        g[neg] = 0.0
        sv = np.maximum(sv, _EPS)
        num += np.log10(1 + g * g * s1 / (sv + VIF_SIGMA_NSQ)).sum()
        den += np.log10(1 + s1 / VIF_SIGMA_NSQ).sum()
    if den <= 0:
        raise ValueError("VIF is undefined for a constant reference image (it carries no information).")
    return float(num / den)


def image_quality(reference, distorted, data_range: float | None = None) -> dict[str, float]:
    """PSNR, SSIM and VIF of ``distorted`` against ``reference``; ``data_range`` defaults to the reference's ptp."""
    if data_range is None:
        data_range = float(np.ptp(np.asarray(reference, dtype=np.float64)))
    return {
        "psnr": psnr(reference, distorted, data_range),
        "ssim": ssim(reference, distorted, data_range),
        "vif": vif(reference, distorted, data_range),
    }
