"""faiss' SIMD level: AVX512_SPR (where the 8-bit codes' kernel is slower) is stepped down to AVX512,
unless FAISS_SIMD_LEVEL asks for a level."""

from __future__ import annotations

import os
import subprocess
import sys

import faiss
import pytest

from spruce.engine import kernels

pytestmark = pytest.mark.skipif(
    not hasattr(faiss, "SIMDConfig") or not faiss.SIMDConfig.has_dynamic_dispatch(),
    reason="faiss without dynamic dispatch",
)


def _level_in_child(env_level: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "FAISS_SIMD_LEVEL"}
    if env_level is not None:
        env["FAISS_SIMD_LEVEL"] = env_level
    code = "from spruce.engine import kernels; print(kernels.SIMD_LEVEL)"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_sapphire_rapids_level_is_stepped_down() -> None:
    level = _level_in_child(None)
    assert level != "AVX512_SPR"
    assert level == kernels.SIMD_LEVEL or "FAISS_SIMD_LEVEL" in os.environ


def test_an_explicit_level_is_left_alone() -> None:
    if faiss.SIMDConfig.is_simd_level_available(faiss.SIMDLevel_AVX2):
        assert _level_in_child("AVX2") == "AVX2"
    if faiss.SIMDConfig.is_simd_level_available(faiss.SIMDLevel_AVX512_SPR):
        assert _level_in_child("AVX512_SPR") == "AVX512_SPR"
