"""Headless Chromium for the console tests: Debian's `chromium` and `chromedriver`, driven by selenium.

Found on the PATH; when missing and this process is root with apt-get, installed from Debian (the
only way to get them on a fresh machine: no browser download at run time); otherwise the tests skip
and say why.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _binaries() -> tuple[str, str] | None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


def find_or_install_chromium() -> tuple[str, str]:
    found = _binaries()
    if found:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.skip(
            "headless Chromium is absent (need Debian's chromium and chromium-driver packages; "
            "not root or no apt-get, so the fixture cannot install them)"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (
        ["apt-get", "update", "-q"],
        ["apt-get", "install", "-y", "-q", "chromium", "chromium-driver"],
    ):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            pytest.skip(f"could not install chromium with apt-get: {done.stderr[-500:]}")
    found = _binaries()
    if not found:
        pytest.skip("apt-get installed chromium but chromium/chromedriver are not on the PATH")
    return found
