#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Cold `vdkr run --rm IMG true` against its floor and against runc.

usage: VXN_BUILD_DIR=build /usr/bin/python3 bench/run_bench.py [--rounds N] [--json FILE]
                                                        [--kernel BZIMAGE]

- vxn:   `vdkr run --rm busybox true`; the image is in the store, its guest rootfs
         prepared and the KVM probe cached (the first run, which prepares them, is
         timed separately as "first run"); no VM is pre-booted.
- floor: the same kernel and the same QEMU machine and devices as vxn's debug log shows,
         with a trivial static init that powers off at once (guest/kernel/bench/init.c),
         started directly with qemu-system-x86_64.
- runc:  `runc run` of the same busybox root filesystem (a container, not a VM), for scale.

The three alternate in every round; medians are printed with the vxn/floor ratio. The
breakdown comes from `vdkr --debug run`: each debug line is stamped as it arrives
(prep: CLI start to "prepared"; vmm: to "started"; then the guest's own clock from
READY: kernel = init_ms, init = ready_ms - init_ms, and load = the rest of the time to
READY, before the guest clock started (image load, decompression); exec+run: READY to
the process's EXIT; teardown: EXIT to vdkr's exit).
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.abspath(os.environ.get("VXN_BUILD_DIR", os.path.join(ROOT, "build")))
VDKR = os.path.join(BUILD, "tools", "vdkr")
KERNEL = os.path.join(BUILD, "guest", "kernel", "bzImage")
INITRAMFS = os.path.join(BUILD, "guest", "vxn-initramfs.cpio")


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, **kw)


def setup(top):
    env = dict(os.environ, VXN_STATE_ROOT=top + "/state", VXN_DATA_ROOT=top + "/data",
               VXN_LOG_ROOT=top + "/log", VXN_KERNEL=KERNEL, VXN_INITRAMFS=INITRAMFS)
    env.pop("VXN_CONFIG", None)
    tar = sh([os.path.join(ROOT, "tools", "busybox-rootfs.sh")]).stdout
    sh([VDKR, "import", "-", "busybox"], input=tar, env=env)
    # runc bundle from the same tar
    bundle = top + "/bundle"
    os.makedirs(bundle + "/rootfs")
    sh(["tar", "-C", bundle + "/rootfs", "-xf", "-"], input=tar)
    sh(["runc", "spec", "--bundle", bundle])
    with open(bundle + "/config.json") as f:
        spec = json.load(f)
    spec["process"]["terminal"] = False
    spec["process"]["args"] = ["true"]
    with open(bundle + "/config.json", "w") as f:
        json.dump(spec, f)
    # floor initramfs: the trivial init + /dev/console
    init = top + "/floor-init"
    sh(["gcc", "-O2", "-static", "-o", init,
        os.path.join(ROOT, "guest", "kernel", "bench", "init.c")])
    fl = top + "/floor"
    os.makedirs(fl + "/dev")
    shutil.copy(init, fl + "/init")
    sh(["mknod", fl + "/dev/console", "c", "5", "1"])
    cpio = subprocess.run("cd %s && find . | cpio -o -H newc --quiet" % fl, shell=True,
                          check=True, capture_output=True).stdout
    with open(top + "/floor.cpio", "wb") as f:
        f.write(cpio)
    return env, bundle


def first_run(env):
    t = time.monotonic()
    p = subprocess.run([VDKR, "--debug", "run", "--rm", "busybox", "true"], env=env,
                       capture_output=True, text=True)
    dt = time.monotonic() - t
    assert p.returncode == 0, p.stderr
    m = re.search(r"domain: (\S*qemu-system-x86_64 .*)", p.stderr)
    return dt, m.group(1)


