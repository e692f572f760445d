#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Build (or take from the cache) what the Xen test tier boots inside QEMU: Debian's Xen
# 4.17 hypervisor, Debian's generic 6.1 kernel as a PV Dom0, and a Dom0 base initramfs
# with the Xen toolstack. Nothing is installed on this host: the packages are fetched
# with `apt-get download` and unpacked with `dpkg -x` (installing xen-utils would pull a
# hypervisor and grub hooks that write to /boot).
#
# usage: dom0-image.sh [--cache DIR] [--print-dir]
#
# Prints the cache entry's directory, which holds:
#   xen          the hypervisor, gunzipped (QEMU's multiboot loader takes no .gz)
#   vmlinuz      the Dom0 kernel (generic: the cloud kernel has no Dom0 support)
#   dom0.cpio    the Dom0 base initramfs: busybox, xl/xenstored/xenconsoled and their
#                libraries (ldd closure, plus libgcc_s), the Dom0 modules, /init
#   info         package versions
# The entry is keyed by the package versions and this script and init-dom0.sh; it is
# built in a temp dir and renamed into place, so it is complete or absent. The vxn
# payload (tools, library, guest kernel, test commands) is not in it: the harness
# appends its own newc archive at boot (Linux unpacks concatenated archives).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${VXN_XEN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vxn/xen}
print_dir=
while [ $# -gt 0 ]; do
	case $1 in
	--cache) cache=$2; shift 2 ;;
	--print-dir) print_dir=1; shift ;;
	*) echo "dom0-image: error: unknown argument '$1'" >&2; exit 2 ;;
	esac
done
die() { echo "dom0-image: error: $*" >&2; exit 1; }
say() { echo "dom0-image: $*" >&2; }

kabi=$(apt-cache depends linux-image-amd64 2>/dev/null |
	sed -n 's/.*Depends: linux-image-\(.*\)-amd64$/\1/p' | head -1)
[ -n "$kabi" ] || die "cannot find the linux-image-amd64 kernel ABI (apt-cache)"
kpkg=linux-image-$kabi-amd64
pkgs=("$kpkg" xen-hypervisor-4.17-amd64 xen-utils-4.17 xen-utils-common xenstore-utils)
versions=
for p in "${pkgs[@]}"; do
	v=$(apt-cache policy "$p" | sed -n 's/^  Candidate: //p')
	[ -n "$v" ] && [ "$v" != "(none)" ] || die "package $p is not available from apt"
	versions+="$p=$v"$'\n'
done
key=$( { printf '%s' "$versions"; cat "${BASH_SOURCE[0]}" "$here/init-dom0.sh"; } |
	sha256sum | cut -c1-16)
entry=$cache/$key
if [ -f "$entry/dom0.cpio" ]; then
	[ -n "$print_dir" ] || say "cached $entry"
	echo "$entry"
	exit 0
fi

mkdir -p "$cache"
work=$(mktemp -d "$cache/.build-XXXXXX")
trap 'rm -rf "$work"' EXIT
say "building $entry (${pkgs[*]})"
mkdir "$work/debs"
(cd "$work/debs" && timeout 600 apt-get download "${pkgs[@]}" >/dev/null 2>&1) ||
	die "apt-get download ${pkgs[*]} failed"
mkdir "$work/x"
for d in "$work"/debs/*.deb; do dpkg -x "$d" "$work/x"; done
out=$work/out
mkdir "$out"
zcat "$work"/x/boot/xen-4.17-amd64.gz > "$out/xen"
cp "$work/x/boot/vmlinuz-$kabi-amd64" "$out/vmlinuz"
kver=$kabi-amd64
depmod -b "$work/x" "$kver"

# the Dom0 root
r=$work/root
mkdir -p "$r"/{bin,dev,proc,sys,run,tmp,etc/xen,lib/modules,lib64,usr/lib/xen-4.17/bin,usr/bin,var/lib/xen,var/log/xen}
ln -s ../run "$r/var/run" # libxl keeps its locks in /var/run/xen
cp /bin/busybox "$r/bin/busybox"
cp "$here/init-dom0.sh" "$r/init"
chmod 755 "$r/init"
for b in xl xenstored xenconsoled xenconsole xen-init-dom0 libxl-save-helper; do
	cp "$work/x/usr/lib/xen-4.17/bin/$b" "$r/usr/lib/xen-4.17/bin/"
done
for b in xenstore xenstore-read xenstore-write xenstore-ls xenstore-rm xenstore-chmod; do
	cp -P "$work/x/usr/bin/$b" "$r/usr/bin/" 2>/dev/null || true
done
: > "$r/etc/xen/xl.conf"
# shared libraries: the closure of the Xen binaries and of what vxn brings (libvxn's
# own dependencies are added by the harness from this host with the same method)
for b in "$r"/usr/lib/xen-4.17/bin/* "$r"/usr/bin/xenstore; do
	ldd "$b" 2>/dev/null | awk '$3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'
done | sort -u | while read -r lib; do
	mkdir -p "$r$(dirname "$lib")"
	cp -L "$lib" "$r$lib"
done
# glibc dlopen()s libgcc_s for pthread_cancel (xenconsole aborts without it)
mkdir -p "$r/lib/x86_64-linux-gnu"
cp -L /lib/x86_64-linux-gnu/libgcc_s.so.1 "$r/lib/x86_64-linux-gnu/"
# Dom0 modules of the generic kernel, in load order
: > "$r/etc/dom0-modules"
for m in xen-evtchn xen-privcmd xenfs xen-gntdev xen-gntalloc; do
	modprobe -d "$work/x" -S "$kver" --show-depends "$m" | while read -r kw path _; do
		[ "$kw" = insmod ] || continue
		dst=/lib/modules/$(basename "$path")
		if ! grep -qx "$dst" "$r/etc/dom0-modules"; then
			cp "$path" "$r$dst"
			echo "$dst" >> "$r/etc/dom0-modules"
		fi
	done
done
# the kernel opens /dev/console for /init before anything is mounted
mknod "$r/dev/console" c 5 1
(cd "$r" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) > "$out/dom0.cpio"
printf '%s' "$versions" > "$out/info"
rm -rf "$entry"
mv "$out" "$entry"
say "built $entry: dom0.cpio $(stat -c %s "$entry/dom0.cpio") bytes"
echo "$entry"
