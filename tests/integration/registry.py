# SPDX-License-Identifier: LGPL-2.1-or-later
"""A throwaway local registry (Debian's docker-registry) for the integration tests.

    with Registry() as reg:                       # 127.0.0.1:<free port>, no auth
        reg.push_layout(layout, "latest", "busybox:latest")   # skopeo copy
        reg.push(image, "busybox:exact")          # imagebuild object, bytes unchanged
        reg.inspect("busybox:latest", raw=True)   # skopeo inspect --raw

Loopback only, plain HTTP, storage in a private temp dir, delete enabled.
The server runs in its own session (setsid) with PR_SET_PDEATHSIG=SIGKILL,
so it dies with the process that started it even when that one is killed;
stop() kills its process group and removes the temp dir. Fixtures:
`registry` (one per session) and `fresh_registry` (one per test); import
them into a conftest.py to use them.
"""
import atexit
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

REGISTRY_BIN = "docker-registry"
SKOPEO = "skopeo"

_CONFIG = """\
version: 0.1
log:
  level: info
  fields:
    service: registry
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: {storage}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
  headers:
    X-Content-Type-Options: [nosniff]
health:
  storagedriver:
    enabled: false
"""

_PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None, use_errno=True)  # loaded here: the child between fork and exec must not
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never a proxy


def _die_with_parent(parent):
    def fn():
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl
            os._exit(1)
    return fn


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SkopeoError(RuntimeError):
    pass


def skopeo(*args, tmpdir=None, timeout=120, text=False):
    """Run skopeo (no policy checks); returns stdout (bytes, or str with text=True)."""
    cmd = [SKOPEO, "--insecure-policy"]
    if tmpdir:
        cmd += ["--tmpdir", tmpdir]
    cmd += list(args)
    p = subprocess.run(cmd, capture_output=True, timeout=timeout)
    if p.returncode != 0:
        raise SkopeoError("%s: exit %d: %s" % (" ".join(cmd), p.returncode,
                                               p.stderr.decode(errors="replace").strip()))
    return p.stdout.decode() if text else p.stdout


def split_repo_tag(repo_tag):
    """'a/b:t' -> ('a/b', 't'); 'a/b@sha256:..' -> ('a/b', 'sha256:..'); no tag -> latest."""
    if "@" in repo_tag:
        return tuple(repo_tag.split("@", 1))
    repo, sep, tag = repo_tag.rpartition(":")
    if not sep or "/" in tag:
        return repo_tag, "latest"
    return repo, tag


class HTTPError(RuntimeError):
    def __init__(self, method, url, status, body):
        super().__init__("%s %s: HTTP %d: %s" % (method, url, status, body[:500]))
        self.status, self.body = status, body


