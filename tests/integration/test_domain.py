# SPDX-License-Identifier: LGPL-2.1-or-later
"""The domain and boot APIs through `import vxn`, with real VMs (QEMU, TCG here).

The host side of the guest protocol is written here in Python from
doc/guest-protocol.md: a per-container archive with a launch record and a
rootfs, READY -> START -> STDOUT/STDERR -> EXIT -> EXIT_ACK. So these tests
check vxn-init and the documented protocol independently of libvxn's session
code, and the domain lifecycle (paused, running, paused again, graceful
shutdown, kill) by what the guest did. Also: the boot deadline (a guest that
never becomes ready) and the KVM probe with a stand-in QEMU.
"""
import json
import os
import select
import shutil
import threading
import time

import pytest

import imagebuild as ib
import vxn
from newc import newc
from conftest import BUILD, Tool, qemu_pids

KERNEL = os.path.join(BUILD, "guest", "kernel", "bzImage")
INITRAMFS = os.path.join(BUILD, "guest", "vxn-initramfs.cpio")
BUSYBOX = "/bin/busybox"

pytestmark = pytest.mark.skipif(
    not (os.path.exists(KERNEL) and os.path.exists(INITRAMFS)),
    reason="the build has no guest kernel or vxn-init (-Dguest_kernel / -Dguest disabled)")

T = vxn.FRAME_TYPES


def container_archive(path, launch, extra=()):
    """The per-container archive: vxn/launch.json and a busybox rootfs."""
    with open(BUSYBOX, "rb") as f:
        busybox = f.read()
    d, r = 0o040755, "vxn/rootfs/"
    entries = [("vxn", 0o040700, b""), ("vxn/launch.json", 0o100600,
                                        json.dumps(launch).encode()),
               ("vxn/rootfs", d, b"")]
    entries += [(r + n, d, b"") for n in ("bin", "dev", "proc", "sys", "tmp", "etc")]
    entries += [(r + "bin/busybox", 0o100755, busybox), (r + "bin/sh", 0o120777, b"busybox")]
    entries += list(extra)
    with open(path, "wb") as f:
        f.write(newc(entries))
    return path


class Guest:
    """The host end of the protocol on a domain's console."""

    def __init__(self, dom):
        self.dom, self.fd = dom, dom.console_fd
        self.dec = vxn.FrameDecoder()
        self.frames, self.log = [], b""
        self.seq = 0
        self.closed = False

    def send(self, frame):
        os.write(self.fd, frame)

    def next_seq(self):
        self.seq += 1
        return self.seq

    def pump(self, timeout):
        """Read what arrives within timeout seconds (or until EOF)."""
        end = time.monotonic() + timeout
        while not self.closed:
            left = end - time.monotonic()
            if left <= 0:
                break
            r, _, _ = select.select([self.fd], [], [], left)
            if not r:
                break
            data = os.read(self.fd, 65536)
            if not data:
                self.closed = True
                events = self.dec.finish()
            else:
                events = self.dec.feed(data)
            for e in events:
                if isinstance(e, bytes):
                    self.log += e
                else:
                    self.frames.append(e)
            if data:
                return

    def wait_for(self, pred, timeout=60):
        end = time.monotonic() + timeout
        while time.monotonic() < end and not self.closed:
            for f in self.frames:
                if pred(f):
                    return f
            self.pump(min(1.0, end - time.monotonic()))
        for f in self.frames:
            if pred(f):
                return f
        raise AssertionError("no such frame; frames %r, log %r" % (
            [(f["name"], f.get("message", f["payload"][:80])) for f in self.frames],
            self.log[-500:]))

    def handshake(self):
        ready = self.wait_for(lambda f: f["type"] == T["READY"])
        self.send(vxn.frame_encode_start(self.next_seq(), vxn.PROTOCOL_VERSION))
        return ready

    def output(self, kind):
        return b"".join(f["payload"] for f in self.frames if f["type"] == T[kind])

    def ack(self):
        self.send(vxn.frame_encode(T["EXIT_ACK"], vxn.STREAM_MAIN, self.next_seq(), b""))


@pytest.fixture
def ctx(roots):
    return vxn.Context()


def boot(ctx, tmp_path, launch, name, **kw):
    archive = container_archive(str(tmp_path / "ctr.cpio"), launch)
    return vxn.Domain(ctx, KERNEL, [INITRAMFS, archive], cmdline="quiet panic=-1 vxn.proto=1",
                      name=name, memory_mib=128, **kw)