def floor_cmd(vxn_argv, top):
    """vxn's QEMU command line, with the floor initrd and without vxn's channels."""
    a = vxn_argv.split(" ")
    out, i = [], 0
    while i < len(a):
        w = a[i]
        if w == "-S":
            i += 1
            continue
        if w in ("-chardev", "-mon", "-device") and i + 1 < len(a) and (
                "socket" in a[i + 1] or "qmp" in a[i + 1] or "virtconsole" in a[i + 1]):
            i += 2
            continue
        if w == "-initrd":
            out += [w, top + "/floor.cpio"]
            i += 2
            continue
        if w == "-append":
            # the rest of the kernel command line runs to the next option
            j = i + 1
            while j < len(a) and not a[j].startswith("-"):
                j += 1
            tsc = [x for x in a[i + 1:j] if x.startswith("tsc_early_khz=")]
            out += [w, " ".join(["quiet", "panic=-1", "console=hvc0"] + tsc)]
            i = j
            continue
        out.append(w)
        i += 1
    return out + ["-chardev", "null,id=con", "-device", "virtconsole,chardev=con"]


def time_cmd(cmd, env=None):
    t = time.monotonic()
    p = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=120)
    dt = time.monotonic() - t
    assert p.returncode == 0, (cmd, p.returncode)
    return dt


def vxn_breakdown(env):
    t0 = time.monotonic()
    p = subprocess.Popen([VDKR, "--debug", "run", "--rm", "busybox", "true"], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, bufsize=1)
    stamps, init_ms, ready_ms = {}, None, None
    for line in p.stderr:
        t = time.monotonic() - t0
        for key, pat in (("prepared", ": prepared"), ("started", ": started"),
                         ("ready", "guest ready"), ("exit", "process exited"),
                         ("gone", ": VM gone")):
            if pat in line and key not in stamps:
                stamps[key] = t
        m = re.search(r"init_ms=(\d+) ready_ms=(\d+)", line)
        if m:
            init_ms, ready_ms = int(m.group(1)) / 1000, int(m.group(2)) / 1000
    p.wait()
    total = time.monotonic() - t0
    assert p.returncode == 0
    boot = stamps["ready"] - stamps["started"]
    return total, {
        "prep": stamps["prepared"],
        "vmm": stamps["started"] - stamps["prepared"],
        "load": boot - ready_ms,  # QEMU's load + decompression, before the guest clock
        "kernel": init_ms,
        "init": ready_ms - init_ms,
        "exec+run": stamps["exit"] - stamps["ready"],
        "teardown": total - stamps["exit"],
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--json")
    ap.add_argument("--kernel", help="guest kernel for vxn and the floor (default: the build's)")
    args = ap.parse_args()
    global KERNEL
    if args.kernel:
        KERNEL = os.path.abspath(args.kernel)
    for f in (VDKR, KERNEL, INITRAMFS):
        if not os.path.exists(f):
            sys.exit("run_bench: %s missing: build first (meson compile -C %s)" % (f, BUILD))
    if not shutil.which("runc"):
        sys.exit("run_bench: runc not found: apt-get install runc")
    top = tempfile.mkdtemp(prefix="vxn-bench-")
    try:
        env, bundle = setup(top)
        first, argv = first_run(env)
        floor = floor_cmd(argv, top)
        res = {"vxn": [], "floor": [], "runc": []}
        parts = []
        for r in range(args.rounds):
            res["floor"].append(time_cmd(floor))
            res["vxn"].append(time_cmd([VDKR, "run", "--rm", "busybox", "true"], env))
            res["runc"].append(time_cmd(["runc", "--root", top + "/runc", "run", "-b",
                                         bundle, "bench%d" % r]))
            parts.append(vxn_breakdown(env)[1])
        med = {k: statistics.median(v) for k, v in res.items()}
        print("cold run, %d rounds, medians (min-max):" % args.rounds)
        for k in ("vxn", "floor", "runc"):
            print("  %-6s %.3f s (%.3f-%.3f)" % (k, med[k], min(res[k]), max(res[k])))
        print("  first vxn run (prepares the guest rootfs, probes KVM): %.3f s" % first)
        print("  vxn/floor = %.2f   vxn/runc = %.1f" % (med["vxn"] / med["floor"],
                                                        med["vxn"] / med["runc"]))
        print("breakdown of vxn (medians):")
        for k in parts[0]:
            print("  %-9s %.3f s" % (k, statistics.median(p[k] for p in parts)))
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"runs": res, "first": first, "breakdown": parts}, f, indent=1)
    finally:
        subprocess.run(["runc", "--root", top + "/runc", "list"], capture_output=True)
        shutil.rmtree(top, ignore_errors=True)


if __name__ == "__main__":
    main()
