#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Benchmark: import + unpack of a ~200 MB, 5-layer image.

vxn (`vxn.ImageStore.load` of an OCI layout, then `rootfs()` which unpacks
every layer with verification) side by side with the reference path
`skopeo copy oci:SRC oci:DST` + `umoci unpack`, on the same image, in the same
run, alternating, several rounds. Prints each time, the medians and the ratio
(vxn / skopeo+umoci; below 1.0 means vxn is faster).

usage: VXN_BUILD_DIR=build /usr/bin/python3 bench/image_unpack.py [--rounds N] [--mb 200]
"""
import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BUILD = os.path.abspath(os.environ.get("VXN_BUILD_DIR", os.path.join(ROOT, "build")))
sys.path.insert(0, os.path.join(BUILD, "bindings", "python"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

import imagebuild as ib  # noqa: E402
import vxn  # noqa: E402


def make_layer(rng, index, mb):
    """A layer like a real one: many small and medium files, half compressible text."""
    entries = [ib.Dir("l%d" % index)]
    left = mb << 20
    n = 0
    words = [b"lorem", b"ipsum", b"vxn", b"container", b"kernel", b"layer", b"\n"]
    while left > 0:
        size = min(left, rng.choice([512, 4096, 16384, 65536, 262144, 1 << 20]))
        if n % 2:
            data = rng.randbytes(size)
        else:
            data = b" ".join(rng.choice(words) for _ in range(size // 5))[:size]
        d = "l%d/d%d" % (index, n // 64)
        if n % 64 == 0:
            entries.append(ib.Dir(d))
        entries.append(ib.File("%s/f%d" % (d, n), data, mode=0o644))
        left -= size
        n += 1
    return ib.Layer(entries, "gzip", comment="bench layer %d" % index)


def timed(fn):
    t = time.monotonic()
    fn()
    return time.monotonic() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--mb", type=int, default=200)
    args = ap.parse_args()
    for tool in ("skopeo", "umoci"):
        if not shutil.which(tool):
            sys.exit("bench: %s is not installed" % tool)
    work = tempfile.mkdtemp(prefix="vxn-bench-unpack-", dir="/var/tmp")
    try:
        rng = random.Random(42)
        t0 = time.monotonic()
        layers = [make_layer(rng, i, args.mb // 5) for i in range(5)]
        img = ib.Image(layers, config={"Cmd": ["/bin/sh"]})
        layout = os.path.join(work, "src")
        img.write_layout(layout, "bench")
        blob_mb = sum(l.size for l in layers) / 1e6
        raw_mb = sum(len(l.tar) for l in layers) / 1e6
        print("image: 5 layers, %.0f MB uncompressed tar, %.0f MB gzip, built in %.1f s"
              % (raw_mb, blob_mb, time.monotonic() - t0))

        def run_vxn(i):
            data = os.path.join(work, "vxn-%d" % i)
            ctx = vxn.Context(flags=vxn.NO_CONFIG_FILE | vxn.NO_ENV, data_root=data,
                              state_root=data + "-state")
            store = vxn.ImageStore(ctx)
            store.load(layout, name="bench:1")
            store.rootfs("bench:1")
            return data

        def run_umoci(i):
            dst = os.path.join(work, "umoci-%d" % i)
            os.makedirs(dst)
            subprocess.run(["skopeo", "copy", "-q", "oci:%s:bench" % layout,
                            "oci:%s/oci:bench" % dst], check=True)
            subprocess.run(["umoci", "unpack", "--image", "%s/oci:bench" % dst,
                            "%s/bundle" % dst], check=True, stdout=subprocess.DEVNULL)
            return dst

        times = {"vxn": [], "skopeo+umoci": []}
        for i in range(args.rounds):
            for name, fn in (("vxn", run_vxn), ("skopeo+umoci", run_umoci)):
                subprocess.run(["sync"])
                holder = {}
                t = timed(lambda: holder.setdefault("d", fn(i)))
                times[name].append(t)
                print("round %d  %-13s %6.2f s" % (i + 1, name, t))
                shutil.rmtree(holder["d"], ignore_errors=True)
                shutil.rmtree(holder["d"] + "-state", ignore_errors=True)
        mv = statistics.median(times["vxn"])
        mu = statistics.median(times["skopeo+umoci"])
        print("median  vxn %.2f s   skopeo+umoci %.2f s   ratio vxn/umoci %.2f  (%.1f MB/s vs %.1f MB/s of tar)"
              % (mv, mu, mv / mu, raw_mb / mv, raw_mb / mu))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
