import os
import subprocess
import sys
from types import SimpleNamespace

import pytest

from keras_spm.sim import opencl
from keras_spm.sim.opencl import OpenCLUnavailableError, init_opencl


def run_python(code: str, **env) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("OCL_ICD_VENDORS", "_KERAS_SPM_ICD")}
    return subprocess.run(
        [sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True, timeout=300
    )


def test_init_opencl_finds_a_device_that_builds_the_kernels():
    device = init_opencl()
    assert device.platform and device.devices
    assert init_opencl() is device  # idempotent
    from ppafm.ocl import field

    assert field.oclu is not None  # ppafm's kernels were built


def test_candidates_prefer_intel_and_honour_the_override(monkeypatch):
    platforms = [SimpleNamespace(name="Portable Computing Language"), SimpleNamespace(name="Intel(R) OpenCL")]
    monkeypatch.delenv(opencl.ENV_PLATFORM, raising=False)
    assert opencl._candidates(platforms) == [1, 0]
    monkeypatch.setenv(opencl.ENV_PLATFORM, "portable")
    assert opencl._candidates(platforms) == [0]
    monkeypatch.setenv(opencl.ENV_PLATFORM, "0")
    assert opencl._candidates(platforms) == [0]
    monkeypatch.setenv(opencl.ENV_PLATFORM, "5")
    with pytest.raises(OpenCLUnavailableError, match="only 2 OpenCL platform"):
        opencl._candidates(platforms)
    monkeypatch.setenv(opencl.ENV_PLATFORM, "nvidia")
    with pytest.raises(OpenCLUnavailableError, match="matches no OpenCL platform.*Intel"):
        opencl._candidates(platforms)


def test_no_runtime_gives_one_error_saying_what_to_install(tmp_path):
    code = "from keras_spm.sim.opencl import init_opencl\ninit_opencl()"
    result = run_python(code, OCL_ICD_VENDORS=str(tmp_path))  # an empty vendors folder: no runtime at all
    assert result.returncode != 0
    assert "OpenCLUnavailableError" in result.stderr
    assert "pip install intel-opencl-rt" in result.stderr and "pocl-opencl-icd" in result.stderr


def test_a_platform_that_cannot_build_is_skipped(monkeypatch):
    """A broken platform first in line is tried, fails its kernel build, and the next one is used."""
    import pyopencl as cl

    real = cl.get_platforms()
    broken = SimpleNamespace(name="Broken CL", get_devices=lambda: [])
    monkeypatch.setattr(opencl, "_selected", None)
    monkeypatch.setattr(cl, "get_platforms", lambda: [broken, *real])
    monkeypatch.setenv(opencl.ENV_PLATFORM, "")
    from ppafm.ocl import oclUtils

    original = oclUtils.OCLEnvironment

    def environment(i_platform=0):
        if i_platform == 0:
            raise RuntimeError("clBuildProgram failed: unknown target CPU 'generic'")
        return original(i_platform)  # ppafm sees the same patched platform list

    monkeypatch.setattr(oclUtils, "OCLEnvironment", environment)
    monkeypatch.setattr(opencl, "_candidates", lambda platforms: list(range(len(platforms))))
    device = opencl.init_opencl()
    assert device.index == 1 and device.platform == real[0].name


def test_processes_starting_together_all_find_the_runtime():
    """Every process rewrites the ICD folder; concurrent starts must never see it empty (a race seen in CI)."""
    code = "from keras_spm.sim.opencl import init_opencl\nprint(init_opencl().platform)"
    clean = {k: v for k, v in os.environ.items() if k not in ("OCL_ICD_VENDORS", "_KERAS_SPM_ICD")}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code], env=clean, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(6)
    ]
    results = [(p.communicate(timeout=300), p.returncode) for p in procs]
    assert all(code == 0 and out.strip() for (out, _), code in results), [err[-300:] for (_, err), _ in results]
