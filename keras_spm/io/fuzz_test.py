"""Fuzz tests of every reader (issue #16): truncations, byte flips and random bytes of each file type.

Each mutated file must either read (an SPMImage/SPMStack) or raise SPMFileError naming the file, in
under 2 s (hypothesis deadline) and never hang (pytest-timeout per test). For the parsers written here
(.gwy, .sxm, .npz, .ibw guards) the error must be one they raise themselves, in words, not the generic
"could not read as" fallback of :func:`keras_spm.io.image.wrap_reader`. Seeds are real files from
shared/data (small ones, or cut to a few kB of data) and GWYP/GWYO twins written from the spec.
Examples are derandomized so CI runs the same cases every time; inputs that once broke a reader are
pinned with ``@example``.
"""

from __future__ import annotations

import io as _io
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from keras_spm.io import SPMFileError, SPMImage, SPMStack, read
from keras_spm.io.gwywrite import data_field, write_gwy

#: KERAS_SPM_FUZZ=10 runs 10x the examples with fresh random cases (a deeper local search than CI's)
SCALE = int(os.environ.get("KERAS_SPM_FUZZ", "1"))
FUZZ = settings(
    max_examples=60 * SCALE,
    deadline=2000,
    derandomize=SCALE == 1,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _mutations(seed: bytes, header: int):
    """Truncate anywhere, flip up to 8 bytes (mostly in the first ``header`` bytes), or random bytes."""
    n = len(seed)
    flips = st.lists(
        st.tuples(st.one_of(st.integers(0, min(header, n) - 1), st.integers(0, n - 1)), st.integers(0, 255)),
        min_size=1,
        max_size=8,
    )
    return st.one_of(
        st.integers(0, n - 1).map(lambda k: ("cut", k)),
        flips.map(lambda f: ("flip", f)),
        st.binary(max_size=600).map(lambda b: ("random", b)),
        st.binary(max_size=600).map(lambda b: ("magic+random", b)),
    )


def _apply(seed: bytes, mutation, magic: bytes) -> bytes:
    kind, arg = mutation
    if kind == "cut":
        return seed[:arg]
    if kind == "flip":
        out = bytearray(seed)
        for pos, value in arg:
            out[pos] = value
        return bytes(out)
    return (magic if kind == "magic+random" else b"") + arg


def _check(seed: bytes, mutation, suffix: str, magic: bytes, strict: bool = True, **kwargs) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"fuzzed{suffix}"
        path.write_bytes(_apply(seed, mutation, magic))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # all-NaN / overflow warnings are expected on garbage
                out = read(path, **kwargs)
        except SPMFileError as e:
            message = str(e)
            assert message.startswith(str(path)) and len(message) > len(str(path)) + 10, message
            if strict:
                assert "could not read as" not in message, f"unforeseen failure: {message}"
            return
        assert isinstance(out, (SPMImage, SPMStack)) and out.data.ndim in (2, 3)


@pytest.fixture(scope="module")
def seeds(shared_data) -> dict[str, bytes]:
    folder = shared_data / "spm-files"
    topo = shared_data / "spm-topographies"
    if not (folder.is_dir() and topo.is_dir()):
        pytest.skip(f"real SPM files not found under {shared_data}")
    grid = (folder / "Grid_Spectroscopy006.3ds").read_bytes()
    end = grid.index(b":HEADER_END:\r\n") + len(b":HEADER_END:\r\n")
    per_point = (10 + 256 * 16) * 4  # 10 parameters + 16 channels x 256 points, float32
    return {
        "sxm": (folder / "nanonis_stack" / "A170315.174532-00402.sxm").read_bytes(),
        "3ds": grid[: end + 3 * per_point],  # an interrupted grid of 3 points: still a valid file
        "ibw": (topo / "IgorIBWReader_ImageStack_BTFO_DSO.ibw").read_bytes(),
        "gwyo_real": (topo / "GwiddionReader_bipm.gwy").read_bytes(),
    }


def _spec_gwy(old: bool) -> bytes:
    rng = np.random.default_rng(1)
    fields = {
        "HeightRetrace": data_field(rng.normal(size=(8, 6)) * 1e-9, 2e-9, 3e-9, "m", "m", xoff=1e-9),
        "Phase": data_field(rng.uniform(-90, 90, (8, 6)), 2e-9, 3e-9, "m", "deg"),
    }
    with tempfile.TemporaryDirectory() as tmp:
        return write_gwy(Path(tmp) / "s.gwy", fields, old=old).read_bytes()


GWYP, GWYO = _spec_gwy(old=False), _spec_gwy(old=True)


def _npz() -> bytes:
    buf = _io.BytesIO()
    np.savez(buf, data=np.arange(4 * 5 * 3, dtype=np.float32).reshape(4, 5, 3), lengthX=5.0, lengthY=6.0)
    return buf.getvalue()


NPZ = _npz()


@pytest.mark.timeout(120)
@FUZZ
@given(m=_mutations(GWYP, 200))
@example(m=("cut", 100)).via("gwyfile hung here (issue #16)")
@example(m=("cut", len(GWYP) - 1)).via("gwyfile hung here (issue #16)")
def test_fuzz_gwy_new_format(m):
    _check(GWYP, m, ".gwy", b"GWYP")


@pytest.mark.timeout(120)
@FUZZ
@given(m=_mutations(GWYO, 200))
@example(m=("cut", len(GWYO) - 1))
def test_fuzz_gwy_old_format(m):
    _check(GWYO, m, ".gwy", b"GWYO")


@pytest.mark.timeout(120)
@settings(FUZZ, max_examples=30 * SCALE)
@given(data=st.data())
def test_fuzz_real_gwyo_file(seeds, data):
    _check(seeds["gwyo_real"], data.draw(_mutations(seeds["gwyo_real"], 400)), ".gwy", b"GWYO")


@pytest.mark.timeout(120)
@FUZZ
@given(data=st.data())
def test_fuzz_sxm(seeds, data):
    _check(seeds["sxm"], data.draw(_mutations(seeds["sxm"], 3000)), ".sxm", b":NANONIS_VERSION:\n2\n")


@pytest.mark.timeout(120)
@settings(FUZZ, max_examples=40 * SCALE)
@given(data=st.data())
def test_fuzz_3ds(seeds, data):
    # nanonispy parses .3ds: its failures reach the user through the generic wrapper, still as SPMFileError
    m = data.draw(_mutations(seeds["3ds"], 1500))
    _check(seeds["3ds"], m, ".3ds", b'Grid dim="32 x 32"\r\n', strict=False, heights=[0.0, -1.0])


@pytest.mark.timeout(120)
@FUZZ
@given(m=_mutations(NPZ, 400))
def test_fuzz_npz(m):
    _check(NPZ, m, ".npz", b"PK\x03\x04")


@pytest.mark.timeout(120)
@settings(FUZZ, max_examples=40 * SCALE)
@given(data=st.data())
def test_fuzz_ibw(seeds, data):
    _check(seeds["ibw"], data.draw(_mutations(seeds["ibw"], 600)), ".ibw", b"\x05\x00")
