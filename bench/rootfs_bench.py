#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""What carrying the image in the initramfs costs, by image size.

usage: VXN_BUILD_DIR=build /usr/bin/python3 bench/rootfs_bench.py [--rounds N] [--sizes MB,...]

For busybox plus N MB of incompressible data (N in --sizes), with the default guest
memory (256 MiB): the first run (builds the image's guest archive), the median of cold
`vdkr run --rm IMG true` (archive cached), the time to vxn-init's READY as the guest
reports it (ready_ms), and the guest's MemAvailable while the container runs. The
per-MB slope of the run time and of the memory is what a block-device root (read-only
image on a virtio/Xen disk + tmpfs overlay) would save; doc/benchmarks.md records the
numbers and the decision.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.abspath(os.environ.get("VXN_BUILD_DIR", os.path.join(ROOT, "build")))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import imagebuild as ib  # noqa: E402

VDKR = os.path.join(BUILD, "tools", "vdkr")


def run(env, *args, debug=False):
    t0 = time.monotonic()
    p = subprocess.run([VDKR] + (["-D"] if debug else []) + ["run", "--rm", *args], env=env,
                       capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        raise SystemExit("vdkr run failed: %s" % p.stderr)
    return time.monotonic() - t0, p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--sizes", default="0,50,100")
    a = ap.parse_args()
    sizes = [int(s) for s in a.sizes.split(",")]
    top = tempfile.mkdtemp(prefix="vxn-rootfs-bench-")
    env = dict(os.environ, VXN_STATE_ROOT=top + "/state", VXN_DATA_ROOT=top + "/data",
               VXN_LOG_ROOT=top + "/log",
               VXN_KERNEL=os.path.join(BUILD, "guest", "kernel", "bzImage"),
               VXN_INITRAMFS=os.path.join(BUILD, "guest", "vxn-initramfs.cpio"))
    env.pop("VXN_CONFIG", None)
    rows = []
    for mb in sizes:
        layers = [ib.busybox_layer()]
        if mb:
            layers.append(ib.Layer([ib.Dir("data"), ib.File("data/blob", os.urandom(mb << 20))]))
        img = ib.Image(layers, config={"Cmd": ["/bin/sh"], "Env": [ib.PATH_ENV]})
        name = "size%d:latest" % mb
        archive = os.path.join(top, "size%d.tar" % mb)
        img.write_docker_archive(archive, [name])
        subprocess.run([VDKR, "load", "-i", archive], env=env, check=True, capture_output=True)
        os.unlink(archive)
        first, _ = run(env, name, "true")
        times, ready = [], []
        for _ in range(a.rounds):
            t, p = run(env, name, "true", debug=True)
            times.append(t)
            m = re.search(r"ready_ms=(\d+)", p.stderr)
            if m:
                ready.append(int(m.group(1)) / 1000)
        _, p = run(env, name, "sh", "-c", "grep MemAvailable /proc/meminfo")
        avail = int(p.stdout.split()[1]) // 1024
        cpio = [f for f in os.listdir(os.path.join(top, "data", "images", "initrd"))]
        rows.append((mb, first, statistics.median(times), statistics.median(ready)
                     if ready else float("nan"), avail))
        print("%4d MB: first run %.2f s, cold run median %.3f s, ready %.3f s, "
              "MemAvailable %d MiB (%d archives cached)" % (rows[-1] + (len(cpio),)),
              flush=True)
    base = rows[0]
    for mb, first, med, rdy, avail in rows[1:]:
        d = mb - base[0]
        print("slope %d->%d MB: run +%.1f ms/MB, ready +%.1f ms/MB, memory %.2f MiB/MB" % (
            base[0], mb, (med - base[2]) * 1000 / d, (rdy - base[3]) * 1000 / d,
            (base[4] - avail) / d))
    subprocess.run(["rm", "-rf", top])


if __name__ == "__main__":
    main()
