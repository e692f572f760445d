#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Check that libvxn.so exports exactly the names listed in libvxn.sym.

usage: check-symbols.py LIBVXN_SO LIBVXN_SYM
"""
import re
import subprocess
import sys

lib, symfile = sys.argv[1], sys.argv[2]
text = open(symfile).read()
text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
listed = set()
for block in re.findall(r"global:(.*?)(?:local:|\})", text, flags=re.S):
    listed.update(s.strip() for s in block.split(";") if s.strip())
out = subprocess.run(["nm", "-D", "--defined-only", lib], check=True,
                     capture_output=True, text=True).stdout
exported = set()
for line in out.splitlines():
    parts = line.split()
    if len(parts) < 3 or parts[1] == "A":   # version nodes are absolute symbols
        continue
    exported.add(parts[2].split("@")[0])
missing = sorted(listed - exported)
extra = sorted(exported - listed)
for s in missing:
    print("listed in libvxn.sym but not exported: " + s)
for s in extra:
    print("exported but not listed in libvxn.sym: " + s)
bad = [s for s in exported if not s.startswith("vxn_")]
for s in bad:
    print("exported name without the vxn_ prefix: " + s)
print("%d symbols checked" % len(exported))
sys.exit(1 if missing or extra or bad else 0)
