#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Compile each public header alone: -std=c11 -pedantic -Werror.

usage: check-headers.py SRC_INCLUDE BUILD_INCLUDE CC [CC_ARGS...]
"""
import glob
import os
import subprocess
import sys
import tempfile

src_inc, build_inc, cc = sys.argv[1], sys.argv[2], sys.argv[3:]
headers = sorted({os.path.basename(p) for p in
                  glob.glob(os.path.join(src_inc, "vxn", "*.h")) +
                  glob.glob(os.path.join(build_inc, "vxn", "*.h"))})
if not headers:
    sys.exit("no headers found under %s" % src_inc)
failed = 0
with tempfile.TemporaryDirectory() as tmp:
    for h in headers:
        for std in ("-std=c11", "-std=c99"):
            src = os.path.join(tmp, "t.c")
            with open(src, "w") as f:
                f.write("#include <vxn/%s>\n#include <vxn/%s>\n"
                        "int main(void) { return 0; }\n" % (h, h))
            cmd = cc + [std, "-pedantic", "-Wall", "-Wextra", "-Werror", "-I" + src_inc,
                        "-I" + build_inc, "-c", src, "-o", os.path.join(tmp, "t.o")]
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode != 0:
                failed += 1
                print("FAIL %s (%s):\n%s" % (h, std, r.stderr))
print("%d passed, %d failed" % (len(headers) * 2 - failed, failed))
sys.exit(1 if failed else 0)
