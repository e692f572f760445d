# SPDX-License-Identifier: LGPL-2.1-or-later
"""Shared fixtures for the pytest tiers.

The suite runs against a meson build directory: VXN_BUILD_DIR (default:
./build). The binding is imported from that build tree, the tools are run
from it. Every test gets private vxn roots under a temp dir, so nothing
touches /run/vxn or /var/lib/vxn.
"""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.abspath(os.environ.get("VXN_BUILD_DIR", os.path.join(ROOT, "build")))
if not os.path.isdir(BUILD):
    raise SystemExit("VXN_BUILD_DIR=%s is not a build directory" % BUILD)
sys.path.insert(0, os.path.join(BUILD, "bindings", "python"))

TOOLS = {
    "vdkr": os.path.join(BUILD, "tools", "vdkr"),
    "vpdmn": os.path.join(BUILD, "tools", "vpdmn"),
    "vxn-oci-runtime": os.path.join(BUILD, "tools", "vxn-oci-runtime"),
}


@pytest.fixture
def roots(tmp_path, monkeypatch):
    """Private state/data/log roots, exported as VXN_* for tools and Context()."""
    r = {k: str(tmp_path / k) for k in ("state", "data", "log")}
    monkeypatch.setenv("VXN_STATE_ROOT", r["state"])
    monkeypatch.setenv("VXN_DATA_ROOT", r["data"])
    monkeypatch.setenv("VXN_LOG_ROOT", r["log"])
    monkeypatch.delenv("VXN_CONFIG", raising=False)
    monkeypatch.delenv("VXN_LOG_LEVEL", raising=False)
    return r


class Tool:
    def __init__(self, name):
        self.name = name
        self.path = TOOLS[name]

    def __call__(self, *args, check=None, input=None, env=None, timeout=120):
        """Run the tool; returns CompletedProcess (text). check=N asserts the exit code."""
        p = subprocess.run([self.path, *args], capture_output=True, text=True, input=input,
                           env=env, timeout=timeout)
        if check is not None:
            assert p.returncode == check, (
                "%s %s: exit %d, want %d\nstdout: %s\nstderr: %s"
                % (self.name, " ".join(args), p.returncode, check, p.stdout, p.stderr))
        return p


@pytest.fixture
def vdkr(roots):
    return Tool("vdkr")


@pytest.fixture
def vpdmn(roots):
    return Tool("vpdmn")


@pytest.fixture
def runtime(roots):
    return Tool("vxn-oci-runtime")
