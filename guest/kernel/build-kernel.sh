#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Build the vxn guest kernel from Debian's linux-source-6.1, or take it from the cache.
#
# usage: build-kernel.sh [--cache DIR] [--fragment FILE] [--jobs N] [--force] OUTDIR
#        build-kernel.sh [--cache DIR] [--fragment FILE] --print-key
#        build-kernel.sh [--cache DIR] [--fragment FILE] --config-only OUTDIR
#
# Writes OUTDIR/{bzImage,vmlinux,kernel.config,kernel.build-info} (each replaced only
# when its content changed) and prints the kernel release (e.g. 6.1.192-vxn) on stdout.
# Progress goes to stderr. On failure: exit 1 with one "build-kernel: error: ..." line.
#
# Cache: ${VXN_KERNEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vxn/kernel}/<key>/ with
# bzImage, vmlinux, config, System.map, build-info. <key> is the sha256 of the
# linux-source-6.1 package version, the fragment, every patch in patches/ and this
# script. An entry appears only complete (built in <cache>/.build-*, renamed into place);
# the 1.7 GB build tree is deleted afterwards. --force rebuilds an existing entry.
# --config-only stops after the checked config (about 1 min) and writes only
# OUTDIR/kernel.config: the quick way to try a fragment change.
# doc/guest-kernel.md describes it all.
set -euo pipefail

prog=build-kernel
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
self=$here/$(basename "${BASH_SOURCE[0]}")
src_pkg=linux-source-6.1
src_tar=/usr/src/$src_pkg.tar.xz
min_free_kib=$((2600 * 1024)) # tree 1.7 GB + unpack slack

die() {
	echo "$prog: error: $*" >&2
	exit 1
}
say() { echo "kernel: $*" >&2; }
usage() { # exit code
	sed -n 's/^# usage: /usage: /p; s/^#        build-kernel/       build-kernel/p' "$self" >&"$(($1 ? 2 : 1))"
	exit "$1"
}

cache=${VXN_KERNEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vxn/kernel}
frag=$here/vxn-guest.config
jobs=$(nproc)
force=
print_key=
config_only=
outdir=
while [ $# -gt 0 ]; do
	case $1 in
	--cache) [ $# -ge 2 ] || usage 2; cache=$2; shift 2 ;;
	--cache=*) cache=${1#*=}; shift ;;
	--fragment) [ $# -ge 2 ] || usage 2; frag=$2; shift 2 ;;
	--fragment=*) frag=${1#*=}; shift ;;
	--jobs | -j) [ $# -ge 2 ] || usage 2; jobs=$2; shift 2 ;;
	--jobs=*) jobs=${1#*=}; shift ;;
	--force) force=1; shift ;;
	--print-key) print_key=1; shift ;;
	--config-only) config_only=1; shift ;;
	-h | --help) usage 0 ;;
	--) shift; break ;;
	-*) die "unknown option '$1' (see --help)" ;;
	*) break ;;
	esac
