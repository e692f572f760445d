# SPDX-License-Identifier: LGPL-2.1-or-later
"""Python binding for libvxn: run OCI containers as virtual machines.

    import vxn
    ctx = vxn.Context()
    print(vxn.version(), ctx.state_root)

Library errors raise vxn.Error subclasses (see vxn.errors).
"""

from . import lowlevel as _ll
from .errors import (Error, InvalidArgument, NotFound, Exists, WrongState,  # noqa: F401
                     NotSupported, TimedOut, IOFailure, OutOfMemory, BackendError,
                     ProtocolError, PermissionDenied, Busy, ConfigError, DigestMismatch,
                     ChildFailed)

NO_CONFIG_FILE = _ll.VXN_CTX_NO_CONFIG_FILE
NO_ENV = _ll.VXN_CTX_NO_ENV


def version():
    """The loaded libvxn's version string."""
    return _ll.vxn_version()


def version_number():
    return _ll.vxn_version_number()


def has_feature(name):
    return bool(_ll.vxn_has_feature(name))


def features():
    return list(_ll.vxn_features())


def status_name(code):
    return _ll.vxn_status_name(code)


class Context:
    """A libvxn context (vxn_ctx): roots, configuration and logging."""

    def __init__(self, config=None, flags=0, **settings):
        self._ctx = _ll.vxn_ctx_new(config, flags)
        for key, value in settings.items():
            self.set(key, value)

    def set(self, key, value):
        _ll.vxn_ctx_set(self._ctx, key, str(value))

    def get(self, key):
        return _ll.vxn_ctx_get(self._ctx, key)

    def origin(self, key):
        return _ll.vxn_ctx_get_origin(self._ctx, key)

    @staticmethod
    def keys():
        return list(_ll.vxn_ctx_keys())

    @property
    def state_root(self):
        return _ll.vxn_ctx_state_root(self._ctx)

    @property
    def data_root(self):
        return _ll.vxn_ctx_data_root(self._ctx)

    @property
    def log_root(self):
        return _ll.vxn_ctx_log_root(self._ctx)

    @property
    def config_file(self):
        return _ll.vxn_ctx_config_file(self._ctx)

    @property
    def log_level(self):
        return _ll.vxn_log_level_name(_ll.vxn_ctx_log_level(self._ctx))


# ---------------------------------------------------------------------------
# Images (include/vxn/image.h)

import json as _json


class Ref:
    """A parsed, normalised image reference (Docker's rules)."""

    def __init__(self, text):
        self._ref = _ll.vxn_ref_parse(text)

    string = property(lambda self: _ll.vxn_ref_string(self._ref))
    familiar = property(lambda self: _ll.vxn_ref_familiar(self._ref))
    domain = property(lambda self: _ll.vxn_ref_domain(self._ref))
    path = property(lambda self: _ll.vxn_ref_path(self._ref))
    name = property(lambda self: _ll.vxn_ref_name(self._ref))
    tag = property(lambda self: _ll.vxn_ref_tag(self._ref))
    digest = property(lambda self: _ll.vxn_ref_digest(self._ref))

    def __str__(self):
        return self.string

    def __repr__(self):
        return "vxn.Ref(%r)" % self.string


class Image:
    """An image in the store (an immutable snapshot taken at lookup)."""

    def __init__(self, ptr, owner=None):
        self._img = ptr
        self._owner = owner  # keeps a list alive while a borrowed image is used

    id = property(lambda self: _ll.vxn_image_id(self._img))
    digest = property(lambda self: _ll.vxn_image_digest(self._img))
    names = property(lambda self: list(_ll.vxn_image_names(self._img)))
    created = property(lambda self: _ll.vxn_image_created(self._img))
    created_unix = property(lambda self: _ll.vxn_image_created_unix(self._img))
    architecture = property(lambda self: _ll.vxn_image_architecture(self._img))
    os = property(lambda self: _ll.vxn_image_os(self._img))
    variant = property(lambda self: _ll.vxn_image_variant(self._img))
    size = property(lambda self: _ll.vxn_image_size(self._img))
    entrypoint = property(lambda self: list(_ll.vxn_image_entrypoint(self._img)))
    cmd = property(lambda self: list(_ll.vxn_image_cmd(self._img)))
    env = property(lambda self: list(_ll.vxn_image_env(self._img)))
    workdir = property(lambda self: _ll.vxn_image_workdir(self._img))
    user = property(lambda self: _ll.vxn_image_user(self._img))
    stop_signal = property(lambda self: _ll.vxn_image_stop_signal(self._img))
    exposed_ports = property(lambda self: list(_ll.vxn_image_exposed_ports(self._img)))
    volumes = property(lambda self: list(_ll.vxn_image_volumes(self._img)))
    config_json = property(lambda self: _ll.vxn_image_config_json(self._img))
    manifest_json = property(lambda self: _ll.vxn_image_manifest_json(self._img))

    @property
    def layers(self):
        n = _ll.vxn_image_layer_count(self._img)
        return [_ll.vxn_image_layer_digest(self._img, i) for i in range(n)]

    @property
    def labels(self):
        return dict(kv.split("=", 1) for kv in _ll.vxn_image_labels(self._img))

    def label(self, key):
        return _ll.vxn_image_label(self._img, key)

    def inspect(self):
        return _json.loads(_ll.vxn_image_inspect_json(self._img))

    def history(self):
        return _json.loads(_ll.vxn_image_history_json(self._img))

    def __repr__(self):
        return "vxn.Image(%s, names=%r)" % (self.id[7:19], self.names)


