# SPDX-License-Identifier: LGPL-2.1-or-later
"""Print the interpreter's first site-packages dir under PREFIX (or nothing)."""
import site
import sys

prefix = sys.argv[1].rstrip("/") + "/"
dirs = [d for d in site.getsitepackages() if d.startswith(prefix)]
print(dirs[0] if dirs else "")
