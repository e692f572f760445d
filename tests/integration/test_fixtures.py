# SPDX-License-Identifier: LGPL-2.1-or-later
"""The test fixtures themselves: imagebuild's images are valid, exact and
reproducible as umoci and skopeo read them, and registry.py's server works
and never outlives its test.

Known tool limits (why some cases are not run through a tool here): umoci
0.4.7 unpacks neither zstd layers nor Docker schema2 manifests; skopeo 1.9's
oci: transport ignores index.json entries with Docker media types, so Docker
schema2 images go to the registry through Registry.push() instead.
"""
import ctypes
import gzip
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time

import pytest

import imagebuild as ib
from registry import Registry, fresh_registry, registry, skopeo  # noqa: F401 (fixtures)

pytestmark = pytest.mark.skipif(
    not all(shutil.which(t) for t in ("umoci", "skopeo", "docker-registry", "zstd")),
    reason="needs umoci, skopeo, docker-registry and zstd")

PR_SET_CHILD_SUBREAPER = 36

needs_root = pytest.mark.skipif(os.geteuid() != 0,
                                reason="exact owners and device nodes need root")


@pytest.fixture
def work():
    d = tempfile.mkdtemp(prefix="vxn-fixtures-")
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def images():
    return {
        "busybox": ib.busybox_image(),
        "multi": ib.multilayer_image(),
        "index": ib.multiarch_index(),
        "plain": ib.busybox_image(compression="none"),
        "zstd": ib.busybox_image(compression="zstd"),
    }