class _Opts:
    """vxn_image_opts plus the Python objects it points at (kept alive here)."""

    def __init__(self):
        self.ptr = _ll.vxn_image_opts_new()
        self.progress = None


def _opts(platform=None, tls_verify=True, authfile=None, changes=(), message=None,
          progress=None):
    holder = _Opts()
    o = holder.ptr
    if platform:
        _ll.vxn_image_opts_set_platform(o, platform)
    _ll.vxn_image_opts_set_tls_verify(o, bool(tls_verify))
    if authfile:
        _ll.vxn_image_opts_set_authfile(o, authfile)
    for c in changes:
        _ll.vxn_image_opts_add_change(o, c)
    if message is not None:
        _ll.vxn_image_opts_set_message(o, message)
    if progress is not None:
        holder.progress = progress
        _ll.vxn_image_opts_set_progress(o, progress)
    return holder


DOCKER_ARCHIVE = _ll.VXN_IMAGE_FORMAT_DOCKER_ARCHIVE
OCI_ARCHIVE = _ll.VXN_IMAGE_FORMAT_OCI_ARCHIVE


class ImageStore:
    """The OCI image store under the context's data root."""

    def __init__(self, ctx):
        self._ctx = ctx  # the store borrows the context
        self._store = _ll.vxn_image_store_open(ctx._ctx)

    @property
    def path(self):
        return _ll.vxn_image_store_path(self._store)

    def lookup(self, name):
        return Image(_ll.vxn_image_lookup(self._store, name))

    def images(self, dangling=None):
        flags = _ll.VXN_IMAGE_LIST_DEFAULT
        if dangling is True:
            flags = _ll.VXN_IMAGE_LIST_DANGLING
        elif dangling is False:
            flags = _ll.VXN_IMAGE_LIST_NAMED
        lst = _ll.vxn_image_list_images(self._store, flags)
        return [Image(_ll.vxn_image_list_get(lst, i), owner=lst)
                for i in range(_ll.vxn_image_list_count(lst))]

    def pull(self, ref, platform=None, tls_verify=True, authfile=None, progress=None):
        """progress: optional callable(id, status, current_bytes, total_bytes)."""
        o = _opts(platform, tls_verify, authfile, progress=progress)
        return Image(_ll.vxn_image_pull(self._store, ref, o.ptr))

    def push(self, image, dest=None, tls_verify=True, authfile=None, progress=None):
        o = _opts(None, tls_verify, authfile, progress=progress)
        _ll.vxn_image_push(self._store, image, dest, o.ptr)

    def load(self, path, name=None, platform=None, progress=None):
        o = _opts(platform, progress=progress)
        return _ll.vxn_image_load(self._store, path, name, o.ptr)

    def save(self, images, path, format=DOCKER_ARCHIVE):
        if isinstance(images, str):
            images = [images]
        _ll.vxn_image_save(self._store, list(images), path, format)

    def import_(self, path, ref=None, changes=(), message=None):
        o = _opts(changes=changes, message=message)
        return Image(_ll.vxn_image_import(self._store, path, ref, o.ptr))

    def tag(self, source, target):
        _ll.vxn_image_tag(self._store, source, target)

    def remove(self, image, force=False):
        return _ll.vxn_image_remove(self._store, image,
                                    _ll.VXN_IMAGE_REMOVE_FORCE if force else 0)

    def prune(self, all=False):
        report, reclaimed = _ll.vxn_image_prune(self._store,
                                                _ll.VXN_IMAGE_PRUNE_ALL if all else 0)
        return report, reclaimed

    def usage(self):
        n, b, r, c = _ll.vxn_image_store_usage(self._store)
        return {"images": n, "images_bytes": b, "reclaimable_bytes": r, "cache_bytes": c}

    def rootfs(self, image):
        img = image if isinstance(image, Image) else self.lookup(image)
        return _ll.vxn_image_rootfs(self._store, img._img)


