# SPDX-License-Identifier: LGPL-2.1-or-later
"""Boot Xen + a PV Dom0 inside QEMU (TCG) and run commands in the Dom0.

The way Xen's own CI tests a toolstack on a host without Xen:
tests/xen/dom0-image.sh provides the hypervisor, the Dom0 kernel and a Dom0 base
initramfs (cached); this module appends a payload archive (files to add, and
/vxn-test/run.sh running each command), boots it once, and returns each command's
output and exit status. Every result is framed by lines carrying a nonce made for the
run, so nothing the guest echoes or prints by accident can be taken for a result.

    with_dom0([("hello", "echo hi")], files={"/usr/local/bin/x": "/path/on/host"})
    -> {"hello": (0, "hi\\n")}, console_text
"""
import os
import re
import secrets
import select
import shlex
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
from newc import newc  # noqa: E402

# measured on this machine kind (../shared/notes/boot.md): `max` and Intel/EPYC models
# crash the PV Dom0 under TCG; 384 MiB outer / 192 MiB Dom0 is the smallest that works
# without a device model
CPU = "qemu64,+npt,+rdrand,+ssse3,+sse4.1,+sse4.2,+popcnt,+cx16"


def dom0_image():
    p = subprocess.run(["bash", os.path.join(HERE, "dom0-image.sh"), "--print-dir"],
                       capture_output=True, text=True, timeout=900)
    if p.returncode != 0:
        raise RuntimeError("dom0-image.sh failed: " + p.stderr.strip())
    return p.stdout.strip().splitlines()[-1]


def payload(commands, files, nonce):
    """The appended archive: the files, and run.sh with one framed block per command."""
    entries, dirs = [], set()

    def add_dirs(path):
        parts = path.strip("/").split("/")[:-1]
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            if d not in dirs:
                dirs.add(d)
                entries.append((d, 0o040755, b""))

    for dst, src in sorted(files.items()):
        add_dirs(dst)
        if isinstance(src, bytes):
            data, mode = src, 0o100755
        else:
            with open(src, "rb") as f:
                data = f.read()
            mode = 0o100000 | (os.stat(src).st_mode & 0o7777)
        entries.append((dst.strip("/"), mode, data))
    script = ["#!/bin/sh"]
    for name, cmd in commands:
        script.append("echo '<<%s begin %s>>'" % (nonce, name))
        script.append("( %s ) < /dev/null 2>&1; echo \"<<%s end %s $?>>\"" % (cmd, nonce, name))
    add_dirs("/vxn-test/run.sh")
    entries.append(("vxn-test/run.sh", 0o100755, ("\n".join(script) + "\n").encode()))
    return newc(entries)


def vxn_files(build):
    """The payload that makes a Dom0 run vxn from a build tree: the tools, libvxn, the
    guest kernel and base initramfs where an installed vxn has them, and the host
    libraries they need (ldd closure; the Dom0 image has only the Xen toolstack's)."""
    files = {
        "/usr/local/bin/vdkr": os.path.join(build, "tools", "vdkr"),
        "/usr/local/bin/vpdmn": os.path.join(build, "tools", "vpdmn"),
        "/usr/local/lib/libvxn.so.0": os.path.realpath(
            os.path.join(build, "libvxn", "libvxn.so.0")),
        "/usr/local/share/vxn/kernel/bzImage": os.path.join(build, "guest", "kernel", "bzImage"),
        "/usr/local/share/vxn/vxn-initramfs.cpio": os.path.join(build, "guest",
                                                                 "vxn-initramfs.cpio"),
    }
    env = dict(os.environ, LD_LIBRARY_PATH=os.path.join(build, "libvxn"))
    for f in (files["/usr/local/bin/vdkr"], files["/usr/local/lib/libvxn.so.0"]):
        out = subprocess.run(["ldd", f], capture_output=True, text=True, env=env).stdout
        for line in out.splitlines():
            parts = line.split()
            if "=>" in parts and len(parts) > parts.index("=>") + 1:
                lib = parts[parts.index("=>") + 1]
                if lib.startswith("/") and "libvxn" not in lib:
                    files[lib] = os.path.realpath(lib)
    return files


def with_dom0(commands, files=None, memory_mib=384, dom0_mib=192, timeout=600, log=None):
    """Boot once, run the commands in order, power off. Returns ({name: (rc, out)}, text)."""
    img = dom0_image()
    nonce = secrets.token_hex(8)
    with tempfile.TemporaryDirectory(prefix="vxn-xen-") as tmp:
        initrd = os.path.join(tmp, "dom0.cpio")
        with open(initrd, "wb") as f:
            with open(os.path.join(img, "dom0.cpio"), "rb") as base:
                data = base.read()
            f.write(data + b"\0" * (-len(data) % 4) + payload(commands, files or {}, nonce))
        xen_args = ("dom0_mem=%dM,max:%dM console=com1 com1=115200,8n1 loglvl=warning "
                    "guest_loglvl=warning" % (dom0_mib, dom0_mib))
        dom0_args = "console=hvc0 quiet"
        cmd = ["qemu-system-x86_64", "-M", "pc", "-accel", "tcg,thread=multi", "-cpu", CPU,
               "-m", str(memory_mib), "-smp", "2", "-nographic", "-no-reboot",
               "-kernel", os.path.join(img, "xen"), "-append", xen_args,
               "-initrd", "%s %s,%s" % (os.path.join(img, "vmlinuz"),
                                        dom0_args.replace(",", ",,"), initrd)]
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
        text = b""
        end = time.monotonic() + timeout
        try:
            while True:
                left = end - time.monotonic()
                if left <= 0:
                    raise TimeoutError("Xen/Dom0 run did not finish in %d s" % timeout)
                r, _, _ = select.select([p.stdout], [], [], left)
                if not r:
                    continue
                chunk = os.read(p.stdout.fileno(), 65536)
                if not chunk:
                    break
                text += chunk
                if log:
                    log.write(chunk.decode(errors="replace"))
        finally:
            if p.poll() is None:
                p.kill()
            p.wait()
    out = text.decode(errors="replace").replace("\r", "")
    results = {}
    for name, _ in commands:
        m = re.search(r"<<%s begin %s>>\n(.*?)<<%s end %s (\d+)>>" % (
            nonce, re.escape(name), nonce, re.escape(name)), out, re.S)
        if m:
            results[name] = (int(m.group(2)), m.group(1))
    return results, out


if __name__ == "__main__":
    cmds = [("c%d" % i, c) for i, c in enumerate(sys.argv[1:])] or [("list", "xl list")]
    t0 = time.monotonic()
    res, text = with_dom0(cmds)
    for name, c in cmds:
        print("== %s: %s" % (name, shlex.quote(c)))
        print(res.get(name, ("missing", "")))
    print("took %.1f s" % (time.monotonic() - t0))
    if len(res) != len(cmds):
        print(text[-3000:])