@pytest.fixture(scope="module")
def layout(images):
    d = tempfile.mkdtemp(prefix="vxn-fixtures-layout-")
    try:
        yield ib.write_layout(os.path.join(d, "oci"), images)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def umoci_unpack(layout, ref, bundle):
    p = subprocess.run(["umoci", "unpack", "--image", "%s:%s" % (layout, ref), bundle],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return os.path.join(bundle, "rootfs")


def assert_tree(want, got):
    diff = ib.tree_diff(want, got)
    assert not diff, "\n".join(diff[:50])


# -- umoci: the layers unpack to exactly the tree imagebuild predicts -------

@needs_root
def test_busybox_unpacks_with_umoci(layout, images, work):
    bundle = os.path.join(work, "bundle")
    rootfs = umoci_unpack(layout, "busybox", bundle)
    tree = ib.tree_of(rootfs, mtimes=True)
    assert_tree(images["busybox"].expected_tree(mtimes=True), tree)
    assert tree["bin/busybox"]["mode"] == 0o755
    assert tree["bin/sh"] == {"type": "symlink", "mode": 0o777, "uid": 0, "gid": 0,
                              "target": "/bin/busybox"}
    assert tree["tmp"]["mode"] == 0o1777
    assert tree["home/app"]["uid"] == 1000
    assert len(ib.busybox_applets()) > 100
    with open(os.path.join(rootfs, "etc/passwd")) as f:
        assert "app:x:1000:1000:app:/home/app:/bin/sh\n" in f.read()
    with open(os.path.join(rootfs, "etc/group")) as f:
        assert "extra:x:1001:app\n" in f.read().splitlines(keepends=True)
    # umoci turned the image config into a runtime spec
    with open(os.path.join(bundle, "config.json")) as f:
        spec = json.load(f)
    assert spec["process"]["args"] == ["/bin/sh"]
    assert ib.PATH_ENV in spec["process"]["env"]
    assert spec["process"]["cwd"] == "/"
    assert spec["annotations"]["org.opencontainers.image.title"] == "busybox-test"
    # and the binary in it runs
    out = subprocess.run([os.path.join(rootfs, "bin/busybox"), "echo", "ok"],
                         capture_output=True, text=True, check=True).stdout
    assert out == "ok\n"


@needs_root
def test_multilayer_unpacks_exactly(layout, images, work):
    rootfs = umoci_unpack(layout, "multi", os.path.join(work, "bundle"))
    want = images["multi"].expected_tree(mtimes=True)
    got = ib.tree_of(rootfs, mtimes=True)
    assert_tree(want, got)
    # the comparison above is not vacuous: every case is in the tree
    assert "data/gone.txt" not in got and "bin/vi" not in got           # whiteouts
    assert not any(p.startswith("data/olddir") for p in got)            # dir whiteout
    assert sorted(p for p in got if p.startswith("data/opaque/")) == ["data/opaque/new1"]
    assert got["data/file2dir"]["type"] == "dir" and "data/file2dir/inner" in got
    assert got["data/dir2file"]["type"] == "file"
    assert got["data/hard1"]["linked"] == ["data/hard1", "data/hard2", "data/hard3"]
    assert got["data/link-rel"]["target"] == "hard1"
    assert got["data/link-owned"]["uid"] == 1000
    assert got["data/fifo"]["type"] == "fifo"
    assert got["data/null"]["type"] == "char" and got["data/null"]["rdev"] == [1, 3]
    assert got["data/loop7"]["type"] == "block"
    assert got["data/suid"]["mode"] == 0o4755 and got["data/sgid"]["mode"] == 0o2711
    assert got["data/sticky"]["mode"] == 0o1777
    assert got["data/xattr.txt"]["xattrs"] == {"user.vxn": b"1"}
    assert (got["data/owned-odd"]["uid"], got["data/owned-odd"]["gid"]) == (1234, 5678)
    assert got["data/appdir"] == {"type": "dir", "mode": 0o700, "uid": 1000, "gid": 1000,
                                  "mtime": ib.EPOCH}
    assert "data/appdir/secret" in got                 # dir metadata change kept children
    with open(os.path.join(rootfs, "data/keep.txt"), "rb") as f:
        assert f.read() == b"keep v2\n"


@needs_root
def test_tree_of_sees_a_difference(layout, work):
    rootfs = umoci_unpack(layout, "multi", os.path.join(work, "bundle"))
    os.chmod(os.path.join(rootfs, "data/keep.txt"), 0o600)
    os.unlink(os.path.join(rootfs, "data/hard3"))
    diff = ib.tree_diff(ib.expected_tree(), ib.tree_of(rootfs))
    assert "missing: data/hard3" in "\n".join(diff)
    assert any(d.startswith("data/keep.txt: mode want 436 got 384") for d in diff)
    assert any(d.startswith("data/hard1: linked") for d in diff)


# -- skopeo reads what imagebuild says it wrote -------------------------------

@pytest.mark.parametrize("ref", ["busybox", "multi", "plain", "zstd"])
def test_skopeo_inspect_layout_digests(layout, images, ref):
    img = images[ref]
    info = json.loads(skopeo("inspect", "oci:%s:%s" % (layout, ref)))
    assert info["Digest"] == img.manifest_digest
    assert info["Layers"] == [l.digest for l in img.layers]
    assert info["Architecture"] == "amd64" and info["Os"] == "linux"
    assert skopeo("inspect", "--raw", "oci:%s:%s" % (layout, ref)) == img.manifest_bytes
    assert skopeo("inspect", "--config", "--raw",
                  "oci:%s:%s" % (layout, ref)) == img.config_bytes


def test_skopeo_inspect_layout_index(layout, images):
    idx = images["index"]
    assert skopeo("inspect", "--raw", "oci:%s:index" % layout) == idx.manifest_bytes
    for arch, variant in (("amd64", None), ("arm64", "v8"), ("arm", "v7")):
        args = ["--override-arch", arch] + (["--override-variant", variant] if variant else [])
        raw = skopeo(*args, "inspect", "--config", "--raw", "oci:%s:index" % layout)
        assert raw == idx.image_for(arch, variant).config_bytes
        cfg = json.loads(raw)
        assert (cfg["architecture"], cfg.get("variant")) == (arch, variant)
    assert len({i.config_digest for i in idx.images}) == 3
    assert len({i.layers[0].digest for i in idx.images}) == 1   # one binary for all
    assert [m["platform"] for m in json.loads(idx.manifest_bytes)["manifests"]] == [
        {"architecture": "amd64", "os": "linux"},
        {"architecture": "arm64", "os": "linux", "variant": "v8"},
        {"architecture": "arm", "os": "linux", "variant": "v7"}]


def test_layout_files(layout, images):
    with open(os.path.join(layout, "oci-layout")) as f:
        assert json.load(f) == {"imageLayoutVersion": "1.0.0"}
    with open(os.path.join(layout, "index.json")) as f:
        index = json.load(f)
    refs = {m["annotations"][ib.REF_NAME]: m for m in index["manifests"]}
    assert set(refs) == set(images)
    assert refs["index"]["mediaType"] == ib.MT_OCI_INDEX
    for name, obj in images.items():
        assert refs[name]["digest"] == obj.digest and refs[name]["size"] == obj.size
        for dig, data in obj.blobs().items():
            with open(os.path.join(layout, "blobs", "sha256", dig[7:]), "rb") as f:
                assert ib.sha256(f.read()) == dig
    # adding to a layout keeps what is there
    ib.write_layout(layout, {"extra": images["busybox"]})
    with open(os.path.join(layout, "index.json")) as f:
        assert len(json.load(f)["manifests"]) == len(images) + 1


def test_layer_blobs_digests_and_contents(images):
    for img in (images["busybox"], images["plain"], images["zstd"], images["multi"]):
        for l in img.layers:
            assert ib.sha256(l.blob) == l.digest and l.size == len(l.blob)
            assert ib.sha256(ib.decompress(l.blob, l.compression)) == l.diff_id
        assert img.config["rootfs"]["diff_ids"] == [l.diff_id for l in img.layers]
    assert images["plain"].layers[0].diff_id == images["busybox"].layers[0].diff_id
    assert images["zstd"].layers[0].blob[:4] == b"\x28\xb5\x2f\xfd"
    gz = images["busybox"].layers[0].blob
    assert gz[:2] == b"\x1f\x8b" and gz[4:8] == b"\0\0\0\0"        # gzip mtime 0
    # xattrs travel as PAX SCHILY.xattr records, devices and links as such
    data = images["multi"].layers[1]
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(data.blob))) as tf:
        members = {m.name: m for m in tf.getmembers()}
    assert [m.name.rstrip("/") for m in members.values()] == [e.name for e in data.entries]
    assert members["data/xattr.txt"].pax_headers["SCHILY.xattr.user.vxn"] == "1"
    assert members["data/hard2"].islnk() and members["data/hard2"].linkname == "data/hard1"
    assert members["data/null"].ischr() and members["data/null"].devminor == 3
    assert members["data/suid"].mode == 0o4755