done
if [ -z "$print_key" ]; then
	[ $# -eq 1 ] || usage 2
	outdir=$1
else
	[ $# -eq 0 ] || usage 2
fi
[[ $jobs =~ ^[1-9][0-9]*$ ]] || die "--jobs wants a positive number, got '$jobs'"
[ -f "$frag" ] || die "config fragment '$frag' not found"
frag=$(cd "$(dirname "$frag")" && pwd)/$(basename "$frag")

# --- inputs and cache key ---
src_ver=$(dpkg-query -W -f='${db:Status-Status} ${Version}' "$src_pkg" 2>/dev/null || true)
case $src_ver in
"installed "*) src_ver=${src_ver#installed } ;;
*) die "package $src_pkg is not installed: apt-get install $src_pkg" ;;
esac
[ -f "$src_tar" ] || die "$src_tar missing although $src_pkg is installed: apt-get install --reinstall $src_pkg"

shopt -s nullglob
patches=("$here"/patches/*.patch)
shopt -u nullglob

sha() { sha256sum <"$1" | cut -d' ' -f1; }
key_input() {
	echo "vxn-guest-kernel"
	echo "$src_pkg $src_ver"
	echo "fragment $(sha "$frag")"
	local p
	for p in "${patches[@]}"; do
		echo "patch $(basename "$p") $(sha "$p")"
	done
	echo "script $(sha "$self")"
}
key=$(key_input | sha256sum | cut -d' ' -f1)
if [ -n "$print_key" ]; then
	echo "$key"
	exit 0
fi

mkdir -p "$cache" || die "cannot create cache directory '$cache'"
cache=$(cd "$cache" && pwd)
entry=$cache/$key

# OUTDIR/name <- file, replaced (atomically) only when the content differs, so the
# output's mtime changes exactly when the kernel does (ninja and make see real changes).
publish() { # src dst
	cmp -s "$1" "$2" && return 0
	if ! { cp "$1" "$2.tmp.$$" && mv -f "$2.tmp.$$" "$2"; }; then
		rm -f "$2.tmp.$$"
		die "cannot write '$2'"
	fi
}
deliver() {
	mkdir -p "$outdir" || die "cannot create output directory '$outdir'"
	publish "$entry/bzImage" "$outdir/bzImage"
	publish "$entry/vmlinux" "$outdir/vmlinux"
	publish "$entry/config" "$outdir/kernel.config"
	publish "$entry/build-info" "$outdir/kernel.build-info"
	sed -n 's/^release=//p' "$entry/build-info"
}
complete() { [ -f "$entry/bzImage" ] && [ -f "$entry/vmlinux" ] && [ -f "$entry/config" ] && [ -f "$entry/build-info" ]; }

# Serialise builds (2 cores: one kernel build at a time is the right amount anyway);
# the lock holder also removes what an interrupted build left behind.
clean_stale() {
	local d
	for d in "$cache"/.build-* "$cache"/*.old.*; do
		[ -e "$d" ] || continue
		say "removing stale build directory $d"
		rm -rf "$d"
	done
}

if [ -z "$force$config_only" ] && complete; then
	# Clean up only if nobody is building; a read-only cache is fine for a hit.
	if { exec 9>>"$cache/.lock"; } 2>/dev/null && flock -n 9; then
		clean_stale
	fi
	exec 9>&-
	say "cached $key"
	deliver
	exit 0
fi

exec 9>>"$cache/.lock" || die "cannot open lock file '$cache/.lock'"
if ! flock -n 9; then
	say "waiting for another kernel build (lock $cache/.lock)"
	flock 9
fi
clean_stale
if [ -z "$force$config_only" ] && complete; then
	say "cached $key (built by a concurrent run)"
	deliver
	exit 0
fi

# --- preflight: tools and space, so a missing one fails now and not after 3 minutes ---
need() { # command package
	command -v "$1" >/dev/null 2>&1 || die "'$1' not found: apt-get install $2"
}
need make make
need gcc gcc
need ld binutils
need bc bc
need bison bison
need flex flex
need perl perl
need xz xz-utils
need lz4 lz4
need patch patch
need flock util-linux
need setsid util-linux
[ -f /usr/include/gelf.h ] || die "libelf headers not found (objtool needs them): apt-get install libelf-dev"
[ -f /usr/include/openssl/opensslv.h ] || die "OpenSSL headers not found: apt-get install libssl-dev"
free_kib=$(df -Pk "$cache" | awk 'NR == 2 { print $4 }')
[ "${free_kib:-0}" -ge "$min_free_kib" ] ||
	die "need about $((min_free_kib / 1024)) MiB free in $cache for the build tree, have $((${free_kib:-0} / 1024)) MiB"

# --- build in a temporary directory inside the cache ---
tmp=$(mktemp -d "$cache/.build-$key.XXXXXX")
child=
stop_child() {
	if [ -n "$child" ]; then
		kill -TERM -- "-$child" 2>/dev/null || true
		wait "$child" 2>/dev/null || true
		child=
	fi
}
cleanup() {
	stop_child
	[ -z "$tmp" ] || rm -rf "$tmp"
}
trap cleanup EXIT
trap 'trap - INT TERM HUP; say "interrupted, removing the partial build"; exit 130' INT TERM HUP

log=$tmp/build.log
src=$tmp/$src_pkg
fail_log() { # message: keep the log outside the doomed temp dir, show its tail
	local kept=$cache/failed-$key.log
	cp "$log" "$kept" 2>/dev/null || kept=$log
	tail -n 25 "$log" >&2 || true
	die "$1 (full log: $kept)"
}
# Long steps run in their own process group so an interrupt stops them at once (bash
# runs traps only after a foreground command ends; it does interrupt `wait`).
run() { # description command...
	local desc=$1 rc=0
	shift
	echo "### $desc: $*" >>"$log"
	setsid "$@" >>"$log" 2>&1 </dev/null &
	child=$!
	wait "$child" || rc=$?
	child=
	[ $rc -eq 0 ] || fail_log "$desc failed (exit $rc)"
}

# Keep the host's build environment out of the kernel build.
unset ARCH SUBARCH CROSS_COMPILE LLVM LLVM_IAS CC HOSTCC KCFLAGS KCPPFLAGS KAFLAGS KRUSTFLAGS \
	KBUILD_OUTPUT KBUILD_EXTMOD KBUILD_DEFCONFIG KCONFIG_CONFIG KCONFIG_ALLCONFIG LOCALVERSION \
	INSTALL_PATH INSTALL_MOD_PATH MAKEFLAGS MFLAGS MAKELEVEL MAKEFILES O V W C M
export LC_ALL=C
export KBUILD_BUILD_USER=vxn KBUILD_BUILD_HOST=vxn KBUILD_BUILD_VERSION=1
KBUILD_BUILD_TIMESTAMP=$(date -u -d "@$(stat -c %Y "$src_tar")" '+%Y-%m-%d %H:%M:%S UTC')
export KBUILD_BUILD_TIMESTAMP
km=(make -C "$src" ARCH=x86_64)

t0=$(date +%s)
if [ -n "$config_only" ]; then
	say "configuring $key: $src_pkg $src_ver, ${#patches[@]} patches (config only)"
else
	say "building $key: $src_pkg $src_ver, ${#patches[@]} patches, make -j$jobs (about 5 min on 2 cores)"
fi
say "  fragment $frag"
say "  work dir $tmp"

run "unpack $src_tar" tar -xJf "$src_tar" -C "$tmp" --no-same-owner
[ -f "$src/Makefile" ] || die "$src_tar did not unpack to $src_pkg/"

for p in "${patches[@]}"; do
	run "patch $(basename "$p")" patch -d "$src" -p1 -N --batch -i "$p"
done

# tinyconfig, then the fragment through scripts/config, then olddefconfig.
run "make tinyconfig" "${km[@]}" -s tinyconfig
cfg_args=()
symbols=()
lineno=0
while IFS= read -r line || [ -n "$line" ]; do
	lineno=$((lineno + 1))
	line=${line%$'\r'}
	s=
	case $line in
	"# CONFIG_"*" is not set")
		s=${line#\# CONFIG_}
		s=${s%% is not set}
		cfg_args+=(-d "$s")
		;;
	"" | \#*) continue ;;
	CONFIG_*=m) die "fragment $frag:$lineno: '$line': modules are off, use =y" ;;
	CONFIG_*=*)
		s=${line%%=*}
		s=${s#CONFIG_}
		v=${line#*=}
		case $v in
		y) cfg_args+=(-e "$s") ;;
		n) cfg_args+=(-d "$s") ;;
		\"*\") v=${v#\"} && cfg_args+=(--set-str "$s" "${v%\"}") ;;
		*) cfg_args+=(--set-val "$s" "$v") ;;
		esac
		;;
	*) die "fragment $frag:$lineno: cannot parse '$line'" ;;
	esac
	[[ $s =~ ^[A-Za-z0-9_]+$ ]] || die "fragment $frag:$lineno: bad symbol name in '$line'"
	symbols+=("$s")
done <"$frag"
[ ${#symbols[@]} -gt 0 ] || die "fragment $frag has no CONFIG_ lines"

# A symbol Kconfig does not know would be dropped silently (or, for "is not set", pass
# the check vacuously): refuse it by name.
find "$src" -name 'Kconfig*' -type f -exec sed -nE 's/^[[:space:]]*(menu)?config[[:space:]]+([A-Za-z0-9_]+).*/\2/p' {} + |
	sort -u >"$tmp/kconfig-symbols"
unknown=$(printf '%s\n' "${symbols[@]}" | sort -u | comm -23 - "$tmp/kconfig-symbols" | tr '\n' ' ')
[ -z "$unknown" ] || die "fragment $frag: not Kconfig symbols in $src_pkg $src_ver: ${unknown% }"

run "apply fragment" "$src/scripts/config" --file "$src/.config" "${cfg_args[@]}"
run "make olddefconfig" "${km[@]}" -s olddefconfig

# Every fragment line must have survived olddefconfig (a missing dependency turns an
# option off without a word).
bad=()
while IFS= read -r line || [ -n "$line" ]; do
	line=${line%$'\r'}
	case $line in
	"# CONFIG_"*" is not set" | CONFIG_*=n)
		s=${line#\# } s=${s%% is not set} s=${s%=n}
		! grep -q "^$s=" "$src/.config" || bad+=("$line (have: $(grep "^$s=" "$src/.config"))")
		;;
	CONFIG_*=*)
		grep -qxF -- "$line" "$src/.config" ||
			bad+=("$line (have: $(grep "^${line%%=*}=" "$src/.config" || echo "not set"))")
		;;
	esac
done <"$frag"
if [ ${#bad[@]} -gt 0 ]; then
	printf 'kernel: fragment line lost in olddefconfig: %s\n' "${bad[@]}" >&2
	cp "$src/.config" "$cache/failed-$key.config" 2>/dev/null || true
	die "${#bad[@]} fragment line(s) did not survive olddefconfig (missing dependency?); resolved config: $cache/failed-$key.config"
fi
say "config: all ${#symbols[@]} fragment options as requested"
if [ -n "$config_only" ]; then
	mkdir -p "$outdir" || die "cannot create output directory '$outdir'"
	publish "$src/.config" "$outdir/kernel.config"
	say "config only: $outdir/kernel.config ($(grep -c '=y$' "$src/.config") options =y)"
	exit 0
fi

run "make bzImage" "${km[@]}" -j"$jobs" bzImage
release=$("${km[@]}" -s kernelrelease 2>>"$log") || fail_log "make kernelrelease failed"
t1=$(date +%s)

out=$tmp/out
mkdir "$out"
cp "$src/arch/x86/boot/bzImage" "$src/vmlinux" "$src/System.map" "$out/"
cp "$src/.config" "$out/config"
{
	echo "release=$release"
	echo "key=$key"
	echo "source=$src_pkg $src_ver"
	echo "fragment=$(basename "$frag") $(sha "$frag")"
	for p in "${patches[@]}"; do
		echo "patch=$(basename "$p") $(sha "$p")"
	done
	echo "compiler=$(gcc --version | head -n 1)"
	echo "built=$(date -u '+%Y-%m-%dT%H:%M:%SZ')"
	echo "build_seconds=$((t1 - t0))"
	echo "jobs=$jobs"
} >"$out/build-info"
sync "$out"/* "$out"

# Publish: an entry appears only complete. Under the lock, so nothing else writes $entry.
if [ -e "$entry" ]; then
	rm -rf "$entry.old.$$"
	mv -T "$entry" "$entry.old.$$"
fi
mv -T "$out" "$entry" || die "cannot move the finished build to $entry"
sync "$cache"
rm -rf "$entry.old.$$"
rm -f "$cache/failed-$key.log" "$cache/failed-$key.config"
say "built $release in $((t1 - t0)) s: $entry ($(du -sh "$tmp" | cut -f1) build tree removed)"
rm -rf "$tmp"
tmp=
deliver
