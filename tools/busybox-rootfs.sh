#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Write a busybox root filesystem as a tar stream on stdout (from Debian's
# busybox-static), for `vdkr import - busybox` where no registry has images:
#   ./tools/busybox-rootfs.sh | vdkr import - busybox
set -euo pipefail
bb=/bin/busybox
[ -x "$bb" ] && "$bb" --list-full >/dev/null 2>&1 ||
	{ echo "busybox-rootfs: error: $bb is not busybox-static: apt-get install busybox-static" >&2; exit 1; }
[ ! -t 1 ] || { echo "busybox-rootfs: error: refusing to write a tar stream to a terminal" >&2; exit 1; }
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,root,tmp,home,proc,sys,dev}
chmod 0755 "$root" # mktemp -d made it 0700: the image root must be traversable
chmod 1777 "$root/tmp"
chmod 0700 "$root/root"
cp "$bb" "$root/bin/busybox"
for applet in $("$bb" --list-full); do
	[ "$applet" = bin/busybox ] || ln -sf /bin/busybox "$root/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
tar -C "$root" --sort=name --mtime=@0 --numeric-owner --owner=0 --group=0 -cf - .
