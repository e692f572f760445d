# SPDX-License-Identifier: LGPL-2.1-or-later
"""The image store against real files, a real registry and the real tools.

Images are built offline by imagebuild.py; the registry is Debian's
docker-registry on 127.0.0.1 (registry.py). Assertions are on what ended up in
the store and on disk, not only on exit codes.
"""
import gzip
import hashlib
import json
import os
import signal
import subprocess
import tarfile
import threading
import time

import pytest

import imagebuild as ib
import vxn
from conftest import TOOLS
from registry import registry  # noqa: F401  (session fixture)


@pytest.fixture
def store(roots):
    ctx = vxn.Context()
    return vxn.ImageStore(ctx)


@pytest.fixture(scope="module")
def busybox():
    return ib.busybox_image()


def store_files(store):
    """Every file under the store except lock files: what a failed operation must not change."""
    out = set()
    for d, dirs, files in os.walk(store.path):
        for f in files:
            if f not in ("index.lock", "gc.lock"):
                out.add(os.path.relpath(os.path.join(d, f), store.path))
    return out


# ---- load / save / import ----

def test_load_oci_layout_dir_archive_and_docker_archive(store, tmp_path, busybox):
    layout = tmp_path / "layout"
    busybox.write_layout(str(layout), "busybox:1.0")
    names = store.load(str(layout))
    assert names == ["docker.io/library/busybox:1.0"]
    img = store.lookup("busybox:1.0")
    assert img.digest == busybox.digest and img.id == busybox.id
    assert img.cmd == ["/bin/sh"] and img.architecture == "amd64"
    # the input layout is not consumed
    assert os.path.exists(layout / "blobs" / "sha256" / busybox.digest[7:])

    oci = tmp_path / "bb.oci.tar"
    busybox.write_oci_archive(str(oci), "localhost/bb:oci")
    assert store.load(str(oci)) == ["localhost/bb:oci"]

    dock = tmp_path / "bb.docker.tar"
    ib.write_docker_archive(str(dock), [(busybox, ["example.com/ns/bb:d1", "bb:d2"])])
    assert sorted(store.load(str(dock))) == ["docker.io/library/bb:d2", "example.com/ns/bb:d1"]
    dimg = store.lookup("bb:d2")
    # docker archives carry no manifest: same config (ID), layers stored uncompressed
    assert dimg.id == busybox.id
    assert dimg.layers == [busybox.layers[0].diff_id]
    assert sorted(dimg.names) == ["docker.io/library/bb:d2", "example.com/ns/bb:d1"]


def test_load_tag_only_annotation_is_untagged_unless_named(store, tmp_path, busybox):
    layout = tmp_path / "layout"
    busybox.write_layout(str(layout), "latest")          # as umoci writes it
    assert store.load(str(layout)) == [busybox.id]
    assert store.images()[0].names == []
    assert store.load(str(layout), name="mine:v1") == ["docker.io/library/mine:v1"]
    assert store.lookup("mine:v1").id == busybox.id


