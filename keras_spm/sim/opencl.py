"""Find an OpenCL device that really builds the Probe Particle kernels.

ppafm simulates on OpenCL. On a CPU-only machine the usable runtimes are Intel's
CPU runtime from PyPI (``intel-opencl-rt``) and Debian's pocl (``pocl-opencl-icd``).
Platform order is not to be trusted (a broken runtime may be platform 0), so each
platform is tried by building ppafm's kernels, and the first that builds is used.

Environment variables:
    KERAS_SPM_OPENCL_PLATFORM: force a platform, by index or by a substring of its name
        (for example ``Intel`` or ``Portable``).

Debian's pocl crashes when TensorFlow was imported first in the same process, so
call :func:`init_opencl` before importing TensorFlow, or simulate in worker processes
(which :mod:`keras_spm.data` does).
"""

from __future__ import annotations

import ctypes
import glob
import hashlib
import os
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

INSTALL_HINT = (
    "No OpenCL device could build the Probe Particle Model kernels. Install a CPU OpenCL runtime, "
    "either `pip install intel-opencl-rt intel-cmplr-lib-rt` (Intel CPUs and most x86-64 CPUs) or "
    "`apt-get install pocl-opencl-icd` (Debian/Ubuntu). Note: PyPI's pocl-binary-distribution 3.0 "
    "fails on some CPUs ('unknown target CPU'). Set KERAS_SPM_OPENCL_PLATFORM to pick a platform "
    "by index or name."
)

ENV_PLATFORM = "KERAS_SPM_OPENCL_PLATFORM"
_INTEL_RUNTIME_LIBS = ("libintlc.so.5", "libirng.so", "libimf.so", "libsvml.so")


class OpenCLUnavailableError(RuntimeError):
    """No OpenCL platform could build the simulator's kernels."""


@dataclass(frozen=True)
class OpenCLDevice:
    """The platform chosen for simulation."""

    index: int
    platform: str
    devices: tuple[str, ...]

    def __str__(self) -> str:
        return f"OpenCL platform {self.index} '{self.platform}' ({', '.join(self.devices)})"


_selected: OpenCLDevice | None = None


def _vendor_dir() -> Path:
    """An ICD folder per Python environment (two venvs must not overwrite each other's runtime paths)."""
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    env_id = hashlib.sha256(sys.prefix.encode()).hexdigest()[:12]
    return cache / "keras_spm" / "OpenCL" / env_id / "vendors"


def _write_if_changed(path: Path, text: str) -> None:
    """Atomic, idempotent write: processes starting together never see a missing or half-written .icd file."""
    if path.exists() and path.read_text() == text:
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def register_pip_runtimes() -> list[str]:
    """Make OpenCL runtimes installed by pip visible to the ICD loader.

    Intel's PyPI runtime ships ``libintelocl.so`` but an ``.icd`` file pointing at a
    build-machine path, and its support libraries are not on the loader path. This
    writes a vendors folder (with the system's own ``.icd`` files too), preloads the
    support libraries and points ``OCL_ICD_VENDORS`` at the folder. It must run before
    the first OpenCL call of the process; every process (workers too) calls it, so the
    folder is only ever written atomically. Returns the registered library paths.
    """
    if "OCL_ICD_VENDORS" in os.environ and not os.environ.get("_KERAS_SPM_ICD"):
        return []  # the user configured the loader: respect it
    libdir = Path(sys.prefix) / "lib"
    intel = libdir / "libintelocl.so"
    registered = []
    vendors = _vendor_dir()
    vendors.mkdir(parents=True, exist_ok=True)
    for icd in glob.glob("/etc/OpenCL/vendors/*.icd"):
        _write_if_changed(vendors / Path(icd).name, Path(icd).read_text())
    if intel.exists():
        for name in _INTEL_RUNTIME_LIBS:
            lib = libdir / name
            if lib.exists():
                ctypes.CDLL(str(lib), mode=ctypes.RTLD_GLOBAL)
        _write_if_changed(vendors / "keras_spm-intel-cpu.icd", str(intel) + "\n")
        registered.append(str(intel))
    os.environ["OCL_ICD_VENDORS"] = str(vendors)
    os.environ["_KERAS_SPM_ICD"] = "1"  # inherited by worker processes
    return registered


def _candidates(platforms: list) -> list[int]:
    wanted = os.environ.get(ENV_PLATFORM, "").strip()
    if not wanted:
        # Prefer Intel's runtime (it tolerates TensorFlow in the same process), then the rest.
        order = sorted(range(len(platforms)), key=lambda i: "Intel" not in platforms[i].name)
        return order
    if wanted.isdigit():
        index = int(wanted)
        if index >= len(platforms):
            raise OpenCLUnavailableError(
                f"{ENV_PLATFORM}={wanted} but only {len(platforms)} OpenCL platform(s) exist: "
                + ", ".join(f"{i}: {p.name}" for i, p in enumerate(platforms))
            )
        return [index]
    matches = [i for i, p in enumerate(platforms) if wanted.lower() in p.name.lower()]
    if not matches:
        raise OpenCLUnavailableError(
            f"{ENV_PLATFORM}='{wanted}' matches no OpenCL platform; available: "
            + ", ".join(f"{i}: {p.name}" for i, p in enumerate(platforms))
        )
    return matches


def init_opencl(verbose: bool = False) -> OpenCLDevice:
    """Initialise ppafm's OpenCL environment on the first platform that builds its kernels.

    Idempotent within a process. Raises :class:`OpenCLUnavailableError` with install
    instructions when no platform works.
    """
    global _selected
    if _selected is not None:
        return _selected
    register_pip_runtimes()
    os.environ.setdefault("PPAFM_LOG_LEVEL", "WARNING")  # ppafm logs every kernel build to stdout otherwise
    import pyopencl as cl

    # ppafm re-fetches kernels per call and its kernels print compiler notes: harmless, and noisy.
    warnings.filterwarnings("ignore", category=getattr(cl, "RepeatedKernelRetrieval", UserWarning))
    warnings.filterwarnings("ignore", category=getattr(cl, "CompilerWarning", UserWarning))
    from ppafm.ocl import field as ff_cl
    from ppafm.ocl import oclUtils
    from ppafm.ocl import relax as relax_cl

    try:
        platforms = cl.get_platforms()
    except Exception as err:  # pyopencl raises LogicError/RuntimeError when no ICD is found
        raise OpenCLUnavailableError(f"{INSTALL_HINT} (no OpenCL platform found: {err})") from None
    failures = []
    for index in _candidates(platforms):
        platform = platforms[index]
        try:
            env = oclUtils.OCLEnvironment(i_platform=index)
            ff_cl.init(env)
            relax_cl.init(env)
        except Exception as err:  # a runtime that cannot compile raises from deep in pyopencl
            failures.append(f"{index}: {platform.name}: {str(err).splitlines()[0] if str(err) else type(err).__name__}")
            continue
        _selected = OpenCLDevice(index, platform.name, tuple(d.name.strip() for d in platform.get_devices()))
        if verbose:
            print(f"keras_spm: simulating on {_selected}", file=sys.stderr)
        return _selected
    raise OpenCLUnavailableError(INSTALL_HINT + " Tried: " + "; ".join(failures or ["no platforms"]))


def selected_device() -> OpenCLDevice | None:
    """The device chosen by :func:`init_opencl` in this process, if any."""
    return _selected