# -- the registry ---------------------------------------------------------------

def test_registry_push_busybox_and_index(registry, layout, images):
    bb, idx = images["busybox"], images["index"]
    assert registry.push_layout(layout, "busybox", "fx/busybox:latest") == bb.digest
    assert registry.inspect("fx/busybox:latest", raw=True) == bb.manifest_bytes
    info = registry.inspect("fx/busybox:latest")
    assert info["Digest"] == bb.digest and info["Layers"] == [bb.layers[0].digest]
    body, ctype, dig = registry.manifest("fx/busybox:latest")
    assert (body, ctype, dig) == (bb.manifest_bytes, ib.MT_OCI_MANIFEST, bb.digest)
    assert registry.blob("fx/busybox", bb.config_digest) == bb.config_bytes

    assert registry.push_layout(layout, "index", "fx/busybox:multi") == idx.digest
    assert registry.inspect("fx/busybox:multi", raw=True) == idx.manifest_bytes
    body, ctype, dig = registry.manifest("fx/busybox:multi")
    assert (ctype, dig) == (ib.MT_OCI_INDEX, idx.digest)
    for img in idx.images:
        assert registry.manifest("fx/busybox@" + img.digest)[0] == img.manifest_bytes
    cfg = registry.inspect("fx/busybox:multi", raw=True, config=True, arch="arm", variant="v7")
    assert cfg == idx.image_for("arm", "v7").config_bytes
    assert set(registry.tags("fx/busybox")) >= {"latest", "multi"}


