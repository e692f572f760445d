# SPDX-License-Identifier: LGPL-2.1-or-later
"""`vdkr run` / `vpdmn run`: real VMs (QEMU, TCG here) with the build tree's
guest kernel and vxn-init. Every assertion is about what the guest saw or
did: its argv, environment, cwd, identity, streams and exit status.

One store per module (the images load once); each test boots its own VMs.
"""
import glob
import hashlib
import os
import subprocess
import time

import pytest

import imagebuild as ib
from conftest import BUILD, ROOT, Tool, qemu_pids

KERNEL = os.path.join(BUILD, "guest", "kernel", "bzImage")
INITRAMFS = os.path.join(BUILD, "guest", "vxn-initramfs.cpio")

pytestmark = pytest.mark.skipif(
    not (os.path.exists(KERNEL) and os.path.exists(INITRAMFS)),
    reason="the build has no guest kernel or vxn-init (-Dguest_kernel / -Dguest disabled)")

PRINT_ARGS = 'for a in "$0" "$@"; do printf "[%s]\\n" "$a"; done'


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """Private roots with the test images loaded, as an environment for the tools."""
    top = tmp_path_factory.mktemp("run")
    e = dict(os.environ)
    for k in ("VXN_CONFIG", "VXN_LOG_LEVEL"):
        e.pop(k, None)
    e.update(VXN_STATE_ROOT=str(top / "state"), VXN_DATA_ROOT=str(top / "data"),
             VXN_LOG_ROOT=str(top / "log"), VXN_KERNEL=KERNEL, VXN_INITRAMFS=INITRAMFS)
    images = {
        "busybox:latest": ib.busybox_image(),
        "ep:latest": ib.busybox_image(config={
            "Entrypoint": ["/bin/sh", "-c", PRINT_ARGS, "ep0"], "Cmd": ["c1", "c2"],
            "Env": [ib.PATH_ENV, "FROM_IMAGE=image", "OVERRIDE=image"],
            "WorkingDir": "/srv/work", "User": "app"}),
        "nocmd:latest": ib.busybox_image(config={"Cmd": None}),
    }
    for name, img in images.items():
        archive = str(top / (name.replace(":", "_") + ".tar"))
        img.write_docker_archive(archive, [name])
        p = subprocess.run([Tool("vdkr").path, "load", "-i", archive], env=e,
                           capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr
    yield e
    # nothing of any container is left: no VM, no per-container files
    leftovers = [p for p in glob.glob(os.path.join(e["VXN_STATE_ROOT"], "**"), recursive=True)
                 if os.path.isfile(p) and "containers" in p]
    assert leftovers == []


def run(env, *args, tool="vdkr", input=None, timeout=180):
    p = subprocess.run([Tool(tool).path, "run", "--rm", *args], env=env, input=input,
                       capture_output=True, timeout=timeout)
    return p


def qemus(env):
    """QEMU processes started for this module's roots."""
    return qemu_pids(env["VXN_DATA_ROOT"])


def test_echo_hello(env):
    p = run(env, "busybox", "echo", "hello")
    assert (p.returncode, p.stdout, p.stderr) == (0, b"hello\n", b"")


def test_argv_exact(env):
    args = ["two words", "", "quote\"s", "back\\slash", "$HOME", "ünïcödé", "-n", "*"]
    p = run(env, "busybox", "/bin/sh", "-c", PRINT_ARGS, "zero", *args)
    assert p.returncode == 0, p.stderr
    assert p.stdout.decode().splitlines() == ["[%s]" % a for a in ["zero", *args]]


@pytest.mark.parametrize("script,status", [
    ("exit 0", 0), ("exit 1", 1), ("exit 3", 3), ("exit 7", 7), ("exit 255", 255),
    ("kill -9 $$", 137), ("kill -TERM $$", 143), ("kill -SEGV $$", 139),
])
def test_exit_status(env, script, status):
    p = run(env, "busybox", "sh", "-c", script)
    assert p.returncode == status, p.stderr


def test_stdout_and_stderr_are_separate(env):
    p = run(env, "busybox", "sh", "-c", "echo out; echo err >&2; echo out2")
    assert (p.returncode, p.stdout, p.stderr) == (0, b"out\nout2\n", b"err\n")


def test_binary_output_is_exact(env):
    # every byte value, including the frame magic and terminal control bytes
    p = run(env, "busybox", "sh", "-c", "i=0; while [ $i -lt 256 ]; do "
            "printf \"\\\\$(printf %o $i)\"; i=$((i+1)); done")
    assert p.returncode == 0, p.stderr
    assert p.stdout == bytes(range(256))


def test_exec_not_found(env):
    p = run(env, "busybox", "nope")
    assert p.returncode == 127
    assert p.stdout == b""
    assert p.stderr.decode().strip().splitlines() == [
        'vdkr: run: exec: "nope": executable file not found in $PATH']


def test_exec_not_executable(env):
    p = run(env, "busybox", "/etc/passwd")
    assert p.returncode == 126
    assert "permission denied" in p.stderr.decode().lower()


def test_env(env):
    p = run(env, "-e", "OVERRIDE=cli", "-e", "NEW=a=b", "--entrypoint", "env", "ep")
    assert p.returncode == 0, p.stderr
    got = dict(line.split("=", 1) for line in p.stdout.decode().splitlines())
    assert got["FROM_IMAGE"] == "image"
    assert got["OVERRIDE"] == "cli"
    assert got["NEW"] == "a=b"
    assert got["PATH"] == ib.PATH_ENV.split("=", 1)[1]
    assert got["HOME"] == "/home/app"
    assert len(got["HOSTNAME"]) == 12 and all(c in "0123456789abcdef" for c in got["HOSTNAME"])
    assert "TERM" not in got


def test_env_from_caller(env):
    e = dict(env, VXN_TEST_PASSED="from the caller")
    p = run(e, "-e", "VXN_TEST_PASSED", "-e", "VXN_TEST_UNSET", "busybox", "env")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.decode().splitlines()
    assert "VXN_TEST_PASSED=from the caller" in lines
    assert not any(l.startswith("VXN_TEST_UNSET") for l in lines)


def test_entrypoint_and_cmd(env):
    p = run(env, "ep")
    assert p.stdout.decode().splitlines() == ["[ep0]", "[c1]", "[c2]"], p.stderr
    p = run(env, "ep", "x", "y")
    assert p.stdout.decode().splitlines() == ["[ep0]", "[x]", "[y]"], p.stderr
    # --entrypoint replaces the image's and drops its Cmd
    p = run(env, "--entrypoint", "/bin/echo", "ep")
    assert (p.returncode, p.stdout) == (0, b"\n"), p.stderr
    p = run(env, "--entrypoint", "/bin/echo", "ep", "a", "b")
    assert (p.returncode, p.stdout) == (0, b"a b\n"), p.stderr


def test_no_command(env):
    p = run(env, "nocmd")
    assert p.returncode == 125
    assert p.stderr.decode().strip().splitlines() == ["vdkr: run: no command specified"]


def test_cwd(env):
    p = run(env, "busybox", "pwd")
    assert p.stdout == b"/\n", p.stderr
    # the image's WorkingDir, created when missing
    p = run(env, "--entrypoint", "/bin/pwd", "ep")
    assert p.stdout == b"/srv/work\n", p.stderr
    p = run(env, "-w", "/a/b c/d", "busybox", "sh", "-c", "pwd; ls -ld . | cut -c1-10")
    assert p.stdout == b"/a/b c/d\ndrwxr-xr-x\n", p.stderr
    p = run(env, "-w", "relative", "busybox", "pwd")
    assert p.returncode == 125
    assert b"absolute path" in p.stderr


@pytest.mark.parametrize("user,expect", [
    (None, "uid=0(root) gid=0(root) groups=0(root)"),
    ("app", "uid=1000(app) gid=1000(app) groups=1000(app),1001(extra)"),
    ("1000", "uid=1000(app) gid=1000(app) groups=1000(app),1001(extra)"),
    ("1000:1001", "uid=1000(app) gid=1001(extra) groups=1001(extra)"),
    ("app:extra", "uid=1000(app) gid=1001(extra) groups=1001(extra)"),
    ("nobody", "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)"),
    ("4242", "uid=4242 gid=0(root) groups=0(root)"),
    ("4242:4343", "uid=4242 gid=4343 groups=4343"),
])
def test_user(env, user, expect):
    opts = ["-u", user] if user else []
    p = run(env, *opts, "busybox", "sh", "-c", "id; echo $HOME")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.decode().splitlines()
    assert lines[0] == expect
    home = {None: "/root", "app": "/home/app", "1000": "/home/app", "1000:1001": "/home/app",
            "app:extra": "/home/app", "nobody": "/nonexistent"}.get(user, "/")
    assert lines[1] == home


def test_image_user(env):
    p = run(env, "--entrypoint", "id", "ep")
    assert p.stdout.startswith(b"uid=1000(app) gid=1000(app)"), p.stderr


def test_unknown_user(env):
    p = run(env, "-u", "nosuch", "busybox", "id")
    assert p.returncode == 125
    assert p.stdout == b""
    assert p.stderr.decode().strip().splitlines() == [
        "vdkr: run: unable to find user nosuch: no matching entries in passwd file"]


def test_stdin_closed_without_i(env):
    p = run(env, "busybox", "sh", "-c", "cat; echo rc=$?", input=b"not for the guest")
    assert p.stdout == b"rc=0\n", p.stderr


def test_stdin_8mib(env):
    data = os.urandom(8 << 20)
    p = run(env, "-i", "busybox", "sh", "-c", "sha256sum; wc -c", input=data, timeout=300)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.decode().split("\n")
    # sha256sum read to EOF (so STDIN_EOF arrived), then wc saw nothing left
    assert lines[0].split()[0] == hashlib.sha256(data).hexdigest()
    assert lines[1].strip() == "0"


def test_stdin_eof_then_output(env):
    p = run(env, "-i", "busybox", "sh", "-c", "read x; echo got:$x; cat; echo end",
            input=b"line1\nrest\n")
    assert p.stdout == b"got:line1\nrest\nend\n", p.stderr


def test_hostname(env):
    p = run(env, "-h", "box1", "busybox", "sh", "-c", "hostname; cat /etc/hostname; "
            "grep -c box1 /etc/hosts")
    assert p.stdout == b"box1\nbox1\n1\n", p.stderr


def test_read_only_root(env):
    p = run(env, "--read-only", "busybox", "sh", "-c", "touch /x 2>/dev/null; echo $?; "
            "touch /tmp/y 2>/dev/null; echo $?")
    assert p.returncode == 0, p.stderr
    assert p.stdout.split(b"\n")[0] != b"0"


def test_guest_standard_mounts(env):
    p = run(env, "busybox", "sh", "-c", "cat /proc/1/comm; ls /dev/null /dev/zero /dev/pts/ptmx "
            ">/dev/null && echo devs; awk '{print $2, $3}' /proc/mounts | sort")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.decode().splitlines()
    assert lines[0] == "init"
    assert lines[1] == "devs"
    for mount in ["/proc proc", "/sys sysfs", "/dev devtmpfs", "/dev/pts devpts",
                  "/dev/shm tmpfs"]:
        assert mount in lines[2:], lines


def test_parallel_8(env):
    procs = [subprocess.Popen([Tool("vdkr").path, "run", "--rm", "busybox", "sh", "-c",
                               "echo run-%d; exit %d" % (i, i)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for i in range(8)]
    for i, p in enumerate(procs):
        out, err = p.communicate(timeout=600)
        assert (p.returncode, out) == (i, b"run-%d\n" % i), err


@pytest.mark.parametrize("script,status,out", [
    # a handler: it runs, and the exit status is the handler's
    ("trap 'echo got TERM; exit 3' TERM; echo ready; while true; do sleep 0.1; done",
     3, b"got TERM\n"),
    # none: docker run --init semantics, the process is not PID 1, so SIGTERM kills it
    ("echo ready; exec sleep 100", 143, b""),
])
def test_sigterm_is_forwarded(env, script, status, out):
    p = subprocess.Popen([Tool("vdkr").path, "run", "--rm", "busybox", "sh", "-c", script],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.stdout.readline() == b"ready\n"
    p.terminate()
    got, err = p.communicate(timeout=60)
    assert (p.returncode, got) == (status, out), err


def test_bad_image(env):
    p = run(env, "no/such:image")
    assert p.returncode == 125
    assert len(p.stderr.decode().strip().splitlines()) <= 2  # "Unable to find" + the error


def test_bad_flag(env):
    p = run(env, "--no-such-flag", "busybox")
    assert p.returncode == 125
    assert b"unknown flag: --no-such-flag" in p.stderr


def test_vpdmn_run(env):
    p = run(env, "busybox", "sh", "-c", "echo hi; exit 4", tool="vpdmn")
    assert (p.returncode, p.stdout) == (4, b"hi\n"), p.stderr


def test_nothing_left_behind(env):
    p = run(env, "busybox", "true")
    assert p.returncode == 0
    deadline = time.monotonic() + 10
    while qemus(env) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert qemus(env) == []
    state = env["VXN_STATE_ROOT"]
    assert [p for p in glob.glob(state + "/**", recursive=True) if os.path.isfile(p)
            and "/containers/" in p] == []


def test_c_example_program(env, tmp_path):
    """doc/examples/run-container.c builds against libvxn and runs a container."""
    exe = str(tmp_path / "run-container")
    subprocess.run(["cc", "-std=c11", "-Wall", "-Werror",
                    "-I" + os.path.join(ROOT, "include"), "-I" + os.path.join(BUILD, "include"),
                    os.path.join(ROOT, "doc", "examples", "run-container.c"), "-o", exe,
                    "-L" + os.path.join(BUILD, "libvxn"), "-lvxn"], check=True)
    e = dict(env, LD_LIBRARY_PATH=os.path.join(BUILD, "libvxn"))
    p = subprocess.run([exe, "busybox", "sh", "-c", "echo from C; exit 9"], env=e,
                       capture_output=True, timeout=180)
    assert (p.returncode, p.stdout) == (9, b"from C\n"), p.stderr
    p = subprocess.run([exe, "busybox", "/nope"], env=e, capture_output=True, timeout=180)
    assert p.returncode == 127
    assert p.stderr == b'run-container: exec: "/nope": No such file or directory\n'


def spawn_tty(env, *args, dimensions=(24, 80)):
    import pexpect
    return pexpect.spawn(Tool("vdkr").path, ["run", "--rm", "-it", *args], env=env,
                         dimensions=dimensions, timeout=60)


def test_tty_interactive_shell(env):
    import pexpect
    c = spawn_tty(env, "busybox", "sh")
    c.expect(r"# ")
    c.send("echo M$((6*7)); tty; stty size; echo $TERM\r")
    c.expect(r"M42\r\n(.*)\r\n(\d+) (\d+)\r\n(\S+)\r\n")
    assert c.match.group(1) == b"/dev/pts/0"
    assert (c.match.group(2), c.match.group(3)) == (b"24", b"80")
    assert c.match.group(4) == b"xterm"
    # the host terminal's size follows into the guest (RESIZE, then SIGWINCH there)
    c.setwinsize(40, 100)
    time.sleep(0.5)
    c.send("echo N$((6*7)); stty size\r")
    c.expect(r"N42\r\n(\d+) (\d+)\r\n")
    assert (c.match.group(1), c.match.group(2)) == (b"40", b"100")
    # ^C reaches the foreground job through the guest's terminal, not vdkr
    c.send("sleep 100\r")
    time.sleep(1)
    c.sendintr()
    c.send("echo after-intr $?\r")
    c.expect(r"after-intr (\d+)\r\n")
    assert c.match.group(1) == b"130"
    c.send("exit 5\r")
    c.expect(pexpect.EOF)
    c.close()
    assert c.exitstatus == 5


def test_tty_output_only(env):
    """-t without -i: stdout and stderr both on the terminal, CRLF from the guest's tty."""
    import pexpect
    c = pexpect.spawn(Tool("vdkr").path, ["run", "--rm", "-t", "busybox", "sh", "-c",
                                          "echo out; echo err >&2; [ -t 1 ] && echo is-tty"],
                      env=env, timeout=60)
    c.expect(pexpect.EOF)
    c.close()
    assert c.before == b"out\r\nerr\r\nis-tty\r\n"
    assert c.exitstatus == 0


def test_tty_requires_terminal_for_i(env):
    p = run(env, "-it", "busybox", "true", input=b"")
    assert p.returncode == 125
    assert p.stderr.decode().strip() == "vdkr: run: the input device is not a TTY"


def test_python_container(env, monkeypatch):
    """The binding runs a container: vxn.spec() + vxn.Container().run() on pipes."""
    import vxn
    for k in ("VXN_STATE_ROOT", "VXN_DATA_ROOT", "VXN_LOG_ROOT", "VXN_KERNEL", "VXN_INITRAMFS"):
        monkeypatch.setenv(k, env[k])
    store = vxn.ImageStore(vxn.Context())
    img = store.lookup("busybox")
    spec = vxn.spec(img, args=["sh", "-c", "echo $X; echo e >&2; id -u; exit 4"],
                    env=["X=from python"], user="nobody")
    r, w = os.pipe()
    re_, we = os.pipe()
    c = vxn.Container(store, img, spec)
    assert c.name == "vxn-" + c.id[:12]
    status = c.run(stdout=w, stderr=we)
    os.close(w)
    os.close(we)
    assert status == 4
    assert os.read(r, 4096) == b"from python\n65534\n"
    assert os.read(re_, 4096) == b"e\n"
    assert c.start_error is None
    c = vxn.Container(store, img, vxn.spec(img, args=["/nope"]))
    assert c.run() == 127
    assert c.start_error == 'exec: "/nope": No such file or directory'


def test_volume_live_both_ways(env, tmp_path):
    vol = tmp_path / "vol"
    vol.mkdir()
    (vol / "from-host").write_text("host data\n")
    p = subprocess.Popen([Tool("vdkr").path, "run", "--rm", "-v", "%s:/data" % vol, "busybox",
                          "sh", "-c", "cat /data/from-host; echo guest > /data/during; "
                          "while [ ! -e /data/go ]; do sleep 0.1; done; cat /data/go"],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not (vol / "during").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    # the host sees the guest's write while the container still runs, and vice versa
    assert p.poll() is None
    assert (vol / "during").read_text() == "guest\n"
    (vol / "go").write_text("host says go\n")
    out, err = p.communicate(timeout=60)
    assert (p.returncode, out) == (0, b"host data\nhost says go\n"), err


def test_volume_read_only_enforced_by_host(env, tmp_path):
    vol = tmp_path / "ro"
    vol.mkdir()
    (vol / "f").write_text("original\n")
    p = run(env, "-v", "%s:/data:ro" % vol, "busybox", "sh", "-c",
            "echo x > /data/f; echo w1=$?; mount -o remount,rw /data; echo m=$?; "
            "echo y > /data/f; echo w2=$?; echo z > /data/new; echo w3=$?")
    out = p.stdout.decode().split()
    assert out[0] == "w1=1" and out[2] == "w2=1" and out[3] == "w3=1", (out, p.stderr)
    assert (vol / "f").read_text() == "original\n"
    assert sorted(os.listdir(vol)) == ["f"]


def test_volume_errors(env, tmp_path):
    p = run(env, "-v", "relative:/data", "busybox", "true")
    assert p.returncode == 125
    assert b"absolute host path" in p.stderr
    p = run(env, "-v", str(tmp_path / "missing") + ":/data", "busybox", "true")
    assert p.returncode == 125
    assert b"No such file or directory" in p.stderr or b"no such" in p.stderr.lower()
    p = run(env, "--mount", "type=bind,target=/x,bogus=1", "busybox", "true")
    assert p.returncode == 125
    assert b"invalid --mount" in p.stderr


def test_mount_flag_and_tmpfs(env, tmp_path):
    vol = tmp_path / "m"
    vol.mkdir()
    p = run(env, "--mount", "type=bind,source=%s,target=/m" % vol,
            "--mount", "type=tmpfs,target=/t,tmpfs-size=2m", "--tmpfs", "/run/x:size=1m,mode=1777",
            "busybox", "sh", "-c", "echo hi > /m/file; grep -E ' /t | /run/x ' /proc/mounts; "
            "stat -c %a /run/x")
    assert p.returncode == 0, p.stderr
    assert (vol / "file").read_text() == "hi\n"
    lines = p.stdout.decode().splitlines()
    assert any(l.startswith("tmpfs /t tmpfs") and "size=2048k" in l for l in lines), lines
    assert any(l.startswith("tmpfs /run/x tmpfs") and "size=1024k" in l for l in lines), lines
    assert lines[-1] == "1777"


def test_ulimit_memory_cpus(env):
    p = run(env, "--ulimit", "nofile=100:200", "-m", "512m", "--cpus", "2", "busybox", "sh",
            "-c", "ulimit -n; ulimit -Hn; grep -c ^processor /proc/cpuinfo; "
            "awk '/MemTotal/ {print $2}' /proc/meminfo")
    assert p.returncode == 0, p.stderr
    soft, hard, cpus, mem = p.stdout.decode().split()
    assert (soft, hard, cpus) == ("100", "200", "2")
    assert 400 * 1024 < int(mem) <= 512 * 1024
    p = run(env, "--ulimit", "nofile=300:200", "busybox", "true")
    assert p.returncode == 125 and b"invalid ulimit" in p.stderr


def test_env_file(env, tmp_path):
    f = tmp_path / "env"
    f.write_text("# a comment\n\nA=1\nB=two words\nFROM_CALLER\nC=x=y\n")
    e = dict(env, FROM_CALLER="caller")
    p = run(e, "--env-file", str(f), "-e", "A=cli", "busybox", "env")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.decode().splitlines()
    for want in ["A=cli", "B=two words", "FROM_CALLER=caller", "C=x=y"]:
        assert want in lines
    p = run(env, "--env-file", str(tmp_path / "none"), "busybox", "true")
    assert p.returncode == 125 and b"env file" in p.stderr


def test_env_value_with_newline(env):
    p = run(env, "-e", "ML=line1\nline2", "busybox", "sh", "-c", 'printf "%s|" "$ML"')
    assert p.stdout == b"line1\nline2|", p.stderr


def test_pull_never_and_name(env):
    p = run(env, "--pull", "never", "not/here", "true")
    assert p.returncode == 125
    assert b"Unable to find" not in p.stderr
    p = run(env, "--name", "web1", "busybox", "true")
    assert p.returncode == 0, p.stderr
    p = run(env, "--name", "-bad", "busybox", "true")
    assert p.returncode == 125 and b"invalid container name" in p.stderr


def test_rmi_removes_the_guest_archive(env, tmp_path):
    """The per-image initrd cache goes with the image (and a crashed writer's temp file)."""
    archive = str(tmp_path / "gc.tar")
    ib.busybox_image(config={"Env": [ib.PATH_ENV, "GC=1"]}).write_docker_archive(
        archive, ["gcme:latest"])
    vdkr = Tool("vdkr")
    vdkr("load", "-i", archive, env=env, check=0)
    p = run(env, "gcme", "sh", "-c", 'echo "$GC"')
    assert (p.returncode, p.stdout) == (0, b"1\n"), p.stderr
    idir = os.path.join(env["VXN_DATA_ROOT"], "images", "initrd")
    mine = set(os.listdir(idir))
    assert any(n.endswith(".cpio") for n in mine)
    stale = os.path.join(idir, "0" * 64 + ".cpio.tmp-crash1")
    open(stale, "w").close()
    before = set(os.listdir(idir)) - {os.path.basename(stale)}
    vdkr("rmi", "gcme", env=env, check=0)
    after = set(os.listdir(idir))
    assert os.path.basename(stale) not in after
    assert len(before - after) == 1  # exactly gcme's archive went; busybox's stayed
    assert run(env, "busybox", "true").returncode == 0


def test_guest_kernel_is_vxns(env):
    p = run(env, "busybox", "uname", "-r")
    assert p.stdout.decode().strip().endswith("-vxn"), p.stdout


def test_interactive_line_by_line(env):
    p = subprocess.Popen([Tool("vdkr").path, "run", "--rm", "-i", "busybox", "sh", "-c",
                          "while read l; do echo got:$l; done; echo bye"], env=env,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    for i in range(3):
        p.stdin.write(b"line%d\n" % i)
        p.stdin.flush()
        assert p.stdout.readline() == b"got:line%d\n" % i
    p.stdin.close()
    assert p.stdout.read() == b"bye\n"
    assert p.wait(timeout=60) == 0


def test_output_streams_live(env):
    p = subprocess.Popen([Tool("vdkr").path, "run", "--rm", "busybox", "sh", "-c",
                          "echo a; sleep 5; echo b"], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    assert p.stdout.readline() == b"a\n"
    t_a = time.monotonic()
    assert p.poll() is None  # "a" arrived while the container still runs
    assert p.stdout.readline() == b"b\n"
    assert time.monotonic() - t_a > 3
    assert p.wait(timeout=60) == 0


@pytest.fixture(scope="module")
def special_images(env, tmp_path_factory):
    top = tmp_path_factory.mktemp("special")
    bb = open("/bin/busybox", "rb").read()
    # no /bin/sh: just a static binary
    noshell = ib.Image([ib.Layer([ib.Dir("bin"), ib.File("bin/busybox", bb, mode=0o755)])],
                       config={"Entrypoint": ["/bin/busybox", "echo"], "Cmd": ["no", "shell"]})
    # 50 MB: busybox plus 50 MB of incompressible data
    big = ib.Image([ib.busybox_layer(), ib.Layer([
        ib.Dir("data"), ib.File("data/blob", os.urandom(50 << 20))])],
        config={"Cmd": ["/bin/sh"], "Env": [ib.PATH_ENV]})
    for name, img in (("noshell:latest", noshell), ("big:latest", big)):
        archive = str(top / (name.split(":")[0] + ".tar"))
        img.write_docker_archive(archive, [name])
        subprocess.run([Tool("vdkr").path, "load", "-i", archive], env=env, check=True,
                       capture_output=True, timeout=300)
    return True


def test_image_without_shell(env, special_images):
    p = run(env, "noshell")
    assert (p.returncode, p.stdout) == (0, b"no shell\n"), p.stderr


def test_50mb_image_in_default_memory(env, special_images):
    p = run(env, "big", "sh", "-c", "wc -c < /data/blob; grep MemTotal /proc/meminfo",
            timeout=300)
    assert p.returncode == 0, p.stderr
    assert p.stdout.decode().split()[0] == str(50 << 20)


def test_image_too_big_for_the_memory_is_refused(env, special_images):
    """Not a half-unpacked initramfs and a confusing guest error: one line, exit 125."""
    p = run(env, "-m", "128m", "big", "true")
    assert p.returncode == 125
    err = p.stderr.decode()
    assert "root filesystem is 5" in err and "use --memory 256m or more" in err, err
    assert len(err.strip().splitlines()) == 1
    assert qemus(env) == []


def test_sigkill_of_vdkr_leaves_no_vm(env):
    p = subprocess.Popen([Tool("vdkr").path, "run", "--rm", "busybox", "sh", "-c",
                          "echo up; sleep 100"], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    assert p.stdout.readline() == b"up\n"
    assert qemus(env)
    p.kill()
    p.wait()
    deadline = time.monotonic() + 15
    while qemus(env) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert qemus(env) == []
    # the next command runs normally and cleans what the killed one left
    q = run(env, "busybox", "true")
    assert q.returncode == 0, q.stderr
    state = env["VXN_STATE_ROOT"]
    assert [f for f in glob.glob(state + "/**", recursive=True) if os.path.isfile(f)
            and "/containers/" in f] == []
