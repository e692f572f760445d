# SPDX-License-Identifier: LGPL-2.1-or-later
"""Build OCI images offline, deterministically, for the integration tests.

Stdlib only (zstd goes through the `zstd` command). Everything is built in
memory from explicit entries: mtimes are pinned, gzip headers carry mtime 0 and
no file name, JSON is serialised canonically (sorted keys, no spaces), so the
same call gives the same digests on every machine.

Entries are written to the tar exactly as given, in the order given: names
are never normalised, so hostile layers ("../evil", "/abs", writes through a
symlink, ...) are as easy to build as clean ones.

    layer = Layer([Dir("etc"), File("etc/motd", b"hi\\n")])
    img = Image([busybox_layer(), layer], config={"Cmd": ["/bin/sh"]})
    write_layout("/tmp/x/oci", {"latest": img})      # OCI image layout
    img.write_docker_archive("/tmp/x/img.tar", ["busybox:latest"])

Media types, layouts and archives follow the OCI image spec 1.0 and the
`docker save` format. expected_tree()/tree_of() describe a root file system
as {path: {...}} so an unpacked tree can be compared exactly.
"""
import copy
import functools
import gzip
import hashlib
import io
import json
import os
import random
import stat
import subprocess
import tarfile

EPOCH = 1700000000
CREATED = "2023-11-14T22:13:20Z"  # EPOCH in RFC 3339
BUSYBOX = "/bin/busybox"
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
REF_NAME = "org.opencontainers.image.ref.name"

OCI_LAYOUT_VERSION = "1.0.0"
MT_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MT_OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_OCI_LAYER = {
    "none": "application/vnd.oci.image.layer.v1.tar",
    "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
    "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
}
MT_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MT_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MT_DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
MT_DOCKER_LAYER = {
    "none": "application/vnd.docker.image.rootfs.diff.tar",
    "gzip": "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "zstd": "application/vnd.docker.image.rootfs.diff.tar.zstd",
}


