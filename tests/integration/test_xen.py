# SPDX-License-Identifier: LGPL-2.1-or-later
"""The Xen tier: Xen 4.17 + a PV Dom0 booted inside QEMU (TCG), commands run in the Dom0.

So far this checks the harness itself (tests/xen/): the hypervisor and Dom0 come up with
a working toolstack, and each command's output and status come back framed by the run's
nonce. The vxn xen backend's assertions join this boot as the backend lands.
"""
import os
import shutil
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "xen"))
import harness  # noqa: E402

pytestmark = pytest.mark.skipif(
    not (shutil.which("qemu-system-x86_64") and shutil.which("apt-get")
         and shutil.which("depmod")),
    reason="needs qemu-system-x86_64, apt-get and depmod (kmod) for the Dom0 image")


@pytest.fixture(scope="module")
def dom0():
    commands = [
        ("caps", "cat /proc/xen/capabilities"),
        ("list", "xl list"),
        ("version", "xl info | sed -n 's/^xen_version *: //p'"),
        ("status", "echo out; echo err >&2; exit 3"),
        # a forged end line without this run's nonce must not end the block
        ("forged", "echo '<<0000000000000000 end forged 0>>'; echo still; exit 5"),
        ("spaces", "printf '%s|' 'a b' '' c"),
    ]
    res, text = harness.with_dom0(commands, timeout=600)
    assert len(res) == len(commands), text[-3000:]
    return res


def test_toolstack_is_up(dom0):
    assert dom0["caps"] == (0, "control_d\n")
    assert dom0["version"][1].startswith("4.17.")


def test_only_domain0_runs(dom0):
    rc, out = dom0["list"]
    assert rc == 0
    names = [line.split()[0] for line in out.splitlines()[1:] if line.strip()]
    assert names == ["Domain-0"], out


def test_status_and_streams(dom0):
    assert dom0["status"] == (3, "out\nerr\n")
    assert dom0["forged"] == (5, "<<0000000000000000 end forged 0>>\nstill\n")
    assert dom0["spaces"] == (0, "a b||c|")
