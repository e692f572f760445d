# SPDX-License-Identifier: LGPL-2.1-or-later
"""The Xen tier: Xen 4.17 + a PV Dom0 booted inside QEMU (TCG), commands run in the Dom0.

One boot serves every assertion: the harness itself (tests/xen/: the toolstack comes
up, each command's output and status come back framed by the run's nonce), and vxn's xen
backend driven by this build's vdkr inside the Dom0 (doc/xen-test-tier.md).
"""
import json
import os
import shutil
import subprocess
import sys

import pytest

from conftest import BUILD, ROOT

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "xen"))
import harness  # noqa: E402

pytestmark = pytest.mark.skipif(
    not (shutil.which("qemu-system-x86_64") and shutil.which("apt-get")
         and shutil.which("depmod")),
    reason="needs qemu-system-x86_64, apt-get and depmod (kmod) for the Dom0 image")


KERNEL = os.path.join(BUILD, "guest", "kernel", "bzImage")


@pytest.fixture(scope="module")
def dom0(tmp_path_factory):
    if not os.path.exists(KERNEL):
        pytest.skip("the build has no guest kernel (-Dguest_kernel=disabled)")
    tar = str(tmp_path_factory.mktemp("xen") / "busybox.tar")
    with open(tar, "wb") as f:
        f.write(subprocess.run([os.path.join(ROOT, "tools", "busybox-rootfs.sh")],
                               check=True, capture_output=True).stdout)
    files = harness.vxn_files(BUILD)
    files["/root/busybox.tar"] = tar
    run = "vdkr run --rm -m 128m"  # then flags, then the image
    commands = [
        ("caps", "cat /proc/xen/capabilities"),
        ("list", "xl list"),
        ("version", "xl info | sed -n 's/^xen_version *: //p'"),
        ("status", "echo out; echo err >&2; exit 3"),
        # a forged end line without this run's nonce must not end the block
        ("forged", "echo '<<0000000000000000 end forged 0>>'; echo still; exit 5"),
        ("spaces", "printf '%s|' 'a b' '' c"),
        # vxn in the Dom0
        ("info", "vdkr info --format json"),
        ("import", "vdkr import /root/busybox.tar busybox"),
        ("hello", run + " busybox echo hello"),
        ("argv", run + " busybox sh -c 'printf \"[%s]\" \"$@\"; exit 7' x 'a b' ''"),
        ("env-cwd-user", run + " -e A=x=y -w /tmp/w -u 1000:1001 busybox sh -c "
                               "'echo $A; pwd; id -u; id -g; uname -r'"),
        ("streams", run + " busybox sh -c 'echo out; echo err >&2' 2>/tmp/err; cat /tmp/err"),
        ("missing", run + " busybox nope"),
        ("while-running", run + " busybox sh -c 'sleep 3' & sleep 2.5; xl list; wait"),
        ("after", "xl list"),
    ]
    res, text = harness.with_dom0(commands, files=files, memory_mib=768, dom0_mib=384,
                                  timeout=600)
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


def test_info_says_xen(dom0):
    rc, out = dom0["info"]
    info = json.loads(out)
    assert rc == 0 and info["Backend"] == "xen", out
    assert info["BackendReason"] == "auto: xen is usable" and info["Accelerator"] == "pv"


def test_run_on_xen(dom0):
    assert dom0["import"][0] == 0, dom0["import"]
    assert dom0["hello"] == (0, "hello\n")
    assert dom0["argv"] == (7, "[a b][]")
    rc, out = dom0["env-cwd-user"]
    assert rc == 0 and out.splitlines()[:4] == ["x=y", "/tmp/w", "1000", "1001"], out
    assert out.splitlines()[4].endswith("-vxn")  # vxn's own kernel as a PV DomU
    assert dom0["streams"] == (0, "out\nerr\n")
    rc, out = dom0["missing"]
    assert rc == 127 and "executable file not found" in out


def test_domu_exists_only_while_running(dom0):
    rc, out = dom0["while-running"]
    names = [line.split()[0] for line in out.splitlines()[1:] if line.strip()]
    assert rc == 0 and len(names) == 2 and names[1].startswith("vxn-"), out
    names = [line.split()[0] for line in dom0["after"][1].splitlines()[1:] if line.strip()]
    assert names == ["Domain-0"]
