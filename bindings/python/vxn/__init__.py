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