class Registry:
    """One docker-registry process on 127.0.0.1:<port>.

    Attributes after start(): port, host ('127.0.0.1:PORT'), url
    ('http://127.0.0.1:PORT'), pid, workdir, config_path, log_path.
    """

    def __init__(self, workdir=None, start_timeout=10.0):
        self._own_dir = workdir is None
        self.workdir = workdir or tempfile.mkdtemp(prefix="vxn-registry-")
        self.start_timeout = start_timeout
        self.proc = None
        self.port = None
        self.config_path = os.path.join(self.workdir, "config.yml")
        self.log_path = os.path.join(self.workdir, "registry.log")
        self.storage = os.path.join(self.workdir, "storage")
        self.tmpdir = os.path.join(self.workdir, "tmp")

    # -- life cycle --------------------------------------------------------

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    @property
    def host(self):
        return "127.0.0.1:%d" % self.port

    @property
    def url(self):
        return "http://" + self.host

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def start(self):
        """Start the server and wait until GET /v2/ answers 200."""
        if self.proc is not None:
            return self
        os.makedirs(self.storage, exist_ok=True)
        os.makedirs(self.tmpdir, exist_ok=True)
        atexit.register(self.stop)
        last = ""
        for _ in range(5):  # the port can be taken between free_port() and bind
            self.port = free_port()
            with open(self.config_path, "w") as f:
                f.write(_CONFIG.format(storage=self.storage, port=self.port))
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(
                    [REGISTRY_BIN, "serve", self.config_path], stdin=subprocess.DEVNULL,
                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                    preexec_fn=_die_with_parent(os.getpid()), close_fds=True)
            state = self._wait_ready()
            if state == "ready":
                return self
            last = self.log()
            self._kill()
            if state == "timeout" or "address already in use" not in last:
                break
        self.stop()
        raise RuntimeError("docker-registry did not come up on 127.0.0.1:%s within %.0f s; "
                           "log:\n%s" % (self.port, self.start_timeout, last))

    def _wait_ready(self):
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return "exited"
            try:
                with _OPENER.open(self.url + "/v2/", timeout=1) as r:
                    if r.status == 200:
                        return "ready"
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.02)
        return "timeout"

    def _kill(self):
        p, self.proc = self.proc, None
        if p is None:
            return
        for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, 5)):
            try:
                os.killpg(p.pid, sig)
            except ProcessLookupError:
                pass
            try:
                p.wait(wait)
                break
            except subprocess.TimeoutExpired:
                continue
        # whatever else is left in its session
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def stop(self):
        """Kill the server's process group and remove the temp dir (if ours). Idempotent."""
        self._kill()
        atexit.unregister(self.stop)
        if self._own_dir and os.path.isdir(self.workdir):
            shutil.rmtree(self.workdir, ignore_errors=True)

    # -- names ---------------------------------------------------------------

    def ref(self, repo_tag):
        """'busybox:latest' -> '127.0.0.1:PORT/busybox:latest'."""
        return "%s/%s" % (self.host, repo_tag)

    def docker_ref(self, repo_tag):
        return "docker://" + self.ref(repo_tag)

    # -- skopeo ----------------------------------------------------------------

    def skopeo(self, *args, **kw):
        kw.setdefault("tmpdir", self.tmpdir)
        return skopeo(*args, **kw)

    def push_layout(self, layout_dir, refname, repo_tag, all=None, format=None,
                    preserve_digests=None):
        """skopeo copy oci:LAYOUT:REF docker://HOST/REPO:TAG; returns the pushed digest.

        all=None uses --all when REF names an image index. format ('oci',
        'v2s2') converts (and so changes the digest); without it the digests
        are preserved (skopeo fails instead of rewriting the manifest).
        """
        if all is None:
            all = _layout_media_type(layout_dir, refname).endswith("index.v1+json")
        digestfile = os.path.join(self.tmpdir, "digest-%d" % time.monotonic_ns())
        args = ["copy", "-q", "--dest-tls-verify=false", "--digestfile", digestfile]
        if all:
            args.append("--all")
        if format:
            args += ["--format", format]
        if preserve_digests or (preserve_digests is None and not format):
            args.append("--preserve-digests")
        args += ["oci:%s:%s" % (layout_dir, refname), self.docker_ref(repo_tag)]
        self.skopeo(*args)
        with open(digestfile) as f:
            dig = f.read().strip()
        os.unlink(digestfile)
        return dig

    def inspect(self, repo_tag, raw=False, config=False, arch=None, variant=None):
        """skopeo inspect of HOST/REPO:TAG: a dict, or the raw bytes with raw=True."""
        args = []
        if arch:
            args += ["--override-arch", arch]
        if variant:
            args += ["--override-variant", variant]
        args += ["inspect", "--tls-verify=false"]
        if raw:
            args.append("--raw")
        if config:
            args.append("--config")
        out = self.skopeo(*args, self.docker_ref(repo_tag))
        return out if raw else json.loads(out)

    # -- the distribution API ---------------------------------------------------

    def request(self, method, path, data=None, headers=None, ok=(200, 201, 202, 204)):
        """One HTTP request to the registry: (status, headers, body bytes)."""
        url = path if path.startswith("http") else self.url + path
        req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
        try:
            with _OPENER.open(req, timeout=60) as r:
                status, hdrs, body = r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            status, hdrs, body = e.code, e.headers, e.read()
        if ok and status not in ok:
            raise HTTPError(method, url, status, body.decode(errors="replace"))
        return status, hdrs, body

    def has_blob(self, repo, digest):
        st, _, _ = self.request("HEAD", "/v2/%s/blobs/%s" % (repo, digest), ok=None)
        return st == 200

    def put_blob(self, repo, digest, data):
        """Monolithic upload (POST then PUT ?digest=), skipped when present."""
        if self.has_blob(repo, digest):
            return
        _, hdrs, _ = self.request("POST", "/v2/%s/blobs/uploads/" % repo)
        loc = urllib.parse.urljoin(self.url, hdrs["Location"])
        loc += ("&" if "?" in loc else "?") + "digest=" + urllib.parse.quote(digest)
        self.request("PUT", loc, data=data,
                     headers={"Content-Type": "application/octet-stream"})

    def put_manifest(self, repo, reference, data, media_type):
        """PUT a manifest/index as-is; returns the Docker-Content-Digest."""
        _, hdrs, _ = self.request("PUT", "/v2/%s/manifests/%s" % (repo, reference), data=data,
                                  headers={"Content-Type": media_type})
        return hdrs.get("Docker-Content-Digest")

    def push(self, obj, repo_tag):
        """Push an imagebuild Image or Index byte for byte (any media types,
        Docker schema2 included); returns its digest."""
        repo, tag = split_repo_tag(repo_tag)
        images = obj.images if hasattr(obj, "images") else [obj]
        for img in images:
            for layer in img.layers:
                self.put_blob(repo, layer.digest, layer.blob)
            self.put_blob(repo, img.config_digest, img.config_bytes)
            if img is not obj:
                self.put_manifest(repo, img.manifest_digest, img.manifest_bytes, img.media_type)
        got = self.put_manifest(repo, tag, obj.manifest_bytes, obj.media_type)
        if got != obj.manifest_digest:
            raise RuntimeError("registry stored %s as %s, want %s" % (repo_tag, got,
                                                                       obj.manifest_digest))
        return got

    def manifest(self, repo_tag, accept=None):
        """GET a manifest: (bytes, Content-Type, Docker-Content-Digest)."""
        repo, ref = split_repo_tag(repo_tag)
        accept = accept or ", ".join([
            "application/vnd.oci.image.index.v1+json",
            "application/vnd.oci.image.manifest.v1+json",
            "application/vnd.docker.distribution.manifest.list.v2+json",
            "application/vnd.docker.distribution.manifest.v2+json"])
        _, hdrs, body = self.request("GET", "/v2/%s/manifests/%s" % (repo, ref),
                                     headers={"Accept": accept})
        return body, hdrs.get("Content-Type"), hdrs.get("Docker-Content-Digest")

    def blob(self, repo, digest):
        return self.request("GET", "/v2/%s/blobs/%s" % (repo, digest))[2]

    def tags(self, repo):
        return json.loads(self.request("GET", "/v2/%s/tags/list" % repo)[2]).get("tags") or []

    def catalog(self):
        return json.loads(self.request("GET", "/v2/_catalog")[2]).get("repositories") or []

    def delete_manifest(self, repo, digest):
        self.request("DELETE", "/v2/%s/manifests/%s" % (repo, digest))


def _layout_media_type(layout_dir, refname):
    with open(os.path.join(layout_dir, "index.json")) as f:
        index = json.load(f)
    for m in index.get("manifests", []):
        if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == refname:
            return m.get("mediaType", "")
    raise KeyError("%s: no reference %r" % (layout_dir, refname))


# ---------------------------------------------------------------------------
# pytest fixtures (import into a conftest.py: `from registry import registry`)

try:
    import pytest
except ImportError:  # usable without pytest too
    pytest = None

if pytest is not None:
    @pytest.fixture(scope="session")
    def registry():
        """One registry for the whole session; stopped (and its dir removed) at the end."""
        reg = Registry()
        try:
            reg.start()
            yield reg
        finally:
            reg.stop()

    @pytest.fixture
    def fresh_registry():
        """An empty registry of one's own, for tests that delete or count things."""
        reg = Registry()
        try:
            reg.start()
            yield reg
        finally:
            reg.stop()