def test_registry_push_exact_docker_schema2(registry):
    img = ib.busybox_image(docker=True)
    lst = ib.multiarch_index(docker=True)
    assert registry.push(img, "fx/docker:v2s2") == img.digest
    assert registry.manifest("fx/docker:v2s2")[1:] == (ib.MT_DOCKER_MANIFEST, img.digest)
    assert registry.inspect("fx/docker:v2s2", raw=True) == img.manifest_bytes
    assert registry.push(lst, "fx/docker:list") == lst.digest
    assert registry.manifest("fx/docker:list")[1:] == (ib.MT_DOCKER_LIST, lst.digest)
    cfg = registry.inspect("fx/docker:list", raw=True, config=True, arch="arm64", variant="v8")
    assert cfg == lst.image_for("arm64", "v8").config_bytes


def test_registry_is_loopback_and_deletes(fresh_registry):
    reg = fresh_registry
    with open(reg.config_path) as f:
        conf = f.read()
    assert "addr: 127.0.0.1:%d\n" % reg.port in conf and "enabled: true" in conf
    img = ib.busybox_image(config={"Cmd": ["/bin/true"]})
    reg.push(img, "del/me:1")
    assert reg.catalog() == ["del/me"]
    reg.delete_manifest("del/me", img.digest)
    st, _, _ = reg.request("GET", "/v2/del/me/manifests/" + img.digest, ok=None)
    assert st == 404


def _gone(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def _wait_gone(pid, timeout=5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _gone(pid):
            return True
        time.sleep(0.02)
    return False


def test_registry_stop_leaves_nothing():
    reg = Registry().start()
    pid, wd = reg.pid, reg.workdir
    assert not _gone(pid) and os.getpgid(pid) == pid          # own session / group
    reg.stop()
    assert _wait_gone(pid) and not os.path.exists(wd)
    reg.stop()                                                 # idempotent


def test_registry_dies_with_its_parent(work):
    # A process that starts a registry and is then SIGKILLed takes it along.
    # We are the subreaper meanwhile, so the orphan is reparented to us and
    # reaped here (this machine's PID 1 does not reap).
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    try:
        code = ("import os, sys, signal; sys.path.insert(0, %r)\n"
                "from registry import Registry\n"
                "r = Registry(workdir=%r).start()\n"
                "print(r.pid, flush=True)\n"
                "os.kill(os.getpid(), signal.SIGKILL)\n"
                % (os.path.dirname(os.path.abspath(__file__)), work))
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           timeout=30)
        assert p.returncode == -9, p.stderr
        pid = int(p.stdout.split()[0])
        gone = _wait_gone(pid)
        try:
            os.waitpid(pid, 0 if gone else os.WNOHANG)
        except ChildProcessError:
            pass
        if not gone:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        assert gone, "registry %d outlived its parent" % pid
    finally:
        libc.prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)


def test_registry_start_failure_reports_log(work, monkeypatch):
    import registry as regmod
    monkeypatch.setattr(regmod, "_CONFIG", "version: 0.1\nthis is: [not valid\n")
    reg = Registry(workdir=work, start_timeout=3)
    with pytest.raises(RuntimeError, match="did not come up.*log:"):
        reg.start()
    assert reg.proc is None


# -- archives ---------------------------------------------------------------------

def test_docker_archive(images, work):
    img = images["multi"]
    path = img.write_docker_archive(os.path.join(work, "multi.tar"),
                                    ["vxn/multi:latest", "localhost/vxn/multi:2"])
    info = json.loads(skopeo("inspect", "docker-archive:" + path, tmpdir=work))
    assert info["Layers"] == [l.diff_id for l in img.layers]     # layer.tar, uncompressed
    assert info["Env"] == img.config["config"]["Env"]
    assert skopeo("inspect", "--config", "--raw", "docker-archive:%s:localhost/vxn/multi:2"
                  % path, tmpdir=work) == img.config_bytes
    with tarfile.open(path) as tf:
        manifest = json.load(tf.extractfile("manifest.json"))
        repos = json.load(tf.extractfile("repositories"))
        assert manifest == [{"Config": img.config_digest[7:] + ".json",
                             "RepoTags": ["vxn/multi:latest", "localhost/vxn/multi:2"],
                             "Layers": [c[7:] + "/layer.tar" for c in img.chain_ids()]}]
        for l, name in zip(img.layers, manifest[0]["Layers"]):
            assert tf.extractfile(name).read() == l.tar
    top = img.chain_ids()[-1][7:]
    assert repos == {"vxn/multi": {"latest": top}, "localhost/vxn/multi": {"2": top}}


