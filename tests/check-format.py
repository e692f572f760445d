#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Fail if any tracked C source is not formatted as .clang-format says.

usage: check-format.py CLANG_FORMAT SOURCE_ROOT
"""
import os
import subprocess
import sys

clang_format, root = sys.argv[1], sys.argv[2]
files = []
for top in ("include", "libvxn", "tools", "guest", "tests", "bindings", "bench", "doc"):
    for d, _, names in os.walk(os.path.join(root, top)):
        files += [os.path.join(d, n) for n in names if n.endswith((".c", ".h"))]
bad = []
for f in sorted(files):
    r = subprocess.run([clang_format, "--dry-run", "-Werror", f], capture_output=True)
    if r.returncode != 0:
        bad.append(os.path.relpath(f, root))
for f in bad:
    print("not clang-formatted: " + f)
print("%d passed, %d failed" % (len(files) - len(bad), len(bad)))
sys.exit(1 if bad else 0)