def spec(image, args=None, entrypoint=None, env=(), workdir=None, user=None, hostname=None,
         tty=False, stdin=False, read_only=False, volumes=(), mounts=(), ulimits=(),
         stop_signal=None):
    """The OCI runtime spec (a dict) for running `image` as `vdkr run` would.

    args: the command (None: the image's Cmd); entrypoint: a list replacing the
    image's (an empty list clears it); env: "NAME=value" entries over the image's;
    volumes: "HOST:CTR[:ro]" as -v; mounts: (type, source, destination, options)
    as --mount/--tmpfs; ulimits: "nofile=1024:2048" as --ulimit.
    """
    o = _ll.vxn_spec_opts_new()
    if entrypoint is not None:
        _ll.vxn_spec_opts_set_entrypoint(o, list(entrypoint))
    if args:
        _ll.vxn_spec_opts_set_cmd(o, list(args))
    for e in env:
        _ll.vxn_spec_opts_add_env(o, e)
    if workdir is not None:
        _ll.vxn_spec_opts_set_workdir(o, workdir)
    if user is not None:
        _ll.vxn_spec_opts_set_user(o, user)
    if hostname is not None:
        _ll.vxn_spec_opts_set_hostname(o, hostname)
    _ll.vxn_spec_opts_set_terminal(o, bool(tty))
    _ll.vxn_spec_opts_set_stdin(o, bool(stdin))
    _ll.vxn_spec_opts_set_readonly(o, bool(read_only))
    for v in volumes:
        _ll.vxn_spec_opts_add_volume(o, v)
    for m in mounts:
        mtype, source, destination, options = (tuple(m) + (None,))[:4]
        _ll.vxn_spec_opts_add_mount(o, mtype, source, destination,
                                    list(options) if options is not None else None)
    for u in ulimits:
        _ll.vxn_spec_opts_add_ulimit(o, u)
    if stop_signal is not None:
        _ll.vxn_spec_opts_set_stop_signal(o, str(stop_signal))
    img = image._img if isinstance(image, Image) else image
    return _json.loads(_ll.vxn_spec_generate(img, o))


class Container:
    """A container VM, created paused from an image and a spec (dict or JSON text).

    run() starts it, relays the process's stdio to the given file descriptors
    and returns its exit status (as Docker reports it); the VM is destroyed and
    its files removed when the object goes away (or at close()).
    """

    def __init__(self, store, image, spec, id=None, memory_mib=None, vcpus=None,
                 kernel=None, backend=None):
        if isinstance(image, str):
            image = store.lookup(image)
        text = spec if isinstance(spec, str) else _json.dumps(spec)
        o = _container_opts(id=id, memory_mib=memory_mib, vcpus=vcpus, kernel=kernel,
                            backend=backend)
        self._store, self._image = store, image  # borrowed by the container
        self._c = _ll.vxn_container_create(store._ctx._ctx, store._store, image._img, text, o)

    id = property(lambda self: _ll.vxn_container_id(self._c))
    name = property(lambda self: _ll.vxn_container_name(self._c))

    def run(self, stdin=-1, stdout=1, stderr=2):
        """File descriptors (or objects with fileno()); stdin -1: none. Returns the status."""
        fd = lambda f: f if isinstance(f, int) else f.fileno()
        return _ll.vxn_container_run(self._c, fd(stdin), fd(stdout), fd(stderr))

    @property
    def start_error(self):
        """The guest's message when the process could not be started, else None."""
        return _ll.vxn_session_start_error(_ll.vxn_container_session(self._c))

    def signal(self, signo):
        """Deliver a signal to the process (from another thread while run() runs)."""
        return _ll.vxn_session_signal(_ll.vxn_container_session(self._c), signo) == 0

    def close(self):
        self._c = None


def _container_opts(**options):
    """vxn_container_opts with the options that are set (None: the library's default)."""
    o = _ll.vxn_container_opts_new()
    for name, value in options.items():
        if value:
            getattr(_ll, "vxn_container_opts_set_" + name)(o, value)
    return o


