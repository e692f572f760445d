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


def qemu_pids(marker):
    """QEMU processes whose command line or environment contains marker (a path, a VM name)."""
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read()
            with open("/proc/%s/environ" % pid, "rb") as f:
                environ = f.read()
        except OSError:
            continue
        if b"qemu" in cmd and marker.encode() in cmd + environ:
            out.append(int(pid))
    return out


@pytest.fixture(scope="session", autouse=True)
def nothing_left_after_the_suite(tmp_path_factory):
    """After every test: no QEMU of ours still running, no per-VM temp file left."""
    base = str(tmp_path_factory.getbasetemp())
    yield
    import glob
    import time
    deadline = time.monotonic() + 10
    while qemu_pids(base) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert qemu_pids(base) == []
    # QEMU logs and concatenated initrds live in <state>/qemu; containers in <state>/containers
    left = [p for p in glob.glob(base + "/**/qemu/*", recursive=True)
            + glob.glob(base + "/**/containers/*", recursive=True)
            if "/state" in p]
    assert left == []