def test_frames_in_python():
    """Encoder and decoder of the binding, on the documented layout."""
    start = vxn.frame_encode_start(7, 1)
    assert start[:2] == b"\xf9\x1e" and len(start) == 28 + 4
    assert vxn.crc32c(b"123456789", 0) == 0xE3069283
    out = vxn.frame_encode(T["STDOUT"], 0, 8, b"hello\n")
    dec = vxn.FrameDecoder()
    bad = bytearray(out)
    bad[-1] ^= 0xFF  # payload checksum no longer matches: foreign bytes
    events = dec.feed(b"kernel says hi\n" + start + bytes(bad) + out[:10])
    events += dec.feed(out[10:]) + dec.finish()
    frames = [e for e in events if isinstance(e, dict)]
    foreign = b"".join(e for e in events if isinstance(e, bytes))
    assert [(f["name"], f["seq"]) for f in frames] == [("START", 7), ("STDOUT", 8)]
    assert frames[0]["version"] == 1 and frames[1]["payload"] == b"hello\n"
    assert foreign.startswith(b"kernel says hi\n") and len(foreign) == 15 + len(bad)
    with pytest.raises(ValueError):
        vxn.frame_encode(0, 0, 0, b"")
    with pytest.raises(ValueError):
        vxn.frame_encode_signal(0, 1, 0)


def test_protocol_by_hand(ctx, tmp_path):
    """A launch record written here runs exactly; streams and status come back framed."""
    launch = {"version": 1, "id": "pyproto", "hostname": "by-hand",
              "process": {"args": ["/bin/sh", "-c",
                                   'printf "[%s]" "$0" "$@"; echo; echo "$K"; pwd; '
                                   'hostname; id -u; echo oops >&2; exit 3',
                                   "a b", "", "ü\nx"],
                          "env": ["PATH=/bin", "K=v=w"], "cwd": "/tmp/new",
                          "user": {"uid": 1234, "gid": 99}}}
    dom = boot(ctx, tmp_path, launch, "vxn-pyproto")
    assert dom.state == "paused" and dom.backend == "qemu" and dom.accel in ("kvm", "tcg")
    g = Guest(dom)
    g.pump(0.5)
    assert g.frames == [] and g.log == b""  # paused: the guest has not run
    dom.start()
    assert dom.state == "running"
    ready = g.handshake()
    assert ready["version"] == 1 and "kernel=" in ready["info"]
    ex = g.wait_for(lambda f: f["type"] in (T["EXIT"], T["ERROR"]))
    assert ex["name"] == "EXIT", ex
    assert (ex["exit_code"], ex["signo"]) == (3, 0)
    assert g.output("STDOUT") == "[a b][][ü\nx]\nv=w\n/tmp/new\nby-hand\n1234\n".encode()
    assert g.output("STDERR") == b"oops\n"
    g.ack()
    dom.wait(30000)
    assert dom.state == "shutdown"
    pid = dom.pid
    dom.destroy()
    assert dom.console_fd == -1 and qemu_pids("vxn-pyproto") == [] and pid == 0


def test_bad_launch_record_is_an_error_frame(ctx, tmp_path):
    """vxn-init never hangs: a record it cannot use is ERROR (LAUNCH), then power-off."""
    dom = boot(ctx, tmp_path, {"version": 99, "process": {"args": ["/bin/true"]}}, "vxn-pybad")
    g = Guest(dom)
    dom.start()
    g.handshake()
    err = g.wait_for(lambda f: f["type"] in (T["EXIT"], T["ERROR"]))
    assert err["name"] == "ERROR" and err["stage"] == vxn.BOOT_STAGES["LAUNCH"], err
    assert "version" in err["message"]
    g.ack()
    dom.wait(30000)
    assert dom.state == "shutdown"


def test_pause_and_resume(ctx, tmp_path):
    """While paused the guest makes no progress; after resume it goes on."""
    launch = {"version": 1, "process": {"args": ["/bin/sh", "-c", "echo a; sleep 1; echo b"],
                                        "env": ["PATH=/bin"]}}
    dom = boot(ctx, tmp_path, launch, "vxn-pypause")
    g = Guest(dom)
    dom.start()
    g.handshake()
    g.wait_for(lambda f: f["type"] == T["STDOUT"] and b"a" in f["payload"])
    dom.pause()
    assert dom.state == "paused"
    g.pump(2.5)
    g.pump(0.5)
    assert g.output("STDOUT") == b"a\n"  # `sleep 1` does not end while paused
    dom.resume()
    assert dom.state == "running"
    ex = g.wait_for(lambda f: f["type"] == T["EXIT"])
    assert ex["exit_code"] == 0 and g.output("STDOUT") == b"a\nb\n"
    g.ack()
    dom.wait(30000)


