#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Install every build, run and test dependency of vxn on Debian 12 (bookworm).
# Idempotent: installs only what is missing, and runs `apt-get update` once,
# only when something has to be installed. Needs root (or sudo).
set -euo pipefail

packages=(
	# build
	build-essential meson ninja-build pkg-config swig
	libyajl-dev libarchive-dev libssl-dev
	# python binding and its tests (Debian's interpreter, not one on PATH)
	python3 python3-dev python3-pytest python3-pexpect
	# unit tests, style
	libcmocka-dev clang-format
	# tests: inspecting binaries
	binutils
	# image store: pull/push client, and the tests' registry and image tools
	skopeo docker-registry umoci busybox-static zstd
	# guest: the boot tests compare against the system cpio; QEMU backend
	cpio qemu-system-x86
	# guest kernel (guest/kernel/build-kernel.sh) and the static vxn-init
	linux-source-6.1 bc bison flex libelf-dev xz-utils lz4 patch make
	# bench/run_bench.py compares with runc; bench/rootfs_bench.py --block with erofs
	runc erofs-utils
	# Xen backend (libxenlight); the Xen test tier's Dom0 image (tests/xen/: depmod)
	libxen-dev kmod
)

missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "install-deps: all ${#packages[@]} packages present"
	exit 0
fi
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "install-deps: installing ${missing[*]}"
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	"${missing[@]}" >/dev/null
echo "install-deps: done"