def test_cli_load_from_stdin_and_save_roundtrip(vdkr, tmp_path, busybox):
    arch = tmp_path / "bb.tar"
    busybox.write_oci_archive(str(arch), "busybox:latest")
    with open(arch, "rb") as f:
        p = subprocess.run([TOOLS["vdkr"], "load"], stdin=f, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert p.stdout == "Loaded image: busybox:latest\n"
    out = tmp_path / "saved.tar"
    vdkr("save", "-o", str(out), "busybox", check=0)
    with tarfile.open(out) as t:
        names = t.getnames()
        man = json.load(t.extractfile("manifest.json"))
        idx = json.load(t.extractfile("index.json"))
    assert "blobs/sha256/" + busybox.digest[7:] in names
    assert man[0]["RepoTags"] == ["busybox:latest"]
    assert idx["manifests"][0]["digest"] == busybox.digest
    # skopeo reads both faces of the archive
    for transport in ("docker-archive:%s" % out, "oci-archive:%s:latest" % out):
        s = json.loads(subprocess.run(["skopeo", "inspect", transport], check=True,
                                      capture_output=True, text=True).stdout)
        assert s["Labels"] == busybox.config["config"]["Labels"]
    # and a second store loads what the first saved
    vdkr("rmi", "busybox", check=0)
    p = vdkr("load", "-i", str(out), check=0)
    assert p.stdout == "Loaded image: busybox:latest\n"
    p = vdkr("images", "--format", "json", check=0)
    assert [i["ID"] for i in json.loads(p.stdout)] == [busybox.id]


def test_import_rootfs_tarball_with_changes(store, tmp_path):
    root = tmp_path / "root"
    ib.busybox_rootfs(str(root))
    tgz = tmp_path / "rootfs.tgz"
    with tarfile.open(tgz, "w:gz") as t:
        t.add(str(root), arcname=".")
    img = store.import_(str(tgz), "imported:1",
                        changes=['CMD ["/bin/echo", "hi"]', "ENV A=b C=d", "WORKDIR /tmp",
                                 "USER 1000:1000", "LABEL k=v", "EXPOSE 8080", "VOLUME /data",
                                 "STOPSIGNAL SIGINT", "ENTRYPOINT /bin/sh -c"],
                        message="from a test")
    assert img.names == ["docker.io/library/imported:1"]
    assert img.cmd == ["/bin/echo", "hi"]
    assert img.entrypoint == ["/bin/sh", "-c", "/bin/sh -c"]
    assert img.env == ["A=b", "C=d"] and img.workdir == "/tmp" and img.user == "1000:1000"
    assert img.labels == {"k": "v"} and img.exposed_ports == ["8080/tcp"]
    assert img.volumes == ["/data"] and img.stop_signal == "SIGINT"
    assert img.history()[0]["comment"] == "from a test"
    # the layer is the uncompressed tar: its digest is the diff_id
    plain = gzip.decompress(tgz.read_bytes())
    assert img.layers == ["sha256:" + hashlib.sha256(plain).hexdigest()]
    tree = ib.tree_of(store.rootfs(img))
    assert tree["bin/busybox"]["mode"] == ib.tree_of(str(root))["bin/busybox"]["mode"]
    assert tree["bin/sh"] == {"type": "symlink", "target": "/bin/busybox", "uid": 0, "gid": 0,
                              "mode": tree["bin/sh"]["mode"]}


def test_import_rejects_hostile_names_and_bad_changes(vdkr, tmp_path):
    bad = tmp_path / "bad.tar"
    with tarfile.open(bad, "w") as t:
        ti = tarfile.TarInfo("../escape")
        t.addfile(ti)
    p = vdkr("import", str(bad), "x:1", check=1)
    assert "entry '../escape'" in p.stderr and p.stderr.count("\n") == 1
    p = vdkr("import", "-c", "RUN rm -rf /", str(bad), check=1)
    assert "invalid change 'RUN rm -rf /'" in p.stderr
    assert vdkr("images", "-q", check=0).stdout == ""
    p = vdkr("import", str(tmp_path / "missing.tar"), check=1)
    assert "No such file or directory" in p.stderr


# ---- the unpacked rootfs ----

def test_multilayer_rootfs_equals_expected_tree(store, tmp_path):
    img = ib.multilayer_image()
    img.write_layout(str(tmp_path / "l"), "multi:1")
    store.load(str(tmp_path / "l"))
    path = store.rootfs(store.lookup("multi:1"))
    assert ib.tree_diff(img.expected_tree(mtimes=True), ib.tree_of(path, mtimes=True)) == []
    # cached: the same directory comes back, and it is not rebuilt
    st = os.stat(path)
    assert store.rootfs(store.lookup("multi:1")) == path
    assert os.stat(path).st_ino == st.st_ino


@pytest.mark.parametrize("case", sorted(ib.hostile_images()))
def test_hostile_layer_never_writes_outside(store, tmp_path, case):
    outside = str(tmp_path / "outside")
    os.makedirs(outside)
    with open(outside + "/victim", "w") as f:
        f.write("precious\n")
    os.chmod(outside, 0o755)
    img = ib.hostile_images(outside=outside)[case]
    img.write_layout(str(tmp_path / "l"), "hostile:1")
    store.load(str(tmp_path / "l"))
    before = ib.tree_of(str(tmp_path / "outside")), sorted(os.listdir(tmp_path))
    parent_before = sorted(os.listdir(os.path.dirname(str(tmp_path))))
    if case in ib.HOSTILE_ESCAPES:
        with pytest.raises(vxn.InvalidArgument) as ei:
            store.rootfs(store.lookup("hostile:1"))
        assert "layer " + img.layers[0].digest in ei.value.message
        assert "entry '" in ei.value.message
    else:
        path = store.rootfs(store.lookup("hostile:1"))
        assert ib.tree_diff(img.expected_tree(), ib.tree_of(path)) == []
    assert (ib.tree_of(str(tmp_path / "outside")), sorted(os.listdir(tmp_path))) == before
    assert open(outside + "/victim").read() == "precious\n"
    assert sorted(os.listdir(os.path.dirname(str(tmp_path)))) == parent_before
    assert not os.path.exists("/evil") and not os.path.exists("/abs")
    # no half-unpacked rootfs is left in the store
    assert os.listdir(os.path.join(store.path, "tmp")) == []


def test_big_layer_image(store, tmp_path):
    img = ib.big_layer_image(50)
    img.write_oci_archive(str(tmp_path / "big.tar"), "big:50")
    store.load(str(tmp_path / "big.tar"))
    path = store.rootfs(store.lookup("big:50"))
    data = open(os.path.join(path, "big/random.bin"), "rb").read()
    assert len(data) == 50 << 20
    want = [f for f in img.layers[1].entries if f.name == "big/random.bin"][0].content
    assert hashlib.sha256(data).digest() == hashlib.sha256(want).digest()


# ---- corruption ----

def test_corrupt_blob_is_detected_and_named(vdkr, store, tmp_path, busybox):
    busybox.write_layout(str(tmp_path / "l"), "busybox:c")
    store.load(str(tmp_path / "l"))
    cfg = os.path.join(store.path, "blobs/sha256", busybox.id[7:])
    data = bytearray(open(cfg, "rb").read())
    data[len(data) // 2] ^= 0x01
    os.chmod(cfg, 0o644)
    open(cfg, "wb").write(bytes(data))
    with pytest.raises(vxn.DigestMismatch) as ei:
        store.lookup("busybox:c")
    assert busybox.id in ei.value.message
    p = vdkr("inspect", "busybox:c", check=1)
    assert busybox.id in p.stderr
    assert p.stdout == "[]\n"


def test_corrupt_layer_fails_unpack_and_save(store, tmp_path, busybox):
    busybox.write_layout(str(tmp_path / "l"), "busybox:c")
    store.load(str(tmp_path / "l"))
    layer = os.path.join(store.path, "blobs/sha256", busybox.layers[0].digest[7:])
    data = bytearray(open(layer, "rb").read())
    data[-20] ^= 0xff
    open(layer, "wb").write(bytes(data))
    with pytest.raises(vxn.Error) as ei:
        store.rootfs(store.lookup("busybox:c"))
    assert busybox.layers[0].digest in ei.value.message
    with pytest.raises(vxn.DigestMismatch):
        store.save(["busybox:c"], str(tmp_path / "out.tar"))
    assert not os.path.exists(tmp_path / "out.tar")
    assert [f for f in os.listdir(tmp_path) if f.startswith("out.tar")] == []


# ---- management ----

def test_tag_rmi_and_shared_blobs(vdkr, store, tmp_path, busybox):
    ib.write_layout(str(tmp_path / "l"), {"a:1": busybox, "b:1": ib.multilayer_image()})
    store.load(str(tmp_path / "l"))
    vdkr("tag", "a:1", "a:2", check=0)
    vdkr("tag", "a:1", "localhost:5000/x/a:3", check=0)
    assert sorted(store.lookup("a:2").names) == sorted(
        ["docker.io/library/a:1", "docker.io/library/a:2", "localhost:5000/x/a:3"])
    p = vdkr("rmi", busybox.id[7:19], check=1)
    assert "must be forced" in p.stderr
    assert vdkr("rmi", "a:2", check=0).stdout == "Untagged: a:2\n"
    shared = os.path.join(store.path, "blobs/sha256", busybox.layers[0].digest[7:])
    assert os.path.exists(shared)   # multilayer's bottom layer is busybox's
    p = vdkr("rmi", "-f", busybox.id[7:19], check=0)
    assert p.stdout.splitlines()[-1] == "Deleted: " + busybox.id
    assert "Untagged: a:1" in p.stdout and "Untagged: localhost:5000/x/a:3" in p.stdout
    assert os.path.exists(shared)   # still used by b:1
    assert not os.path.exists(os.path.join(store.path, "blobs/sha256", busybox.digest[7:]))
    p = vdkr("rmi", "nope", "b:1", check=1)
    assert "no such image: nope" in p.stderr and "Deleted: " in p.stdout
    assert os.listdir(os.path.join(store.path, "blobs/sha256")) == []


def test_tag_moves_name_and_prune_removes_dangling(vdkr, store, tmp_path, busybox):
    other = ib.busybox_image(config={"Cmd": ["/bin/true"]})
    ib.write_layout(str(tmp_path / "l"), {"app:1": busybox, "app:2": other})
    store.load(str(tmp_path / "l"))
    vdkr("tag", "app:2", "app:1", check=0)       # app:1's old image is now dangling
    dangling = store.images(dangling=True)
    assert [i.id for i in dangling] == [busybox.id]
    p = vdkr("images", check=0)
    assert "<none>" in p.stdout.splitlines()[1] or "<none>" in p.stdout
    usage = store.usage()
    p = vdkr("image", "prune", "-f", check=0)
    assert "deleted: " + busybox.id in p.stdout
    assert p.stdout.rstrip().splitlines()[-1].startswith("Total reclaimed space: ")
    assert store.images(dangling=True) == []
    assert store.usage()["images_bytes"] < usage["images_bytes"]
    p = vdkr("image", "prune", "-a", "-f", check=0)
    assert store.images() == []
    assert os.listdir(os.path.join(store.path, "blobs/sha256")) == []


def test_inspect_history_and_listing_formats(vdkr, vpdmn, tmp_path, busybox):
    busybox.write_oci_archive(str(tmp_path / "bb.tar"), "busybox:latest")
    vdkr("load", "-i", str(tmp_path / "bb.tar"), check=0)
    ins = json.loads(vdkr("inspect", "busybox", check=0).stdout)
    assert len(ins) == 1 and ins[0]["Id"] == busybox.id
    assert ins[0]["RepoTags"] == ["docker.io/library/busybox:latest"]
    assert ins[0]["Config"]["Cmd"] == ["/bin/sh"]
    assert ins[0]["RootFS"]["Layers"] == [busybox.layers[0].diff_id]
    hist = json.loads(vdkr("history", "--format", "json", "busybox", check=0).stdout)
    assert len(hist) == len(busybox.config["history"])
    assert hist[0]["id"] == busybox.id
    table = vdkr("images", check=0).stdout.splitlines()
    assert table[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    assert table[1].split()[:3] == ["busybox", "latest", busybox.id[7:19]]
    assert vdkr("images", "-q", check=0).stdout == busybox.id[7:19] + "\n"
    d = vdkr("images", "--digests", check=0).stdout.splitlines()[1].split()
    assert d[2] == busybox.digest
    # podman shows full names and IDs without the prefix
    pt = vpdmn("images", check=0).stdout.splitlines()[1].split()
    assert pt[:3] == ["docker.io/library/busybox", "latest", busybox.id[7:19]]
    assert vdkr("system", "df", check=0).stdout.splitlines()[1].split()[:2] == ["Images", "1"]
    p = vdkr("inspect", "busybox", "ghost", check=1)
    assert len(json.loads(p.stdout)) == 1 and "ghost" in p.stderr


def test_bad_references_are_one_clear_error(vdkr):
    for bad, why in [("Busybox", "lowercase"), ("a@sha256:12", "digest"),
                     ("a" * 64, "64-byte hexadecimal"), ("a:", "invalid reference")]:
        p = vdkr("pull", bad, check=1)
        assert p.stderr.count("\n") == 1 and why in p.stderr, p.stderr
        assert p.stderr.startswith("vdkr: pull: invalid reference '%s'" % bad), p.stderr


def test_ref_binding():
    r = vxn.Ref("localhost:5000/ns/app@sha256:" + "a" * 64)
    assert (r.domain, r.path, r.tag, r.digest) == ("localhost:5000", "ns/app", None,
                                                   "sha256:" + "a" * 64)
    assert vxn.Ref("busybox").string == "docker.io/library/busybox:latest"
    assert vxn.Ref("docker.io/library/busybox:1").familiar == "busybox:1"
    with pytest.raises(vxn.InvalidArgument):
        vxn.Ref("Busybox")


# ---- registry: pull and push ----

def test_pull_push_roundtrip_digests_match_skopeo(store, registry, tmp_path, busybox):
    registry.push(busybox, "bb:1")
    img = store.pull(registry.ref("bb:1"), tls_verify=False)
    raw = registry.inspect("bb:1", raw=True)
    assert img.digest == "sha256:" + hashlib.sha256(raw if isinstance(raw, bytes) else raw.encode()).hexdigest()
    assert img.digest == busybox.digest and img.id == busybox.id
    store.tag(registry.ref("bb:1"), registry.ref("copy:2"))
    store.push(registry.ref("copy:2"), tls_verify=False)
    info = registry.inspect("copy:2")
    assert info["Digest"] == busybox.digest
    # pulling again stores nothing twice
    before = store_files(store)
    store.pull(registry.ref("bb:1"), tls_verify=False)
    assert store_files(store) == before


def test_pull_index_selects_platform_and_lists_others(store, registry):
    index = ib.multiarch_index()
    registry.push(index, "multi:1")
    events = []
    amd = store.pull(registry.ref("multi:1"), tls_verify=False,
                     progress=lambda *a: events.append(a))
    statuses = [e[1] for e in events]
    assert statuses[0] == "Resolving" and statuses[-1] == "Pulled"
    assert ("Copying blob" in statuses) and any(e[0] == amd.layers[0][7:19] for e in events)
    assert amd.architecture == "amd64" and amd.digest == index.image_for("amd64").digest
    arm = store.pull(registry.ref("multi:1"), platform="linux/arm64/v8", tls_verify=False)
    assert arm.architecture == "arm64" and arm.digest == index.image_for("arm64", "v8").digest
    before = store_files(store)
    with pytest.raises(vxn.NotFound) as ei:
        store.pull(registry.ref("multi:1"), platform="linux/s390x", tls_verify=False)
    msg = ei.value.message
    assert "linux/s390x" in msg
    for p in ("linux/amd64", "linux/arm64/v8", "linux/arm/v7"):
        assert p in msg
    assert store_files(store) == before


def test_pull_errors(vdkr, registry):
    p = vdkr("pull", "--tls-verify=false", registry.ref("absent:1"), check=1)
    assert p.stderr.count("\n") == 1 and "absent" in p.stderr
    p = vdkr("pull", "--platform", "linux/amd64/v8/extra", "x", check=1)
    assert p.stderr == ("vdkr: pull: invalid platform 'linux/amd64/v8/extra': expected "
                        "os/arch[/variant] (e.g. linux/arm64/v8)\n")


def _wait_for_tmp(store_path, timeout=20):
    tmp = os.path.join(store_path, "tmp")
    deadline = time.time() + timeout
    while time.time() < deadline:
        for d in os.listdir(tmp) if os.path.isdir(tmp) else []:
            full = os.path.join(tmp, d)
            if os.path.isdir(full) and any(os.scandir(full)):
                return full
        time.sleep(0.005)
    raise AssertionError("no work in progress appeared in " + tmp)


@pytest.mark.parametrize("what", ["pull", "load"])
def test_sigkill_mid_transfer_leaves_no_image(vdkr, roots, registry, tmp_path, what):
    big = ib.big_layer_image(50)
    if what == "pull":
        registry.push(big, "big:1")
        argv = [TOOLS["vdkr"], "pull", "-q", "--tls-verify=false", registry.ref("big:1")]
    else:
        big.write_oci_archive(str(tmp_path / "big.tar"), "big:1")
        argv = [TOOLS["vdkr"], "load", "-q", "-i", str(tmp_path / "big.tar")]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    store_path = os.path.join(roots["data"], "images")
    try:
        _wait_for_tmp(store_path)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert vdkr("images", "-q", check=0).stdout == ""
    # opening the store (any command) cleaned the leftovers
    assert os.listdir(os.path.join(store_path, "tmp")) == []
    # and the store still works
    if what == "pull":
        vdkr("pull", "-q", "--tls-verify=false", registry.ref("big:1"), check=0)
    else:
        vdkr("load", "-q", "-i", str(tmp_path / "big.tar"), check=0)
    assert vdkr("images", "-q", check=0).stdout.strip() == big.id[7:19]


def test_concurrent_loads_and_tags_keep_the_index_whole(roots, tmp_path, busybox):
    archives = []
    for i in range(6):
        img = ib.busybox_image(config={"Cmd": ["/bin/echo", str(i)]})
        path = tmp_path / ("i%d.tar" % i)
        img.write_oci_archive(str(path), "par:%d" % i)
        archives.append(path)
    procs = [subprocess.Popen([TOOLS["vdkr"], "load", "-q", "-i", str(a)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for a in archives]
    for p in procs:
        assert p.wait() == 0, p.stderr.read()
    store = vxn.ImageStore(vxn.Context())
    names = sorted(n for i in store.images() for n in i.names)
    assert names == ["docker.io/library/par:%d" % i for i in range(6)]
    tags = [subprocess.Popen([TOOLS["vdkr"], "tag", "par:%d" % i, "again:%d" % i])
            for i in range(6)]
    assert [t.wait() for t in tags] == [0] * 6
    assert len([n for i in store.images() for n in i.names]) == 12