def test_oci_archive(images, work):
    path = ib.write_oci_archive(os.path.join(work, "oci.tar"),
                                {"bb": images["busybox"], "idx": images["index"]})
    info = json.loads(skopeo("inspect", "oci-archive:%s:bb" % path, tmpdir=work))
    assert info["Digest"] == images["busybox"].digest
    assert skopeo("inspect", "--raw", "oci-archive:%s:idx" % path,
                  tmpdir=work) == images["index"].manifest_bytes


# -- reproducibility and the other builders -----------------------------------

def test_builds_are_deterministic(work):
    first = [ib.busybox_image().digest, ib.multilayer_image().digest,
             ib.multiarch_index().digest, ib.busybox_image(compression="zstd").digest,
             ib.big_layer_image(size_mb=1).digest]
    ib.busybox_layer.cache_clear()
    second = [ib.busybox_image().digest, ib.multilayer_image().digest,
              ib.multiarch_index().digest, ib.busybox_image(compression="zstd").digest,
              ib.big_layer_image(size_mb=1).digest]
    assert first == second and len(set(first)) == len(first)
    a = ib.multilayer_image().write_docker_archive(os.path.join(work, "a.tar"), ["x:1"])
    b = ib.multilayer_image().write_docker_archive(os.path.join(work, "b.tar"), ["x:1"])
    with open(a, "rb") as fa, open(b, "rb") as fb:
        assert fa.read() == fb.read()
    # a layer from the host rootfs equals the one built from entries
    root = ib.busybox_rootfs(os.path.join(work, "rootfs"))
    assert ib.Layer.from_dir(root).digest == ib.busybox_layer().digest


def test_big_layer_image():
    img = ib.big_layer_image(size_mb=2, seed=7)
    layer = img.layers[1]
    assert len(img.layers) == 2 and layer.size > 2 << 20       # incompressible
    assert ib.expected_tree(img)["big/random.bin"]["sha256"] == \
        ib.hashlib.sha256(ib.random.Random(7).randbytes(2 << 20)).hexdigest()
    assert ib.big_layer_image(size_mb=2, seed=8).digest != img.digest


def test_hostile_images_are_written_verbatim(work):
    hostile = ib.hostile_images(outside="/tmp/vxn-outside")
    assert {"dotdot", "absolute-root", "symlink-write-abs", "symlink-write-rel",
            "hardlink-abs", "hardlink-rel", "dir-swapped-for-symlink",
            "whiteout-dotdot"} <= set(hostile)
    for name, img in hostile.items():
        layer, = img.layers
        with tarfile.open(fileobj=io.BytesIO(gzip.decompress(layer.blob))) as tf:
            got = [(m.name.rstrip("/") if m.isdir() else m.name, m.linkname)
                   for m in tf.getmembers()]
        assert got == [(e.name, e.linkname) for e in layer.entries], name
        if name in ib.HOSTILE_ESCAPES:
            with pytest.raises(ValueError, match="expected_tree"):
                img.expected_tree()
    assert set(hostile) - ib.HOSTILE_ESCAPES == {"symlink-write-file", "symlink-dir-chmod",
                                                 "device-mem"}
    assert hostile["symlink-write-file"].expected_tree()["victim"]["type"] == "file"
    assert hostile["symlink-dir-chmod"].expected_tree()["escape"]["mode"] == 0o777
    assert hostile["device-mem"].expected_tree()["dev/mem"]["rdev"] == [1, 1]
    rel = hostile["symlink-write-rel"].layers[0].entries[0].linkname
    assert rel.startswith("../../") and rel.endswith("/tmp/vxn-outside"[1:])
    layout = ib.write_layout(os.path.join(work, "oci"), hostile)
    for name in ("dotdot", "hardlink-abs", "dir-swapped-for-symlink"):
        info = json.loads(skopeo("inspect", "oci:%s:%s" % (layout, name)))
        assert info["Digest"] == hostile[name].digest