def sha256(data):
    """'sha256:<hex>' of bytes."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical_json(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


# ---------------------------------------------------------------------------
# Entries


class Entry:
    """One tar member. kind: file, dir, symlink, hardlink, char, block, fifo.

    `name` and `linkname` go into the tar verbatim. Modes are the permission
    bits (07777) only; the type comes from `kind`.
    """

    KINDS = {
        "file": tarfile.REGTYPE,
        "dir": tarfile.DIRTYPE,
        "symlink": tarfile.SYMTYPE,
        "hardlink": tarfile.LNKTYPE,
        "char": tarfile.CHRTYPE,
        "block": tarfile.BLKTYPE,
        "fifo": tarfile.FIFOTYPE,
    }

    def __init__(self, kind, name, *, content=b"", mode=None, uid=0, gid=0, mtime=EPOCH,
                 xattrs=None, linkname="", devmajor=0, devminor=0, pax=None):
        if kind not in self.KINDS:
            raise ValueError("unknown entry kind %r" % kind)
        if isinstance(content, str):
            content = content.encode()
        if mode is None:
            mode = {"dir": 0o755, "symlink": 0o777, "char": 0o666, "block": 0o660,
                    "fifo": 0o644}.get(kind, 0o644)
        self.kind, self.name, self.content = kind, name, content
        self.mode, self.uid, self.gid, self.mtime = mode, uid, gid, mtime
        self.xattrs = dict(xattrs or {})
        self.linkname, self.devmajor, self.devminor = linkname, devmajor, devminor
        self.pax = dict(pax or {})

    def __repr__(self):
        extra = " -> %s" % self.linkname if self.linkname else ""
        return "<%s %s%s>" % (self.kind, self.name, extra)

    def tarinfo(self):
        ti = tarfile.TarInfo(self.name)
        ti.type = self.KINDS[self.kind]
        ti.mode = self.mode
        ti.uid, ti.gid = self.uid, self.gid
        ti.uname = ti.gname = ""
        ti.mtime = int(self.mtime)
        ti.linkname = self.linkname
        ti.devmajor, ti.devminor = self.devmajor, self.devminor
        ti.size = len(self.content) if self.kind == "file" else 0
        pax = dict(self.pax)
        for k, v in sorted(self.xattrs.items()):
            if isinstance(v, bytes):
                v = v.decode("utf-8", "surrogateescape")
            pax["SCHILY.xattr." + k] = v
        ti.pax_headers = pax
        return ti


def File(name, content=b"", mode=0o644, **kw):
    return Entry("file", name, content=content, mode=mode, **kw)


def Dir(name, mode=0o755, **kw):
    return Entry("dir", name, mode=mode, **kw)


def Symlink(name, target, **kw):
    return Entry("symlink", name, linkname=target, **kw)


def Hardlink(name, target, **kw):
    """A hard link; `target` is the tar name of the linked entry (e.g. 'data/a')."""
    return Entry("hardlink", name, linkname=target, **kw)


def CharDev(name, major, minor, mode=0o666, **kw):
    return Entry("char", name, devmajor=major, devminor=minor, mode=mode, **kw)


def BlockDev(name, major, minor, mode=0o660, **kw):
    return Entry("block", name, devmajor=major, devminor=minor, mode=mode, **kw)


def Fifo(name, mode=0o644, **kw):
    return Entry("fifo", name, mode=mode, **kw)


def Whiteout(path, **kw):
    """Deletes `path` of the lower layers: an empty file 'dir/.wh.base'."""
    d, b = os.path.split(path)
    return Entry("file", os.path.join(d, ".wh." + b), mode=0o644, **kw)


def Opaque(dirpath, **kw):
    """Hides every child of `dirpath` coming from lower layers."""
    return Entry("file", os.path.join(dirpath, ".wh..wh..opq"), mode=0o644, **kw)


def _path_key(name):
    """Depth-first order with sorted names (what a sorted os.walk gives)."""
    return name.rstrip("/").split("/")


# ---------------------------------------------------------------------------
# Layers


def _compress(data, compression):
    if compression == "none":
        return data
    if compression == "gzip":
        buf = io.BytesIO()
        with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=6) as g:
            g.write(data)
        return buf.getvalue()
    if compression == "zstd":
        return subprocess.run(["zstd", "-q", "-c", "-3", "-T1", "--no-progress"], input=data,
                              stdout=subprocess.PIPE, check=True).stdout
    raise ValueError("unknown compression %r" % compression)


def decompress(data, compression):
    if compression == "none":
        return data
    if compression == "gzip":
        return gzip.decompress(data)
    if compression == "zstd":
        return subprocess.run(["zstd", "-q", "-d", "-c"], input=data, stdout=subprocess.PIPE,
                              check=True).stdout
    raise ValueError("unknown compression %r" % compression)


class Layer:
    """A layer blob built from entries, kept in memory.

    Attributes: entries, compression ('none', 'gzip', 'zstd'), tar (the
    uncompressed tar bytes), blob (the compressed bytes), digest (of blob),
    diff_id (of tar), size (len(blob)).
    """

    def __init__(self, entries, compression="gzip", comment=None):
        self.entries = list(entries)
        self.compression = compression
        self.comment = comment
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
            for e in self.entries:
                ti = e.tarinfo()
                tf.addfile(ti, io.BytesIO(e.content) if e.kind == "file" else None)
        self.tar = buf.getvalue()
        self.blob = _compress(self.tar, compression)
        self.digest = sha256(self.blob)
        self.diff_id = sha256(self.tar)
        self.size = len(self.blob)

    def __repr__(self):
        return "<Layer %s %d entries %s>" % (self.digest[:19], len(self.entries), self.compression)

    def media_type(self, docker=False):
        return (MT_DOCKER_LAYER if docker else MT_OCI_LAYER)[self.compression]

    @classmethod
    def from_dir(cls, root, compression="gzip", mtime=EPOCH, uid=None, gid=None, prefix="",
                 comment=None):
        """A layer holding the tree under `root` (not `root` itself).

        Sorted depth-first; hard links (same inode) become link entries to
        the first path seen; user./trusted./security.capability xattrs are
        kept. mtime=None keeps the files' mtimes; uid/gid override owners.
        """
        return cls(dir_entries(root, mtime=mtime, uid=uid, gid=gid, prefix=prefix), compression,
                   comment=comment)


def dir_entries(root, mtime=EPOCH, uid=None, gid=None, prefix=""):
    """Entries describing the tree under `root` (see Layer.from_dir)."""
    paths = []
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            paths.append(os.path.relpath(os.path.join(dirpath, n), root))
    paths.sort(key=_path_key)
    seen = {}
    out = []
    for rel in paths:
        full = os.path.join(root, rel)
        st = os.lstat(full)
        name = prefix + rel
        kw = dict(mode=stat.S_IMODE(st.st_mode),
                  uid=st.st_uid if uid is None else uid,
                  gid=st.st_gid if gid is None else gid,
                  mtime=int(st.st_mtime) if mtime is None else mtime,
                  xattrs=_read_xattrs(full))
        m = st.st_mode
        if stat.S_ISREG(m) and st.st_nlink > 1 and (st.st_dev, st.st_ino) in seen:
            out.append(Hardlink(name, seen[(st.st_dev, st.st_ino)]))
            continue
        if stat.S_ISREG(m):
            with open(full, "rb") as f:
                out.append(Entry("file", name, content=f.read(), **kw))
            if st.st_nlink > 1:
                seen[(st.st_dev, st.st_ino)] = name
        elif stat.S_ISDIR(m):
            out.append(Entry("dir", name, **kw))
        elif stat.S_ISLNK(m):
            out.append(Entry("symlink", name, linkname=os.readlink(full), **kw))
        elif stat.S_ISCHR(m) or stat.S_ISBLK(m):
            out.append(Entry("char" if stat.S_ISCHR(m) else "block", name,
                             devmajor=os.major(st.st_rdev), devminor=os.minor(st.st_rdev), **kw))
        elif stat.S_ISFIFO(m):
            out.append(Entry("fifo", name, **kw))
        # sockets are not representable in tar: skipped, as docker does
    return out


def _keep_xattr(name):
    return name.startswith(("user.", "trusted.")) or name == "security.capability"


def _read_xattrs(path):
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return {}
    out = {}
    for n in sorted(names):
        if _keep_xattr(n):
            try:
                out[n] = os.getxattr(path, n, follow_symlinks=False)
            except OSError:
                pass
    return out


# ---------------------------------------------------------------------------
# Images and indexes


class Image:
    """An image: layers + config, serialised to config and manifest blobs.

    config: the runtime config ("Cmd", "Env", "WorkingDir", "User",
    "Labels", "Entrypoint", "ExposedPorts", "Volumes", "StopSignal", ...).
    docker=True uses Docker schema2 media types instead of OCI ones.
    Attributes: layers, config_bytes, config_digest, manifest_bytes,
    manifest_digest, media_type, architecture, os, variant, platform.
    """

    def __init__(self, layers, config=None, architecture="amd64", os="linux", variant=None,
                 created=CREATED, docker=False, annotations=None, history=None,
                 author=None, os_features=None):
        self.layers = list(layers)
        self.architecture, self.os, self.variant = architecture, os, variant
        self.docker = docker
        cfg = {
            "created": created,
            "architecture": architecture,
            "os": os,
            "config": copy.deepcopy(config or {}),
            "rootfs": {"type": "layers", "diff_ids": [l.diff_id for l in self.layers]},
            "history": history if history is not None else [
                {"created": created,
                 "created_by": l.comment or "vxn imagebuild layer %d" % i}
                for i, l in enumerate(self.layers)],
        }
        if variant:
            cfg["variant"] = variant
        if author:
            cfg["author"] = author
        if os_features:
            cfg["os.features"] = list(os_features)
        self.config = cfg
        self.config_bytes = canonical_json(cfg)
        self.config_digest = sha256(self.config_bytes)
        self.media_type = MT_DOCKER_MANIFEST if docker else MT_OCI_MANIFEST
        man = {
            "schemaVersion": 2,
            "mediaType": self.media_type,
            "config": {"mediaType": MT_DOCKER_CONFIG if docker else MT_OCI_CONFIG,
                       "digest": self.config_digest, "size": len(self.config_bytes)},
            "layers": [{"mediaType": l.media_type(docker), "digest": l.digest, "size": l.size}
                       for l in self.layers],
        }
        if annotations:
            man["annotations"] = dict(annotations)
        self.manifest = man
        self.manifest_bytes = canonical_json(man)
        self.manifest_digest = sha256(self.manifest_bytes)
        self.digest = self.manifest_digest
        self.size = len(self.manifest_bytes)

    def __repr__(self):
        return "<Image %s %s>" % (self.manifest_digest[:19], self.platform_string)

    @property
    def id(self):
        """The image ID docker and vxn show: the config digest."""
        return self.config_digest

    @property
    def platform(self):
        p = {"architecture": self.architecture, "os": self.os}
        if self.variant:
            p["variant"] = self.variant
        return p

    @property
    def platform_string(self):
        return "/".join([self.os, self.architecture] + ([self.variant] if self.variant else []))

    def descriptor(self, platform=False):
        d = {"mediaType": self.media_type, "digest": self.manifest_digest, "size": self.size}
        if platform:
            d["platform"] = self.platform
        return d

    def blobs(self):
        """{digest: bytes} of every blob this image needs (manifest included)."""
        b = {l.digest: l.blob for l in self.layers}
        b[self.config_digest] = self.config_bytes
        b[self.manifest_digest] = self.manifest_bytes
        return b

    def chain_ids(self):
        """OCI ChainIDs of the layers (bottom first)."""
        out, chain = [], None
        for l in self.layers:
            chain = l.diff_id if chain is None else sha256(("%s %s" % (chain, l.diff_id)).encode())
            out.append(chain)
        return out

    def expected_tree(self, mtimes=False):
        """The merged rootfs as tree_of() would describe it after a correct unpack."""
        return expected_tree_of_layers(self.layers, mtimes=mtimes)

    def write_layout(self, path, refname="latest"):
        return write_layout(path, {refname: self})

    def write_oci_archive(self, path, refname="latest"):
        return write_oci_archive(path, {refname: self})

    def write_docker_archive(self, path, repotags=()):
        return write_docker_archive(path, [(self, list(repotags))])


class Index:
    """A multi-platform image index (docker=True: a schema2 manifest list)."""

    def __init__(self, images, docker=False, annotations=None):
        self.images = list(images)
        self.docker = docker
        self.media_type = MT_DOCKER_LIST if docker else MT_OCI_INDEX
        idx = {"schemaVersion": 2, "mediaType": self.media_type,
               "manifests": [i.descriptor(platform=True) for i in self.images]}
        if annotations:
            idx["annotations"] = dict(annotations)
        self.index = idx
        self.manifest_bytes = canonical_json(idx)
        self.manifest_digest = sha256(self.manifest_bytes)
        self.digest = self.manifest_digest
        self.size = len(self.manifest_bytes)

    def __repr__(self):
        return "<Index %s %s>" % (self.manifest_digest[:19],
                                  ",".join(i.platform_string for i in self.images))

    def descriptor(self, platform=False):
        return {"mediaType": self.media_type, "digest": self.manifest_digest, "size": self.size}

    def blobs(self):
        b = {}
        for i in self.images:
            b.update(i.blobs())
        b[self.manifest_digest] = self.manifest_bytes
        return b

    def image_for(self, architecture, variant=None, os="linux"):
        for i in self.images:
            if i.architecture == architecture and i.os == os and (
                    variant is None or i.variant == variant):
                return i
        raise KeyError("%s/%s/%s" % (os, architecture, variant))


def _items(images_with_refnames):
    if isinstance(images_with_refnames, dict):
        return list(images_with_refnames.items())
    return list(images_with_refnames)


def _layout_files(items, old_index=None):
    """[(relpath, bytes)] of an OCI layout holding `items` [(refname, image)]."""
    items = [(r, i) if isinstance(r, str) else (i, r) for r, i in items]
    blobs = {}
    for _, img in items:
        blobs.update(img.blobs())
    refs = {r for r, _ in items}
    manifests = [m for m in (old_index or {}).get("manifests", [])
                 if m.get("annotations", {}).get(REF_NAME) not in refs]
    for ref, img in items:
        d = img.descriptor()
        if ref is not None:
            d["annotations"] = {REF_NAME: ref}
        manifests.append(d)
    index = {"schemaVersion": 2, "mediaType": MT_OCI_INDEX, "manifests": manifests}
    files = [("oci-layout", canonical_json({"imageLayoutVersion": OCI_LAYOUT_VERSION})),
             ("index.json", canonical_json(index))]
    for dig in sorted(blobs):
        files.append(("blobs/sha256/" + dig.split(":", 1)[1], blobs[dig]))
    return files


def write_layout(path, images_with_refnames):
    """Write (or add to) an OCI image layout at `path`.

    images_with_refnames: {refname: Image|Index} or [(refname, Image|Index)];
    refname None adds an entry without a name. An existing index.json is kept,
    entries with the same ref names are replaced. Returns `path`.
    """
    old = None
    ip = os.path.join(path, "index.json")
    if os.path.exists(ip):
        with open(ip) as f:
            old = json.load(f)
    os.makedirs(os.path.join(path, "blobs", "sha256"), exist_ok=True)
    for rel, data in _layout_files(_items(images_with_refnames), old):
        p = os.path.join(path, rel)
        if rel.startswith("blobs/") and os.path.exists(p):
            continue
        tmp = p + ".tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.rename(tmp, p)
    return path


def _tar_bytes(tf, name, data, mode=0o644):
    ti = tarfile.TarInfo(name)
    ti.size, ti.mode, ti.mtime, ti.uname, ti.gname = len(data), mode, EPOCH, "", ""
    tf.addfile(ti, io.BytesIO(data))


def _tar_dir(tf, name):
    ti = tarfile.TarInfo(name)
    ti.type, ti.mode, ti.mtime, ti.uname, ti.gname = tarfile.DIRTYPE, 0o755, EPOCH, "", ""
    tf.addfile(ti)


def write_oci_archive(path, images_with_refnames):
    """An OCI archive: the image layout as a tar (what `oci-archive:` reads)."""
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tf:
        _tar_dir(tf, "blobs")
        _tar_dir(tf, "blobs/sha256")
        for rel, data in _layout_files(_items(images_with_refnames)):
            _tar_bytes(tf, rel, data)
    return path


def write_docker_archive(path, images_with_repotags):
    """A `docker save` archive of [(Image, [repotag, ...])] (or {repotag: Image}).

    manifest.json [{Config, RepoTags, Layers}], <config hex>.json, one
    <layer id>/layer.tar (uncompressed) + VERSION + json per layer, and the
    legacy `repositories` file. Layer ids are the layers' ChainID hex.
    """
    if isinstance(images_with_repotags, dict):
        groups = {}
        for tag, img in images_with_repotags.items():
            groups.setdefault(id(img), (img, []))[1].append(tag)
        images_with_repotags = list(groups.values())
    manifest, repos, files, dirs = [], {}, {}, []
    for img, tags in images_with_repotags:
        cfg_name = img.config_digest.split(":", 1)[1] + ".json"
        files[cfg_name] = img.config_bytes
        layer_names, parent = [], None
        for layer, chain in zip(img.layers, img.chain_ids()):
            lid = chain.split(":", 1)[1]
            if lid + "/layer.tar" not in files:
                dirs.append(lid)
                v1 = {"id": lid, "created": CREATED}
                if parent:
                    v1["parent"] = parent
                files[lid + "/VERSION"] = b"1.0"
                files[lid + "/json"] = canonical_json(v1)
                files[lid + "/layer.tar"] = layer.tar
            layer_names.append(lid + "/layer.tar")
            parent = lid
        manifest.append({"Config": cfg_name, "RepoTags": list(tags) or None,
                         "Layers": layer_names})
        for t in tags:
            repo, _, tag = t.rpartition(":")
            if not repo or "/" in tag:
                repo, tag = t, "latest"
            repos.setdefault(repo, {})[tag] = parent
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tf:
        for d in dirs:
            _tar_dir(tf, d)
            for leaf in ("VERSION", "json", "layer.tar"):
                _tar_bytes(tf, d + "/" + leaf, files.pop(d + "/" + leaf))
        for name in sorted(files):
            _tar_bytes(tf, name, files[name])
        _tar_bytes(tf, "manifest.json", json.dumps(manifest, separators=(",", ":")).encode())
        if repos:
            _tar_bytes(tf, "repositories", canonical_json(repos))
    return path


# ---------------------------------------------------------------------------
# Trees: what a rootfs should look like, and what one does look like


def _desc(kind, mode, uid, gid, **kw):
    d = {"type": kind, "mode": mode, "uid": uid, "gid": gid}
    d.update({k: v for k, v in kw.items() if v is not None})
    return d


def tree_of(root, mtimes=False):
    """Describe the tree under `root`: {relpath: {type, mode, uid, gid, ...}}.

    type: file, dir, symlink, char, block, fifo, socket; mode: permission
    bits (07777); file: sha256 (hex of the content); symlink: target;
    char/block: rdev [major, minor]; xattrs {name: bytes} when any (user.,
    trusted., security.capability); regular files with several names in the
    tree: linked, the sorted list of all those names; mtimes=True adds
    mtime (integer seconds; not for symlinks). `root` itself is left out.
    """
    out, inodes = {}, {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for n in sorted(dirnames + filenames):
            full = os.path.join(dirpath, n)
            rel = os.path.relpath(full, root)
            st = os.lstat(full)
            m = st.st_mode
            kw = {}
            if stat.S_ISREG(m):
                kind = "file"
                h = hashlib.sha256()
                with open(full, "rb") as f:
                    for chunk in iter(lambda: f.read(1 << 20), b""):
                        h.update(chunk)
                kw["sha256"] = h.hexdigest()
                if st.st_nlink > 1:
                    inodes.setdefault((st.st_dev, st.st_ino), []).append(rel)
            elif stat.S_ISDIR(m):
                kind = "dir"
            elif stat.S_ISLNK(m):
                kind = "symlink"
                kw["target"] = os.readlink(full)
            elif stat.S_ISCHR(m) or stat.S_ISBLK(m):
                kind = "char" if stat.S_ISCHR(m) else "block"
                kw["rdev"] = [os.major(st.st_rdev), os.minor(st.st_rdev)]
            elif stat.S_ISFIFO(m):
                kind = "fifo"
            else:
                kind = "socket"
            x = _read_xattrs(full)
            if x:
                kw["xattrs"] = x
            if mtimes and kind != "symlink":
                kw["mtime"] = int(st.st_mtime)
            out[rel] = _desc(kind, stat.S_IMODE(m), st.st_uid, st.st_gid, **kw)
    for names in inodes.values():
        if len(names) > 1:
            for n in names:
                out[n]["linked"] = sorted(names)
    return out


class _Inode:
    def __init__(self, e):
        self.kind, self.mode, self.uid, self.gid = e.kind, e.mode, e.uid, e.gid
        self.mtime, self.xattrs = e.mtime, dict(e.xattrs)
        self.content, self.target = e.content, e.linkname
        self.rdev = [e.devmajor, e.devminor]


def _clean(name):
    """Normalise a tar name of a clean layer; refuse anything hostile."""
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if name.startswith("/") or ".." in parts:
        raise ValueError("expected_tree: hostile name %r" % name)
    return "/".join(parts)


def _check_dirs(fs, layer_kinds, d, path):
    """Every ancestor of a whiteout that exists, below or in its own layer,
    must be a directory (a sequential unpacker would follow a symlink)."""
    parts = d.split("/") if d else []
    for i in range(1, len(parts) + 1):
        a = "/".join(parts[:i])
        kinds = {fs[a].kind} if a in fs else set()
        kinds |= layer_kinds.get(a, set())
        if kinds - {"dir"}:
            raise ValueError("expected_tree: %s: whiteout through a %s" % (
                path, sorted(kinds - {"dir"})[0]))


def apply_layers(layers):
    """Reference unpacker for clean layers: {path: _Inode} of the merged rootfs.

    OCI semantics: a layer's whiteouts and opaque markers act on the lower
    layers only (whatever their place in the tar); an entry replaces what
    was at its path unless both are directories (then only the metadata
    changes); hard links share the target's inode.
    """
    fs = {}

    def remove(path):
        for p in [p for p in fs if p == path or p.startswith(path + "/")]:
            del fs[p]

    for layer in layers:
        plain = []
        layer_kinds = {}
        for e in layer.entries:
            if not os.path.basename(e.name.rstrip("/")).startswith(".wh."):
                layer_kinds.setdefault(_clean(e.name), set()).add(e.kind)
        for e in layer.entries:
            path = _clean(e.name)
            d, b = os.path.split(path)
            if b.startswith(".wh."):
                _check_dirs(fs, layer_kinds, d, path)
            if b == ".wh..wh..opq":
                for p in [p for p in fs if d == "" or p.startswith(d + "/")]:
                    del fs[p]
            elif b.startswith(".wh."):
                if b[4:] in ("", ".", ".."):
                    raise ValueError("expected_tree: hostile whiteout %r" % e.name)
                remove(os.path.join(d, b[4:]))
            else:
                plain.append((path, e))
        for path, e in plain:
            parent = os.path.dirname(path)
            if parent and (parent not in fs or fs[parent].kind != "dir"):
                raise ValueError("expected_tree: %s: parent is not a directory" % path)
            old = fs.get(path)
            if e.kind == "hardlink":
                target = fs.get(_clean(e.linkname))
                if target is None or target.kind == "dir":
                    raise ValueError("expected_tree: %s: bad hard link target" % path)
                if old is not target:
                    remove(path)
                fs[path] = target
                continue
            if old is not None and old.kind == "dir" and e.kind == "dir":
                old.mode, old.uid, old.gid = e.mode, e.uid, e.gid
                old.mtime, old.xattrs = e.mtime, dict(e.xattrs)
                continue
            remove(path)
            fs[path] = _Inode(e)
    return fs


def expected_tree_of_layers(layers, mtimes=False):
    fs = apply_layers(layers)
    names = {}
    for p, ino in fs.items():
        names.setdefault(id(ino), []).append(p)
    out = {}
    for p in sorted(fs, key=_path_key):
        ino = fs[p]
        kw = {}
        mode = ino.mode
        if ino.kind == "file":
            kw["sha256"] = hashlib.sha256(ino.content).hexdigest()
            if len(names[id(ino)]) > 1:
                kw["linked"] = sorted(names[id(ino)])
        elif ino.kind == "symlink":
            kw["target"] = ino.target
            mode = 0o777
        elif ino.kind in ("char", "block"):
            kw["rdev"] = list(ino.rdev)
        x = {k: (v.encode() if isinstance(v, str) else v) for k, v in ino.xattrs.items()
             if _keep_xattr(k)}
        if x:
            kw["xattrs"] = x
        if mtimes and ino.kind != "symlink":
            kw["mtime"] = int(ino.mtime)
        out[p] = _desc(ino.kind, mode, ino.uid, ino.gid, **kw)
    return out


def tree_diff(want, got):
    """Human-readable differences between two tree descriptions ([] if equal)."""
    out = []
    for p in sorted(set(want) | set(got), key=_path_key):
        if p not in got:
            out.append("missing: %s %r" % (p, want[p]))
        elif p not in want:
            out.append("unexpected: %s %r" % (p, got[p]))
        elif want[p] != got[p]:
            keys = sorted(set(want[p]) | set(got[p]))
            out.append("%s: %s" % (p, ", ".join(
                "%s want %r got %r" % (k, want[p].get(k), got[p].get(k))
                for k in keys if want[p].get(k) != got[p].get(k))))
    return out


# ---------------------------------------------------------------------------
# Ready-made images

PASSWD = (b"root:x:0:0:root:/root:/bin/sh\n"
          b"nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
          b"app:x:1000:1000:app:/home/app:/bin/sh\n")
GROUP = (b"root:x:0:\n"
         b"app:x:1000:\n"
         b"extra:x:1001:app\n"
         b"nogroup:x:65534:\n")
BUSYBOX_DIRS = {"bin": 0o755, "sbin": 0o755, "usr": 0o755, "usr/bin": 0o755,
                "usr/sbin": 0o755, "etc": 0o755, "tmp": 0o1777, "proc": 0o755, "sys": 0o755,
                "dev": 0o755, "root": 0o700, "var": 0o755, "run": 0o755, "home": 0o755}


@functools.lru_cache(maxsize=None)
def _busybox_bytes():
    with open(BUSYBOX, "rb") as f:
        return f.read()


@functools.lru_cache(maxsize=None)
def busybox_applets():
    """Applet paths busybox reports (bin/sh, usr/bin/env, ...), minus bin/busybox."""
    out = subprocess.run([BUSYBOX, "--list-full"], stdout=subprocess.PIPE, check=True,
                         text=True).stdout.split()
    return tuple(sorted(p for p in set(out) if p != "bin/busybox"))


def busybox_entries():
    """Entries of the busybox rootfs, sorted depth-first.

    /bin/busybox (static) + one absolute symlink per applet, /etc/passwd
    (root, nobody, app 1000:1000), /etc/group (root, app 1000, extra 1001
    with member app, nogroup), /tmp 1777, /root 0700, /home/app owned by app.
    """
    ents = {d: Dir(d, mode=m) for d, m in BUSYBOX_DIRS.items()}
    ents["home/app"] = Dir("home/app", uid=1000, gid=1000)
    ents["bin/busybox"] = File("bin/busybox", _busybox_bytes(), mode=0o755)
    for p in busybox_applets():
        for i in range(1, p.count("/") + 1):  # applets outside the listed dirs
            d = "/".join(p.split("/")[:i])
            ents.setdefault(d, Dir(d))
        ents[p] = Symlink(p, "/bin/busybox")
    ents["etc/passwd"] = File("etc/passwd", PASSWD)
    ents["etc/group"] = File("etc/group", GROUP)
    ents["etc/hostname"] = File("etc/hostname", b"busybox\n")
    return [ents[k] for k in sorted(ents, key=_path_key)]


def materialize(entries, root):
    """Create clean entries (no whiteouts) under the host directory `root`."""
    os.makedirs(root, exist_ok=True)
    dirs = []
    for e in entries:
        p = os.path.join(root, _clean(e.name))
        if e.kind == "dir":
            os.makedirs(p, exist_ok=True)
            dirs.append((p, e))
            continue
        if os.path.lexists(p):
            os.unlink(p)
        if e.kind == "file":
            with open(p, "wb") as f:
                f.write(e.content)
        elif e.kind == "symlink":
            os.symlink(e.linkname, p)
        elif e.kind == "hardlink":
            os.link(os.path.join(root, _clean(e.linkname)), p)
            continue
        elif e.kind == "fifo":
            os.mkfifo(p)
        else:
            os.mknod(p, (stat.S_IFCHR if e.kind == "char" else stat.S_IFBLK) | e.mode,
                     os.makedev(e.devmajor, e.devminor))
        _set_meta(p, e)
    for p, e in reversed(dirs):  # children first, so their writes do not move dir mtimes
        _set_meta(p, e)
    return root


def _set_meta(p, e):
    if os.geteuid() == 0:
        os.chown(p, e.uid, e.gid, follow_symlinks=False)
    if e.kind != "symlink":
        os.chmod(p, e.mode)
    for k, v in e.xattrs.items():
        os.setxattr(p, k, v.encode() if isinstance(v, str) else v, follow_symlinks=False)
    os.utime(p, (e.mtime, e.mtime), follow_symlinks=False)


def busybox_rootfs(root):
    """Write the busybox rootfs to the host directory `root` (created); returns it."""
    return materialize(busybox_entries(), root)


@functools.lru_cache(maxsize=None)
def busybox_layer(compression="gzip"):
    return Layer(busybox_entries(), compression, comment="busybox rootfs")


BUSYBOX_CONFIG = {
    "Cmd": ["/bin/sh"],
    "Env": [PATH_ENV],
    "WorkingDir": "/",
    "Labels": {"org.opencontainers.image.title": "busybox-test",
               "org.opencontainers.image.source": "vxn tests/integration/imagebuild.py"},
}


def busybox_image(architecture="amd64", variant=None, compression="gzip", docker=False,
                  config=None):
    """One-layer busybox image: Cmd [/bin/sh], Env PATH, WorkingDir /, Labels.

    `config` entries override BUSYBOX_CONFIG's.
    """
    cfg = copy.deepcopy(BUSYBOX_CONFIG)
    cfg.update(config or {})
    return Image([busybox_layer(compression)], config=cfg, architecture=architecture,
                 variant=variant, docker=docker)


def multilayer_layers():
    """The three layers multilayer_image() puts over busybox."""
    data = Layer([
        Dir("data"),
        File("data/keep.txt", b"keep v1\n"),
        File("data/gone.txt", b"deleted by layer 2\n"),
        Dir("data/olddir"),
        File("data/olddir/a", b"a\n"),
        Dir("data/olddir/sub"),
        File("data/olddir/sub/b", b"b\n"),
        Dir("data/opaque", mode=0o750),
        File("data/opaque/lower1", b"lower1\n"),
        File("data/opaque/lower2", b"lower2\n"),
        File("data/file2dir", b"a file, a dir in layer 2\n"),
        Dir("data/dir2file"),
        File("data/dir2file/child", b"child\n"),
        File("data/hard1", b"hard content\n", mode=0o640, uid=1000, gid=1000),
        Hardlink("data/hard2", "data/hard1"),
        Symlink("data/link-rel", "keep.txt"),
        Symlink("data/link-abs", "/data/keep.txt"),
        Symlink("data/link-dangling", "/nonexistent/target"),
        Symlink("data/link-owned", "keep.txt", uid=1000, gid=1001),
        Fifo("data/fifo", mode=0o620),
        CharDev("data/null", 1, 3, mode=0o666),
        BlockDev("data/loop7", 7, 7, mode=0o660, gid=6),
        File("data/suid", b"#!/bin/sh\nid\n", mode=0o4755),
        File("data/sgid", b"#!/bin/sh\nid -g\n", mode=0o2711, gid=1001),
        Dir("data/sticky", mode=0o1777),
        File("data/xattr.txt", b"has an xattr\n", xattrs={"user.vxn": "1"}),
        Dir("data/xattr-dir", xattrs={"user.vxn.dir": "yes"}),
        File("data/owned-app", b"app's\n", mode=0o600, uid=1000, gid=1000),
        File("data/owned-odd", b"odd owner\n", uid=1234, gid=5678),
        Dir("data/appdir", mode=0o750, uid=1000, gid=1001),
        File("data/appdir/secret", b"secret\n", mode=0o400, uid=1000, gid=1000),
        File("data/empty", b""),
        File("data/noperm", b"no permissions\n", mode=0o000),
        Dir("data/deep"),
        Dir("data/deep/a"),
        Dir("data/deep/a/b"),
        File("data/deep/a/b/" + "n" * 120, b"long name\n"),
    ], comment="data: every file type")
    changes = Layer([
        Dir("data"),
        Whiteout("data/gone.txt"),
        Whiteout("data/olddir"),
        Dir("data/opaque", mode=0o755),
        Opaque("data/opaque"),
        File("data/opaque/new1", b"new1\n"),
        Dir("data/file2dir", mode=0o711),
        File("data/file2dir/inner", b"inner\n"),
        File("data/dir2file", b"a dir, a file in layer 3\n", mode=0o600),
        File("data/keep.txt", b"keep v2\n", mode=0o664),
        Hardlink("data/hard3", "data/hard1"),
        Symlink("data/link-rel", "hard1"),
    ], comment="changes: whiteouts, opaque dir, replacements")
    top = Layer([
        Dir("bin"),
        Whiteout("bin/vi"),
        Dir("data"),
        Dir("data/appdir", mode=0o700, uid=1000, gid=1000),
        Dir("data/sticky", mode=0o1777),
        File("data/sticky/owned", b"in sticky\n", uid=1000, gid=1000),
        Dir("etc"),
        File("etc/motd", b"multilayer test image\n"),
        Dir("usr"),
        Dir("usr/local", mode=0o755),
        Dir("usr/local/bin"),
        File("usr/local/bin/hello", b"#!/bin/sh\necho hello from layer 4\n", mode=0o755),
    ], comment="top: lower whiteout, dir metadata change")
    return [data, changes, top]


def multilayer_image(docker=False):
    """busybox + 3 layers exercising every file type and layer operation.

    See multilayer_layers(); expected_tree() describes the merged rootfs.
    """
    cfg = copy.deepcopy(BUSYBOX_CONFIG)
    cfg.update({"Cmd": ["/bin/sh", "-c", "cat /etc/motd"], "User": "app",
                "WorkingDir": "/data", "Env": [PATH_ENV, "VXN_TEST=multilayer"]})
    return Image([busybox_layer()] + multilayer_layers(), config=cfg, docker=docker)


def expected_tree(image=None, mtimes=False):
    """The merged rootfs of `image` (default: multilayer_image()) as tree_of() describes it."""
    return (image or multilayer_image()).expected_tree(mtimes=mtimes)


def multiarch_index(docker=False):
    """Index of busybox for linux/amd64, linux/arm64/v8 and linux/arm/v7.

    All three carry the same amd64 binary; only their configs (and so their
    manifests) differ.
    """
    return Index([busybox_image("amd64", docker=docker),
                  busybox_image("arm64", "v8", docker=docker),
                  busybox_image("arm", "v7", docker=docker)], docker=docker)


OUTSIDE = "/tmp/vxn-outside"


def hostile_images(outside=OUTSIDE):
    """{name: single-layer image} of layers a safe unpacker must contain.

    `outside` is a host directory the layers aim at (a test should create
    it with a file 'victim' and check afterwards that it is untouched and
    that nothing else appeared in it or next to the rootfs). Every name
    and link target goes into the tar verbatim.

    Names in HOSTILE_ESCAPES (paths or links leaving the rootfs, writes or
    whiteouts through a symlink) have no correct unpacked form: their
    expected_tree() raises ValueError; an unpacker may refuse the layer or
    contain it. The others have one: "symlink-write-file" gives a regular
    file 'victim' (the symlink is replaced, not followed), "symlink-dir-chmod"
    a 0777 directory 'escape', "device-mem" a char device 1:1.
    """
    up = "../" * 16
    rel_out = up + outside.lstrip("/")
    cases = {
        # names that leave the rootfs
        "dotdot": [File("../evil", b"evil\n")],
        "dotdot-nested": [Dir("a"), File("a/../../evil", b"evil\n")],
        "dotdot-deep": [File(rel_out + "/evil", b"evil\n")],
        "absolute": [File(outside + "/evil", b"evil\n")],
        "absolute-root": [File("/abs", b"abs\n")],
        # create a symlink, then write through it
        "symlink-write-abs": [Symlink("escape", outside), File("escape/evil", b"evil\n")],
        "symlink-write-rel": [Symlink("escape", rel_out), File("escape/evil", b"evil\n")],
        "symlink-write-file": [Symlink("victim", outside + "/victim"),
                               File("victim", b"overwritten\n")],
        "symlink-chain": [Symlink("a", "b"), Symlink("b", outside), File("a/evil", b"evil\n")],
        "symlink-dir-chmod": [Symlink("escape", outside), Dir("escape", mode=0o777)],
        # hard links to things outside
        "hardlink-abs": [Hardlink("victim", outside + "/victim")],
        "hardlink-rel": [Hardlink("victim", rel_out + "/victim")],
        "hardlink-then-write": [Hardlink("victim", outside + "/victim"),
                                File("victim", b"overwritten\n")],
        "hardlink-through-symlink": [Symlink("escape", outside),
                                     Hardlink("victim", "escape/victim"),
                                     File("victim", b"overwritten\n")],
        # a directory swapped for a symlink by a later entry
        "dir-swapped-for-symlink": [Dir("d"), File("d/ok", b"ok\n"),
                                    Symlink("d", outside), File("d/evil", b"evil\n")],
        # whiteouts aimed outside
        "whiteout-dotdot": [Dir("d"), File("d/.wh..", b"")],
        "whiteout-through-symlink": [Symlink("escape", outside),
                                     File("escape/.wh.victim", b"")],
        "whiteout-abs": [File(os.path.dirname(outside) + "/.wh." +
                              os.path.basename(outside), b"")],
        "opaque-through-symlink": [Symlink("escape", outside),
                                   File("escape/.wh..wh..opq", b"")],
        # devices a rootless unpacker cannot make and a rooted one must not misuse
        "device-mem": [Dir("dev"), CharDev("dev/mem", 1, 1, mode=0o666)],
    }
    return {name: Image([Layer(ents)], config={"Cmd": ["/bin/sh"]},
                        annotations={"org.vxn.test.hostile": name})
            for name, ents in cases.items()}


HOSTILE_ESCAPES = frozenset([
    "dotdot", "dotdot-nested", "dotdot-deep", "absolute", "absolute-root",
    "symlink-write-abs", "symlink-write-rel", "symlink-chain",
    "hardlink-abs", "hardlink-rel", "hardlink-then-write", "hardlink-through-symlink",
    "dir-swapped-for-symlink", "whiteout-dotdot", "whiteout-through-symlink", "whiteout-abs",
    "opaque-through-symlink"])


def big_layer_image(size_mb=50, seed=0, compression="gzip"):
    """busybox + a layer with /big/random.bin: size_mb MiB of seeded random bytes."""
    data = random.Random(seed).randbytes(size_mb << 20)
    layer = Layer([Dir("big"), File("big/random.bin", data)], compression,
                  comment="big: %d MiB random" % size_mb)
    return Image([busybox_layer(), layer], config=BUSYBOX_CONFIG)