def test_graceful_shutdown_sends_the_stop_signal(ctx, tmp_path):
    """shutdown() presses the power button: vxn-init signals the process (stopSignal)."""
    launch = {"version": 1, "stopSignal": 10,
              "process": {"args": ["/bin/sh", "-c",
                                   'trap "echo got USR1; exit 9" USR1; echo up; '
                                   'while :; do sleep 0.1; done'], "env": ["PATH=/bin"]}}
    dom = boot(ctx, tmp_path, launch, "vxn-pystop")
    g = Guest(dom)
    dom.start()
    g.handshake()
    g.wait_for(lambda f: f["type"] == T["STDOUT"] and b"up" in f["payload"])
    errors = []
    t = threading.Thread(target=lambda: _call(errors, dom.shutdown, 30000))
    t.start()
    ex = g.wait_for(lambda f: f["type"] == T["EXIT"])
    g.ack()
    t.join(60)
    assert not t.is_alive() and errors == []
    assert (ex["exit_code"], ex["signo"]) == (9, 0)
    assert b"got USR1" in g.output("STDOUT")
    assert dom.state == "shutdown"


def _call(errors, fn, *args):
    try:
        fn(*args)
    except Exception as e:  # reported to the test thread
        errors.append(e)


def test_kill(ctx, tmp_path):
    launch = {"version": 1, "process": {"args": ["/bin/sh", "-c", "echo up; sleep 1000"],
                                        "env": ["PATH=/bin"]}}
    dom = boot(ctx, tmp_path, launch, "vxn-pykill")
    g = Guest(dom)
    dom.start()
    g.handshake()
    g.wait_for(lambda f: f["type"] == T["STDOUT"])
    pid = dom.pid
    assert pid > 0 and os.path.exists("/proc/%d" % pid)
    dom.kill()
    assert dom.state in ("shutdown", "crashed") and dom.pid == 0
    assert not os.path.exists("/proc/%d" % pid)
    g.pump(1)
    assert g.closed
    dom.destroy()
    with pytest.raises(vxn.WrongState):
        dom.start()


def test_over_long_kernel_command_line_is_refused(ctx, tmp_path):
    """> 2047 bytes would hang the boot silently: refused before QEMU starts."""
    with pytest.raises(vxn.InvalidArgument) as e:
        vxn.Domain(ctx, KERNEL, [INITRAMFS], cmdline="x" * 2100, name="vxn-pylong")
    assert "2047" in e.value.message
    assert qemu_pids("vxn-pylong") == []


def test_domain_config_errors(ctx):
    with pytest.raises(vxn.InvalidArgument):
        vxn.Domain(ctx, "relative/bzImage")
    with pytest.raises(vxn.InvalidArgument):
        vxn.Domain(ctx, KERNEL, name="bad name")
    with pytest.raises(vxn.InvalidArgument):
        vxn.Domain(ctx, KERNEL, memory_mib=8)
    with pytest.raises(vxn.NotFound):
        vxn.Domain(ctx, "/nonexistent/bzImage")


# ---- boot deadline: a guest that never becomes ready ----
@pytest.fixture
def store_env(roots, tmp_path):
    env = dict(os.environ, VXN_KERNEL=KERNEL, VXN_INITRAMFS=INITRAMFS)
    archive = str(tmp_path / "busybox.tar")
    ib.busybox_image().write_docker_archive(archive, ["busybox:latest"])
    Tool("vdkr")("load", "-i", archive, check=0, env=env)
    return env


def no_container_files(env):
    top = os.path.join(env["VXN_STATE_ROOT"], "containers")
    return not os.path.isdir(top) or os.listdir(top) == []


def hang_initramfs(path):
    """An initramfs whose /init never speaks the protocol: it sleeps."""
    with open(BUSYBOX, "rb") as f:
        busybox = f.read()
    with open(path, "wb") as f:
        f.write(newc([("bin", 0o040755, b""), ("bin/busybox", 0o100755, busybox),
                      ("init", 0o100755, b"#!/bin/busybox sh\n/bin/busybox sleep 3600\n")]))
    return path


