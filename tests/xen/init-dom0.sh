#!/bin/busybox sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# /init of the test Dom0 (tests/xen/dom0-image.sh): bring up the Xen toolstack the
# way xencommons does (Dom0 modules, xenfs, xenstored, xen-init-dom0, xenconsoled),
# then run /vxn-test/run.sh from the payload the harness appended, and power off.
# Everything goes to the console (hvc0, which Xen routes to the serial port).
/bin/busybox --install -s /bin
export PATH=/bin:/usr/bin:/usr/sbin:/usr/lib/xen-4.17/bin:/usr/local/bin
export LD_LIBRARY_PATH=/usr/local/lib/x86_64-linux-gnu:/usr/local/lib
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mkdir -p /run/xen /run/xenstored /run/lock /var/lib/xenstored
up() { read u _ < /proc/uptime; echo "dom0-init [$u] $*"; }
up "start"
for m in $(cat /etc/dom0-modules); do insmod "$m" || up "insmod $m failed"; done
mount -t xenfs xenfs /proc/xen || up "xenfs mount failed"
xenstored --pid-file /run/xen/xenstored.pid || up "xenstored failed"
i=0
until xenstore-read -s / > /dev/null 2>&1 || [ $i -ge 100 ]; do sleep 0.1; i=$((i + 1)); done
xen-init-dom0 > /dev/null || up "xen-init-dom0 failed"
xenconsoled --pid-file=/run/xen/xenconsoled.pid --log=none || up "xenconsoled failed"
up "toolstack up: $(cat /proc/xen/capabilities)"
if [ -x /vxn-test/run.sh ]; then
	/vxn-test/run.sh
	up "run.sh exited $?"
fi
sync
poweroff -f
