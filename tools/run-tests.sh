#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Build vxn with warnings as errors and run the whole test suite:
#   1. meson test (unit + abi + style suites)   build dir: build-test
#   2. pytest (tests/integration, Debian's /usr/bin/python3, `import vxn` from the build)
#   3. the unit suite again under AddressSanitizer + UndefinedBehaviorSanitizer (build-asan)
# Ends with one summary line per runner. Exit status: 0 only if every stage passed.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
B=${VXN_TEST_BUILD:-build-test}
A=${VXN_ASAN_BUILD:-build-asan}
fail=0
summary=()

setup() { # dir, options...
	local dir=$1
	shift
	if [ -f "$dir/build.ninja" ]; then
		meson setup --reconfigure "$dir" "$@" >/dev/null
	else
		meson setup "$dir" "$@" >/dev/null
	fi
}

meson_summary() { # label, builddir
	"$PY" - "$1" "$2/meson-logs/testlog.json" <<'PYEOF'
import json, sys
label, log = sys.argv[1], sys.argv[2]
res = [json.loads(l)["result"] for l in open(log) if l.strip()]
ok = sum(r in ("OK", "EXPECTEDFAIL") for r in res)
skip = sum(r == "SKIP" for r in res)
print("%s: %d passed, %d failed, %d skipped" % (label, ok, len(res) - ok - skip, skip))
PYEOF
}

echo "== build ($B, -Dwerror=true)"
if setup "$B" -Dwerror=true -Dpython=enabled -Dpython_interpreter="$PY" &&
	meson compile -C "$B"; then
	echo "== meson test"
	meson test -C "$B" --print-errorlogs || fail=1
	summary+=("$(meson_summary meson "$B")")
	echo "== pytest"
	VXN_BUILD_DIR="$PWD/$B" "$PY" -m pytest -p no:cacheprovider -v tests/integration 2>&1 |
		tee "$B/pytest.log"
	rc=${PIPESTATUS[0]}
	[ "$rc" -eq 0 ] || fail=1
	# pytest's own closing line ("== 24 passed in 0.6s ==")
	summary+=("$(tail -n 1 "$B/pytest.log")")
else
	fail=1
	summary+=("meson: build failed")
fi

echo "== unit suite under ASan + UBSan ($A)"
if setup "$A" -Dwerror=true -Dpython=disabled -Db_sanitize=address,undefined \
	-Db_lundef=false -Dbuildtype=debug && meson compile -C "$A"; then
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		meson test -C "$A" --suite unit --print-errorlogs || fail=1
	summary+=("$(meson_summary asan "$A")")
else
	fail=1
	summary+=("asan: build failed")
fi

echo "== summary"
printf '%s\n' "${summary[@]}"
exit $fail