def test_guest_that_hangs_at_boot_is_destroyed(store_env, tmp_path):
    """An init that never sends READY: the run fails at the deadline, nothing remains."""
    hang = hang_initramfs(str(tmp_path / "hang.cpio"))
    env = dict(store_env, VXN_INITRAMFS=hang, VXN_BOOT_TIMEOUT="4")
    t0 = time.monotonic()
    p = Tool("vdkr")("run", "--rm", "--name", "hangs", "busybox", "true", env=env, timeout=60)
    took = time.monotonic() - t0
    assert p.returncode == 125, p.stderr
    assert "did not become ready within 4000 ms" in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert 4 <= took < 30
    assert qemu_pids("vxn-hangs") == []
    assert no_container_files(env)
    # and the same store runs normally afterwards
    q = Tool("vdkr")("run", "--rm", "busybox", "echo", "ok", env=store_env, timeout=120)
    assert (q.returncode, q.stdout) == (0, "ok\n"), q.stderr


# ---- the KVM probe, with a stand-in QEMU ----
STANDIN = """#!/bin/sh
# stand-in for qemu-system-x86_64. With -accel kvm it runs the real QEMU under
# TCG instead, and: hang = the guest never powers off (its initramfs is one
# whose init sleeps, as a guest stuck on a kvm_pvm host); internal = the same,
# after printing QEMU's "KVM internal error" (QEMU keeps running, as it does
# here); works = a normal boot.
mode={mode}
case " $* " in
*" -accel kvm "*)
	echo "$$" >> {pids}
	if [ "$mode" = internal ]; then
		echo "KVM internal error. Suberror: 1" >&2
		echo "emulation failure" >&2
	fi
	n=$# prev=
	for a in "$@"; do
		case $a in kvm) a=tcg ;; host) a=max ;; esac
		if [ "$prev" = -initrd ] && [ "$mode" != works ]; then a={hang}; fi
		set -- "$@" "$a"
		prev=$a
	done
	shift "$n"
	;;
esac
exec {qemu} "$@"
"""


@pytest.mark.parametrize("mode,accel,reason", [
    ("hang", "tcg", "did not power off within"),
    ("internal", "tcg", "KVM internal error"),
    ("works", "kvm", "booted and powered off under KVM"),
])
def test_kvm_probe_with_standin_qemu(store_env, tmp_path, mode, accel, reason):
    qemu = shutil.which("qemu-system-x86_64")
    pids = tmp_path / "standin.pids"
    script = tmp_path / "qemu-standin"
    script.write_text(STANDIN.format(mode=mode, pids=pids, qemu=qemu,
                                     hang=hang_initramfs(str(tmp_path / "hang.cpio"))))
    script.chmod(0o755)
    # /dev/null opens read-write like a usable /dev/kvm: the probe runs
    env = dict(store_env, VXN_QEMU=str(script), VXN_KVM_DEVICE="/dev/null",
               VXN_BOOT_TIMEOUT="20")
    info = json.loads(Tool("vdkr")("info", "--format", "json", env=env, check=0).stdout)
    assert info["Accelerator"] == accel and reason in info["AcceleratorReason"], info
    # one probe, whose QEMU is gone; the answer is cached: no probe again
    assert len(pids.read_text().split()) == 1
    p = Tool("vdkr")("-D", "run", "--rm", "busybox", "echo", "hi", env=env, timeout=120)
    assert (p.returncode, p.stdout) == (0, "hi\n"), p.stderr
    assert "-accel %s" % accel in p.stderr
    info2 = json.loads(Tool("vdkr")("info", "--format", "json", env=env, check=0).stdout)
    assert info2["Accelerator"] == accel and "cached" in info2["AcceleratorReason"]
    probes = pids.read_text().split()
    # with KVM "working" the run itself went through the stand-in's kvm path too
    assert len(probes) == (2 if mode == "works" else 1)
    for pid in probes:  # the probe QEMU (stuck or not) is gone
        assert not os.path.exists("/proc/%s" % pid)
    # without /dev/kvm there is no probe at all
    env_nokvm = dict(env, VXN_KVM_DEVICE=str(tmp_path / "no-kvm"))
    info3 = json.loads(Tool("vdkr")("info", "--format", "json", env=env_nokvm, check=0).stdout)
    assert info3["Accelerator"] == "tcg" and "No such file" in info3["AcceleratorReason"]


def test_info_reports_backend_and_accelerator(store_env):
    p = Tool("vdkr")("info", env=store_env, check=0)
    lines = dict(l.strip().split(":", 1) for l in p.stdout.splitlines() if ":" in l)
    assert lines["Backend"].strip().startswith("qemu (")
    assert lines["Accelerator"].split()[0] in ("kvm", "tcg")
    assert lines["Kernel"].strip() == KERNEL
    info = vxn.host_info(vxn.Context(kernel=KERNEL, initramfs=INITRAMFS))
    assert info["backend"] == "qemu" and info["kernel"] == KERNEL
    assert info["accel"] == lines["Accelerator"].split()[0]
