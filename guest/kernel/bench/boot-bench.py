#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Boot-time bench for guest kernels: QEMU microvm under TCG, round robin, medians.

usage: boot-bench.py [--runs N] [--logdir DIR] [--json FILE] NAME=KERNEL[::EXTRA ARGS] ...
  e.g. boot-bench.py --runs 7 plain-bz=a/bzImage plain-pvh=a/vmlinux \\
           hard-bz=b/bzImage hard-bz-nomit=b/bzImage::mitigations=off

Each run: timeout 60 qemu-system-x86_64 -M microvm,acpi=on -accel tcg -cpu max -m 512
-smp 1 -nographic -no-reboot -kernel KERNEL -initrd INITRD -append "console=ttyS0
panic=-1 tsc_early_khz=<host kHz> EXTRA". The initrd holds bench/init.c (built here
with gcc -static) and /dev/console. Times are wall seconds from QEMU start to the first
kernel line, to "VXN-BENCH init" (the /init marker) and to QEMU's exit. With
vxn_bench=1 in EXTRA the init also times a getppid() loop and fork+exit+wait.
"""
import argparse
import gzip
import io
import json
import os
import re
import select
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def cpio_newc(entries):
    """entries: (name, mode, data, rdev_major, rdev_minor) -> newc archive bytes."""
    out = io.BytesIO()
    for ino, (name, mode, data, rmaj, rmin) in enumerate(entries + [("TRAILER!!!", 0, b"", 0, 0)], 1):
        nameb = name.encode() + b"\0"
        hdr = "070701" + "".join(f"{v:08x}" for v in (
            ino, mode, 0, 0, 1, 0, len(data), 0, 0, rmaj, rmin, len(nameb), 0))
        out.write(hdr.encode() + nameb)
        out.write(b"\0" * (-(110 + len(nameb)) % 4))
        out.write(data)
        out.write(b"\0" * (-len(data) % 4))
    return out.getvalue()


def make_initrd(path):
    with tempfile.TemporaryDirectory() as d:
        init = os.path.join(d, "init")
        subprocess.run(["gcc", "-static", "-O2", "-Wall", "-Werror", "-o", init,
                        os.path.join(HERE, "init.c")], check=True)
        data = open(init, "rb").read()
    entries = [("dev", 0o040755, b"", 0, 0), ("dev/console", 0o020600, b"", 5, 1),
               ("proc", 0o040755, b"", 0, 0), ("sys", 0o040755, b"", 0, 0),
               ("init", 0o100755, data, 0, 0)]
    with open(path, "wb") as f:
        f.write(gzip.compress(cpio_newc(entries), 9))


def host_khz():
    for line in open("/proc/cpuinfo"):
        if line.startswith("cpu MHz"):
            return int(float(line.split(":")[1]) * 1000)
    raise SystemExit("boot-bench: no 'cpu MHz' in /proc/cpuinfo")


def boot(kernel, initrd, append, log):
    cmd = ["timeout", "60", "qemu-system-x86_64", "-M", "microvm,acpi=on", "-accel", "tcg",
           "-cpu", "max", "-m", "512", "-smp", "1", "-nographic", "-no-reboot",
           "-kernel", kernel, "-initrd", initrd, "-append", append]
    r = {"first": None, "marker": None, "exit": None, "rc": None, "uptime": None,
         "syscall_ns": None, "fork_us": None, "vuln": []}
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    buf = b""
    with open(log, "w") as lf:
        while True:
            left = 70 - (time.monotonic() - t0)
            if left <= 0:
                p.kill()
                break
            if not select.select([p.stdout], [], [], left)[0]:
                continue
            chunk = os.read(p.stdout.fileno(), 65536)
            now = time.monotonic() - t0
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf:
                raw, buf = buf.split(b"\n", 1)
                line = raw.decode(errors="replace").rstrip("\r")
                lf.write(f"[{now:8.3f}] {line}\n")
                if r["first"] is None and "Linux version" in line:
                    r["first"] = now
                if r["marker"] is None and "VXN-BENCH init" in line:
                    r["marker"] = now
                    m = re.search(r"uptime=([0-9.]+)", line)
                    r["uptime"] = float(m.group(1)) if m else None
                m = re.search(r"syscall_ns=(\d+) fork_us=(\d+)", line)
                if m:
                    r["syscall_ns"], r["fork_us"] = int(m.group(1)), int(m.group(2))
                if "VXN-BENCH vuln " in line:
                    r["vuln"].append(line.split("VXN-BENCH vuln ", 1)[1])
        r["rc"] = p.wait()
        r["exit"] = time.monotonic() - t0
        lf.write(f"BENCH rc={r['rc']} exit={r['exit']:.3f}\n")
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--logdir", default=None)
    ap.add_argument("--json", default=None)
    ap.add_argument("specs", nargs="+", metavar="NAME=KERNEL[::EXTRA]")
    a = ap.parse_args()
    specs = []
    for s in a.specs:
        name, _, rest = s.partition("=")
        kernel, _, extra = rest.partition("::")
        if not name or not os.path.isfile(kernel):
            raise SystemExit(f"boot-bench: bad spec '{s}' (kernel must exist)")
        specs.append((name, kernel, extra))
    logdir = a.logdir or tempfile.mkdtemp(prefix="boot-bench.")
    os.makedirs(logdir, exist_ok=True)
    initrd = os.path.join(logdir, "initrd.cpio.gz")
    make_initrd(initrd)
    khz = host_khz()
    results = {name: [] for name, _, _ in specs}
    for i in range(1, a.runs + 1):
        for name, kernel, extra in specs:
            append = f"console=ttyS0 panic=-1 tsc_early_khz={khz} {extra}".strip()
            r = boot(kernel, initrd, append, os.path.join(logdir, f"{name}-{i}.log"))
            results[name].append(r)
            fmt = lambda v: "none" if v is None else f"{v:.3f}"
            micro = f" syscall={r['syscall_ns']}ns fork={r['fork_us']}us" if r["syscall_ns"] else ""
            print(f"{name:18} run {i}  first={fmt(r['first'])}  marker={fmt(r['marker'])}"
                  f"  exit={fmt(r['exit'])}  uptime={r['uptime']}  rc={r['rc']}{micro}", flush=True)

    def col(rs, k):
        return [r[k] for r in rs if r[k] is not None]

    def med(v, f="{:.3f}"):
        return f.format(statistics.median(v)) if v else "n/a"

    print(f"\n{'config':18} {'n':>2} {'first':>6} {'marker':>7} {'exit':>6} {'uptime':>6}"
          f" {'syscall_ns':>10} {'fork_us':>7}  marker min-max")
    for name, _, _ in specs:
        rs = results[name]
        m = col(rs, "marker")
        bad = sum(1 for r in rs if r["rc"] != 0 or r["marker"] is None)
        rng = f"{min(m):.3f}-{max(m):.3f}" if m else "n/a"
        print(f"{name:18} {len(m):>2} {med(col(rs, 'first')):>6} {med(m):>7}"
              f" {med(col(rs, 'exit')):>6} {med(col(rs, 'uptime'), '{:.2f}'):>6}"
              f" {med(col(rs, 'syscall_ns'), '{:.0f}'):>10} {med(col(rs, 'fork_us'), '{:.0f}'):>7}"
              f"  {rng}{'  FAILED RUNS: %d' % bad if bad else ''}")
    vulns = {name: results[name][0]["vuln"] for name, _, _ in specs if results[name][0]["vuln"]}
    for name, v in vulns.items():
        print(f"\n{name}: CPU vulnerabilities as the guest kernel reports them")
        for line in v:
            print(f"  {line}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"host_khz": khz, "runs": a.runs,
                       "specs": [{"name": n, "kernel": k, "extra": e} for n, k, e in specs],
                       "results": results}, f, indent=1)
    print(f"\nlogs: {logdir}")
    sys.exit(1 if any(r["rc"] != 0 or r["marker"] is None
                      for rs in results.values() for r in rs) else 0)


if __name__ == "__main__":
    main()
