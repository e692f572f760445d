#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""What carrying the image in the initramfs costs, by image size.

usage: VXN_BUILD_DIR=build /usr/bin/python3 bench/rootfs_bench.py [--rounds N] [--sizes MB,...]
                                                           [--block]

For busybox plus N MB of incompressible data (N in --sizes), with the default guest
memory (256 MiB): the first run (builds the image's guest archive), the median of cold
`vdkr run --rm IMG true` (archive cached), the time to vxn-init's READY as the guest
reports it (ready_ms), and the guest's MemAvailable while the container runs. The
per-MB slope of the run time and of the memory is what a block-device root (read-only
image on a virtio/Xen disk + tmpfs overlay) would save; doc/benchmarks.md records the
numbers and the decision.

--block adds the alternative, measured without vxn in the way: the same kernel and QEMU
machine with a busybox /init that either finds the data in its initramfs or mounts it
from an erofs image on a virtio-blk disk (mkfs.erofs, read-only), then powers off; once
without touching the data ("true") and once reading all of it ("cat").
"""
import argparse
import os
import shutil
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
from newc import newc  # noqa: E402

VDKR = os.path.join(BUILD, "tools", "vdkr")


def run(env, *args, debug=False):
    t0 = time.monotonic()
    p = subprocess.run([VDKR] + (["-D"] if debug else []) + ["run", "--rm", *args], env=env,
                       capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        raise SystemExit("vdkr run failed: %s" % p.stderr)
    return time.monotonic() - t0, p


INIT = b"""#!/bin/busybox sh
/bin/busybox mount -t devtmpfs dev /dev
/bin/busybox mount -t proc proc /proc
case "$(/bin/busybox cat /proc/cmdline)" in *src=block*)
    /bin/busybox mount -t erofs -o ro /dev/vda /mnt && cd /mnt ;; *) cd / ;; esac
case "$(/bin/busybox cat /proc/cmdline)" in *act=cat*)
    /bin/busybox cat data/blob > /dev/null ;; esac
/bin/busybox echo BENCH-DONE
/bin/busybox poweroff -f
"""


def block_compare(top, sizes, rounds, kernel):
    bb = open("/bin/busybox", "rb").read()
    base = [("bin", 0o040755, b""), ("bin/busybox", 0o100755, bb), ("dev", 0o040755, b""),
            ("proc", 0o040755, b""), ("mnt", 0o040755, b""), ("init", 0o100755, INIT)]
    khz = 0
    for line in open("/proc/cpuinfo"):
        if line.startswith("cpu MHz"):
            khz = int(float(line.split(":")[1]) * 1000)
            break
    results = {}
    for mb in sizes:
        blob = os.urandom(mb << 20)
        ird_small = os.path.join(top, "small.cpio")
        ird_big = os.path.join(top, "big%d.cpio" % mb)
        with open(ird_small, "wb") as f:
            f.write(newc(base))
        with open(ird_big, "wb") as f:
            f.write(newc(base + [("data", 0o040755, b""), ("data/blob", 0o100644, blob)]))
        tree = os.path.join(top, "tree")
        os.makedirs(tree + "/data", exist_ok=True)
        with open(tree + "/data/blob", "wb") as f:
            f.write(blob)
        img = os.path.join(top, "img%d.erofs" % mb)
        subprocess.run(["mkfs.erofs", "--quiet", img, tree], check=True, capture_output=True)
        shutil.rmtree(tree)
        for act in ("true", "cat"):
            for src in ("initramfs", "block"):
                key = (mb, act, src)
                results[key] = []
        for _ in range(rounds):
            for act in ("true", "cat"):
                for src in ("initramfs", "block"):
                    cmd = ["qemu-system-x86_64", "-M", "microvm,acpi=on", "-accel", "tcg",
                           "-cpu", "max", "-m", "512", "-smp", "1", "-nographic",
                           "-no-reboot", "-kernel", kernel, "-initrd",
                           ird_big if src == "initramfs" else ird_small, "-append",
                           "console=ttyS0 quiet panic=-1 tsc_early_khz=%d src=%s act=%s"
                           % (khz, src, act)]
                    if src == "block":
                        cmd += ["-drive", "file=%s,if=none,id=d0,format=raw,readonly=on" % img,
                                "-device", "virtio-blk-device,drive=d0"]
                    t0 = time.monotonic()
                    p = subprocess.run(cmd, capture_output=True, timeout=120)
                    took = time.monotonic() - t0
                    if b"BENCH-DONE" not in p.stdout:
                        raise SystemExit("block bench: guest failed: %s" % p.stdout[-500:])
                    results[(mb, act, src)].append(took)
        for act in ("true", "cat"):
            a = statistics.median(results[(mb, act, "initramfs")])
            b = statistics.median(results[(mb, act, "block")])
            print("%4d MB, %-4s: initramfs %.3f s, erofs disk %.3f s, initramfs/disk %.2f"
                  % (mb, act, a, b, a / b), flush=True)
        for f in (ird_big, img):
            os.unlink(f)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--sizes", default="0,50,100")
    ap.add_argument("--block", action="store_true")
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
    if a.block:
        block_compare(top, [mb for mb in sizes if mb] or [50], a.rounds, env["VXN_KERNEL"])
    subprocess.run(["rm", "-rf", top])


if __name__ == "__main__":
    main()