def host_info(ctx, kernel=None, backend=None):
    """How this host would run a container: backend, accel, kernel, ... and the reasons
    (vxn_container_host_info(); may boot the KVM probe guest once)."""
    lines = _ll.vxn_container_host_info(ctx._ctx, _container_opts(kernel=kernel,
                                                                  backend=backend))
    return dict(l.split("=", 1) for l in lines)


class Domain:
    """A VM through the domain API (include/vxn/domain.h), created paused.

    The console (console_fd) carries the boot protocol: read it with a
    FrameDecoder, answer with the frame_encode_* helpers. Every call that
    waits (creation, shutdown, kill, wait) releases the GIL.
    """

    def __init__(self, ctx, kernel, initrds=(), cmdline=None, name=None, memory_mib=None,
                 vcpus=None, shares=(), log_file=None, backend=None, create_timeout_ms=None):
        c = _ll.vxn_domain_config_new()
        if name:
            _ll.vxn_domain_config_set_name(c, name)
        _ll.vxn_domain_config_set_kernel(c, kernel)
        for i in initrds:
            _ll.vxn_domain_config_add_initrd(c, i)
        if cmdline is not None:
            _ll.vxn_domain_config_set_cmdline(c, cmdline)
        if memory_mib:
            _ll.vxn_domain_config_set_memory_mib(c, memory_mib)
        if vcpus:
            _ll.vxn_domain_config_set_vcpus(c, vcpus)
        for share in shares:
            tag, path, readonly = (tuple(share) + (False,))[:3]
            _ll.vxn_domain_config_add_share(c, tag, path, bool(readonly))
        if log_file:
            _ll.vxn_domain_config_set_log_file(c, log_file)
        if backend:
            _ll.vxn_domain_config_set_backend(c, backend)
        if create_timeout_ms:
            _ll.vxn_domain_config_set_create_timeout_ms(c, create_timeout_ms)
        self._ctx = ctx  # the domain borrows the context
        self._d = _ll.vxn_domain_create(ctx._ctx, c)

    def start(self):
        _ll.vxn_domain_start(self._d)

    def pause(self):
        _ll.vxn_domain_pause(self._d)

    def resume(self):
        _ll.vxn_domain_resume(self._d)

    def shutdown(self, timeout_ms=10000):
        """Graceful power-off; TimedOut (after stopping it by force) past the deadline."""
        _ll.vxn_domain_shutdown(self._d, timeout_ms)

    def kill(self):
        _ll.vxn_domain_kill(self._d)

    def wait(self, timeout_ms=0):
        """Until the guest powered off; 0 waits forever. TimedOut past the deadline."""
        _ll.vxn_domain_wait(self._d, timeout_ms)

    def destroy(self):
        _ll.vxn_domain_destroy(self._d)

    state = property(lambda self: _ll.vxn_domain_state_name(_ll.vxn_domain_get_state(self._d)))
    console_fd = property(lambda self: _ll.vxn_domain_console_fd(self._d))
    pid = property(lambda self: _ll.vxn_domain_pid(self._d))
    backend = property(lambda self: _ll.vxn_domain_backend(self._d))
    accel = property(lambda self: _ll.vxn_domain_accel(self._d))

    def close(self):
        self._d = None


# ---- the boot protocol (include/vxn/boot.h, doc/guest-protocol.md) ----
FrameDecoder = _ll.FrameDecoder
FrameDecoder.__doc__ = """Incremental channel decoder: feed(bytes) and finish() return, in
stream order, each complete frame as a dict (type, name, stream, seq, flags,
payload, plus its typed fields) and each run of foreign bytes as bytes."""
frame_encode = _ll.frame_encode
frame_encode_start = _ll.frame_encode_start
frame_encode_resize = _ll.frame_encode_resize
frame_encode_signal = _ll.frame_encode_signal
frame_type_name = _ll.vxn_frame_type_name
crc32c = _ll.crc32c
PROTOCOL_VERSION = _ll.VXN_PROTO_VERSION
FRAME_MAX_PAYLOAD = _ll.VXN_FRAME_MAX_PAYLOAD
STREAM_MAIN = _ll.VXN_STREAM_MAIN
FRAME_TYPES = {n: getattr(_ll, "VXN_FRAME_" + n) for n in (
    "READY", "START", "LOG", "STDIN", "STDIN_EOF", "STDIN_CREDIT", "STDOUT", "STDERR",
    "RESIZE", "SIGNAL", "EXIT", "ERROR", "EXIT_ACK")}
BOOT_STAGES = {n[len("VXN_BOOT_STAGE_"):]: getattr(_ll, n) for n in dir(_ll)
               if n.startswith("VXN_BOOT_STAGE_")}
